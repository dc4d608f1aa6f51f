//! Connection events: no object version to compare, so each is decided on the stored
//! connection and written through `modify_connection`.

use tracing::{info, warn};

use super::apply::ApplyError;
use super::outcome::Applied;
use super::ProcessorDeps;
use crate::domain::{ConnectionStatus, Timestamp};
use crate::store::{modify_connection, Change};
use crate::sync::{request_sync, SyncMode};
use crate::webhook::connection_events::{self, Decision};
use crate::webhook::envelope::{EventKind, QueuedEvent, WebhookEnvelope};
use crate::webhook::sync_job_events;

/// Applies a connection event through the one conditional write path: the change is
/// decided by [`connection_events::apply`] on the stored connection, ordered by the event's
/// time, and written only if no other write came in between (else decided again on the
/// newer copy), so concurrent events merge and an older one never undoes a newer one.
pub(super) async fn apply_connection_event(
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
    // A deletion offboards the connection (token, route, erase time): also when the event
    // is a redelivery (stale), in case the first attempt stopped between the two writes.
    // A relinked connection has no deletion mark: a late deletion leaves it alone.
    if kind == &EventKind::ConnectionDeleted && connection.marks.deleted_at.is_some() {
        if let Some(offboarder) = &deps.offboarding {
            let deleted_at = connection.marks.deleted_at.unwrap_or(time.at);
            offboarder
                .offboard(tenant, &event.connection_id, deleted_at, now)
                .await?;
        }
    }
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
