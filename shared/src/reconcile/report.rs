//! The report of one reconciliation run, and where reports are kept (90 days).
//!
//! Reports live at `T#<tenant>#RECON` / `<run id>` (run ids are UUIDv7, so they sort by
//! time: newest first by keyset pagination), with `expires_at` 90 days after the run
//! finished. The newest report of each job is also summarised on its sync state
//! (`SyncState::last_reconcile`), so health reads need no query.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{BrandId, ConnectionId, TenantId, Timestamp};
use crate::store::{Page, PageRequest, StoreError};
use crate::sync::SyncResource;

/// How one id compares between Trackstar and Packr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftClass {
    /// Trackstar has it, Packr does not: a webhook Packr missed.
    MissingLocal,
    /// Trackstar's version is newer.
    StaleLocal,
    /// Packr's version is newer (settled by refetching that one object).
    AheadLocal,
    /// Packr has it, Trackstar does not (deleted upstream): tombstoned after a complete walk.
    MissingRemote,
    InSync,
}

impl DriftClass {
    pub const ALL: [DriftClass; 5] = [
        DriftClass::MissingLocal,
        DriftClass::StaleLocal,
        DriftClass::AheadLocal,
        DriftClass::MissingRemote,
        DriftClass::InSync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::MissingLocal => "missing_local",
            DriftClass::StaleLocal => "stale_local",
            DriftClass::AheadLocal => "ahead_local",
            DriftClass::MissingRemote => "missing_remote",
            DriftClass::InSync => "in_sync",
        }
    }
}

/// At most this many sample ids are kept per class.
pub const MAX_SAMPLES: usize = 20;

/// Counts and sample ids per class, as a run accumulates them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftTally {
    #[serde(default)]
    pub counts: BTreeMap<DriftClass, u64>,
    #[serde(default)]
    pub samples: BTreeMap<DriftClass, Vec<String>>,
    /// Objects written (or tombstoned) to repair drift.
    #[serde(default)]
    pub repaired: u64,
}

impl DriftTally {
    pub fn record(&mut self, class: DriftClass, id: &str) {
        *self.counts.entry(class).or_default() += 1;
        if class != DriftClass::InSync {
            let samples = self.samples.entry(class).or_default();
            if samples.len() < MAX_SAMPLES {
                samples.push(id.to_owned());
            }
        }
    }

    pub fn count(&self, class: DriftClass) -> u64 {
        self.counts.get(&class).copied().unwrap_or(0)
    }

    /// Everything that is not in sync.
    pub fn drift(&self) -> u64 {
        self.counts
            .iter()
            .filter(|(class, _)| **class != DriftClass::InSync)
            .map(|(_, n)| *n)
            .sum()
    }
}

/// One reconciliation run of one (connection, resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    /// The run id (`run_…`), also the report's id.
    pub id: String,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    /// The connection's brand, or the brands of the objects walked.
    #[serde(default)]
    pub brand_ids: Vec<BrandId>,
    pub resource: SyncResource,
    pub dry_run: bool,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Whether both lists were walked to their end. Only a complete walk tombstones.
    pub complete: bool,
    /// Why the walk stopped early, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    pub tally: DriftTally,
    /// Trackstar GETs the run spent.
    pub trackstar_gets: u64,
    pub duration_ms: u64,
}

/// Where reports are kept.
#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn put_report(&self, report: &ReconcileReport) -> Result<(), StoreError>;
    async fn get_report(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ReconcileReport>, StoreError>;
    /// Newest first; `brand` keeps only reports that concern that brand.
    async fn list_reports(
        &self,
        tenant: &TenantId,
        brand: Option<&BrandId>,
        page: &PageRequest,
    ) -> Result<Page<ReconcileReport>, StoreError>;

    /// Records the remote ids of one page of a run's walk (kept a few days).
    async fn put_seen(
        &self,
        tenant: &TenantId,
        run_id: &str,
        page: u32,
        ids: &[String],
    ) -> Result<(), StoreError>;

    /// Every remote id a run's walk has recorded.
    async fn seen(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError>;
}

/// What the sync state keeps of the newest reconciliation of its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileSummary {
    pub report_id: String,
    pub finished_at: Timestamp,
    pub complete: bool,
    pub dry_run: bool,
    pub drift: u64,
    pub missing_local: u64,
    pub repaired: u64,
}

impl From<&ReconcileReport> for ReconcileSummary {
    fn from(r: &ReconcileReport) -> Self {
        Self {
            report_id: r.id.clone(),
            finished_at: r.finished_at,
            complete: r.complete,
            dry_run: r.dry_run,
            drift: r.tally.drift(),
            missing_local: r.tally.count(DriftClass::MissingLocal),
            repaired: r.tally.repaired,
        }
    }
}
