//! The webhook figures of a connection, read from its hourly stats items.
//!
//! Windows are whole clock hours: "the last hour" merges the current and the previous hour
//! item (60–120 minutes of data), "24 h" the 25 items from the hour 24 h ago on. Backlog
//! and dead-lettered counts look back over every stored item ([`STATS_TTL_HOURS`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::histogram::Histogram;
use super::stats::{hour_of, HourStats, StatsResource, SLOT_SECONDS, STATS_TTL_HOURS};
use crate::domain::Timestamp;
use crate::sync::ResourceKind;

/// How far back the health reads go.
pub fn lookback_start(now: Timestamp) -> Timestamp {
    now.plus_seconds(-STATS_TTL_HOURS * 3600)
}

/// Percentiles of a histogram (upper bounds of their buckets, within 19 %).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Percentiles {
    /// Events measured.
    pub count: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
}

impl Percentiles {
    pub fn of(h: &Histogram) -> Self {
        Self {
            count: h.count(),
            p50_ms: h.quantile_ms(0.50),
            p95_ms: h.quantile_ms(0.95),
            p99_ms: h.quantile_ms(0.99),
        }
    }
}

/// Events taken up by the processor and not applied yet (failed, awaiting a retry or a
/// replay).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Backlog {
    pub events: u64,
    /// Age of the oldest one (its 10-minute receipt slot's start, so up to 10 min more).
    pub oldest_age_seconds: Option<i64>,
}

/// A connection's (or one resource's) webhook figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookFigures {
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_received_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_applied_at: Option<Timestamp>,
    /// Processing time per event, last hour.
    pub processing_latency_1h: Percentiles,
    /// Receipt → applied, last hour.
    pub lag_1h: Percentiles,
    /// Receipt → applied, last 24 h.
    pub lag_24h: Percentiles,
    /// Events processed (finished, duplicates, failed attempts) in 24 h.
    pub attempts_24h: u64,
    /// Failed processing attempts in 24 h.
    pub failures_24h: u64,
    /// `failures_24h / attempts_24h`; absent without traffic.
    pub error_rate_24h: Option<f64>,
    pub backlog: Backlog,
    /// Events that failed on their last receive (in the DLQ) and have not been replayed.
    pub failed_awaiting_replay: u64,
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|ms| Timestamp::from_unix_micros(ms.saturating_mul(1000)))
}

fn backlog(open: &BTreeMap<i64, i64>, now: Timestamp) -> Backlog {
    let mut b = Backlog::default();
    for (slot, n) in open {
        if *n > 0 {
            b.events += *n as u64;
            if b.oldest_age_seconds.is_none() {
                b.oldest_age_seconds = Some((now.unix_seconds() - slot * SLOT_SECONDS).max(0));
            }
        }
    }
    b
}

/// The figures of a connection; `resource` limits lag and backlog to one resource (the
/// latency, counts and times are the connection's).
pub fn figures(
    hours: &[HourStats],
    now: Timestamp,
    resource: Option<StatsResource>,
) -> WebhookFigures {
    let h1 = hour_of(now.plus_seconds(-3600));
    let h24 = hour_of(now.plus_seconds(-24 * 3600));
    let mut f = WebhookFigures::default();
    let (mut lat1, mut lag1, mut lag24) = (
        Histogram::default(),
        Histogram::default(),
        Histogram::default(),
    );
    let (mut ok, mut dup, mut fail, mut dl) = (0i64, 0i64, 0i64, 0i64);
    let mut open: BTreeMap<i64, i64> = BTreeMap::new();
    let (mut lr, mut la) = (None::<i64>, None::<i64>);
    for h in hours {
        lr = lr.max(h.last_received_ms);
        la = la.max(h.last_applied_ms);
        dl += h.dead_lettered;
        for ((r, slot), n) in &h.open {
            if resource.is_none_or(|want| want == *r) {
                *open.entry(*slot).or_default() += n;
            }
        }
        let lag: Histogram = h
            .lag
            .iter()
            .filter(|(r, _)| resource.is_none_or(|want| want == **r))
            .fold(Histogram::default(), |mut acc, (_, x)| {
                acc.merge(x);
                acc
            });
        if h.hour >= h24 {
            lag24.merge(&lag);
            ok += h.ok;
            dup += h.dup;
            fail += h.fail;
        }
        if h.hour >= h1 {
            lag1.merge(&lag);
            lat1.merge(&h.latency);
        }
    }
    f.last_received_at = ts(lr);
    f.last_applied_at = ts(la);
    f.processing_latency_1h = Percentiles::of(&lat1);
    f.lag_1h = Percentiles::of(&lag1);
    f.lag_24h = Percentiles::of(&lag24);
    let attempts = (ok + dup + fail).max(0) as u64;
    f.attempts_24h = attempts;
    f.failures_24h = fail.max(0) as u64;
    f.error_rate_24h = (attempts > 0).then(|| f.failures_24h as f64 / attempts as f64);
    f.backlog = backlog(&open, now);
    f.failed_awaiting_replay = dl.max(0) as u64;
    f
}

/// The stats resource of a sync resource.
pub fn of_resource(r: ResourceKind) -> StatsResource {
    StatsResource::Resource(r)
}

#[cfg(test)]
mod tests {
    use super::super::stats::{tally, Observation, Outcome};
    use super::*;
    use crate::domain::{ConnectionId, TenantId};

    fn obs(received: Timestamp, outcome: Outcome, event_type: &str) -> Observation {
        Observation {
            tenant: TenantId::parse("t1").unwrap(),
            connection: ConnectionId::parse("c1").unwrap(),
            resource: StatsResource::of_event_type(event_type),
            received_at: received,
            outcome,
            latency_ms: 40,
        }
    }

    fn round_trip(h: &HourStats) -> HourStats {
        let (_, values) = h.update_expression(0);
        let numbers = values
            .into_iter()
            .filter(|(_, a, _)| a != "expires_at")
            .map(|(_, a, v)| (a, v))
            .collect();
        HourStats::from_numbers(h.hour, &numbers)
    }

    #[test]
    fn a_batch_is_one_delta_per_connection_and_reads_back_as_its_figures() {
        let now = Timestamp::from_unix_seconds(1_760_000_000).unwrap();
        let finished = Outcome::Finished {
            was_failed: false,
            was_dead_lettered: false,
        };
        let mut batch: Vec<Observation> = (0..8)
            .map(|_| obs(now.plus_millis(-1_000), finished, "order.updated"))
            .collect();
        batch.push(obs(
            now.plus_seconds(-3_000),
            Outcome::Failed {
                first: true,
                dead_lettered: false,
            },
            "inventory.updated",
        ));
        batch.push(obs(
            now.plus_seconds(-30),
            Outcome::Duplicate,
            "order.updated",
        ));
        let deltas = tally(&batch, now);
        assert_eq!(deltas.len(), 1);
        let stored = round_trip(deltas.values().next().unwrap());
        let f = figures(std::slice::from_ref(&stored), now, None);
        assert_eq!(f.attempts_24h, 10);
        assert_eq!(f.failures_24h, 1);
        assert_eq!(f.error_rate_24h, Some(0.1));
        assert_eq!(f.lag_1h.count, 8);
        assert!((1_000..=1_190).contains(&f.lag_1h.p95_ms.unwrap()));
        assert_eq!(f.backlog.events, 1);
        let age = f.backlog.oldest_age_seconds.unwrap();
        assert!((3_000..3_600).contains(&age), "{age}");
        assert_eq!(f.last_applied_at, Some(now));
        let orders = figures(
            std::slice::from_ref(&stored),
            now,
            Some(of_resource(ResourceKind::Orders)),
        );
        assert_eq!(orders.backlog.events, 0);
        assert_eq!(orders.lag_1h.count, 8);
        // the failed event is later replayed and applied: the backlog empties
        let later = now.plus_seconds(7_200);
        let replayed = tally(
            &[obs(
                now.plus_seconds(-3_000),
                Outcome::Finished {
                    was_failed: true,
                    was_dead_lettered: false,
                },
                "inventory.updated",
            )],
            later,
        );
        let hours = vec![stored, round_trip(replayed.values().next().unwrap())];
        assert_eq!(figures(&hours, later, None).backlog, Backlog::default());
    }

    #[test]
    fn dead_lettered_events_await_replay_until_they_are_applied() {
        let now = Timestamp::from_unix_seconds(1_760_000_000).unwrap();
        let dead = tally(
            &[obs(
                now,
                Outcome::Failed {
                    first: false,
                    dead_lettered: true,
                },
                "order.created",
            )],
            now,
        );
        let h = round_trip(dead.values().next().unwrap());
        assert_eq!(
            figures(std::slice::from_ref(&h), now, None).failed_awaiting_replay,
            1
        );
        let fixed = tally(
            &[obs(
                now,
                Outcome::Finished {
                    was_failed: true,
                    was_dead_lettered: true,
                },
                "order.created",
            )],
            now,
        );
        let h2 = round_trip(fixed.values().next().unwrap());
        assert_eq!(figures(&[h, h2], now, None).failed_awaiting_replay, 0);
    }

    #[test]
    fn the_one_hour_window_leaves_older_hours_out() {
        let now = Timestamp::from_unix_seconds(1_760_000_000).unwrap();
        let old = now.plus_seconds(-3 * 3600);
        let finished = Outcome::Finished {
            was_failed: false,
            was_dead_lettered: false,
        };
        let a = round_trip(
            tally(
                &[obs(old.plus_millis(-600_000), finished, "order.created")],
                old,
            )
            .values()
            .next()
            .unwrap(),
        );
        let b = round_trip(
            tally(&[obs(now.plus_millis(-50), finished, "order.created")], now)
                .values()
                .next()
                .unwrap(),
        );
        let f = figures(&[a, b], now, None);
        assert_eq!(f.lag_1h.count, 1);
        assert!(f.lag_1h.p99_ms.unwrap() <= 60);
        assert_eq!(f.lag_24h.count, 2);
        assert!(f.lag_24h.p99_ms.unwrap() >= 600_000);
    }
}
