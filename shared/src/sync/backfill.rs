//! Backfills: on-demand syncs Packr asked Trackstar for (`POST /sync/backfill`). Trackstar
//! re-reads one resource over a window from the WMS and moves the objects'
//! `trackstar_updated_date` (no resource webhooks); `connection.sync-job-completed` then
//! queues an incremental of the resource, whose window (on Trackstar's change clock) reads
//! them. Packr keeps a small record per job (`T#<t>#BACKFILL#<connection>` / `<job id>`,
//! kept [`RETENTION_DAYS`]) for `/sync/health`; Trackstar's events move its status.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ResourceKind;
use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::store::StoreError;

/// How long a backfill's record is kept (DynamoDB TTL).
pub const RETENTION_DAYS: i64 = 30;

/// At most this many backfills per connection are shown in `/sync/health`, newest first.
pub const SHOWN_PER_CONNECTION: usize = 20;

/// A backfill's status, as Trackstar's events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackfillStatus {
    /// Asked for; Trackstar is re-reading (its scheduled syncs of that data wait meanwhile).
    Open,
    /// Re-read; an incremental of the resource was queued.
    Completed,
    Cancelled,
    /// Trackstar reported the job stuck (`connection.sync-job-stuck`).
    Stuck,
}

impl BackfillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Stuck => "stuck",
        }
    }

    /// The statuses a job may be in for it to move to `self`: completed and cancelled are
    /// final; a stuck job may still complete or be cancelled (events arrive in any order,
    /// and a stuck report never undoes a completion).
    pub fn reachable_from(self) -> &'static [BackfillStatus] {
        match self {
            Self::Open => &[],
            Self::Completed | Self::Cancelled => &[Self::Open, Self::Stuck],
            Self::Stuck => &[Self::Open],
        }
    }
}

/// One backfill, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    /// Trackstar's job id.
    pub job_id: String,
    pub resource: ResourceKind,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub status: BackfillStatus,
    pub requested_at: Timestamp,
    /// When the status last changed.
    pub updated_at: Timestamp,
}

/// A backfill in API answers (`POST /sync/backfill`, `/sync/health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackfillView {
    /// Trackstar's on-demand sync job id.
    pub job_id: String,
    pub connection_id: String,
    pub resource: ResourceKind,
    /// Trackstar's function, e.g. `get_orders`.
    pub function_name: String,
    #[schema(value_type = String, format = DateTime)]
    pub start_time: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end_time: Timestamp,
    pub status: BackfillStatus,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<&Backfill> for BackfillView {
    fn from(b: &Backfill) -> Self {
        Self {
            job_id: b.job_id.clone(),
            connection_id: b.connection_id.to_string(),
            resource: b.resource,
            function_name: b.resource.spec().function.to_owned(),
            start_time: b.start_time,
            end_time: b.end_time,
            status: b.status,
            requested_at: b.requested_at,
            updated_at: b.updated_at,
        }
    }
}

/// What marking a backfill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// Its status changed.
    Changed,
    /// Unknown to Packr (asked for elsewhere, or expired), or already past that status.
    Unchanged,
}

/// Where backfill records live.
#[async_trait]
pub trait BackfillStore: Send + Sync {
    /// Records a job Trackstar accepted; a record already there (the same job answered
    /// again to a retried request) is kept as it is.
    async fn record_backfill(&self, backfill: &Backfill) -> Result<(), StoreError>;

    /// A connection's backfills, newest first (one Query).
    async fn backfills(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<Backfill>, StoreError>;

    /// Moves a job to `status` if its stored status allows it
    /// ([`BackfillStatus::reachable_from`]).
    async fn mark_backfill(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        job_id: &str,
        status: BackfillStatus,
        at: Timestamp,
    ) -> Result<Marked, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_and_cancelled_are_final_and_stuck_never_undoes_them() {
        use BackfillStatus::*;
        for next in [Completed, Cancelled] {
            assert_eq!(next.reachable_from(), &[Open, Stuck]);
        }
        assert_eq!(Stuck.reachable_from(), &[Open]);
        assert!(Open.reachable_from().is_empty());
        for status in [Open, Completed, Cancelled, Stuck] {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
        }
    }
}
