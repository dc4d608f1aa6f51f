//! webhook-processor: applies queued events exactly once and never out of order, within
//! its invocation's deadline.
//!
//! - **One record per event.** Objects are stored only if newer (the one upsert path), so
//!   applying an event twice changes nothing the second time; the event's receipt is then
//!   written once with the verdict, and the first final verdict wins, which is how a
//!   duplicate is told and counted. The receipt is keyed by tenant + event id (never the
//!   SQS message id, which a DLQ redrive changes) and outlives the DLQ and replay window.
//!   Connection events (no version to compare) read their receipt first.
//! - **Deadline.** No message is started that cannot finish before the invocation's
//!   deadline less a reserve (for the response and the stats write); each message's time,
//!   Trackstar calls included, is bounded; unstarted and cut-off messages — only those —
//!   are reported as `batchItemFailures`.
//! - **Failures are classified.** A permanent one (malformed payload, unknown object,
//!   validation) is recorded as failed with its reason and the event kept for replay, and
//!   the message is acknowledged instead of burning its receives; a transient one (store,
//!   Trackstar, queue) is recorded and retried by SQS.
//! - **Same-second refetches are batched.** Events whose copy has the stored
//!   `updated_date` but other content, and truncated events, are settled with one `ids[in]`
//!   listing per (connection, kind) per batch, not one GET each.
//! - Messages of different objects run concurrently; messages of one object (or of one
//!   connection, for connection events) run in queue order.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{FutureExt, StreamExt};
use tracing::{error, info, warn, Instrument};

use super::connection_events::{self, Decision};
use super::envelope::{EventKind, QueuedEvent, WebhookEnvelope};
use super::ingest::Clock;
use super::receipts::{PriorReceipt, ReceiptState, ReceiptStore, Verdict};
use super::sync_job_events;
use crate::apply::{ContextResolver, Freshness, ObjectStores};
use crate::domain::{Connection, ConnectionStatus, Timestamp};
use crate::errors::error_chain;
use crate::health::{record_batch, Observation, Outcome, StatsResource, WebhookStatsStore};
use crate::metrics::{Metric, MetricsSink};
use crate::resource::{PayloadError, ResourceKind, WireObject};
use crate::store::capacity::CapacityMeter;
use crate::store::{
    modify_connection, Change, ConnectionStore, ObjectStore, StoreError, TenantStore, UpsertOutcome,
};
use crate::sync::{request_sync, SyncJobQueue, SyncMode, SyncQueueError};

/// The boxed error a fetcher answers with.
pub type FetchError = Box<dyn std::error::Error + Send + Sync>;

/// Fetches current objects through the Trackstar API (truncated events, same-second
/// changes).
#[async_trait]
pub trait ObjectFetcher: Send + Sync {
    /// The current copies of `ids` (at most [`MAX_FETCH_IDS`]), one `ids[in]` listing; ids
    /// Trackstar does not have are absent.
    async fn fetch_many(
        &self,
        connection: &Connection,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<WireObject>, FetchError>;
}

/// A fetch failure shared by the events of one `ids[in]` listing.
#[derive(Debug, Clone)]
pub struct SharedFetchError(Arc<FetchError>);

impl std::fmt::Display for SharedFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedFetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Ids per `ids[in]` listing (Trackstar's limit).
pub const MAX_FETCH_IDS: usize = 100;

/// How the processor spends its invocation.
#[derive(Debug, Clone, Copy)]
pub struct ProcessorLimits {
    /// Kept back at the end of the invocation for the batch response, the stats write and
    /// the records of cut-off messages.
    pub reserve: Duration,
    /// The most one message may take, its Trackstar calls included; a message is started
    /// only if this much time is left (plus the reserve).
    pub per_message: Duration,
    /// Messages (of different objects) processed at once.
    pub concurrency: usize,
}

impl Default for ProcessorLimits {
    fn default() -> Self {
        Self {
            reserve: Duration::from_secs(2),
            per_message: Duration::from_secs(8),
            concurrency: 10,
        }
    }
}

pub struct ProcessorDeps {
    /// The synced objects of every kind (the one upsert path).
    pub objects: Arc<dyn ObjectStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub receipts: Arc<dyn ReceiptStore>,
    pub fetcher: Arc<dyn ObjectFetcher>,
    /// Where `connection.created` and `connection.historical-sync-completed` queue the
    /// full syncs they call for.
    pub sync_jobs: Arc<dyn SyncJobQueue>,
    /// Backfill records, moved by `connection.sync-job-completed` / `-stuck`.
    pub backfills: Arc<dyn crate::sync::BackfillStore>,
    pub metrics: Arc<dyn MetricsSink>,
    /// Per-connection webhook figures, one write per connection per batch.
    pub stats: Arc<dyn WebhookStatsStore>,
    /// The DynamoDB units the function's clients consumed; emitted once per batch.
    pub capacity: Arc<CapacityMeter>,
    /// The webhook queue's `maxReceiveCount`: a failure on that receive dead-letters.
    pub max_receive_count: u32,
    pub limits: ProcessorLimits,
    pub clock: Clock,
}

/// The template's `maxReceiveCount` of the webhook queue.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

/// The template's `Timeout` of webhook-processor: the deadline [`handle_batch`] assumes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl ProcessorDeps {
    /// The one upsert path (shared with sync and reconciliation).
    pub fn object_stores(&self) -> ObjectStores<'_> {
        ObjectStores {
            objects: self.objects.as_ref(),
        }
    }
}

/// Why applying an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the event's payload cannot be applied")]
    Payload(#[from] PayloadError),
    #[error("data store failed")]
    Store(#[from] StoreError),
    #[error("fetching the object from Trackstar failed")]
    Fetch(#[source] SharedFetchError),
    #[error("Trackstar does not have the object")]
    NotInTrackstar,
    #[error("the connection is not known to its tenant")]
    UnknownConnection,
    #[error("queueing the full sync failed")]
    SyncQueue(#[from] SyncQueueError),
    #[error("the event took longer than its time allowance ({0:?})")]
    TimedOut(Duration),
    #[error(
        "the object was written again (same updated_date) while Trackstar was asked for it; asking again"
    )]
    ChangedSinceRead,
}

impl ApplyError {
    /// No retry of the same event can succeed: record it, keep it for replay, acknowledge.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ApplyError::Payload(_) | ApplyError::NotInTrackstar | ApplyError::UnknownConnection
        )
    }

    fn reason_code(&self) -> &'static str {
        match self {
            ApplyError::Payload(_) => "payload",
            ApplyError::Store(_) => "store",
            ApplyError::Fetch(_) => "fetch",
            ApplyError::NotInTrackstar => "not_in_trackstar",
            ApplyError::UnknownConnection => "unknown_connection",
            ApplyError::SyncQueue(_) => "sync_queue",
            ApplyError::TimedOut(_) => "timed_out",
            ApplyError::ChangedSinceRead => "changed_since_read",
        }
    }
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// Older than (or the same version as) the stored state: not applied.
    Stale,
    /// Recorded and acknowledged, nothing to apply.
    Ignored,
}

impl Applied {
    fn receipt_state(self) -> ReceiptState {
        match self {
            Applied::Applied => ReceiptState::Applied,
            Applied::Stale => ReceiptState::Stale,
            Applied::Ignored => ReceiptState::Ignored,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Applied::Applied => "applied",
            Applied::Stale => "stale",
            Applied::Ignored => "ignored",
        }
    }
}

/// Handles one SQS batch under [`DEFAULT_TIMEOUT`] from now (see [`handle_batch_until`]).
pub async fn handle_batch(deps: &ProcessorDeps, event: SqsEvent) -> SqsBatchResponse {
    handle_batch_until(deps, event, Instant::now() + DEFAULT_TIMEOUT).await
}

/// One message of the batch, read.
struct Job {
    message_id: String,
    receives: u32,
    event: QueuedEvent,
    received: Instant,
}

/// Where a message stands after its first pass.
enum Step {
    Done {
        ok: bool,
        observation: Option<Observation>,
    },
    /// Waits for the batch's `ids[in]` fetch of its object.
    Fetch(Box<PendingFetch>),
}

/// An event whose object must be read from Trackstar (truncated, or a same-second copy
/// with other content).
struct PendingFetch {
    job: Job,
    connection: Connection,
    kind: ResourceKind,
    id: String,
}

/// The order key: messages with the same key run one after another, in queue order.
fn order_key(event: &QueuedEvent) -> String {
    let object = event
        .payload
        .get("data")
        .and_then(|d| d.get("id"))
        .and_then(|v| v.as_str());
    match (object_kind(&event.event_type), object) {
        (Some(kind), Some(id)) => format!("{}|{kind:?}|{id}", event.tenant_id),
        _ => format!("{}|connection|{}", event.tenant_id, event.connection_id),
    }
}

/// The kind of object an event carries (declared with the resource).
fn object_kind(event_type: &str) -> Option<ResourceKind> {
    ResourceKind::of_event(event_type)
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Handles one SQS batch, finishing before `deadline` (the invocation's). Never fails as a
/// whole: the response names exactly the messages to retry. The batch's outcomes are
/// recorded in the webhook stats at the end (one `UpdateItem` per connection in the batch),
/// and the DynamoDB units it consumed are emitted.
pub async fn handle_batch_until(
    deps: &ProcessorDeps,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let mut failures: Vec<String> = Vec::new();
    let mut observations = Vec::new();

    // Read every message; group by order key, keeping queue order within a group.
    let mut groups: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    let mut first_seen: Vec<String> = Vec::new();
    for message in event.records {
        match read_message(deps, message) {
            Ok(job) => {
                let key = order_key(&job.event);
                if !groups.contains_key(&key) {
                    first_seen.push(key.clone());
                }
                groups.entry(key).or_default().push(job);
            }
            Err(message_id) => failures.push(message_id),
        }
    }
    let ordered: Vec<Vec<Job>> = first_seen
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .collect();
    warm_lookups(deps, &ordered).await;

    // First pass: each group in order, groups side by side.
    let results: Vec<Vec<(String, Step)>> = futures::stream::iter(
        ordered
            .into_iter()
            .map(|group| run_group(deps, group, deadline)),
    )
    .buffer_unordered(deps.limits.concurrency.max(1))
    .collect()
    .await;
    let mut pending = Vec::new();
    for (message_id, step) in results.into_iter().flatten() {
        match step {
            Step::Done { ok, observation } => {
                observations.extend(observation);
                if !ok {
                    failures.push(message_id);
                }
            }
            Step::Fetch(fetch) => pending.push(*fetch),
        }
    }

    // Second pass: one `ids[in]` listing per (connection, kind) for what must be fetched.
    for (message_id, ok, observation) in fetch_pending(deps, pending, deadline).await {
        observations.extend(observation);
        if !ok {
            failures.push(message_id);
        }
    }

    record_batch(deps.stats.as_ref(), &observations, (deps.clock)()).await;
    deps.capacity.emit(deps.metrics.as_ref());
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Reads each distinct connection, tenant and warehouse customer of the batch once, one
/// after another, before the messages run side by side: with cached lookups, ten messages
/// of a cold instance then cost three reads, not thirty. Errors are left for the messages
/// to meet (and classify).
async fn warm_lookups(deps: &ProcessorDeps, groups: &[Vec<Job>]) {
    use std::collections::{BTreeMap, BTreeSet};
    // (tenant, connection) → whether objects take their brand from the warehouse customer
    let mut connections: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut customers = BTreeSet::new();
    for job in groups.iter().flatten() {
        let event = &job.event;
        if object_kind(&event.event_type).is_none() {
            continue;
        }
        let key = (event.tenant_id.to_string(), event.connection_id.to_string());
        let by_customer = match connections.get(&key) {
            Some(by_customer) => *by_customer,
            None => {
                let found = deps
                    .connections
                    .get_connection(&event.tenant_id, &event.connection_id)
                    .await;
                let by_customer = matches!(&found, Ok(Some(c)) if c.brand_id.is_none());
                if matches!(found, Ok(Some(_))) {
                    let _ = deps.tenants.get_tenant(&event.tenant_id).await;
                }
                connections.insert(key, by_customer);
                by_customer
            }
        };
        let customer = event
            .payload
            .get("data")
            .and_then(|d| d.get("warehouse_customer_id"))
            .and_then(|v| v.as_str());
        if let (true, Some(customer)) = (by_customer, customer) {
            if customers.insert((event.tenant_id.to_string(), customer.to_owned())) {
                let _ = deps
                    .tenants
                    .brand_for_warehouse_customer(&event.tenant_id, customer)
                    .await;
            }
        }
    }
}

fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The message as a job, or its id when it cannot be read (it goes back to the queue and,
/// after its receives, to the DLQ, where ops see it: without a tenant there is no receipt
/// to record it on).
fn read_message(deps: &ProcessorDeps, message: SqsMessage) -> Result<Job, String> {
    let message_id = message.message_id.clone().unwrap_or_default();
    let receives = receive_count(&message);
    let parsed = message
        .body
        .as_deref()
        .map(serde_json::from_str::<QueuedEvent>);
    match parsed {
        Some(Ok(event)) => Ok(Job {
            message_id,
            receives,
            event,
            received: Instant::now(),
        }),
        Some(Err(e)) => {
            let error = crate::redact::without_input(&e);
            error!(message_id = %message_id, %error, "unreadable queue message");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            Err(message_id)
        }
        None => {
            error!(message_id = %message_id, "queue message without a body");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            Err(message_id)
        }
    }
}

fn span_of(event: &QueuedEvent) -> tracing::Span {
    tracing::info_span!(
        "webhook_event",
        tenant_id = %event.tenant_id,
        brand_id = event.brand_id.as_ref().map(|b| b.as_str()).unwrap_or(""),
        event_id = %event.event_id,
        correlation_id = %event.correlation_id,
        event_type = %event.event_type,
    )
}

/// One group's messages in order. Once one is left unstarted or cut off, the rest of the
/// group is left too (a later event of the object must not overtake it).
async fn run_group(
    deps: &ProcessorDeps,
    group: Vec<Job>,
    deadline: Instant,
) -> Vec<(String, Step)> {
    let mut steps = Vec::with_capacity(group.len());
    let mut stopped = false;
    for job in group {
        let message_id = job.message_id.clone();
        if stopped || remaining(deadline) < deps.limits.reserve + deps.limits.per_message {
            stopped = true;
            deps.metrics.emit(Metric::count("webhook.unstarted"));
            steps.push((
                message_id,
                Step::Done {
                    ok: false,
                    observation: None,
                },
            ));
            continue;
        }
        let span = span_of(&job.event);
        let step = first_pass(deps, job, deadline).instrument(span).await;
        if matches!(step, Step::Done { ok: false, .. }) {
            stopped = true;
        }
        steps.push((message_id, step));
    }
    steps
}

/// The time a message may take from now: its allowance, or what is left before the
/// reserve.
fn allowance(deps: &ProcessorDeps, deadline: Instant) -> Duration {
    deps.limits
        .per_message
        .min(remaining(deadline).saturating_sub(deps.limits.reserve))
}

async fn first_pass(deps: &ProcessorDeps, job: Job, deadline: Instant) -> Step {
    let allowed = allowance(deps, deadline);
    let attempt = AssertUnwindSafe(tokio::time::timeout(allowed, apply(deps, &job.event)))
        .catch_unwind()
        .await;
    match attempt {
        Ok(Ok(Ok(Pass::Verdict(applied)))) => finish(deps, job, applied, false).await,
        Ok(Ok(Ok(Pass::Duplicate))) => {
            duplicate(deps, &job);
            Step::Done {
                ok: true,
                observation: observe(&job, Outcome::Duplicate),
            }
        }
        Ok(Ok(Ok(Pass::Fetch {
            connection,
            kind,
            id,
        }))) => Step::Fetch(Box::new(PendingFetch {
            job,
            connection: *connection,
            kind,
            id,
        })),
        Ok(Ok(Err(e))) => fail(deps, job, e).await,
        Ok(Err(_elapsed)) => {
            warn!(
                allowed_ms = allowed.as_millis() as u64,
                "event cut off at its time allowance"
            );
            deps.metrics.emit(Metric::count("webhook.cut_off"));
            fail(deps, job, ApplyError::TimedOut(allowed)).await
        }
        Err(_) => {
            error!("processing a message panicked");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "panic"));
            Step::Done {
                ok: false,
                observation: None,
            }
        }
    }
}

fn duplicate(deps: &ProcessorDeps, job: &Job) {
    deps.metrics.emit(
        Metric::count("webhook.duplicate_events").with("event_type", job.event.event_type.clone()),
    );
    info!("event already processed; duplicate acknowledged");
}

fn observe(job: &Job, outcome: Outcome) -> Option<Observation> {
    Some(Observation {
        tenant: job.event.tenant_id.clone(),
        connection: job.event.connection_id.clone(),
        resource: StatsResource::of_event_type(&job.event.event_type),
        received_at: job.event.received_at,
        outcome,
        latency_ms: job.received.elapsed().as_millis() as u64,
    })
}

/// Records the verdict (the one write of the event's receipt) and reports it; `fetched`:
/// the object was read from Trackstar (the lag metric tells the two paths apart).
async fn finish(deps: &ProcessorDeps, job: Job, applied: Applied, fetched: bool) -> Step {
    let now = (deps.clock)();
    let prior = match deps
        .receipts
        .record_verdict(&job.event, applied.receipt_state(), now)
        .await
    {
        Ok(Verdict::Recorded(prior)) => prior,
        Ok(Verdict::AlreadyFinal(_)) => {
            duplicate(deps, &job);
            return Step::Done {
                ok: true,
                observation: observe(&job, Outcome::Duplicate),
            };
        }
        Err(e) => {
            // Applied, but not recorded: a retry finds the object as stored (only-if-newer
            // changes nothing) and records it then.
            warn!(error = %e, "applied, but the receipt could not be written; retrying");
            return fail(deps, job, ApplyError::Store(e)).await;
        }
    };
    let was_failed = prior.state == Some(ReceiptState::Failed);
    let event = &job.event;
    let lag = (now.unix_millis() - event.received_at.unix_millis()).max(0);
    let event_type = event.event_type.clone();
    deps.metrics.emit(
        Metric::count(match applied {
            Applied::Applied => "webhook.applied",
            Applied::Stale => "webhook.stale",
            Applied::Ignored => "webhook.ignored",
        })
        .with("event_type", event_type.clone()),
    );
    deps.metrics.emit(
        Metric::millis("webhook.lag_ms", lag as f64)
            .with("event_type", event_type.clone())
            .with("path", if fetched { "fetched" } else { "direct" }),
    );
    deps.metrics.emit(
        Metric::millis(
            "webhook.processing_latency_ms",
            job.received.elapsed().as_secs_f64() * 1000.0,
        )
        .with("event_type", event_type),
    );
    info!(outcome = applied.as_str(), lag_ms = lag, "event processed");
    let outcome = Outcome::Finished {
        was_failed,
        // It had failed on every receive it was given: it sat in the DLQ.
        was_dead_lettered: was_failed && prior.processing_attempts >= deps.max_receive_count,
    };
    Step::Done {
        ok: true,
        observation: observe(&job, outcome),
    }
}

/// Records a failure on the receipt (with the event, for replay). A permanent one is
/// acknowledged (`ok`); a transient one goes back to the queue.
async fn fail(deps: &ProcessorDeps, job: Job, e: ApplyError) -> Step {
    let reason = error_chain(&e);
    let permanent = e.is_permanent();
    error!(error = %reason, permanent, "applying the event failed");
    deps.metrics.emit(
        Metric::count("webhook.failures")
            .with("event_type", job.event.event_type.clone())
            .with("reason", e.reason_code()),
    );
    let now = (deps.clock)();
    let prior = match deps
        .receipts
        .mark_failed(&job.event, &reason, permanent, now)
        .await
    {
        Ok(Verdict::Recorded(prior)) => prior,
        // Finished by another attempt meanwhile.
        Ok(Verdict::AlreadyFinal(_)) => {
            duplicate(deps, &job);
            return Step::Done {
                ok: true,
                observation: observe(&job, Outcome::Duplicate),
            };
        }
        Err(e) => {
            warn!(error = %e, "could not record the failure on the receipt");
            // Unrecorded, a permanent failure must not be acknowledged: it would be lost.
            return Step::Done {
                ok: false,
                observation: None,
            };
        }
    };
    let outcome = failed(prior, job.receives, permanent, deps);
    Step::Done {
        ok: permanent,
        observation: observe(&job, outcome),
    }
}

fn failed(prior: PriorReceipt, receives: u32, permanent: bool, deps: &ProcessorDeps) -> Outcome {
    let first = prior.state != Some(ReceiptState::Failed);
    Outcome::Failed {
        first,
        // Out of the queue, awaiting a replay: on its last receive, or at once when no
        // retry can help.
        dead_lettered: if permanent {
            first
        } else {
            receives >= deps.max_receive_count
        },
    }
}

/// What the first pass of an event ends in.
enum Pass {
    Verdict(Applied),
    /// A final verdict is recorded already (connection events read it first).
    Duplicate,
    Fetch {
        connection: Box<Connection>,
        kind: ResourceKind,
        id: String,
    },
}

async fn apply(deps: &ProcessorDeps, event: &QueuedEvent) -> Result<Pass, ApplyError> {
    let now = (deps.clock)();
    let envelope: WebhookEnvelope = serde_json::from_value(event.payload.clone())
        .map_err(|e| ApplyError::Payload(PayloadError::Envelope(e)))?;
    let kind = EventKind::parse(&envelope.event_type);
    let tenant = &event.tenant_id;
    let Some(object_kind) = object_kind(&envelope.event_type) else {
        // No version to compare: the receipt tells a duplicate before anything is done.
        if let Some(receipt) = deps.receipts.get(tenant, &event.event_id).await? {
            if receipt.state.is_final() {
                return Ok(Pass::Duplicate);
            }
        }
        return apply_connection_event(deps, event, &kind, &envelope, now)
            .await
            .map(Pass::Verdict);
    };

    let connection = deps
        .connections
        .get_connection(tenant, &event.connection_id)
        .await?
        .ok_or(ApplyError::UnknownConnection)?;
    if envelope.data_truncated {
        let id = envelope
            .data
            .get("id")
            .and_then(|v| v.as_str())
            .filter(|id| !id.trim().is_empty())
            .ok_or(ApplyError::Payload(PayloadError::TruncatedWithoutId))?
            .to_owned();
        return Ok(Pass::Fetch {
            connection: Box::new(connection),
            kind: object_kind,
            id,
        });
    }
    let wire = WireObject::from_json(object_kind, &envelope.data)?;
    let ctx = ContextResolver::new(deps.tenants.as_ref(), &connection)
        .context(&wire)
        .await?;
    let object = wire.into_domain(&ctx)?;
    let outcome = deps
        .object_stores()
        .upsert(tenant, &object, Freshness::Event)
        .await?;
    Ok(match outcome {
        UpsertOutcome::Applied => Pass::Verdict(Applied::Applied),
        // Stored already in exactly this state: an earlier attempt applied it (and failed
        // to record it), or another event carried the same state.
        UpsertOutcome::Duplicate => Pass::Verdict(Applied::Applied),
        // Older than what is stored, or gone from Trackstar since (a late redelivery must
        // not revive a deleted object; a newer event would have).
        UpsertOutcome::Stale | UpsertOutcome::Tombstoned => Pass::Verdict(Applied::Stale),
        // Two changes within one second of Trackstar's clock carry the same
        // `updated_date`, so the event cannot tell which is current: ask Trackstar
        // (authoritative), with the batch's other such events.
        // (`ChangedSinceRead` is an answer to a current-state write only.)
        UpsertOutcome::SameVersionDiffers | UpsertOutcome::ChangedSinceRead => {
            info!("same updated_date, other content: settling with Trackstar");
            Pass::Fetch {
                connection: Box::new(connection),
                id: object.id().to_owned(),
                kind: object_kind,
            }
        }
    })
}

/// Settles the fetches of the batch: one `ids[in]` listing per (tenant, connection, kind)
/// and 100 ids, each stored as Trackstar's current state; then each event's verdict.
async fn fetch_pending(
    deps: &ProcessorDeps,
    pending: Vec<PendingFetch>,
    deadline: Instant,
) -> Vec<(String, bool, Option<Observation>)> {
    let mut groups: BTreeMap<(String, String, String), Vec<PendingFetch>> = BTreeMap::new();
    for p in pending {
        let key = (
            p.job.event.tenant_id.to_string(),
            p.connection.connection_id.to_string(),
            format!("{:?}", p.kind),
        );
        groups.entry(key).or_default().push(p);
    }
    let mut done = Vec::new();
    for (_, group) in groups {
        let mut rest = group;
        while !rest.is_empty() {
            let chunk: Vec<PendingFetch> = rest.drain(..rest.len().min(MAX_FETCH_IDS)).collect();
            done.extend(fetch_chunk(deps, chunk, deadline).await);
        }
    }
    done
}

async fn fetch_chunk(
    deps: &ProcessorDeps,
    chunk: Vec<PendingFetch>,
    deadline: Instant,
) -> Vec<(String, bool, Option<Observation>)> {
    let mut out = Vec::with_capacity(chunk.len());
    let push = |message_id: String, step: Step, out: &mut Vec<_>| {
        if let Step::Done { ok, observation } = step {
            out.push((message_id, ok, observation));
        }
    };
    if remaining(deadline) < deps.limits.reserve + deps.limits.per_message {
        for p in chunk {
            deps.metrics.emit(Metric::count("webhook.unstarted"));
            push(
                p.job.message_id.clone(),
                Step::Done {
                    ok: false,
                    observation: None,
                },
                &mut out,
            );
        }
        return out;
    }
    let first = &chunk[0];
    let mut ids: Vec<String> = chunk.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let allowed = allowance(deps, deadline);
    // Before the request: a same-second copy stored after this instant may be newer than
    // the answer (see `SyncedStore::upsert_written`).
    let read_at = Timestamp::now();
    let fetched = AssertUnwindSafe(tokio::time::timeout(
        allowed,
        deps.fetcher.fetch_many(&first.connection, first.kind, &ids),
    ))
    .catch_unwind()
    .await
    .unwrap_or_else(|_| {
        error!("fetching objects from Trackstar panicked");
        deps.metrics
            .emit(Metric::count("webhook.failures").with("reason", "panic"));
        Ok(Err("the fetch panicked".into()))
    });
    let objects = match fetched {
        Ok(Ok(objects)) => objects,
        Ok(Err(e)) => {
            let shared = SharedFetchError(Arc::new(e));
            for p in chunk {
                let message_id = p.job.message_id.clone();
                let span = span_of(&p.job.event);
                let error = if is_not_found(shared.0.as_ref().as_ref()) {
                    ApplyError::NotInTrackstar
                } else {
                    ApplyError::Fetch(shared.clone())
                };
                let step = fail(deps, p.job, error).instrument(span).await;
                push(message_id, step, &mut out);
            }
            return out;
        }
        Err(_) => {
            deps.metrics.emit(Metric::count("webhook.cut_off"));
            for p in chunk {
                let message_id = p.job.message_id.clone();
                let span = span_of(&p.job.event);
                let step = fail(deps, p.job, ApplyError::TimedOut(allowed))
                    .instrument(span)
                    .await;
                push(message_id, step, &mut out);
            }
            return out;
        }
    };
    let mut by_id: BTreeMap<String, WireObject> = BTreeMap::new();
    for object in objects {
        if let Some(id) = object.id() {
            by_id.insert(id.to_owned(), object);
        }
    }
    let stores = deps.object_stores();
    for p in chunk {
        let span = span_of(&p.job.event);
        let message_id = p.job.message_id.clone();
        let step = async {
            let Some(wire) = by_id.get(&p.id).cloned() else {
                return fail(deps, p.job, ApplyError::NotInTrackstar).await;
            };
            let stored = async {
                let ctx = ContextResolver::new(deps.tenants.as_ref(), &p.connection)
                    .context(&wire)
                    .await?;
                let current = wire.into_domain(&ctx)?;
                Ok::<_, ApplyError>(
                    stores
                        .store_fetched(&p.job.event.tenant_id, &current, read_at)
                        .await?,
                )
            }
            .await;
            // Trackstar's state went in: the event is applied in the sense that its object
            // is current (whether or not the event itself carried that state).
            match stored {
                Ok(UpsertOutcome::Applied) => finish(deps, p.job, Applied::Applied, true).await,
                // A same-second copy was stored while Trackstar was asked: it may be the
                // later change, or an older one that landed after the read. A retry asks
                // Trackstar again, after that write.
                Ok(UpsertOutcome::ChangedSinceRead) => {
                    fail(deps, p.job, ApplyError::ChangedSinceRead).await
                }
                Ok(_) => finish(deps, p.job, Applied::Stale, true).await,
                Err(e) => fail(deps, p.job, e).await,
            }
        }
        .instrument(span)
        .await;
        push(message_id, step, &mut out);
    }
    out
}

/// A 404 from Trackstar: the object is gone (permanent for this event).
fn is_not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(crate::trackstar::TrackstarError::NotFound { .. }) =
            err.downcast_ref::<crate::trackstar::TrackstarError>()
        {
            return true;
        }
        current = err.source();
    }
    false
}

/// Applies a connection event through the one conditional write path: the change is
/// decided by [`connection_events::apply`] on the stored connection, ordered by the event's
/// time, and written only if no other write came in between (else decided again on the
/// newer copy), so concurrent events merge and an older one never undoes a newer one.
async fn apply_connection_event(
    deps: &ProcessorDeps,
    event: &QueuedEvent,
    kind: &EventKind,
    envelope: &WebhookEnvelope,
    now: Timestamp,
) -> Result<Applied, ApplyError> {
    if matches!(kind, EventKind::Other(_)) {
        info!("event type not handled; recorded and acknowledged");
        return Ok(Applied::Ignored);
    }
    let tenant = &event.tenant_id;
    let time = connection_events::event_time(kind, &envelope.data, event);
    // Resource webhooks skip the initial historical sync: a full sync is needed. The
    // request is kept on the connection (the scheduler consumes it, should this enqueue be
    // lost with a crash after the update) and queued now; a failed enqueue fails the event,
    // which is retried.
    let (connection, decision) = modify_connection(
        deps.connections.as_ref(),
        tenant,
        &event.connection_id,
        |c| match connection_events::apply(c, kind, &envelope.data, time.at, now) {
            Decision::Applied { full_sync } => Change::Write(Decision::Applied { full_sync }),
            other => Change::Keep(other),
        },
    )
    .await?
    .ok_or(ApplyError::UnknownConnection)?;
    // Sync-job and force-sync events: the backfill record and an incremental sync.
    let followed = sync_job_events::follow_up(
        deps.backfills.as_ref(),
        deps.sync_jobs.as_ref(),
        &connection,
        &sync_job_events::sync_follow_up(kind, &envelope.data),
        envelope.event_type.as_str(),
        time.at,
        now,
    )
    .await?;
    let full_sync = match decision {
        Decision::Applied { full_sync } => full_sync,
        Decision::Stale => {
            info!(event_time = %time.at, time_source = time.source, "older than the connection's state; not applied");
            return Ok(Applied::Stale);
        }
        Decision::Ignored if followed => return Ok(Applied::Applied),
        Decision::Ignored => return Ok(Applied::Ignored),
    };
    if kind == &EventKind::ConnectionScheduleStuck {
        warn!("Trackstar reports a stuck sync schedule");
    }
    if !full_sync.is_empty() && connection.status == ConnectionStatus::Active {
        request_sync(
            deps.sync_jobs.as_ref(),
            tenant,
            &event.connection_id,
            &full_sync,
            SyncMode::Full,
            envelope.event_type.as_str(),
            now,
        )
        .await?;
        info!(resources = full_sync.len(), "full sync queued");
    }
    Ok(Applied::Applied)
}
