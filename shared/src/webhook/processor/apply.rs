//! The first pass: an event → its verdict (stored only if newer), or the fetch that
//! settles it (truncated, or a same-second copy with other content).

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tracing::{error, info, warn};

use super::connection::apply_connection_event;
use super::fetch::{PendingFetch, SharedFetchError};
use super::order::object_kind;
use super::outcome::{duplicate, fail, finish, observe, Applied};
use super::{allowance, Job, ProcessorDeps, Step};
use crate::apply::{ContextResolver, Freshness};
use crate::domain::Connection;
use crate::health::Outcome;
use crate::metrics::Metric;
use crate::resource::{PayloadError, ResourceKind, WireObject};
use crate::store::{StoreError, UpsertOutcome};
use crate::sync::SyncQueueError;
use crate::webhook::envelope::{EventKind, QueuedEvent, WebhookEnvelope};

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
    #[error("offboarding the deleted connection failed")]
    Offboard(#[from] crate::lifecycle::offboard::OffboardConnectionError),
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

    pub(super) fn reason_code(&self) -> &'static str {
        match self {
            ApplyError::Payload(_) => "payload",
            ApplyError::Store(_) => "store",
            ApplyError::Fetch(_) => "fetch",
            ApplyError::NotInTrackstar => "not_in_trackstar",
            ApplyError::UnknownConnection => "unknown_connection",
            ApplyError::SyncQueue(_) => "sync_queue",
            ApplyError::Offboard(_) => "offboard",
            ApplyError::TimedOut(_) => "timed_out",
            ApplyError::ChangedSinceRead => "changed_since_read",
        }
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

pub(super) async fn first_pass(deps: &ProcessorDeps, job: Job, deadline: Instant) -> Step {
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
    if connection.is_offboarded() || connection.marks.deleted_at.is_some() {
        // Deleted at Trackstar or offboarded: nothing of it is stored any more (ingest
        // refuses these; one queued before the route was marked ends here).
        info!("the connection is deleted: event not applied");
        return Ok(Pass::Verdict(Applied::Ignored));
    }
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
