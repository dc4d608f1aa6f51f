//! A circuit breaker per connection.
//!
//! Closed → open after `failure_threshold` retryable failures (5xx, 429, network, timeout)
//! within the rolling `window`; 4xx responses never count. Open → half-open once
//! `reset_timeout` has passed, letting exactly one probe through; the probe's success
//! closes it, its failure re-opens it for another `reset_timeout`.
//!
//! Hand-written: the maintained crates (`failsafe`, `tower`'s ecosystem) do not offer a
//! keyed breaker with a rolling failure-count window, a single half-open probe and a state
//! snapshot for observability, and the state machine is small enough to test exhaustively
//! with a controllable clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::config::BreakerPolicy;

/// Time source, replaceable in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// What a breaker looks like right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    /// Retryable failures inside the rolling window (while closed).
    pub failures_in_window: u32,
    /// When it last opened, if it is open or half-open.
    pub opened_at: Option<Instant>,
    /// How long until an open breaker lets a probe through.
    pub retry_after: Option<Duration>,
    /// Whether a half-open probe is in flight.
    pub probe_in_flight: bool,
    /// How many times it has opened since it was created.
    pub times_opened: u64,
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
    times_opened: u64,
}

/// The breakers of all connections, keyed by connection id.
pub struct Breakers {
    policy: BreakerPolicy,
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Permission to send one request. Report its outcome with `success` / `failure`;
/// dropping it unreported (a cancelled call) frees a half-open probe slot.
#[must_use]
pub struct Permit<'a> {
    breakers: &'a Breakers,
    key: String,
    probe: bool,
    done: bool,
}

impl Permit<'_> {
    /// The breaker this permit was taken from.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The upstream answered in a way that says it is healthy (any 2xx or non-429 4xx).
    pub fn success(mut self) {
        self.done = true;
        self.breakers.on_success(&self.key);
    }

    /// A retryable failure (5xx, 429, network, timeout).
    pub fn failure(mut self) {
        self.done = true;
        self.breakers.on_failure(&self.key, self.probe);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.breakers.release_probe(&self.key);
        }
    }
}

impl Breakers {
    pub fn new(policy: BreakerPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            policy,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request for `key`. `Err(retry_after)` means the breaker is open (or
    /// half-open with its probe already out): fail fast.
    pub fn acquire(&self, key: &str) -> Result<Permit<'_>, Duration> {
        let now = self.clock.now();
        let mut entries = self.lock();
        let entry = entries.entry(key.to_owned()).or_default();
        let probe = match entry.opened_at {
            None => false,
            Some(opened_at) => {
                let ready_at = opened_at + self.policy.reset_timeout;
                if now < ready_at {
                    return Err(ready_at - now);
                }
                if entry.probe_in_flight {
                    return Err(self.policy.reset_timeout.min(Duration::from_secs(1)));
                }
                entry.probe_in_flight = true;
                true
            }
        };
        drop(entries);
        Ok(Permit {
            breakers: self,
            key: key.to_owned(),
            probe,
            done: false,
        })
    }

    fn on_success(&self, key: &str) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(key) {
            if entry.opened_at.is_some() {
                entry.opened_at = None;
                entry.probe_in_flight = false;
                entry.failures.clear();
            }
        }
    }

    fn on_failure(&self, key: &str, probe: bool) {
        let now = self.clock.now();
        let mut entries = self.lock();
        let entry = entries.entry(key.to_owned()).or_default();
        if entry.opened_at.is_some() {
            // A failed probe (or a late failure of a request sent before it opened)
            // keeps it open; only the probe restarts the timer.
            if probe {
                entry.opened_at = Some(now);
                entry.probe_in_flight = false;
                entry.times_opened += 1;
            }
            return;
        }
        prune(&mut entry.failures, now, self.policy.window);
        entry.failures.push_back(now);
        if entry.failures.len() >= self.policy.failure_threshold as usize {
            entry.opened_at = Some(now);
            entry.probe_in_flight = false;
            entry.failures.clear();
            entry.times_opened += 1;
        }
    }

    fn release_probe(&self, key: &str) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.probe_in_flight = false;
        }
    }

    pub fn snapshot(&self, key: &str) -> BreakerSnapshot {
        let now = self.clock.now();
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return BreakerSnapshot {
                state: BreakerState::Closed,
                failures_in_window: 0,
                opened_at: None,
                retry_after: None,
                probe_in_flight: false,
                times_opened: 0,
            };
        };
        prune(&mut entry.failures, now, self.policy.window);
        let (state, retry_after) = match entry.opened_at {
            None => (BreakerState::Closed, None),
            Some(opened_at) => {
                let ready_at = opened_at + self.policy.reset_timeout;
                if now < ready_at {
                    (BreakerState::Open, Some(ready_at - now))
                } else {
                    (BreakerState::HalfOpen, None)
                }
            }
        };
        BreakerSnapshot {
            state,
            failures_in_window: u32::try_from(entry.failures.len()).unwrap_or(u32::MAX),
            opened_at: entry.opened_at,
            retry_after,
            probe_in_flight: entry.probe_in_flight,
            times_opened: entry.times_opened,
        }
    }
}

fn prune(failures: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while let Some(first) = failures.front() {
        if now.saturating_duration_since(*first) >= window {
            failures.pop_front();
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Arc<ManualClock>, Breakers) {
        let clock = Arc::new(ManualClock::default());
        let breakers = Breakers::new(
            BreakerPolicy {
                failure_threshold: 3,
                window: Duration::from_secs(10),
                reset_timeout: Duration::from_secs(5),
            },
            clock.clone(),
        );
        (clock, breakers)
    }

    fn fail(b: &Breakers, key: &str) {
        b.acquire(key).expect("closed").failure();
    }

    #[test]
    fn opens_after_the_threshold_of_failures_in_the_window() {
        // given
        let (_clock, b) = setup();
        fail(&b, "c1");
        fail(&b, "c1");
        assert_eq!(b.snapshot("c1").state, BreakerState::Closed);
        assert_eq!(b.snapshot("c1").failures_in_window, 2);
        // when
        fail(&b, "c1");
        // then
        let snap = b.snapshot("c1");
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.retry_after, Some(Duration::from_secs(5)));
        assert_eq!(b.acquire("c1").err(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let (clock, b) = setup();
        fail(&b, "c1");
        fail(&b, "c1");
        clock.advance(Duration::from_secs(11));
        fail(&b, "c1");
        let snap = b.snapshot("c1");
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!(snap.failures_in_window, 1);
    }

    #[test]
    fn successes_do_not_trip_it_and_connections_are_independent() {
        let (_clock, b) = setup();
        for _ in 0..10 {
            b.acquire("c1").unwrap().success();
        }
        fail(&b, "c2");
        fail(&b, "c2");
        fail(&b, "c2");
        assert_eq!(b.snapshot("c1").state, BreakerState::Closed);
        assert_eq!(b.snapshot("c2").state, BreakerState::Open);
        assert!(b.acquire("c1").is_ok());
    }

    #[test]
    fn half_opens_after_the_timeout_and_lets_exactly_one_probe_through() {
        // given an open breaker
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, "c1");
        }
        // when the reset timeout passes
        clock.advance(Duration::from_secs(5));
        // then one probe, and only one, may go
        assert_eq!(b.snapshot("c1").state, BreakerState::HalfOpen);
        let probe = b.acquire("c1").expect("probe allowed");
        assert!(b.acquire("c1").is_err());
        assert!(b.snapshot("c1").probe_in_flight);
        probe.success();
        assert_eq!(b.snapshot("c1").state, BreakerState::Closed);
        assert_eq!(b.snapshot("c1").failures_in_window, 0);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_timeout() {
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, "c1");
        }
        clock.advance(Duration::from_secs(6));
        b.acquire("c1").unwrap().failure();
        let snap = b.snapshot("c1");
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.retry_after, Some(Duration::from_secs(5)));
        assert_eq!(snap.times_opened, 2);
        clock.advance(Duration::from_secs(5));
        assert_eq!(b.snapshot("c1").state, BreakerState::HalfOpen);
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let (clock, b) = setup();
        for _ in 0..3 {
            fail(&b, "c1");
        }
        clock.advance(Duration::from_secs(5));
        drop(b.acquire("c1").unwrap());
        assert!(b.acquire("c1").is_ok());
    }

    #[test]
    fn an_unknown_connection_is_closed() {
        let (_clock, b) = setup();
        let snap = b.snapshot("never-seen");
        assert_eq!(snap.state, BreakerState::Closed);
        assert_eq!(snap.opened_at, None);
    }
}
