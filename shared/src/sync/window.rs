//! The window of one run: half-open `[from, to)` in whole seconds on the configured change
//! field (Trackstar's date filters have no sub-second part).
//!
//! `from` = watermark − overlap, so changes that share the boundary second with the last
//! window's end, or that Trackstar recorded late, are read a second time rather than lost
//! (losing rows that share the boundary timestamp is the classic incremental-sync bug; the
//! upserts are idempotent, so reading twice costs a GET, never correctness). `to` = the
//! run's start minus a clock-skew allowance, so a change stamped by a WMS clock slightly
//! ahead of ours is not cut off; it is fetched by the next window.

use std::time::Duration;

use super::job::SyncMode;
use crate::domain::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive; `None`: from the beginning (a full sync, or no watermark yet).
    pub from: Option<Timestamp>,
    /// Exclusive.
    pub to: Timestamp,
}

/// `at` rounded down to its whole second.
pub fn floor_second(at: Timestamp) -> Timestamp {
    Timestamp::from_unix_seconds(at.unix_micros().div_euclid(1_000_000)).unwrap_or(at)
}

fn minus(at: Timestamp, by: Duration) -> Timestamp {
    let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_unix_micros(at.unix_micros().saturating_sub(micros)).unwrap_or(at)
}

/// The window of a run of `mode` starting at `started`.
pub fn plan(
    mode: SyncMode,
    watermark: Option<Timestamp>,
    started: Timestamp,
    overlap: Duration,
    clock_skew: Duration,
) -> Window {
    let to = floor_second(minus(started, clock_skew));
    let from = match (mode, watermark) {
        (SyncMode::Full | SyncMode::Reconcile, _) | (SyncMode::Incremental, None) => None,
        (SyncMode::Incremental, Some(watermark)) => {
            // Never past `to`: a watermark ahead of this run's end (clock moved back)
            // still reads the overlap.
            let from = floor_second(minus(watermark.min(to), overlap));
            Some(from)
        }
    };
    Window { from, to }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn an_incremental_window_reaches_back_by_the_overlap_in_whole_seconds() {
        let w = plan(
            SyncMode::Incremental,
            Some(ts("2026-01-01T10:00:00Z")),
            ts("2026-01-01T10:10:00.750Z"),
            Duration::from_secs(120),
            Duration::from_secs(5),
        );
        assert_eq!(w.from, Some(ts("2026-01-01T09:58:00Z")));
        assert_eq!(w.to, ts("2026-01-01T10:09:55Z"));
    }

    #[test]
    fn a_full_window_has_no_lower_bound_and_the_same_upper_bound() {
        let w = plan(
            SyncMode::Full,
            Some(ts("2026-01-01T10:00:00Z")),
            ts("2026-01-01T10:10:00.2Z"),
            Duration::from_secs(120),
            Duration::from_secs(0),
        );
        assert_eq!(w.from, None);
        assert_eq!(w.to, ts("2026-01-01T10:10:00Z"));
    }

    #[test]
    fn without_a_watermark_an_incremental_run_reads_everything() {
        let w = plan(
            SyncMode::Incremental,
            None,
            ts("2026-01-01T10:10:00Z"),
            Duration::from_secs(120),
            Duration::from_secs(5),
        );
        assert_eq!(w.from, None);
    }

    #[test]
    fn consecutive_windows_overlap_so_the_boundary_second_is_read_twice() {
        // given a run that ended its window at `to`
        let first = plan(
            SyncMode::Incremental,
            Some(ts("2026-01-01T09:00:00Z")),
            ts("2026-01-01T10:00:00.999Z"),
            Duration::from_secs(120),
            Duration::from_secs(0),
        );
        // when the next run starts from that watermark
        let next = plan(
            SyncMode::Incremental,
            Some(first.to),
            ts("2026-01-01T10:10:00Z"),
            Duration::from_secs(120),
            Duration::from_secs(0),
        );
        // then it begins before the previous end: the second of `first.to` is covered twice
        assert!(next.from.unwrap() < first.to);
        assert_eq!(next.from, Some(ts("2026-01-01T09:58:00Z")));
    }

    #[test]
    fn a_watermark_in_the_future_still_yields_a_window_ending_at_to() {
        let w = plan(
            SyncMode::Incremental,
            Some(ts("2030-01-01T00:00:00Z")),
            ts("2026-01-01T10:00:00Z"),
            Duration::from_secs(60),
            Duration::from_secs(0),
        );
        assert_eq!(w.to, ts("2026-01-01T10:00:00Z"));
        assert_eq!(w.from, Some(ts("2026-01-01T09:59:00Z")));
    }
}
