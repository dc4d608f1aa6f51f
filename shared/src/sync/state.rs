//! The durable state of one (tenant, connection, resource): lease and fencing token,
//! watermark, the checkpoint of the run in progress, and the last run's summary.
//!
//! One item per job at `T#<tenant>#SYNC#<connection>#<resource>` / `SYNC`. Every write of
//! a run is conditional on the fencing token the run's lease was granted with, so a worker
//! that lost its lease (it stalled past the expiry and another took over) can never
//! overwrite the new holder's checkpoint or watermark. (Its object upserts need no fence:
//! they are only-if-newer and carry Trackstar's own state.)

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::job::SyncMode;
use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::resource::ResourceKind;
use crate::store::StoreError;

/// Where a run stands: its window, the next page, what it has done so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub run_id: String,
    pub mode: SyncMode,
    /// Inclusive lower bound (whole seconds); `None` for a full sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// Exclusive upper bound (whole seconds).
    pub to: Timestamp,
    /// The next page's token; `None` before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    pub started_at: Timestamp,
    #[serde(default)]
    pub counts: RunCounts,
    /// Times the window was restarted because Trackstar refused a page token.
    #[serde(default)]
    pub restarts: u32,
    /// Chunks (invocations) the run has taken so far.
    #[serde(default)]
    pub chunks: u32,
    /// A reconciliation run's tally and phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<crate::sync::reconcile::ReconcileProgress>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub pages: u64,
    /// Objects Trackstar returned.
    pub fetched: u64,
    /// Written (new, newer, or the current state of a same-second change).
    pub applied: u64,
    /// Not written: the stored copy is as new or newer (e.g. a webhook got there first).
    pub unchanged: u64,
    /// Objects that could not be converted (logged with their id; skipped).
    pub invalid: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: &RunCounts) {
        self.pages += other.pages;
        self.fetched += other.fetched;
        self.applied += other.applied;
        self.unchanged += other.unchanged;
        self.invalid += other.invalid;
    }
}

/// How the last finished run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub mode: SyncMode,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    pub to: Timestamp,
    pub counts: RunCounts,
    pub chunks: u32,
}

/// The stored state of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    pub resource: ResourceKind,
    /// The last fencing token granted (0: never leased).
    #[serde(default)]
    pub fence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// Unix microseconds; the lease is free once this has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_us: Option<i64>,
    /// Everything changed before this instant has been stored (the last window's `to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<Timestamp>,
    /// When the last full run started (set by its checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_started_at: Option<Timestamp>,
    /// A full sync asked for while the job was leased: the holder enqueues it when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_requested_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// The newest reconciliation of this job (its report has the details).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile: Option<crate::sync::reconcile::ReconcileSummary>,
    /// Trackstar refuses this resource for this connection (403 "disabled by policy",
    /// 501 the integration lacks it): routine syncs skip it until it is re-checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

/// How Trackstar refused a resource for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// 403: off for this connection until Trackstar enables it (bills, the ledger).
    Forbidden,
    /// 501: the connection's integration does not have it.
    NotImplemented,
}

/// A resource Trackstar refused for a connection, as last checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    pub refusal: Refusal,
    /// Trackstar's message (no object data: an error body about the resource).
    pub message: String,
    /// First refused (kept across re-checks that are refused again).
    pub since: Timestamp,
    /// The last time Trackstar was asked.
    pub checked_at: Timestamp,
}

impl Unavailable {
    /// Whether routine (scheduled) syncs should still leave it alone at `now`.
    pub fn recently_checked(&self, now: Timestamp, recheck: std::time::Duration) -> bool {
        let age_ms = now.unix_millis() - self.checked_at.unix_millis();
        u128::try_from(age_ms).is_ok_and(|age| age < recheck.as_millis())
    }
}

impl SyncState {
    pub fn new(tenant: TenantId, connection: ConnectionId, resource: ResourceKind) -> Self {
        Self {
            tenant_id: tenant,
            connection_id: connection,
            resource,
            fence: 0,
            lease_owner: None,
            lease_expires_us: None,
            watermark: None,
            checkpoint: None,
            last_run: None,
            last_success_at: None,
            last_full_started_at: None,
            full_requested_at: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            last_reconcile: None,
            unavailable: None,
        }
    }

    /// Whether a lease is held at `now`.
    pub fn leased_at(&self, now: Timestamp) -> bool {
        self.lease_expires_us
            .is_some_and(|expires| expires > now.unix_micros())
    }
}

/// Which job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKey {
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    pub resource: ResourceKind,
}

/// A granted lease: the fencing token every write of the run carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: JobKey,
    pub owner: String,
    pub token: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The lease was taken over (fencing token moved on): stop, write nothing more.
    #[error("the lease was taken over by another worker")]
    Fenced,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sync state port.
#[async_trait]
pub trait SyncStateStore: Send + Sync {
    /// Takes the lease if it is free (never taken, released, or expired at `now`), bumping
    /// the fencing token. `None` when another holder's lease is still valid.
    async fn acquire(
        &self,
        key: &JobKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<(Lease, SyncState)>, StoreError>;

    /// Stores the checkpoint and extends the lease. `Fenced` if the lease was taken over.
    async fn checkpoint(
        &self,
        lease: &Lease,
        checkpoint: &Checkpoint,
        lease_until: Timestamp,
    ) -> Result<(), StateError>;

    /// The run finished: the watermark moves to `summary.to`, the checkpoint is cleared,
    /// the lease released. Returns the state as stored.
    async fn complete(
        &self,
        lease: &Lease,
        summary: &RunSummary,
        now: Timestamp,
    ) -> Result<SyncState, StateError>;

    /// A reconciliation run ended (complete or not): its summary is kept, the checkpoint
    /// cleared, the lease released. The watermark does not move.
    async fn complete_reconcile(
        &self,
        lease: &Lease,
        summary: &crate::sync::reconcile::ReconcileSummary,
        now: Timestamp,
    ) -> Result<(), StateError>;

    /// Releases the lease, keeping the checkpoint (a continuation or a retry resumes it).
    /// `error` is recorded as the last failure when given.
    async fn release(
        &self,
        lease: &Lease,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StateError>;

    /// Drops the checkpoint (a run that will not be resumed) and releases the lease.
    async fn abandon(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<(), StateError>;

    /// Trackstar refused the resource: the refusal is kept, the checkpoint dropped and the
    /// lease released. Not a failure (no `consecutive_failures`, no `last_error`): the
    /// other resources go on, and a completed run clears it.
    async fn mark_unavailable(
        &self,
        lease: &Lease,
        unavailable: &Unavailable,
    ) -> Result<(), StateError>;

    /// Records that a full sync was asked for (no lease needed).
    async fn request_full(&self, key: &JobKey, at: Timestamp) -> Result<(), StoreError>;

    async fn get(&self, key: &JobKey) -> Result<Option<SyncState>, StoreError>;

    /// Many states at once (missing ones are absent from the answer).
    async fn get_many(&self, keys: &[JobKey]) -> Result<Vec<SyncState>, StoreError>;
}
