//! The sync phase's checks, each a pure function of what the run recorded (the proxy's
//! ledger, the simulator's request log, the jobs' invocations and states, the last
//! reconciliation), so each can be fed a bad case in a test and seen to fail.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use packr::domain::Timestamp;
use packr::sync::reconcile::ReconcileSummary;
use packr::sync::{ResourceKind, SyncState};

use super::sync_failures::{WorkerFailure, WRITE_WINDOW_EXCEEDED};

/// Trackstar's limit: GETs per second per access token.
pub const TRACKSTAR_GETS_PER_SECOND: usize = 10;

/// One item whose accepted writes went back: the value before and the one after.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Regression {
    pub key: String,
    pub from: String,
    pub to: String,
}

/// Items (`pk`) whose accepted upserts, in the order the emulator applied them, wrote a
/// version (`updated_date`, µs) lower than one written before.
pub fn version_regressions(versions: &HashMap<String, Vec<i64>>) -> Vec<Regression> {
    let mut found: Vec<Regression> = versions
        .iter()
        .filter_map(|(key, seen)| {
            seen.windows(2).find(|w| w[1] < w[0]).map(|w| Regression {
                key: key.clone(),
                from: w[0].to_string(),
                to: w[1].to_string(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// Jobs whose accepted run completions moved the watermark back (or wrote one that is not
/// a timestamp).
pub fn watermark_regressions(watermarks: &BTreeMap<String, Vec<String>>) -> Vec<Regression> {
    watermarks
        .iter()
        .filter_map(|(key, seen)| {
            let parsed: Vec<Option<Timestamp>> =
                seen.iter().map(|w| Timestamp::parse(w).ok()).collect();
            parsed
                .windows(2)
                .zip(seen.windows(2))
                .find(|(p, _)| match (p[0], p[1]) {
                    (Some(a), Some(b)) => b < a,
                    _ => true,
                })
                .map(|(_, w)| Regression {
                    key: key.clone(),
                    from: w[0].clone(),
                    to: w[1].clone(),
                })
                .or_else(|| {
                    (seen.len() == 1 && parsed[0].is_none()).then(|| Regression {
                        key: key.clone(),
                        from: String::new(),
                        to: seen[0].clone(),
                    })
                })
        })
        .collect()
}

/// The most GETs that arrived on one token within any one second (a sliding window, as
/// Trackstar's limiter counts), and when that second began (unix ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BusiestSecond {
    pub gets: usize,
    pub starting_ms: i64,
    /// Tokens that made GETs.
    pub tokens: usize,
}

pub fn busiest_second(arrivals: &BTreeMap<String, Vec<i64>>) -> BusiestSecond {
    let mut busiest = BusiestSecond {
        tokens: arrivals.len(),
        ..BusiestSecond::default()
    };
    for times in arrivals.values() {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let mut start = 0;
        for end in 0..sorted.len() {
            while sorted[end] - sorted[start] >= 1_000 {
                start += 1;
            }
            let gets = end - start + 1;
            if gets > busiest.gets {
                busiest.gets = gets;
                busiest.starting_ms = sorted[start];
            }
        }
    }
    busiest
}

/// A fault the run injected, while it lasted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FaultWindow {
    pub what: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One sync-worker invocation (one job message).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invocation {
    pub resource: ResourceKind,
    pub mode: String,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// The worker reported the message failed (SQS retries it).
    pub failed: bool,
}

/// Why a failed invocation failed: of the faults whose window (widened by `slack` each
/// side, the SDK's and the client's retries) overlaps it, the nearest; `None` when none does.
pub fn explain_failure(
    invocation: &Invocation,
    windows: &[FaultWindow],
    slack: Duration,
) -> Option<String> {
    let slack = chrono::Duration::from_std(slack).unwrap_or_default();
    let gap = |w: &FaultWindow| {
        if invocation.ended < w.from {
            w.from - invocation.ended
        } else if invocation.started > w.to {
            invocation.started - w.to
        } else {
            chrono::Duration::zero()
        }
    };
    windows
        .iter()
        .filter(|w| gap(w) <= slack)
        .min_by_key(|w| gap(w))
        .map(|w| w.what.clone())
}

/// What became of the phase's jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobsTally {
    pub invocations: usize,
    pub failed: usize,
    /// Failure reason (the fault) → failed invocations it explains.
    pub explained: BTreeMap<String, usize>,
    /// Failed invocations no fault explains (`resource mode at`).
    pub unexplained: Vec<String>,
    /// Jobs that did not finish: a checkpoint or a lease left, or no finished run of the
    /// modes asked for since the phase began.
    pub unfinished: Vec<String>,
}

impl JobsTally {
    pub fn ok(&self) -> bool {
        self.unexplained.is_empty() && self.unfinished.is_empty()
    }
}

/// Tallies the invocations (each failure explained by a fault window, or by the worker's
/// failure line naming the emulator's slowness, or not) and the jobs' final states: every resource must have a state with no checkpoint and no lease at
/// `now`, a full run and (when `reconciled`) a complete reconciliation finished after
/// `since`.
#[allow(clippy::too_many_arguments)]
pub fn tally_jobs(
    invocations: &[Invocation],
    causes: &[WorkerFailure],
    windows: &[FaultWindow],
    slack: Duration,
    states: &[SyncState],
    resources: &[ResourceKind],
    since: Timestamp,
    now: Timestamp,
    reconciled: bool,
) -> JobsTally {
    let mut tally = JobsTally {
        invocations: invocations.len(),
        ..JobsTally::default()
    };
    for invocation in invocations.iter().filter(|i| i.failed) {
        tally.failed += 1;
        // The emulator's own slowness, from the worker's failure line for this invocation.
        let slow_emulator = causes.iter().any(|c| {
            c.resource == invocation.resource.as_str()
                && c.at >= invocation.started
                && c.at <= invocation.ended + chrono::Duration::seconds(1)
                && c.error.contains(WRITE_WINDOW_EXCEEDED)
        });
        let why = explain_failure(invocation, windows, slack).or_else(|| {
            slow_emulator.then(|| {
                "the emulator answered a write after the 5-s write window (given up, retried)"
                    .to_owned()
            })
        });
        match why {
            Some(why) => *tally.explained.entry(why).or_default() += 1,
            None => tally.unexplained.push(format!(
                "{} {} at {}",
                invocation.resource,
                invocation.mode,
                invocation.ended.format("%H:%M:%S")
            )),
        }
    }
    for resource in resources {
        let Some(state) = states.iter().find(|s| s.resource == *resource) else {
            tally.unfinished.push(format!("{resource}: no sync state"));
            continue;
        };
        if let Some(checkpoint) = &state.checkpoint {
            tally.unfinished.push(format!(
                "{resource}: a {} run left its checkpoint",
                checkpoint.mode
            ));
        }
        if state.leased_at(now) {
            tally.unfinished.push(format!("{resource}: still leased"));
        }
        let ran = state
            .last_run
            .as_ref()
            .is_some_and(|run| run.finished_at >= since);
        let full = state.last_full_started_at.is_some_and(|at| at >= since);
        if !ran || !full {
            tally.unfinished.push(format!(
                "{resource}: no full run finished since the phase began"
            ));
        }
        let reconcile_done = state
            .last_reconcile
            .as_ref()
            .is_some_and(|r| r.complete && r.finished_at >= since);
        if reconciled && !reconcile_done {
            tally
                .unfinished
                .push(format!("{resource}: no complete reconciliation"));
        }
    }
    tally
}

/// The reconciliation after the run, per resource: drift found (the dry run repairs
/// nothing, so this is what was wrong), or why it did not count.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DriftCheck {
    pub resources: usize,
    pub drift: u64,
    /// Resource → drift, for those with any.
    pub drifted: BTreeMap<String, u64>,
    /// Resources without a complete dry-run reconciliation finished after the run.
    pub not_reconciled: Vec<String>,
}

impl DriftCheck {
    pub fn ok(&self) -> bool {
        self.drift == 0 && self.not_reconciled.is_empty() && self.resources > 0
    }
}

pub fn drift_after(
    summaries: &[(ResourceKind, Option<ReconcileSummary>)],
    since: Timestamp,
) -> DriftCheck {
    let mut check = DriftCheck {
        resources: summaries.len(),
        ..DriftCheck::default()
    };
    for (resource, summary) in summaries {
        match summary {
            Some(s) if s.complete && s.dry_run && s.finished_at >= since => {
                check.drift += s.drift;
                if s.drift > 0 {
                    check.drifted.insert(resource.to_string(), s.drift);
                }
            }
            _ => check.not_reconciled.push(resource.to_string()),
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use packr::domain::{ConnectionId, TenantId};
    use packr::sync::{RunCounts, RunSummary, SyncMode};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn ts(seconds: i64) -> Timestamp {
        Timestamp::from_datetime(at(seconds))
    }

    #[test]
    fn a_version_written_after_a_newer_one_is_a_regression() {
        // given one item written 1, 2, 2, 3 and another written 5 then 4
        let versions = HashMap::from([
            ("T#a#ORDER#1".to_owned(), vec![1, 2, 2, 3]),
            ("T#a#ORDER#2".to_owned(), vec![5, 4]),
        ]);
        // then only the second went back
        assert_eq!(
            version_regressions(&versions),
            vec![Regression {
                key: "T#a#ORDER#2".into(),
                from: "5".into(),
                to: "4".into()
            }]
        );
        assert!(version_regressions(&HashMap::new()).is_empty());
    }

    #[test]
    fn a_watermark_moved_back_or_unreadable_is_a_regression() {
        let job = |w: &[&str]| {
            BTreeMap::from([(
                "T#a#SYNC#c#orders".to_owned(),
                w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )])
        };
        assert!(watermark_regressions(&job(&[
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:01:00Z"
        ]))
        .is_empty());
        assert_eq!(
            watermark_regressions(&job(&["2026-01-01T00:01:00Z", "2026-01-01T00:00:30Z"])).len(),
            1
        );
        assert_eq!(watermark_regressions(&job(&["yesterday"])).len(), 1);
    }

    #[test]
    fn the_busiest_second_counts_gets_per_token_in_a_sliding_second() {
        // given 10 GETs 100 ms apart on one token, and 10 more on another
        let even: Vec<i64> = (0..10).map(|i| 1_000 + i * 100).collect();
        let arrivals = BTreeMap::from([("a".to_owned(), even.clone()), ("b".to_owned(), even)]);
        // then no second saw more than 10 on one token
        let busiest = busiest_second(&arrivals);
        assert_eq!(busiest.gets, 10);
        assert_eq!(busiest.tokens, 2);
        // when one more arrives on `a` within the first second (straddling no calendar
        // boundary but a sliding one)
        let mut crowded = arrivals.clone();
        crowded.get_mut("a").unwrap().push(1_950);
        // then that second saw 11
        let busiest = busiest_second(&crowded);
        assert_eq!(busiest.gets, 11);
        assert!(busiest.gets > TRACKSTAR_GETS_PER_SECOND);
        assert_eq!(busiest.starting_ms, 1_000);
    }

    fn state(resource: ResourceKind) -> SyncState {
        let mut s = SyncState::new(
            TenantId::parse("acme").unwrap(),
            ConnectionId::parse("conn_1").unwrap(),
            resource,
        );
        s.last_full_started_at = Some(ts(10));
        s.last_run = Some(RunSummary {
            run_id: "run_1".into(),
            mode: SyncMode::Full,
            started_at: ts(10),
            finished_at: ts(20),
            from: None,
            to: ts(10),
            counts: RunCounts::default(),
            chunks: 1,
        });
        s
    }

    #[test]
    fn a_failure_outside_every_fault_window_and_an_unfinished_job_fail_the_tally() {
        let windows = vec![FaultWindow {
            what: "DynamoDB burst".into(),
            from: at(100),
            to: at(110),
        }];
        let invocation = |start: i64, failed: bool| Invocation {
            resource: ResourceKind::Orders,
            mode: "full".into(),
            started: at(start),
            ended: at(start + 2),
            failed,
        };
        let slack = Duration::from_secs(5);
        let resources = [ResourceKind::Orders, ResourceKind::Bills];
        let done = vec![state(ResourceKind::Orders), state(ResourceKind::Bills)];
        // given a nearer fault, a failure is put down to the nearest
        let both = [
            windows[0].clone(),
            FaultWindow {
                what: "Trackstar 503 burst".into(),
                from: at(116),
                to: at(118),
            },
        ];
        assert_eq!(
            explain_failure(&invocation(113, true), &both, slack).as_deref(),
            Some("Trackstar 503 burst")
        );
        assert_eq!(
            explain_failure(&invocation(109, true), &both, slack).as_deref(),
            Some("DynamoDB burst")
        );
        // given failures inside the burst (with slack) and successes anywhere
        let good = tally_jobs(
            &[
                invocation(104, true),
                invocation(113, true),
                invocation(300, false),
            ],
            &[],
            &windows,
            slack,
            &done,
            &resources,
            ts(0),
            ts(400),
            false,
        );
        assert!(good.ok(), "{good:?}");
        assert_eq!(good.failed, 2);
        assert_eq!(good.explained.get("DynamoDB burst"), Some(&2));
        // when one failed long after the burst
        let bad = tally_jobs(
            &[invocation(200, true)],
            &[],
            &windows,
            slack,
            &done,
            &resources,
            ts(0),
            ts(400),
            false,
        );
        assert_eq!(bad.unexplained.len(), 1);
        assert!(!bad.ok());
        // unless the worker's failure line for it says the emulator answered too late
        let slow = WorkerFailure {
            at: at(201),
            resource: "orders".into(),
            error: "the data store failed: DynamoDB UpdateItem failed: deadline has elapsed".into(),
        };
        let explained = tally_jobs(
            &[invocation(200, true)],
            std::slice::from_ref(&slow),
            &windows,
            slack,
            &done,
            &resources,
            ts(0),
            ts(400),
            false,
        );
        assert!(explained.ok(), "{explained:?}");
        // another resource's line, or another error, explains nothing
        for other in [
            WorkerFailure {
                resource: "bills".into(),
                ..slow.clone()
            },
            WorkerFailure {
                error: "the data store failed: ValidationException".into(),
                ..slow.clone()
            },
        ] {
            let tally = tally_jobs(
                &[invocation(200, true)],
                &[other],
                &windows,
                slack,
                &done,
                &resources,
                ts(0),
                ts(400),
                false,
            );
            assert_eq!(tally.unexplained.len(), 1);
        }
        // when a job left its checkpoint, another has no state, and none reconciled
        let mut stuck = state(ResourceKind::Orders);
        stuck.checkpoint = Some(packr::sync::Checkpoint {
            run_id: "run_2".into(),
            mode: SyncMode::Full,
            from: None,
            to: ts(30),
            page_token: Some("p2".into()),
            started_at: ts(30),
            counts: RunCounts::default(),
            restarts: 0,
            chunks: 1,
            reconcile: None,
        });
        let bad = tally_jobs(
            &[],
            &[],
            &windows,
            slack,
            &[stuck],
            &resources,
            ts(0),
            ts(400),
            true,
        );
        assert_eq!(bad.unfinished.len(), 3, "{:?}", bad.unfinished);
        assert!(!bad.ok());
    }

    fn summary(drift: u64, complete: bool, dry_run: bool, finished: i64) -> ReconcileSummary {
        ReconcileSummary {
            report_id: "run_9".into(),
            started_at: Some(ts(finished - 1)),
            finished_at: ts(finished),
            complete,
            dry_run,
            drift,
            missing_local: drift,
            repaired: 0,
        }
    }

    #[test]
    fn drift_or_a_missing_incomplete_or_old_reconciliation_fails_the_drift_check() {
        let clean = drift_after(
            &[
                (ResourceKind::Orders, Some(summary(0, true, true, 50))),
                (ResourceKind::Bills, Some(summary(0, true, true, 50))),
            ],
            ts(40),
        );
        assert!(clean.ok(), "{clean:?}");
        let drifted = drift_after(
            &[(ResourceKind::Orders, Some(summary(2, true, true, 50)))],
            ts(40),
        );
        assert_eq!(drifted.drift, 2);
        assert!(!drifted.ok());
        for bad in [
            None,
            Some(summary(0, false, true, 50)),
            Some(summary(0, true, false, 50)),
            Some(summary(0, true, true, 30)),
        ] {
            let check = drift_after(&[(ResourceKind::Orders, bad)], ts(40));
            assert_eq!(check.not_reconciled, vec!["orders".to_owned()]);
            assert!(!check.ok());
        }
        assert!(!drift_after(&[], ts(40)).ok());
    }
}
