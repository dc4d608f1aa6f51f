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
//!
//! The steps, one module each: `read` (queue messages → jobs, lookups warmed), `order`
//! (order keys; each object's messages in queue order), `apply` (first pass: an event →
//! its verdict, or a fetch), `fetch` (the batch's `ids[in]` refetches), `connection`
//! (connection events through `modify_connection`), `outcome` (receipts, metrics,
//! observations).

mod apply;
mod connection;
mod fetch;
mod order;
mod outcome;
mod read;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use super::envelope::QueuedEvent;
use super::ingest::Clock;
use super::receipts::ReceiptStore;
use crate::apply::ObjectStores;
use crate::health::{record_batch, Observation, WebhookStatsStore};
use crate::metrics::MetricsSink;
use crate::store::capacity::CapacityMeter;
use crate::store::{ConnectionStore, ObjectStore, TenantStore};
use crate::sync::SyncJobQueue;

pub use apply::ApplyError;
pub use fetch::{FetchError, ObjectFetcher, SharedFetchError, MAX_FETCH_IDS};
pub use outcome::Applied;

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
    /// Offboards a connection on `connection.deleted` (token, route, erase time); absent:
    /// the connection is only marked deleted.
    pub offboarding: Option<crate::lifecycle::offboard::ConnectionOffboarder>,
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
    Fetch(Box<fetch::PendingFetch>),
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The time a message may take from now: its allowance, or what is left before the
/// reserve.
fn allowance(deps: &ProcessorDeps, deadline: Instant) -> Duration {
    deps.limits
        .per_message
        .min(remaining(deadline).saturating_sub(deps.limits.reserve))
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
    let mut jobs = Vec::new();
    for message in event.records {
        match read::read_message(deps, message) {
            Ok(job) => jobs.push(job),
            Err(message_id) => failures.push(message_id),
        }
    }
    let groups = order::group(jobs);
    read::warm_lookups(deps, &groups).await;

    // First pass: each group in order, groups side by side.
    let results = order::run_groups(deps, groups, deadline).await;
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
    for (message_id, ok, observation) in fetch::fetch_pending(deps, pending, deadline).await {
        observations.extend(observation);
        if !ok {
            failures.push(message_id);
        }
    }

    record_batch(deps.stats.as_ref(), &observations, (deps.clock)()).await;
    deps.capacity.emit(deps.metrics.as_ref());
    respond(failures)
}

/// The batch's answer: exactly the messages to retry.
fn respond(failures: Vec<String>) -> SqsBatchResponse {
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
