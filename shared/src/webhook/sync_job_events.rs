//! Trackstar's sync events beyond the connection they concern (the connection's own part,
//! clearing stuck schedules, is `connection_events`):
//! - `connection.sync-job-completed` marks the backfill record (`sync::backfill`) completed
//!   and queues an incremental sync of the resource it names (`function_name`, else
//!   `resource`), whose window on Trackstar's change clock reads what the job re-read;
//!   (one whose `status` says `cancelled` marks it cancelled and queues nothing);
//! - `connection.sync-job-stuck` marks it stuck;
//! - `connection.force-sync-completed` queues an incremental of the resource it names.
//!
//! A backfill's record moves only forward (`BackfillStatus::reachable_from`), so a
//! duplicate or late event changes nothing; queueing twice is harmless (one run per lease,
//! only-if-newer upserts).

use serde_json::Value;

use super::envelope::EventKind;
use super::processor::ApplyError;
use crate::domain::{Connection, ConnectionStatus, Timestamp};
use crate::sync::{
    request_sync, BackfillStatus, BackfillStore, Marked, ResourceKind, SyncJobQueue, SyncMode,
};

/// What a sync-job or force-sync event asks for beyond the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncFollowUp {
    /// The backfill (Trackstar's job id) and the status it moves to.
    pub backfill: Option<(String, BackfillStatus)>,
    /// The resource to sync incrementally.
    pub incremental: Option<ResourceKind>,
}

fn text<'a>(data: &'a Value, fields: &[&str]) -> Option<&'a str> {
    fields
        .iter()
        .find_map(|f| data.get(*f).and_then(|v| v.as_str()))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The follow-up of an event (nothing for other kinds). The resource is read from
/// `function_name`, else `resource`; a function Packr does not mirror names none.
pub fn sync_follow_up(kind: &EventKind, data: &Value) -> SyncFollowUp {
    let resource = || {
        ["function_name", "resource"]
            .iter()
            .find_map(|f| text(data, &[f]).and_then(ResourceKind::parse))
    };
    let job = || text(data, &["sync_job_id", "job_id", "id"]).map(str::to_owned);
    match kind {
        // A job the event reports cancelled re-read nothing to sync.
        EventKind::ConnectionSyncJobCompleted if text(data, &["status"]) == Some("cancelled") => {
            SyncFollowUp {
                backfill: job().map(|id| (id, BackfillStatus::Cancelled)),
                incremental: None,
            }
        }
        EventKind::ConnectionSyncJobCompleted => SyncFollowUp {
            backfill: job().map(|id| (id, BackfillStatus::Completed)),
            incremental: resource(),
        },
        EventKind::ConnectionSyncJobStuck => SyncFollowUp {
            backfill: job().map(|id| (id, BackfillStatus::Stuck)),
            incremental: None,
        },
        EventKind::ConnectionForceSyncCompleted => SyncFollowUp {
            backfill: None,
            incremental: resource(),
        },
        _ => SyncFollowUp::default(),
    }
}

/// Carries out a follow-up for `connection` (the event's time `at`, the processing time
/// `now`): moves the backfill record, then queues the incremental (only for an active
/// connection). Whether anything changed or was queued.
pub async fn follow_up(
    backfills: &dyn BackfillStore,
    sync_jobs: &dyn SyncJobQueue,
    connection: &Connection,
    follow_up: &SyncFollowUp,
    reason: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<bool, ApplyError> {
    let mut done = false;
    if let Some((job_id, status)) = &follow_up.backfill {
        let marked = backfills
            .mark_backfill(
                &connection.tenant_id,
                &connection.connection_id,
                job_id,
                *status,
                at,
            )
            .await?;
        tracing::info!(
            job_id = job_id.as_str(),
            status = status.as_str(),
            changed = marked == Marked::Changed,
            "backfill status"
        );
        done |= marked == Marked::Changed;
    }
    if let Some(resource) = follow_up.incremental {
        if connection.status == ConnectionStatus::Active {
            request_sync(
                sync_jobs,
                &connection.tenant_id,
                &connection.connection_id,
                &[resource],
                SyncMode::Incremental,
                reason,
                now,
            )
            .await?;
            tracing::info!(
                resource = resource.as_str(),
                "incremental sync queued after Trackstar's sync"
            );
            done = true;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sync_job_and_force_sync_events_name_the_backfill_and_the_resource_to_sync() {
        let completed = json!({"sync_job_id": "sync_job_1", "function_name": "get_returns", "resource": "returns", "status": "completed"});
        assert_eq!(
            sync_follow_up(&EventKind::ConnectionSyncJobCompleted, &completed),
            SyncFollowUp {
                backfill: Some(("sync_job_1".into(), BackfillStatus::Completed)),
                incremental: Some(ResourceKind::Returns),
            }
        );
        let cancelled = json!({"sync_job_id": "sync_job_3", "function_name": "get_orders", "status": "cancelled"});
        assert_eq!(
            sync_follow_up(&EventKind::ConnectionSyncJobCompleted, &cancelled),
            SyncFollowUp {
                backfill: Some(("sync_job_3".into(), BackfillStatus::Cancelled)),
                incremental: None,
            }
        );
        let stuck = json!({"sync_job_id": "sync_job_2", "function_name": "get_orders"});
        assert_eq!(
            sync_follow_up(&EventKind::ConnectionSyncJobStuck, &stuck),
            SyncFollowUp {
                backfill: Some(("sync_job_2".into(), BackfillStatus::Stuck)),
                incremental: None,
            }
        );
        // a force sync names its resource by function or by name
        for data in [
            json!({"function_name": "get_inbound_shipments"}),
            json!({"resource": "inbound_shipments"}),
        ] {
            assert_eq!(
                sync_follow_up(&EventKind::ConnectionForceSyncCompleted, &data).incremental,
                Some(ResourceKind::InboundShipments)
            );
        }
        // a function Packr does not mirror, and other kinds, ask for nothing
        let ledger = json!({"function_name": "get_inventory_ledger"});
        assert_eq!(
            sync_follow_up(&EventKind::ConnectionForceSyncCompleted, &ledger),
            SyncFollowUp::default()
        );
        assert_eq!(
            sync_follow_up(&EventKind::ConnectionCreated, &completed),
            SyncFollowUp::default()
        );
    }
}
