//! The retention sweep: what DynamoDB's TTL cannot do, run on a schedule by the
//! `data-lifecycle` function (`DataLifecycleSchedule`, daily):
//! - **tombstones**: their personal fields dropped `TOMBSTONE_PERSONAL_DATA_DAYS` after
//!   the deletion (id, kind and dates kept);
//! - **failed receipts**: their kept event dropped after the replay window
//!   (`REPLAY_WINDOW_DAYS`);
//! - **connection erasures** whose grace period ended are started here too (the offboarding's
//!   part, see below).
//!
//! **Finding the work, never a Scan.** A tombstone enters a sparse partition of `gsi4`
//! when it is written (`LIFECYCLE#TOMBSTONE#<shard>`, sorted by deletion time) and leaves
//! it when stripped or revived: the sweep reads the due ones oldest first, whatever the
//! tenant, and reads nothing else. `gsi4` was chosen because it is sparse already (only
//! active connections carry its keys) with an `ALL` projection, so a page of it holds the
//! whole tombstones to rewrite: no extra read per item. Live objects never carry these
//! keys: their upserts only name them in the `REMOVE` of absent attributes (which costs
//! nothing), so the hot path pays nothing; a deletion pays the index entry once. Failed
//! receipts are listed already, oldest first, in their tenant's failed-events partition of
//! `gsi2` (`T#<t>#EVTFAILED`); the tenants come from the tenant registry (`gsi4`
//! `TENANTS`) and the active connections.
//!
//! **Bounded and resumable.** Work goes a page at a time (at most `page_size` items and
//! their writes); before each page after the first the deadline is checked, and a run cut
//! short says so (`complete: false`). Every item done leaves the index it was found in, so
//! the next run simply starts again from the oldest due item: nothing is kept between runs,
//! and a run repeated changes nothing more (each write is conditional on the item still
//! being as listed).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tracing::{info, warn};

use super::retention::RetentionConfig;
use crate::domain::Timestamp;
use crate::metrics::{EmfSink, Metric, MetricsSink};
use crate::runtime::{optional_number, required, ConfigError, Env};
use crate::store::dynamo::{DynamoStore, SweepPage, SweepPosition};
use crate::store::keys::TOMBSTONE_SWEEP_SHARDS;
use crate::store::StoreError;

/// Items per page (one Query and its writes).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// How long before the invocation's end a caller should set the `deadline` of [`run`]: a
/// page started just before it (one Query, at most [`DEFAULT_PAGE_SIZE`] `UpdateItem`s in
/// sequence, ~1 s on a healthy table) still ends in time.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// What the sweep needs: the table and the retention.
#[derive(Clone)]
pub struct SweepDeps {
    pub store: DynamoStore,
    pub config: RetentionConfig,
    pub metrics: Arc<dyn MetricsSink>,
    /// Items per page ([`DEFAULT_PAGE_SIZE`]; `LIFECYCLE_SWEEP_PAGE_SIZE`).
    pub page_size: u32,
    /// Where the erasures of offboarded connections whose grace ended are started (the
    /// lifecycle jobs and their queue); `None`: this sweep starts none.
    pub connection_erasures: Option<crate::lifecycle::offboard::ErasureSweepDeps>,
}

impl SweepDeps {
    pub fn new(store: DynamoStore, config: RetentionConfig, metrics: Arc<dyn MetricsSink>) -> Self {
        Self {
            store,
            config,
            metrics,
            page_size: DEFAULT_PAGE_SIZE,
            connection_erasures: None,
        }
    }

    /// `TABLE_NAME`, the retention variables ([`RetentionConfig::from_env`]) and
    /// `LIFECYCLE_SWEEP_PAGE_SIZE` (100).
    pub fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &dyn Env,
        function: &str,
    ) -> Result<Self, ConfigError> {
        let config = RetentionConfig::from_env(env)?;
        let store =
            crate::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?)
                .with_expiry(config.expiry);
        let page_size = optional_number::<u32>(env, "LIFECYCLE_SWEEP_PAGE_SIZE")?
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, 1_000);
        let metrics: Arc<dyn MetricsSink> = Arc::new(EmfSink::new(
            crate::webhook::wiring::METRICS_NAMESPACE,
            function,
        ));
        let queue = crate::lifecycle::wiring::queue_from_env(sdk, env)?;
        let connection_erasures = Some(crate::lifecycle::offboard::ErasureSweepDeps {
            store: store.clone(),
            jobs: crate::lifecycle::LifecycleJobStore::new(store.clone()),
            queue: Arc::new(queue),
        });
        Ok(Self {
            page_size,
            connection_erasures,
            ..Self::new(store, config, metrics)
        })
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Connection erasures started because their grace period ended (offboarding).
    pub connection_erasures_started: u64,
    /// Tombstones whose personal fields were dropped.
    pub tombstones_stripped: u64,
    /// Failed receipts whose kept event was dropped.
    pub receipt_payloads_dropped: u64,
    /// Listed items left alone (changed since listed, or unreadable).
    pub skipped: u64,
    /// Tenants whose failed receipts were looked at.
    pub tenants: u64,
    /// Index pages read.
    pub pages: u64,
    /// Store errors met (each ends its part of the run; the next run retries).
    pub errors: u64,
    /// Everything due was done; `false`: the deadline (or an error) cut the run short, and
    /// the next run goes on.
    pub complete: bool,
}

/// The sweep's progress within a run: pages read, and whether to stop.
struct Budget {
    deadline: Instant,
    pages: u64,
}

impl Budget {
    /// Whether another page may start: the first always does (so every run makes
    /// progress), the others only before the deadline.
    fn allows_page(&self) -> bool {
        self.pages == 0 || Instant::now() < self.deadline
    }
}

/// Runs the sweep until everything due at `now` is done or `deadline` passes (the caller
/// leaves its own margin before the invocation's end). Never fails as a whole: a store
/// error ends that part of the run, is counted and logged, and the next run retries.
pub async fn run(deps: &SweepDeps, now: Timestamp, deadline: Instant) -> SweepReport {
    let mut report = SweepReport {
        complete: true,
        ..SweepReport::default()
    };
    let mut budget = Budget { deadline, pages: 0 };

    // ---- Connection erasures whose grace period ended -----------------------------------
    // One job per offboarded connection deleted more than the grace period ago and not
    // linked again (`gsi4` `CONNERASE`, a range up to now); cheap, so it runs first.
    if let Some(erasures) = &deps.connection_erasures {
        budget.pages += 1;
        match crate::lifecycle::offboard::start_due_connection_erasures(erasures, now).await {
            Ok(due) => report.connection_erasures_started += (due.started + due.resumed) as u64,
            Err(e) => failed(&mut report, "connection erasures", &e),
        }
    }

    // ---- Tombstones: personal fields dropped after the period ----------------------------
    let cutoff = deps.config.tombstone_cutoff(now);
    'shards: for shard in 0..TOMBSTONE_SWEEP_SHARDS {
        let mut start: Option<SweepPosition> = None;
        loop {
            if !budget.allows_page() {
                report.complete = false;
                break 'shards;
            }
            budget.pages += 1;
            match deps
                .store
                .strip_tombstones(shard, cutoff, deps.page_size, start.take(), now)
                .await
            {
                Ok(page) => {
                    report.tombstones_stripped += page.changed;
                    report.skipped += page.skipped;
                    match page.next {
                        Some(next) => start = Some(next),
                        None => break,
                    }
                }
                Err(e) => {
                    failed(&mut report, "tombstones", &e);
                    break 'shards;
                }
            }
        }
    }

    // ---- Failed receipts: the kept event dropped after the replay window ----------------
    sweep_receipts(deps, now, &mut budget, &mut report).await;

    report.pages = budget.pages;
    emit(deps.metrics.as_ref(), &report);
    info!(
        tombstones_stripped = report.tombstones_stripped,
        receipt_payloads_dropped = report.receipt_payloads_dropped,
        connection_erasures_started = report.connection_erasures_started,
        skipped = report.skipped,
        tenants = report.tenants,
        pages = report.pages,
        errors = report.errors,
        complete = report.complete,
        "retention sweep"
    );
    report
}

async fn sweep_receipts(
    deps: &SweepDeps,
    now: Timestamp,
    budget: &mut Budget,
    report: &mut SweepReport,
) {
    if !budget.allows_page() {
        report.complete = false;
        return;
    }
    let tenants = match deps.store.sweep_tenants().await {
        Ok(tenants) => tenants,
        Err(e) => return failed(report, "tenants", &e),
    };
    let cutoff = deps.config.replay_cutoff(now);
    for tenant in tenants {
        report.tenants += 1;
        let mut start: Option<SweepPosition> = None;
        loop {
            if !budget.allows_page() {
                report.complete = false;
                return;
            }
            budget.pages += 1;
            let page: Result<SweepPage, StoreError> = deps
                .store
                .drop_expired_payloads(&tenant, cutoff, deps.page_size, start.take(), now)
                .await;
            match page {
                Ok(page) => {
                    if page.changed > 0 {
                        info!(tenant_id = %tenant, dropped = page.changed, "failed receipts' payloads dropped after the replay window");
                    }
                    report.receipt_payloads_dropped += page.changed;
                    report.skipped += page.skipped;
                    match page.next {
                        Some(next) => start = Some(next),
                        None => break,
                    }
                }
                Err(e) => {
                    // One tenant's failure does not hold the others back.
                    failed(report, "failed receipts", &e);
                    break;
                }
            }
        }
    }
}

fn failed(report: &mut SweepReport, part: &'static str, error: &(dyn std::error::Error + 'static)) {
    report.errors += 1;
    report.complete = false;
    let error = crate::errors::error_chain(error);
    warn!(part, %error, "retention sweep: a store call failed; the next run retries");
}

/// `lifecycle.tombstones_stripped`, `lifecycle.receipt_payloads_dropped`,
/// `lifecycle.sweep_skipped`, `lifecycle.sweep_errors` and `lifecycle.sweep_incomplete`
/// (1 when the run was cut short), every run (zeros included, so a silent sweep shows).
fn emit(metrics: &dyn MetricsSink, report: &SweepReport) {
    for (name, value) in [
        ("lifecycle.tombstones_stripped", report.tombstones_stripped),
        (
            "lifecycle.receipt_payloads_dropped",
            report.receipt_payloads_dropped,
        ),
        ("lifecycle.sweep_skipped", report.skipped),
        ("lifecycle.sweep_errors", report.errors),
        ("lifecycle.sweep_incomplete", u64::from(!report.complete)),
    ] {
        metrics.emit(Metric::count_of(name, value as f64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_always_runs_and_later_ones_only_before_the_deadline() {
        // given a deadline already passed
        let mut budget = Budget {
            deadline: Instant::now(),
            pages: 0,
        };
        // then the first page may run (every run makes progress), a second may not
        assert!(budget.allows_page());
        budget.pages = 1;
        assert!(!budget.allows_page());
        // and before a far deadline every page may run
        let budget = Budget {
            deadline: Instant::now() + std::time::Duration::from_secs(60),
            pages: 5,
        };
        assert!(budget.allows_page());
    }
}
