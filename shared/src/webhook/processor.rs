//! webhook-processor: applies queued events exactly once and never out of order.
//!
//! Each SQS message is processed on its own (own span, own panic boundary); the batch
//! response names exactly the messages that failed, so SQS retries only those and, after
//! `maxReceiveCount`, moves them to the DLQ. Exactly-once is keyed by tenant + event id in
//! the idempotency store (never the SQS message id, which a DLQ redrive changes), and
//! only-if-newer upserts keep an older event from overwriting a newer state.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use serde_json::json;
use tracing::{error, info, warn, Instrument};

use super::connection_events::{self, Decision};
use super::envelope::{EventKind, QueuedEvent, WebhookEnvelope};
use super::ingest::Clock;
use super::objects::{ObjectKind, WireObject};
use super::receipts::{PriorReceipt, ReceiptState, ReceiptStore};
use crate::apply::{ContextResolver, Freshness, ObjectStores};
use crate::domain::{Connection, ConnectionStatus, InventoryItem, Order, Product, Timestamp};
use crate::health::{record_batch, Observation, Outcome, StatsResource, WebhookStatsStore};
use crate::idempotency::{
    Fingerprint, IdempotencyError, IdempotencyKey, IdempotencyStore, NextAction, SavedResponse,
    Scope,
};
use crate::metrics::{Metric, MetricsSink};
use crate::store::{
    modify_connection, Change, ConnectionStore, StoreError, SyncedStore, TenantStore, UpsertOutcome,
};
use crate::sync::{request_sync, SyncJobQueue, SyncMode, SyncQueueError};

pub const APPLY_SCOPE: Scope = Scope::new("webhook.apply");

/// Fetches an object through the Trackstar API (for events with `data_truncated`).
#[async_trait]
pub trait ObjectFetcher: Send + Sync {
    async fn fetch(
        &self,
        connection: &Connection,
        kind: ObjectKind,
        id: &str,
    ) -> Result<WireObject, Box<dyn std::error::Error + Send + Sync>>;
}

pub struct ProcessorDeps {
    pub orders: Arc<dyn SyncedStore<Order>>,
    pub inventory: Arc<dyn SyncedStore<InventoryItem>>,
    pub products: Arc<dyn SyncedStore<Product>>,
    pub tenants: Arc<dyn TenantStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub receipts: Arc<dyn ReceiptStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub fetcher: Arc<dyn ObjectFetcher>,
    /// Where `connection.created` and `connection.historical-sync-completed` queue the
    /// full syncs they call for.
    pub sync_jobs: Arc<dyn SyncJobQueue>,
    pub metrics: Arc<dyn MetricsSink>,
    /// Per-connection webhook figures, one write per connection per batch.
    pub stats: Arc<dyn WebhookStatsStore>,
    /// The webhook queue's `maxReceiveCount`: a failure on that receive dead-letters.
    pub max_receive_count: u32,
    pub clock: Clock,
}

/// The template's `maxReceiveCount` of the webhook queue.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

impl ProcessorDeps {
    /// The one upsert path (shared with sync and reconciliation).
    pub fn object_stores(&self) -> ObjectStores<'_> {
        ObjectStores {
            orders: self.orders.as_ref(),
            inventory: self.inventory.as_ref(),
            products: self.products.as_ref(),
        }
    }
}

/// Why applying an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("event payload is not a valid webhook: {0}")]
    Payload(String),
    #[error("data store failed")]
    Store(#[from] StoreError),
    #[error("fetching the truncated object from Trackstar failed: {0}")]
    Fetch(String),
    #[error("the connection is not known to its tenant")]
    UnknownConnection,
    #[error("queueing the full sync failed")]
    SyncQueue(#[from] SyncQueueError),
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

impl From<UpsertOutcome> for Applied {
    fn from(outcome: UpsertOutcome) -> Self {
        match outcome {
            UpsertOutcome::Applied => Applied::Applied,
            UpsertOutcome::Stale | UpsertOutcome::Duplicate | UpsertOutcome::SameVersionDiffers => {
                Applied::Stale
            }
        }
    }
}

/// Handles one SQS batch; never fails as a whole. The batch's outcomes are recorded in the
/// webhook stats at the end: one `UpdateItem` per (tenant, connection) in the batch.
pub async fn handle_batch(deps: &ProcessorDeps, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut observations = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let outcome = AssertUnwindSafe(process_message(deps, message))
            .catch_unwind()
            .await;
        let ok = match outcome {
            Ok((ok, observation)) => {
                observations.extend(observation);
                ok
            }
            Err(_) => {
                error!(message_id = %id, "processing a message panicked");
                deps.metrics
                    .emit(Metric::count("webhook.failures").with("reason", "panic"));
                false
            }
        };
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    record_batch(deps.stats.as_ref(), &observations, (deps.clock)()).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Processes one message; `true` when it may be deleted from the queue, and what the stats
/// record of it.
async fn process_message(deps: &ProcessorDeps, message: SqsMessage) -> (bool, Option<Observation>) {
    let started = std::time::Instant::now();
    let receives = receive_count(&message);
    let event: QueuedEvent = match message
        .body
        .as_deref()
        .map(serde_json::from_str::<QueuedEvent>)
    {
        Some(Ok(event)) => event,
        Some(Err(e)) => {
            error!(message_id = ?message.message_id, error = %e, "unreadable queue message");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            return (false, None);
        }
        None => {
            error!(message_id = ?message.message_id, "queue message without a body");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            return (false, None);
        }
    };
    let span = tracing::info_span!(
        "webhook_event",
        tenant_id = %event.tenant_id,
        brand_id = event.brand_id.as_ref().map(|b| b.as_str()).unwrap_or(""),
        event_id = %event.event_id,
        correlation_id = %event.correlation_id,
        event_type = %event.event_type,
    );
    process_event(deps, &event, started, receives)
        .instrument(span)
        .await
}

fn observe(
    event: &QueuedEvent,
    outcome: Outcome,
    started: std::time::Instant,
) -> Option<Observation> {
    Some(Observation {
        tenant: event.tenant_id.clone(),
        connection: event.connection_id.clone(),
        resource: StatsResource::of_event_type(&event.event_type),
        received_at: event.received_at,
        outcome,
        latency_ms: started.elapsed().as_millis() as u64,
    })
}

fn failed(prior: PriorReceipt, receives: u32, deps: &ProcessorDeps) -> Outcome {
    Outcome::Failed {
        first: prior.state != Some(ReceiptState::Failed),
        dead_lettered: receives >= deps.max_receive_count,
    }
}

async fn process_event(
    deps: &ProcessorDeps,
    event: &QueuedEvent,
    started: std::time::Instant,
    receives: u32,
) -> (bool, Option<Observation>) {
    let now = (deps.clock)();
    let key = match IdempotencyKey::parse(event.event_id.as_str()) {
        Ok(key) => key,
        Err(_) => return (false, None),
    };
    let fingerprint = Fingerprint::of_json(&event.payload);
    let lease = match deps
        .idempotency
        .begin(&event.tenant_id, APPLY_SCOPE, &key, &fingerprint, now)
        .await
    {
        Ok(NextAction::Start(lease)) => lease,
        Ok(NextAction::ReturnSaved(_)) => {
            deps.metrics.emit(
                Metric::count("webhook.duplicate_events")
                    .with("event_type", event.event_type.clone()),
            );
            info!("event already applied; duplicate acknowledged");
            return (true, observe(event, Outcome::Duplicate, started));
        }
        Err(IdempotencyError::InProgress { .. }) => {
            info!("event is being applied by another attempt; retrying later");
            return (false, None);
        }
        Err(e) => {
            error!(error = %e, "idempotency check failed");
            let reason = e.to_string();
            let prior = record_failure(deps, event, &reason, now).await;
            return (
                false,
                observe(event, failed(prior, receives, deps), started),
            );
        }
    };

    match apply(deps, event, now).await {
        Ok(applied) => {
            let saved = SavedResponse {
                status: 200,
                body: json!({"outcome": applied.as_str()}),
            };
            if let Err(e) = deps.idempotency.complete(&lease, &saved, now).await {
                // The write itself is idempotent (only-if-newer); a retry re-applies safely.
                warn!(error = %e, "applied, but the idempotency record could not be completed");
            }
            let prior = match deps
                .receipts
                .mark_processed(
                    &event.tenant_id,
                    &event.event_id,
                    applied.receipt_state(),
                    None,
                    now,
                )
                .await
            {
                Ok(prior) => prior,
                Err(e) => {
                    warn!(error = %e, "applied, but the receipt could not be updated");
                    PriorReceipt::default()
                }
            };
            let was_failed = prior.state == Some(ReceiptState::Failed);
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
                Metric::millis("webhook.lag_ms", lag as f64).with("event_type", event_type.clone()),
            );
            deps.metrics.emit(
                Metric::millis(
                    "webhook.processing_latency_ms",
                    started.elapsed().as_secs_f64() * 1000.0,
                )
                .with("event_type", event_type),
            );
            info!(outcome = applied.as_str(), lag_ms = lag, "event processed");
            let outcome = Outcome::Finished {
                was_failed,
                // It had failed on every receive it was given: it sat in the DLQ.
                was_dead_lettered: was_failed
                    && prior.processing_attempts >= deps.max_receive_count,
            };
            (true, observe(event, outcome, started))
        }
        Err(e) => {
            let reason = error_chain(&e);
            error!(error = %reason, "applying the event failed");
            if let Err(e) = deps.idempotency.abandon(&lease).await {
                warn!(error = %e, "could not release the idempotency lease; it will expire");
            }
            let prior = record_failure(deps, event, &reason, now).await;
            (
                false,
                observe(event, failed(prior, receives, deps), started),
            )
        }
    }
}

async fn record_failure(
    deps: &ProcessorDeps,
    event: &QueuedEvent,
    reason: &str,
    now: Timestamp,
) -> PriorReceipt {
    deps.metrics
        .emit(Metric::count("webhook.failures").with("event_type", event.event_type.clone()));
    // The receipt keeps the event for replay (and lists it as failed) until it is applied.
    match deps.receipts.mark_failed(event, reason, now).await {
        Ok(prior) => prior,
        Err(e) => {
            warn!(error = %e, "could not record the failure on the receipt");
            PriorReceipt::default()
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn apply(
    deps: &ProcessorDeps,
    event: &QueuedEvent,
    now: Timestamp,
) -> Result<Applied, ApplyError> {
    let envelope: WebhookEnvelope = serde_json::from_value(event.payload.clone())
        .map_err(|e| ApplyError::Payload(e.to_string()))?;
    let kind = EventKind::parse(&envelope.event_type);
    let object_kind = match kind {
        EventKind::OrderCreated | EventKind::OrderUpdated | EventKind::OrderShipmentCreated => {
            Some(ObjectKind::Order)
        }
        EventKind::InventoryCreated | EventKind::InventoryUpdated => Some(ObjectKind::Inventory),
        EventKind::ProductCreated | EventKind::ProductUpdated => Some(ObjectKind::Product),
        _ => None,
    };
    let tenant = &event.tenant_id;
    let Some(object_kind) = object_kind else {
        return apply_connection_event(deps, event, &kind, &envelope, now).await;
    };

    let connection = deps
        .connections
        .get_connection(tenant, &event.connection_id)
        .await?
        .ok_or(ApplyError::UnknownConnection)?;
    let wire = if envelope.data_truncated {
        let id = envelope
            .data
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ApplyError::Payload("truncated event without data.id".into()))?;
        deps.fetcher
            .fetch(&connection, object_kind, id)
            .await
            .map_err(|e| ApplyError::Fetch(error_chain(e.as_ref())))?
    } else {
        WireObject::from_json(object_kind, &envelope.data).map_err(ApplyError::Payload)?
    };

    let ctx = ContextResolver::new(deps.tenants.as_ref(), &connection)
        .context(&wire)
        .await?;
    let object = wire.into_domain(&ctx).map_err(ApplyError::Payload)?;
    let stores = deps.object_stores();
    let outcome = stores.upsert(tenant, &object, Freshness::Event).await?;
    if outcome != UpsertOutcome::SameVersionDiffers {
        return Ok(outcome.into());
    }
    // Two changes within one second of Trackstar's clock carry the same `updated_date`, so
    // the event cannot tell which is current: ask Trackstar (authoritative) and store its
    // answer, replacing a same-version copy.
    info!("same updated_date, other content: fetching the current object from Trackstar");
    let current = deps
        .fetcher
        .fetch(&connection, object_kind, object.id())
        .await
        .map_err(|e| ApplyError::Fetch(error_chain(e.as_ref())))?
        .into_domain(&ctx)
        .map_err(ApplyError::Payload)?;
    Ok(stores
        .upsert(tenant, &current, Freshness::Current)
        .await?
        .into())
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
    let full_sync = match decision {
        Decision::Applied { full_sync } => full_sync,
        Decision::Stale => {
            info!(event_time = %time.at, time_source = time.source, "older than the connection's state; not applied");
            return Ok(Applied::Stale);
        }
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
