//! The report of one reconciliation run, and where reports are kept (90 days).
//!
//! Reports live at `T#<tenant>#RECON` / `<run id>` (run ids are UUIDv7, so they sort by
//! time: newest first by keyset pagination), with `expires_at` 90 days after the run
//! finished. The newest report of each job is also summarised on its sync state
//! (`SyncState::last_reconcile`), so health reads need no query.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{BrandId, ConnectionId, TenantId, Timestamp};
use crate::store::{Page, PageRequest, StoreError};
use crate::sync::ResourceKind;

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

/// At most this many sample ids are kept per class and brand (a shared connection may serve
/// many brands: the report stays a compact item).
pub const MAX_BRAND_SAMPLES: usize = 5;

/// One brand's share of a run: what a user of that brand is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandDrift {
    #[serde(default)]
    pub counts: BTreeMap<DriftClass, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub samples: BTreeMap<DriftClass, Vec<String>>,
    #[serde(default)]
    pub repaired: u64,
}

/// Counts `id` in `class`, keeping it as a sample while there are fewer than `max_samples`.
fn note(
    counts: &mut BTreeMap<DriftClass, u64>,
    samples: &mut BTreeMap<DriftClass, Vec<String>>,
    (class, id): (DriftClass, &str),
    max_samples: usize,
) {
    *counts.entry(class).or_default() += 1;
    if class != DriftClass::InSync {
        let samples = samples.entry(class).or_default();
        if samples.len() < max_samples {
            samples.push(id.to_owned());
        }
    }
}

/// Counts and sample ids per class, as a run accumulates them: for the whole run (what
/// tenant-wide roles see) and per brand of the objects (what brand users see).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftTally {
    #[serde(default)]
    pub counts: BTreeMap<DriftClass, u64>,
    #[serde(default)]
    pub samples: BTreeMap<DriftClass, Vec<String>>,
    /// Objects written (or tombstoned) to repair drift.
    #[serde(default)]
    pub repaired: u64,
    /// The same per brand (objects of no brand only count in the totals above). Absent from
    /// reports written before it was kept: their brand users are shown nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_brand: BTreeMap<BrandId, BrandDrift>,
}

impl DriftTally {
    /// Counts `id` in `class`, for the run and for the object's brand.
    pub fn record(&mut self, class: DriftClass, id: &str, brand: Option<&BrandId>) {
        note(
            &mut self.counts,
            &mut self.samples,
            (class, id),
            MAX_SAMPLES,
        );
        if let Some(brand) = brand {
            let mine = self.by_brand.entry(brand.clone()).or_default();
            note(
                &mut mine.counts,
                &mut mine.samples,
                (class, id),
                MAX_BRAND_SAMPLES,
            );
        }
    }

    /// Counts one repaired object, for the run and for its brand.
    pub fn repaired_for(&mut self, brand: Option<&BrandId>) {
        self.repaired += 1;
        if let Some(brand) = brand {
            self.by_brand.entry(brand.clone()).or_default().repaired += 1;
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

    /// The part of the run that concerns `brands`: their counts, samples and repairs, and
    /// nothing of any other brand's (or of objects of no brand). When every object of the
    /// run is theirs, the whole tally (with its longer sample lists).
    pub fn for_brands(&self, brands: &BTreeSet<BrandId>) -> DriftTally {
        let by_brand: BTreeMap<BrandId, BrandDrift> = self
            .by_brand
            .iter()
            .filter(|(brand, _)| brands.contains(*brand))
            .map(|(brand, drift)| (brand.clone(), drift.clone()))
            .collect();
        let mut scoped = DriftTally::default();
        for drift in by_brand.values() {
            for (class, n) in &drift.counts {
                *scoped.counts.entry(*class).or_default() += n;
            }
            for (class, ids) in &drift.samples {
                scoped
                    .samples
                    .entry(*class)
                    .or_default()
                    .extend(ids.iter().cloned());
            }
            scoped.repaired += drift.repaired;
        }
        if scoped.counts == self.counts {
            scoped.samples = self.samples.clone();
            scoped.repaired = self.repaired;
        }
        scoped.by_brand = by_brand;
        scoped
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
    pub resource: ResourceKind,
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
    /// When the run started: a reconciliation asked for no later than this is served by
    /// it (absent in states written before it was kept).
    #[serde(default)]
    pub started_at: Option<Timestamp>,
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
            started_at: Some(r.started_at),
            finished_at: r.finished_at,
            complete: r.complete,
            dry_run: r.dry_run,
            drift: r.tally.drift(),
            missing_local: r.tally.count(DriftClass::MissingLocal),
            repaired: r.tally.repaired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(b: &str) -> BrandId {
        BrandId::parse(b).unwrap()
    }

    /// A shared connection's run: b1 and b2 drift, one object of no brand.
    fn shared_run() -> DriftTally {
        let (b1, b2) = (brand("b1"), brand("b2"));
        let mut t = DriftTally::default();
        t.record(DriftClass::MissingLocal, "ord_b1_missing", Some(&b1));
        t.record(DriftClass::StaleLocal, "ord_b1_stale", Some(&b1));
        t.record(DriftClass::InSync, "ord_b1_ok", Some(&b1));
        t.record(DriftClass::MissingLocal, "ord_b2_missing", Some(&b2));
        t.record(DriftClass::MissingRemote, "ord_b2_gone", Some(&b2));
        t.record(DriftClass::MissingLocal, "ord_nobrand", None);
        t.repaired_for(Some(&b1));
        t.repaired_for(Some(&b2));
        t.repaired_for(Some(&b2));
        t
    }

    #[test]
    fn a_brands_share_holds_only_its_counts_samples_and_repairs() {
        // given a run with drift in two brands and in an object of no brand
        let t = shared_run();
        assert_eq!(t.count(DriftClass::MissingLocal), 3);
        // when b1's share is taken
        let b1 = t.for_brands(&BTreeSet::from([brand("b1")]));
        // then it counts and names only b1's objects
        assert_eq!(b1.count(DriftClass::MissingLocal), 1);
        assert_eq!(b1.count(DriftClass::StaleLocal), 1);
        assert_eq!(b1.count(DriftClass::InSync), 1);
        assert_eq!(b1.count(DriftClass::MissingRemote), 0);
        assert_eq!(b1.repaired, 1);
        let named: Vec<&String> = b1.samples.values().flatten().collect();
        assert_eq!(named, ["ord_b1_missing", "ord_b1_stale"]);
        assert_eq!(b1.by_brand.keys().collect::<Vec<_>>(), [&brand("b1")]);
        // and both brands together still leave out the object of no brand
        let both = t.for_brands(&BTreeSet::from([brand("b1"), brand("b2")]));
        assert_eq!(both.count(DriftClass::MissingLocal), 2);
        assert_eq!(both.repaired, 3);
        assert!(!format!("{:?}", both.samples).contains("ord_nobrand"));
        // and a brand with no objects in the run sees nothing
        assert_eq!(
            t.for_brands(&BTreeSet::from([brand("b9")])),
            DriftTally::default()
        );
    }

    #[test]
    fn a_run_wholly_of_the_callers_brand_keeps_its_long_sample_lists() {
        // given a dedicated connection's run of 30 missing objects of b1
        let b1 = brand("b1");
        let mut t = DriftTally::default();
        for i in 0..30 {
            t.record(DriftClass::MissingLocal, &format!("ord_{i}"), Some(&b1));
        }
        assert_eq!(t.by_brand[&b1].samples[&DriftClass::MissingLocal].len(), 5);
        // when b1's share is taken, then it is the whole tally
        let share = t.for_brands(&BTreeSet::from([b1]));
        assert_eq!(share.count(DriftClass::MissingLocal), 30);
        assert_eq!(share.samples[&DriftClass::MissingLocal].len(), MAX_SAMPLES);
    }

    #[test]
    fn a_report_without_a_brand_breakdown_shows_brand_users_nothing() {
        // given a tally stored before brands were kept
        let mut t = shared_run();
        t.by_brand.clear();
        // then a brand's share is empty
        assert_eq!(
            t.for_brands(&BTreeSet::from([brand("b1")])),
            DriftTally::default()
        );
    }

    #[test]
    fn the_brand_breakdown_round_trips_and_is_absent_when_empty() {
        let t = shared_run();
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["by_brand"]["b2"]["counts"]["missing_remote"], 1);
        assert_eq!(serde_json::from_value::<DriftTally>(json).unwrap(), t);
        let plain = serde_json::to_value(DriftTally::default()).unwrap();
        assert!(plain.get("by_brand").is_none());
        let old: DriftTally =
            serde_json::from_str(r#"{"counts":{"in_sync":2},"samples":{},"repaired":0}"#).unwrap();
        assert!(old.by_brand.is_empty());
    }
}
