//! One rate budget and one circuit breaker per access token, shared by every Lambda
//! instance through one DynamoDB item per connection (`T#<tenant>#TRACKSTAR#<connection>`,
//! `BUDGET`). Trackstar's limits (10 GET/s, 50 writes/s) are per token, not per instance:
//! ten warm instances each holding an in-process limiter would spend ten times the budget.
//!
//! Hand-written: `governor` and the other rate-limit crates keep their state in process
//! memory (or in Redis), and no maintained crate implements a limiter or a breaker over
//! DynamoDB conditional writes.
//!
//! **Rate (GCRA, virtual scheduling).** The item holds the theoretical arrival time (TAT,
//! epoch ms) of the next free slot, one for GETs and one for writes. A caller books the next
//! slot with ONE conditional `UpdateItem` (`store::timeline`, shared with the API's
//! per-tenant quotas) and sleeps until it:
//! - timeline busy (TAT ≥ now): `SET tat = tat + interval`, on condition
//!   `tat BETWEEN now AND now + look-ahead`. The arithmetic runs inside DynamoDB, so many
//!   concurrent callers all succeed without conflicting; `ALL_NEW` tells each its slot.
//! - timeline idle (TAT < now or none): `SET tat = now + interval`, on condition
//!   `tat < now` — optimistic, as only one of several callers that find it idle wins.
//!
//!   Which form to send is chosen from the TAT this instance last saw (cached in memory).
//!   When the guess is wrong, the condition fails and `ReturnValuesOnConditionCheckFailure
//!   ::AllOld` returns the current item, from which the caller retries — so there are no
//!   reads in steady state and one write per Trackstar request, plus one per guess that
//!   missed. (Conditioning on the exact TAT last seen would make every concurrent caller but
//!   one fail once per slot; the range condition does not.) The condition also says "breaker
//!   closed", so the same write tells the caller whether it may send at all.
//!   The interval is `1 s / rate · 1.05` (see `SHARED_PERIOD_US` in `client.rs`), stretched
//!   by the priority's share; the look-ahead is the priority's (`priority.rs`). Slots are on
//!   wall clocks, which NTP keeps within a few ms across instances; the headroom covers
//!   that and the jitter between instances.
//!
//! **Breaker.** Failures that trip it (`TrackstarError::trips_breaker`) are counted with an
//! `UpdateItem` in a window that starts at the first failure (`window` long); reaching the
//! threshold opens it (one conditional write, so it opens once however many instances see
//! the last failure). While open, calls fail fast with `CircuitOpen`, from the instance's
//! cache of `retry_at` without touching DynamoDB. After `reset_timeout`, exactly one caller
//! across all instances wins a conditional write that books both its slot and the probe
//! lease (a lease, so a probe lost with its instance frees itself); the probe's success
//! closes the breaker for everyone (the one write a success makes), its failure re-opens it.
//!
//! **Fail open.** If DynamoDB cannot be reached (an error or no answer within the timeout),
//! calls must not stop: Trackstar is authoritative for writes and webhooks must still be
//! refetched. The client falls back to its in-process limiter and breaker, logs one warning
//! (no keys, no tokens), and tries DynamoDB again after a few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::store::keys;
use crate::store::timeline::{self, n, number, TimelineError, TimelineTable};

use super::breaker::BreakerState;
use super::config::BreakerPolicy;
use super::ratelimit::RequestKind;

const GET_TAT: &str = "g_tat";
const WRITE_TAT: &str = "w_tat";
const FAILURES: &str = "b_fails";
const WINDOW_START: &str = "b_win";
const OPENED_AT: &str = "b_open";
const RETRY_AT: &str = "b_retry";
const PROBE_UNTIL: &str = "b_probe";
const TIMES_OPENED: &str = "b_times";

/// Placeholders of the fixed attribute names (`#t` is the TAT of the request's kind).
const NAMES: [(&str, &str); 7] = [
    ("#f", FAILURES),
    ("#w", WINDOW_START),
    ("#o", OPENED_AT),
    ("#r", RETRY_AT),
    ("#p", PROBE_UNTIL),
    ("#n", TIMES_OPENED),
    ("#pk", keys::PK),
];

/// How long the shared budget is bypassed after DynamoDB could not be reached.
const RECHECK_AFTER: Duration = Duration::from_secs(5);
/// How long one DynamoDB call of the budget may take before the client fails open.
pub const DEFAULT_BUDGET_TIMEOUT: Duration = Duration::from_secs(1);

/// The shared budget store: cheap to clone (clones share the cache and the client).
#[derive(Clone)]
pub struct DynamoBudget {
    inner: Arc<Inner>,
}

struct Inner {
    table: TimelineTable,
    seen: Mutex<HashMap<String, Seen>>,
    /// One queue per (item, kind, priority) for the callers that must wait for the timeline
    /// to come within their look-ahead: only the head of each queue competes for the next
    /// slot, instead of every waiting caller sending a write that is bound to be refused.
    waiters: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    bypass_until: Mutex<Option<Instant>>,
}

/// What this budget handle has sent to DynamoDB since it was made (for benchmarks and
/// metrics: writes per Trackstar request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetStats {
    /// `UpdateItem` calls, refused ones included.
    pub updates: u64,
    /// `UpdateItem` calls whose condition failed (a guess that missed, or breaker open).
    pub refused: u64,
    /// `GetItem` calls.
    pub reads: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("the shared Trackstar budget could not be reached ({operation})")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the shared Trackstar budget did not answer within {0:?}")]
    Timeout(Duration),
}

impl From<TimelineError> for BudgetError {
    fn from(error: TimelineError) -> Self {
        match error {
            TimelineError::Dynamo { operation, source } => Self::Dynamo { operation, source },
            TimelineError::Timeout(limit) => Self::Timeout(limit),
        }
    }
}

/// The shared breaker of one connection, as stored (for `GET /sync/health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBreakerSnapshot {
    pub state: BreakerState,
    /// Failures counted in the current window (while closed).
    pub failures_in_window: u32,
    /// When it last opened, if it is open or half-open.
    pub opened_at: Option<Timestamp>,
    /// How long until an open breaker lets a probe through.
    pub retry_after: Option<Duration>,
    /// Whether a half-open probe holds the lease.
    pub probe_in_flight: bool,
    /// How many times it has opened.
    pub times_opened: u64,
}

/// The item as this instance last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    get_tat: Option<i64>,
    write_tat: Option<i64>,
    failures: u32,
    window_start: Option<i64>,
    opened_at: Option<i64>,
    retry_at: Option<i64>,
    probe_until: Option<i64>,
    times_opened: u64,
}

impl Seen {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Self {
        let number = |name: &str| number(item, name);
        Self {
            get_tat: number(GET_TAT),
            write_tat: number(WRITE_TAT),
            failures: number(FAILURES)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            window_start: number(WINDOW_START),
            opened_at: number(OPENED_AT),
            retry_at: number(RETRY_AT),
            probe_until: number(PROBE_UNTIL),
            times_opened: number(TIMES_OPENED)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
        }
    }

    fn tat(&self, kind: RequestKind) -> Option<i64> {
        match kind {
            RequestKind::Read => self.get_tat,
            RequestKind::Write => self.write_tat,
        }
    }

    fn snapshot(&self, now: i64) -> SharedBreakerSnapshot {
        let (state, retry_after) = match (self.opened_at, self.retry_at) {
            (Some(_), Some(retry_at)) if now < retry_at => {
                (BreakerState::Open, Some(millis(retry_at - now)))
            }
            (Some(_), _) => (BreakerState::HalfOpen, None),
            (None, _) => (BreakerState::Closed, None),
        };
        SharedBreakerSnapshot {
            state,
            failures_in_window: if state == BreakerState::Closed {
                self.failures
            } else {
                0
            },
            opened_at: self
                .opened_at
                .and_then(|ms| Timestamp::from_unix_micros(ms.saturating_mul(1000))),
            retry_after,
            probe_in_flight: state == BreakerState::HalfOpen
                && self.probe_until.is_some_and(|p| p > now),
            times_opened: self.times_opened,
        }
    }
}

/// What one reservation asks for.
pub(crate) struct Ask {
    pub kind: RequestKind,
    /// The slot length for this priority, ms.
    pub interval_ms: i64,
    /// How far ahead of now a slot may be booked, ms.
    pub look_ahead_ms: i64,
    /// The longest to wait for the timeline to come within the look-ahead.
    pub max_wait: Duration,
    /// How long a half-open probe holds its lease, ms.
    pub probe_lease_ms: i64,
    /// The priority's lane (callers of one lane wait in one queue per instance).
    pub lane: u8,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send at `at_ms` (epoch ms). `probe`: this request is the half-open probe.
    Slot { at_ms: i64, probe: bool },
    /// The shared breaker is open, or half-open with its probe out: fail fast.
    Open { retry_after: Duration },
    /// The token is booked further ahead than this priority may wait.
    Busy { retry_after: Duration },
}

/// One conditional `UpdateItem` of the budget item.
struct Update {
    expression: String,
    condition: Option<String>,
    tat: Option<&'static str>,
    values: Vec<(&'static str, AttributeValue)>,
}

enum Outcome {
    Applied(Seen),
    /// The condition failed; the item as it is now.
    Refused(Seen),
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tat_attribute(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Read => GET_TAT,
        RequestKind::Write => WRITE_TAT,
    }
}

impl DynamoBudget {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        Self::build(client, table_name.into(), DEFAULT_BUDGET_TIMEOUT)
    }

    /// The same table with another limit on how long one DynamoDB call may take before the
    /// client fails open (default 1 s). Starts with an empty cache.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self::build(
            self.inner.table.client().clone(),
            self.inner.table.table().to_owned(),
            timeout,
        )
    }

    fn build(client: aws_sdk_dynamodb::Client, table: String, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                table: TimelineTable::new(client, table, timeout),
                seen: Mutex::new(HashMap::new()),
                waiters: Mutex::new(HashMap::new()),
                bypass_until: Mutex::new(None),
            }),
        }
    }

    pub fn stats(&self) -> BudgetStats {
        let stats = self.inner.table.stats();
        BudgetStats {
            updates: stats.updates,
            refused: stats.refused,
            reads: stats.reads,
        }
    }

    pub fn table_name(&self) -> &str {
        self.inner.table.table()
    }

    fn cached(&self, pk: &str) -> Seen {
        let seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(pk).copied().unwrap_or_default()
    }

    fn remember(&self, pk: &str, value: Seen) {
        let mut seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.clear();
        }
        seen.insert(pk.to_owned(), value);
    }

    fn waiter(&self, pk: &str, ask: &Ask) -> Arc<tokio::sync::Mutex<()>> {
        let key = format!("{pk}#{:?}#{}", ask.kind, ask.lane);
        let mut waiters = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if waiters.len() > 10_000 {
            waiters.retain(|_, queue| Arc::strong_count(queue) > 1);
        }
        waiters.entry(key).or_default().clone()
    }

    /// Whether the budget is being bypassed after DynamoDB could not be reached.
    pub(crate) fn bypassed(&self) -> bool {
        let until = *self
            .inner
            .bypass_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|u| Instant::now() < u)
    }

    /// Marks DynamoDB unreachable for a while and says so, once per episode.
    pub(crate) fn fail_open(&self, error: &BudgetError) {
        let mut until = self
            .inner
            .bypass_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if until.is_none_or(|u| u <= now) {
            tracing::warn!(
                error = %error,
                recheck_after_s = RECHECK_AFTER.as_secs(),
                "shared trackstar budget unavailable: falling back to the in-process limiter and breaker"
            );
        }
        *until = Some(now + RECHECK_AFTER);
    }

    /// Cached: whether the breaker is known to be open (before `retry_at`, nothing can
    /// close it, so the cache is trustworthy until then).
    pub(crate) fn known_open(&self, pk: &str) -> Option<Duration> {
        let seen = self.cached(pk);
        let now = now_ms();
        match (seen.opened_at, seen.retry_at) {
            (Some(_), Some(retry_at)) if now < retry_at => Some(millis(retry_at - now)),
            _ => None,
        }
    }

    async fn update(&self, pk: &str, update: Update) -> Result<Outcome, BudgetError> {
        let mut names = NAMES.to_vec();
        if let Some(tat) = update.tat {
            names.push(("#t", tat));
        }
        let sent = timeline::Update {
            expression: update.expression,
            condition: update.condition,
            names,
            values: update.values,
        };
        Ok(
            match self
                .inner
                .table
                .update(pk, keys::TRACKSTAR_BUDGET_SK, sent)
                .await?
            {
                timeline::Outcome::Applied(item) => Outcome::Applied(Seen::from_item(&item)),
                timeline::Outcome::Refused(item) => {
                    let seen = Seen::from_item(&item);
                    self.remember(pk, seen);
                    Outcome::Refused(seen)
                }
            },
        )
    }

    async fn read(&self, pk: &str) -> Result<Seen, BudgetError> {
        let item = self.inner.table.read(pk, keys::TRACKSTAR_BUDGET_SK).await?;
        let seen = Seen::from_item(&item);
        self.remember(pk, seen);
        Ok(seen)
    }

    /// Books the next slot of `ask.kind` on the token, or says the breaker is open.
    pub(crate) async fn reserve(&self, pk: &str, ask: &Ask) -> Result<Admission, BudgetError> {
        let started = Instant::now();
        // Whether the cached item came from DynamoDB in this call.
        let mut fresh = false;
        // Held from the first wait until the slot is booked.
        let mut queued = None;
        loop {
            let now = now_ms();
            let seen = self.cached(pk);
            let probe = match (seen.opened_at, seen.retry_at) {
                (Some(_), Some(retry_at)) if now < retry_at => {
                    return Ok(Admission::Open {
                        retry_after: millis(retry_at - now),
                    });
                }
                (Some(_), _) => {
                    let probe_out = seen.probe_until.filter(|p| *p > now);
                    if let (true, Some(until)) = (fresh, probe_out) {
                        return Ok(Admission::Open {
                            retry_after: millis(until - now).min(Duration::from_secs(1)),
                        });
                    }
                    true
                }
                (None, _) => false,
            };
            let tat = seen.tat(ask.kind);
            if let Some(tat) = tat.filter(|t| *t > now + ask.look_ahead_ms) {
                if queued.is_none() {
                    queued = Some(self.waiter(pk, ask).lock_owned().await);
                    // Others may have moved the timeline while this caller queued.
                    fresh = false;
                    continue;
                }
                let wait = millis(tat - ask.look_ahead_ms - now);
                if started.elapsed() + wait > ask.max_wait {
                    return Ok(Admission::Busy { retry_after: wait });
                }
                tokio::time::sleep(wait).await;
                fresh = false;
                continue;
            }
            let booking = timeline::book(tat, now, ask.interval_ms, ask.look_ahead_ms);
            let busy = booking.busy;
            let mut expression = booking.expression;
            let rate_condition = booking.condition;
            let condition = if probe {
                expression.push_str(", #p = :lease");
                format!(
                    "{rate_condition} AND #r <= :now AND (attribute_not_exists(#p) OR #p < :now)"
                )
            } else {
                format!("{rate_condition} AND attribute_not_exists(#o)")
            };
            let mut values = booking.values;
            values.push((":lease", n(now + ask.probe_lease_ms)));
            let update = Update {
                expression,
                condition: Some(condition),
                tat: Some(tat_attribute(ask.kind)),
                values,
            };
            match self.update(pk, update).await? {
                Outcome::Applied(new) => {
                    self.remember(pk, new);
                    let at_ms = if busy {
                        new.tat(ask.kind).unwrap_or(now + ask.interval_ms) - ask.interval_ms
                    } else {
                        now
                    };
                    return Ok(Admission::Slot { at_ms, probe });
                }
                Outcome::Refused(current) => {
                    self.remember(pk, current);
                    fresh = true;
                    if started.elapsed() > ask.max_wait {
                        return Ok(Admission::Busy {
                            retry_after: Duration::from_millis(100),
                        });
                    }
                }
            }
        }
    }

    /// Counts a failure that trips the breaker; opens it at the threshold. A probe's failure
    /// re-opens it for another `reset_timeout`.
    pub(crate) async fn record_failure(
        &self,
        pk: &str,
        policy: &BreakerPolicy,
        probe: bool,
    ) -> Result<(), BudgetError> {
        let now = now_ms();
        let reset_ms = i64::try_from(policy.reset_timeout.as_millis()).unwrap_or(i64::MAX / 4);
        if probe {
            let update = Update {
                expression: "SET #o = :now, #r = :retry, #n = if_not_exists(#n, :zero) + :one \
                             REMOVE #p"
                    .to_owned(),
                condition: None,
                tat: None,
                values: vec![
                    (":now", n(now)),
                    (":retry", n(now + reset_ms)),
                    (":zero", n(0)),
                    (":one", n(1)),
                ],
            };
            let (Outcome::Applied(seen) | Outcome::Refused(seen)) = self.update(pk, update).await?;
            self.remember(pk, seen);
            return Ok(());
        }
        let window_ms = i64::try_from(policy.window.as_millis()).unwrap_or(i64::MAX / 4);
        let cutoff = now - window_ms;
        for _ in 0..3 {
            let seen = self.cached(pk);
            if seen.opened_at.is_some() && self.known_open(pk).is_some() {
                // A late failure of a request sent before it opened: only the probe
                // restarts the timer.
                return Ok(());
            }
            let (expression, condition) = if seen.window_start.is_some_and(|w| w > cutoff) {
                (
                    "SET #f = #f + :one",
                    "attribute_not_exists(#o) AND #w > :cutoff",
                )
            } else {
                (
                    "SET #f = :one, #w = :now",
                    "attribute_not_exists(#o) AND (attribute_not_exists(#w) OR #w <= :cutoff)",
                )
            };
            let update = Update {
                expression: expression.to_owned(),
                condition: Some(condition.to_owned()),
                tat: None,
                values: vec![(":one", n(1)), (":now", n(now)), (":cutoff", n(cutoff))],
            };
            match self.update(pk, update).await? {
                Outcome::Applied(new) => {
                    self.remember(pk, new);
                    if new.failures >= policy.failure_threshold {
                        self.trip(pk, policy, now).await?;
                    }
                    return Ok(());
                }
                Outcome::Refused(current) => {
                    self.remember(pk, current);
                    if current.opened_at.is_some() {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    async fn trip(&self, pk: &str, policy: &BreakerPolicy, now: i64) -> Result<(), BudgetError> {
        let reset_ms = i64::try_from(policy.reset_timeout.as_millis()).unwrap_or(i64::MAX / 4);
        let update = Update {
            expression: "SET #o = :now, #r = :retry, #n = if_not_exists(#n, :zero) + :one, \
                         #f = :zero REMOVE #w, #p"
                .to_owned(),
            condition: Some("attribute_not_exists(#o) AND #f >= :threshold".to_owned()),
            tat: None,
            values: vec![
                (":now", n(now)),
                (":retry", n(now + reset_ms)),
                (":zero", n(0)),
                (":one", n(1)),
                (":threshold", n(i64::from(policy.failure_threshold))),
            ],
        };
        let (Outcome::Applied(seen) | Outcome::Refused(seen)) = self.update(pk, update).await?;
        self.remember(pk, seen);
        Ok(())
    }

    /// The probe succeeded: close the breaker for every instance.
    pub(crate) async fn record_probe_success(&self, pk: &str) -> Result<(), BudgetError> {
        let update = Update {
            expression: "SET #f = :zero REMOVE #o, #r, #p, #w".to_owned(),
            condition: None,
            tat: None,
            values: vec![(":zero", n(0))],
        };
        let (Outcome::Applied(seen) | Outcome::Refused(seen)) = self.update(pk, update).await?;
        self.remember(pk, seen);
        Ok(())
    }

    /// Holds every caller on the token until `until_ms` (after a 429): moves the TAT there
    /// unless it is already later.
    pub(crate) async fn pause(
        &self,
        pk: &str,
        kind: RequestKind,
        until_ms: i64,
    ) -> Result<(), BudgetError> {
        let update = Update {
            expression: "SET #t = :until".to_owned(),
            condition: Some("attribute_not_exists(#t) OR #t < :until".to_owned()),
            tat: Some(tat_attribute(kind)),
            values: vec![(":until", n(until_ms))],
        };
        let (Outcome::Applied(seen) | Outcome::Refused(seen)) = self.update(pk, update).await?;
        self.remember(pk, seen);
        Ok(())
    }

    /// The shared breaker of a connection, read afresh (consistent read).
    pub async fn breaker(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<SharedBreakerSnapshot, BudgetError> {
        let seen = self
            .read(&keys::trackstar_budget_pk(tenant, connection))
            .await?;
        Ok(seen.snapshot(now_ms()))
    }
}

impl std::fmt::Debug for DynamoBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoBudget")
            .field("table", &self.inner.table.table())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_item_reads_as_its_breaker_state() {
        let now = 1_700_000_000_000;
        let closed = Seen {
            failures: 2,
            window_start: Some(now - 10),
            ..Seen::default()
        };
        assert_eq!(closed.snapshot(now).state, BreakerState::Closed);
        assert_eq!(closed.snapshot(now).failures_in_window, 2);
        let open = Seen {
            opened_at: Some(now - 1_000),
            retry_at: Some(now + 4_000),
            times_opened: 1,
            ..Seen::default()
        };
        let snap = open.snapshot(now);
        assert_eq!(snap.state, BreakerState::Open);
        assert_eq!(snap.retry_after, Some(Duration::from_secs(4)));
        assert_eq!(
            snap.opened_at.map(|t| t.unix_micros()),
            Some((now - 1_000) * 1000)
        );
        let half_open = Seen {
            probe_until: Some(now + 4_500),
            ..open
        };
        let snap = half_open.snapshot(now + 4_000);
        assert_eq!(snap.state, BreakerState::HalfOpen);
        assert!(snap.probe_in_flight);
    }
}
