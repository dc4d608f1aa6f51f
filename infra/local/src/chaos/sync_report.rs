//! What the sync phase measured, its failures, and its rows of the chaos table.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use packr::sync::ResourceKind;

use super::sync_checks::{
    BusiestSecond, DriftCheck, FaultWindow, JobsTally, Regression, TRACKSTAR_GETS_PER_SECOND,
};
use super::sync_faults::{PageFault, PagePlan};
use super::sync_phase::SyncPhaseOptions;
use super::truth::{EveryKind, TruthReport};

/// A fault of the page plan that came due.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FiredFault {
    pub fault: PageFault,
    pub resource: ResourceKind,
    /// The n-th full-run page of the phase.
    pub page: usize,
    pub at: DateTime<Utc>,
}

/// The worker held past its lease.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stall {
    pub resource: ResourceKind,
    /// The fencing token it held.
    pub fence: u64,
    pub held_ms: i64,
    /// Another worker was granted a newer token while it was held.
    pub taken_over: bool,
}

#[derive(Debug, Clone)]
pub struct SyncReport {
    pub options: SyncPhaseOptions,
    pub elapsed: Duration,
    pub raise_elapsed: Duration,
    pub raised: usize,
    pub ticks: usize,
    /// Ticks that failed (sync-scheduler's DynamoDB calls during the burst).
    pub failed_ticks: usize,
    /// The reconciliation of every resource started while changes were being raised.
    pub reconciled_while_raising: bool,
    /// Jobs the schedule's ticks queued.
    pub scheduled: usize,
    pub full_pages: usize,
    pub plan: PagePlan,
    /// Faults of the plan that never came due.
    pub pending: Vec<PageFault>,
    pub fired: Vec<FiredFault>,
    pub windows: Vec<FaultWindow>,
    pub stall: Option<Stall>,
    /// Writes of the stalled job's state the fence refused.
    pub stalled_fenced: u64,
    /// DynamoDB calls of the sync functions answered 500 by the burst.
    pub burst_answers: u64,
    /// Trackstar's answers in the phase, by status.
    pub trackstar_statuses: BTreeMap<u16, u64>,
    pub every_kind: EveryKind,
    pub fields: TruthReport,
    pub version_regressions: Vec<Regression>,
    pub versioned_items: usize,
    pub versioned_writes: usize,
    pub watermark_regressions: Vec<Regression>,
    pub watermark_moves: usize,
    /// Sync-state writes the fence refused, all jobs.
    pub fenced: u64,
    pub leases: u64,
    pub jobs: JobsTally,
    pub runs_completed: u64,
    /// Fresh reconcile jobs that found their job leased (the worker queues them again,
    /// 5 minutes later: what makes a settle slow).
    pub reconciles_requeued: usize,
    /// Messages left in the sync-jobs DLQ.
    pub dlq: u64,
    pub busiest: BusiestSecond,
    pub drift: DriftCheck,
    pub settled: bool,
}

impl SyncReport {
    pub fn faults_fired(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn fenced_ok(&self) -> bool {
        self.stall
            .as_ref()
            .is_some_and(|s| s.taken_over && self.stalled_fenced > 0)
    }

    /// The failed checks, in words.
    pub fn failures(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if !self.faults_fired() {
            failed.push(format!("faults never due: {:?}", self.pending));
        }
        if !self.reconciled_while_raising {
            failed.push("no reconciliation ran while webhooks flowed".to_owned());
        }
        if !self.every_kind.ok() || !self.fields.ok() {
            failed.push("objects differ from the simulator's".to_owned());
        }
        if !self.version_regressions.is_empty() {
            failed.push(format!(
                "{} objects' stored version went backwards",
                self.version_regressions.len()
            ));
        }
        if !self.watermark_regressions.is_empty() {
            failed.push(format!(
                "{} watermarks moved backwards",
                self.watermark_regressions.len()
            ));
        }
        if !self.fenced_ok() {
            failed.push("the stalled worker's late writes were not fenced".to_owned());
        }
        if !self.jobs.ok() || self.dlq > 0 {
            failed.push(format!(
                "jobs unexplained or unfinished ({} unexplained failures, {} unfinished, {} dead letters)",
                self.jobs.unexplained.len(),
                self.jobs.unfinished.len(),
                self.dlq
            ));
        }
        if self.busiest.gets > TRACKSTAR_GETS_PER_SECOND {
            failed.push(format!(
                "{} GETs on one token within a second",
                self.busiest.gets
            ));
        }
        if !self.drift.ok() {
            failed.push(format!(
                "the reconciliation after the run found {} drift ({} resources not reconciled)",
                self.drift.drift,
                self.drift.not_reconciled.len()
            ));
        }
        if !self.settled {
            failed.push("the sync phase did not settle".to_owned());
        }
        failed
    }

    /// The phase's rows: `[what, measured, expected, check]`.
    pub fn rows(&self) -> Vec<[String; 4]> {
        let o = &self.options;
        let mark = |ok: bool| if ok { "ok" } else { "**FAIL**" }.to_owned();
        let mut rows = Vec::new();
        let mut row = |what: &str, measured: String, expected: &str, check: String| {
            rows.push([what.to_owned(), measured, expected.to_owned(), check]);
        };
        row(
            "**sync phase**: changes raised while the syncs ran (every kind in turn, webhooks delivered with duplicates and reordering)",
            format!(
                "{} in {:.0} s ({:.1}/s)",
                self.raised,
                self.raise_elapsed.as_secs_f64(),
                self.raised as f64 / self.raise_elapsed.as_secs_f64().max(0.001)
            ),
            &format!(
                "{:.0} s at {}/s, and on until {:.0} s into the reconciliation",
                o.duration.as_secs_f64(),
                o.raise_per_second,
                o.reconcile_overlap.as_secs_f64()
            ),
            String::new(),
        );
        row(
            "sync jobs: incremental on the schedule, full syncs of every resource, a reconciliation, then a dry run",
            format!(
                "{} ticks (every {} s: `rate(10 minutes)` sped up; {} failed) queued {} jobs; 2 rounds of full syncs of {} resources ({} full pages of {}); {} worker invocations, {} runs completed, {} leases granted",
                self.ticks,
                o.tick.as_secs(),
                self.failed_ticks,
                self.scheduled,
                ResourceKind::ALL.len(),
                self.full_pages,
                o.page_limit,
                self.jobs.invocations,
                self.runs_completed,
                self.leases
            ),
            &format!(
                "{} pollers, lease {} s, chunks ≤ {} s, visibility {} s; the reconciliation while changes are raised",
                o.pollers,
                o.lease.as_secs(),
                o.max_chunk.as_secs(),
                o.visibility.as_secs()
            ),
            mark(self.reconciled_while_raising),
        );
        let fired: Vec<String> = self
            .fired
            .iter()
            .map(|f| format!("{:?} at page {} ({})", f.fault, f.page, f.resource))
            .collect();
        let served = |pred: &dyn Fn(u16) -> bool| -> u64 {
            self.trackstar_statuses
                .iter()
                .filter(|(s, _)| pred(**s))
                .map(|(_, n)| n)
                .sum()
        };
        row(
            "faults at full-run pages (seeded page plan)",
            format!(
                "{}; DynamoDB burst: {} calls answered 500; Trackstar answered {} × 5xx, {} × 429 of {}",
                fired.join(", "),
                self.burst_answers,
                served(&|s| s >= 500),
                served(&|s| s == 429),
                served(&|_| true)
            ),
            &format!(
                "all 5: kill, stall, DynamoDB {} s, Trackstar 5xx and 429 {} s",
                o.dynamo_burst.as_secs(),
                o.trackstar_burst.as_secs()
            ),
            mark(self.faults_fired()),
        );
        for (kind, tally) in &self.every_kind.kinds {
            row(
                &format!("{kind} in DynamoDB vs the simulator (presence and version)"),
                format!(
                    "{} of {} stored; {} at another version, {} missing",
                    tally.compared, tally.in_simulator, tally.mismatched, tally.missing
                ),
                "0 and 0",
                mark(tally.ok()),
            );
        }
        let f = &self.fields;
        row(
            "orders, inventory, products: their fields vs the simulator's",
            format!(
                "{} + {} + {} compared; {} mismatched, {} missing",
                f.orders.compared,
                f.inventory.compared,
                f.products.compared,
                f.orders.mismatched + f.inventory.mismatched + f.products.mismatched,
                f.orders.missing + f.inventory.missing + f.products.missing
            ),
            "0 and 0",
            mark(f.ok()),
        );
        row(
            "stored versions that went backwards (accepted object writes per item, at the wire, whole run)",
            format!(
                "{} of {} items ({} accepted writes)",
                self.version_regressions.len(),
                self.versioned_items,
                self.versioned_writes
            ),
            "0",
            mark(self.version_regressions.is_empty()),
        );
        row(
            "watermarks that moved backwards (accepted run completions per job, at the wire)",
            format!(
                "{} of {} jobs ({} moves)",
                self.watermark_regressions.len(),
                ResourceKind::ALL.len(),
                self.watermark_moves
            ),
            "0",
            mark(self.watermark_regressions.is_empty()),
        );
        row(
            "the stalled worker's late writes (fencing token)",
            match &self.stall {
                Some(s) => format!(
                    "{} held {:.1} s with token {}, {}; {} of its state writes refused by the fence ({} fenced refusals in all)",
                    s.resource,
                    s.held_ms as f64 / 1000.0,
                    s.fence,
                    if s.taken_over { "taken over meanwhile" } else { "NOT taken over" },
                    self.stalled_fenced,
                    self.fenced
                ),
                None => "no worker was stalled".to_owned(),
            },
            "taken over; ≥ 1 refused",
            mark(self.fenced_ok()),
        );
        let explained: Vec<String> = self
            .jobs
            .explained
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect();
        row(
            "sync and reconcile jobs finished, or their failures explained",
            format!(
                "{} invocations, {} failed ({}); {} unexplained; {} jobs unfinished; {} in the DLQ; {} reconcile jobs found their job leased (queued again 5 min later)",
                self.jobs.invocations,
                self.jobs.failed,
                if explained.is_empty() {
                    "none".to_owned()
                } else {
                    explained.join(", ")
                },
                self.jobs.unexplained.len(),
                self.jobs.unfinished.len(),
                self.dlq,
                self.reconciles_requeued
            ),
            "0 unexplained, 0 unfinished, 0 dead letters",
            mark(self.jobs.ok() && self.dlq == 0),
        );
        row(
            "busiest second at Trackstar (GETs on one access token, sliding second, simulator's log)",
            format!("{} ({} tokens)", self.busiest.gets, self.busiest.tokens),
            &format!("≤ {TRACKSTAR_GETS_PER_SECOND}"),
            mark(self.busiest.gets <= TRACKSTAR_GETS_PER_SECOND),
        );
        row(
            "drift found by a dry-run reconciliation of every resource after the run",
            format!(
                "{} over {} resources{}{}",
                self.drift.drift,
                self.drift.resources,
                if self.drift.drifted.is_empty() {
                    String::new()
                } else {
                    format!(" ({:?})", self.drift.drifted)
                },
                if self.drift.not_reconciled.is_empty() {
                    String::new()
                } else {
                    format!("; not reconciled: {}", self.drift.not_reconciled.join(", "))
                }
            ),
            "0",
            mark(self.drift.ok()),
        );
        row(
            "sync phase settled",
            format!(
                "{} ({:.0} s in all)",
                if self.settled { "yes" } else { "no" },
                self.elapsed.as_secs_f64()
            ),
            "yes",
            mark(self.settled),
        );
        rows
    }

    /// Notes under the table: mismatches, regressions, unexplained failures.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.every_kind.samples.clone();
        notes.extend(self.fields.samples.iter().cloned());
        notes.extend(
            self.version_regressions
                .iter()
                .take(10)
                .map(|r| format!("version of {} went from {} to {}", r.key, r.from, r.to)),
        );
        notes.extend(
            self.watermark_regressions
                .iter()
                .map(|r| format!("watermark of {} went from {} to {}", r.key, r.from, r.to)),
        );
        notes.extend(
            self.jobs
                .unexplained
                .iter()
                .map(|u| format!("unexplained failure: {u}")),
        );
        notes.extend(
            self.jobs
                .unfinished
                .iter()
                .map(|u| format!("unfinished: {u}")),
        );
        notes
    }
}
