//! Per-tenant request quotas on the API, holding across every Lambda instance.
//!
//! API Gateway HTTP APIs have no usage plans, and their throttling is per stage and per
//! route, shared by every tenant. So each tenant has two quotas of its own, checked by
//! [`super::router::dispatch`] after the claims are read (tenant from the verified token)
//! and before the handler does any work:
//! - **api**: every authorized route (`API_QUOTA_PER_SECOND`, burst `API_QUOTA_BURST`);
//! - **admin**: routes whose [`Route::quota`](super::routes::Route) is
//!   [`QuotaClass::Admin`] (connection link-token and exchange, sync run, replay), which also
//!   count against the api quota (`ADMIN_QUOTA_PER_MINUTE`, burst `ADMIN_QUOTA_BURST`).
//!
//! Over a quota: 429 `quota_exceeded` with `Retry-After` (header and `retry_after` in the
//! envelope), and the EMF metric `api.quota_exceeded` (dimension `class`; the tenant as a
//! property, never a dimension).
//!
//! **Mechanism.** Each (tenant, class) is a GCRA timeline in one DynamoDB item
//! (`T#<tenant>#QUOTA`, `API`/`ADMIN`), booked with the conditional `UpdateItem` the
//! Trackstar budget uses (`store::timeline`): taking `n` tokens at `now` moves the TAT to
//! `max(TAT, now) + n·interval`, allowed while that stays within `burst·interval` of now.
//! Over any period `T`, all instances together take at most `rate·T + burst` tokens.
//!
//! **Blocks.** An instance takes a block of tokens per call and spends them locally, for at
//! most `HOLD` (1 s; then unspent ones lapse, never hoarded): as many as it served requests
//! of that tenant and class in the last second, capped by `API_QUOTA_BLOCK` (10) and the
//! burst; admin blocks are always 1. So a quiet instance pays one write unit per request and
//! a busy one 1/10; admitted requests over any period `T` stay within `rate·(T + HOLD) +
//! burst` across every instance, and an idle instance strands at most what it would have
//! served in its last second. Once a call finds the window used up, the instance answers
//! 429 from memory until the next token is due: a flood costs no DynamoDB calls.
//!
//! **Hot item.** A tenant's api item takes at most one write per block and instance (a
//! block of ≤ 10, or one call per second and instance at low rates) plus one per instance
//! per refusal window, far below DynamoDB's 1,000 write units per second per partition key
//! (items ≤ 1 KB); the stage throttle (`HttpApi` `DefaultRouteSettings`) also caps what
//! reaches the functions at all.
//!
//! **Failure.** If the item cannot be written (an error, or no answer within
//! `QuotaConfig::timeout`), the api class **fails open** onto the same GCRA on this
//! instance's own timeline (each instance then bounds the tenant to the rate, so N instances
//! to N×), logs one warning and retries DynamoDB after 5 s: reads must stay available, and a
//! quota is a fairness guard, not an access control (the tenant is authenticated; the stage
//! throttle and the functions' concurrency still bound the total). The admin class **fails
//! closed** (503 `quota_unavailable`, Retry-After): its actions are expensive and rare
//! (Trackstar exchanges, full syncs, replays) and write to the same table themselves, so
//! they would not get far anyway.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use lambda_http::Request;

use super::claims::Principal;
use super::error::ApiError;
use super::routes::Route;
use super::ApiDeps;
use crate::domain::TenantId;
use crate::metrics::{Metric, MetricsSink};
use crate::store::keys;
use crate::store::timeline::{self, number, Outcome, TimelineError, TimelineTable};

mod config;
pub use config::{Limit, QuotaClass, QuotaConfig};

/// The TAT attribute of a quota item.
const TAT: &str = "tat";
/// How long a block of tokens may be spent locally before its rest lapses.
pub const HOLD: Duration = Duration::from_secs(1);
/// How long the shared quota is bypassed after DynamoDB could not be reached.
const RECHECK_AFTER: Duration = Duration::from_secs(5);
/// How long one quota call may take before the store counts as failed.
pub const DEFAULT_QUOTA_TIMEOUT: Duration = Duration::from_millis(500);

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Admitted,
    /// Over the quota.
    Exceeded {
        retry_after: Duration,
    },
    /// The store failed and this class fails closed.
    Unavailable {
        retry_after: Duration,
    },
}

/// What this instance has done (for metrics and the API bench).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaStats {
    /// Quota checks (an admin request makes two).
    pub checks: u64,
    /// `UpdateItem` calls (one write unit each, refused ones included).
    pub updates: u64,
    /// `GetItem` calls (only when the service returns no item with a refusal).
    pub reads: u64,
    /// Checks answered by the in-process fallback (the shared window was not reached in
    /// time, or was bypassed after such a failure): they cost no write.
    pub fallbacks: u64,
}

impl QuotaStats {
    /// What was done between `before` and `self`.
    pub fn since(&self, before: QuotaStats) -> QuotaStats {
        QuotaStats {
            checks: self.checks.saturating_sub(before.checks),
            updates: self.updates.saturating_sub(before.updates),
            reads: self.reads.saturating_sub(before.reads),
            fallbacks: self.fallbacks.saturating_sub(before.fallbacks),
        }
    }

    /// DynamoDB write units per quota check (`UpdateItem` on an item of < 1 KB: 1 unit).
    pub fn write_units_per_check(&self) -> f64 {
        if self.checks == 0 {
            0.0
        } else {
            self.updates as f64 / self.checks as f64
        }
    }
}

/// One instance's view of a (tenant, class).
#[derive(Debug, Default)]
struct Local {
    /// Tokens taken from the shared window and not spent yet, usable until `tokens_until`.
    tokens: u32,
    tokens_until: i64,
    /// The shared TAT as last seen.
    seen_tat: Option<i64>,
    /// The shared window is used up until then: refuse without asking.
    exhausted_until: i64,
    /// Requests in the current `HOLD` window, and in the one before.
    window_start: i64,
    served: u32,
    served_before: u32,
    /// The in-process timeline used while the store cannot be reached.
    fallback_tat: Option<i64>,
}

impl Local {
    fn count(&mut self, now: i64) {
        let hold = hold_ms();
        if now >= self.window_start + hold {
            self.served_before = if now < self.window_start + 2 * hold {
                self.served
            } else {
                0
            };
            self.served = 0;
            self.window_start = now;
        }
        self.served = self.served.saturating_add(1);
    }

    /// How many requests this instance expects in the next `HOLD`.
    fn demand(&self) -> u32 {
        self.served.max(self.served_before)
    }
}

/// One (tenant, class) of this instance: its requests wait for each other (one at a time
/// on Lambda anyway), so a block taken by one is seen by the next.
type Shared<T> = Arc<tokio::sync::Mutex<T>>;

/// The quotas of every tenant, as one instance enforces them. Cheap to share (`Arc`).
pub struct TenantQuotas {
    config: QuotaConfig,
    table: TimelineTable,
    metrics: Arc<dyn MetricsSink>,
    states: Mutex<HashMap<(TenantId, QuotaClass), Shared<Local>>>,
    bypass_until: Mutex<Option<Instant>>,
    checks: AtomicU64,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for TenantQuotas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantQuotas")
            .field("config", &self.config)
            .field("table", &self.table.table())
            .finish_non_exhaustive()
    }
}

impl TenantQuotas {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        config: QuotaConfig,
        metrics: Arc<dyn MetricsSink>,
    ) -> Self {
        let table = TimelineTable::new(client, table.into(), config.timeout);
        Self {
            config,
            table,
            metrics,
            states: Mutex::new(HashMap::new()),
            bypass_until: Mutex::new(None),
            checks: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &QuotaConfig {
        &self.config
    }

    pub fn stats(&self) -> QuotaStats {
        let table = self.table.stats();
        QuotaStats {
            checks: self.checks.load(Ordering::Relaxed),
            updates: table.updates,
            reads: table.reads,
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
        }
    }

    fn state(&self, tenant: &TenantId, class: QuotaClass) -> Shared<Local> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.len() > 10_000 {
            states.retain(|_, state| Arc::strong_count(state) > 1);
        }
        states.entry((tenant.clone(), class)).or_default().clone()
    }

    fn bypassed(&self) -> bool {
        let until = *self.bypass_until.lock().unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|u| Instant::now() < u)
    }

    fn fail_open(&self, error: &TimelineError, class: QuotaClass) {
        let mut until = self.bypass_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if until.is_none_or(|u| u <= now) {
            tracing::warn!(
                error = %crate::errors::error_chain(error),
                recheck_after_s = RECHECK_AFTER.as_secs(),
                "tenant quota store unavailable: api quota per instance, admin actions refused"
            );
        }
        *until = Some(now + RECHECK_AFTER);
        self.metrics
            .emit(Metric::count("api.quota_unavailable").with("class", class.as_str()));
    }

    /// Checks one request of `tenant` against the `class` quota, taking a token if admitted.
    pub async fn check(&self, tenant: &TenantId, class: QuotaClass) -> Verdict {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let limit = self.config.limit(class);
        let state = self.state(tenant, class);
        let mut local = state.lock().await;
        let now = now_ms();
        local.count(now);
        if local.tokens > 0 && now < local.tokens_until {
            local.tokens -= 1;
            return Verdict::Admitted;
        }
        local.tokens = 0;
        if now < local.exhausted_until {
            return Verdict::Exceeded {
                retry_after: millis(local.exhausted_until - now),
            };
        }
        if !self.bypassed() {
            match self.take(&mut local, tenant, class, limit).await {
                Ok(verdict) => {
                    // Back to the shared window: the in-process one starts afresh next time.
                    local.fallback_tat = None;
                    return verdict;
                }
                Err(error) => self.fail_open(&error, class),
            }
        } else {
            self.metrics
                .emit(Metric::count("api.quota_unavailable").with("class", class.as_str()));
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        match class {
            QuotaClass::Admin => Verdict::Unavailable {
                retry_after: RECHECK_AFTER,
            },
            QuotaClass::Api => match limit.take_local(local.fallback_tat, now_ms()) {
                Ok(tat) => {
                    local.fallback_tat = Some(tat);
                    Verdict::Admitted
                }
                Err(retry_after) => Verdict::Exceeded { retry_after },
            },
        }
    }

    /// Takes a block of tokens from the shared window: one for this request, the rest kept.
    async fn take(
        &self,
        local: &mut Local,
        tenant: &TenantId,
        class: QuotaClass,
        limit: Limit,
    ) -> Result<Verdict, TimelineError> {
        let pk = keys::quota_pk(tenant);
        let mut want = local.demand().clamp(1, self.config.block(class));
        for _ in 0..4 {
            let now = now_ms();
            let cost = i64::from(want) * limit.interval_ms();
            let booking = timeline::book(local.seen_tat, now, cost, limit.tolerance_ms() - cost);
            let update = timeline::Update {
                expression: booking.expression,
                condition: Some(booking.condition),
                names: vec![("#t", TAT)],
                values: booking.values,
            };
            match self.table.update(&pk, class.sort_key(), update).await? {
                Outcome::Applied(item) => {
                    local.seen_tat = number(&item, TAT);
                    local.tokens = want - 1;
                    local.tokens_until = now + hold_ms();
                    return Ok(Verdict::Admitted);
                }
                Outcome::Refused(item) => {
                    let tat = number(&item, TAT);
                    local.seen_tat = tat;
                    let free = limit.available(tat, now);
                    if free == 0 {
                        let retry_after = limit.wait(tat, now);
                        local.exhausted_until = now + duration_ms(retry_after);
                        tracing::info!(
                            tenant_id = %tenant,
                            class = class.as_str(),
                            retry_after_ms = duration_ms(retry_after),
                            "tenant quota used up"
                        );
                        return Ok(Verdict::Exceeded { retry_after });
                    }
                    want = want.min(free);
                }
            }
        }
        // Lost every race for the window's last tokens: over the quota for now.
        Ok(Verdict::Exceeded {
            retry_after: millis(limit.interval_ms()),
        })
    }
}

/// Checks a request against its route's quotas (after the claims, before the handler): an
/// error to answer with if it is refused. Routes without the authorizer and requests
/// without usable claims pass (the handler answers those with 401, doing no work).
pub async fn admit(deps: &ApiDeps, route: &Route, request: &Request) -> Result<(), ApiError> {
    let Some(quotas) = deps.quota.as_deref() else {
        return Ok(());
    };
    if !route.authorized {
        return Ok(());
    }
    let Ok(principal) = Principal::from_request(request, &deps.config.claims) else {
        return Ok(());
    };
    for class in route.quota.checks() {
        match quotas.check(&principal.tenant, *class).await {
            Verdict::Admitted => {}
            Verdict::Exceeded { retry_after } => {
                deps.metrics.emit(
                    Metric::count("api.quota_exceeded")
                        .with("class", class.as_str())
                        .property("tenant_id", principal.tenant.to_string()),
                );
                return Err(exceeded(*class, retry_after));
            }
            Verdict::Unavailable { retry_after } => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "quota_unavailable",
                    "admin actions are paused while the request quota cannot be checked; retry later",
                )
                .with_retry_after(retry_after));
            }
        }
    }
    Ok(())
}

/// The 429 of a used-up quota.
pub fn exceeded(class: QuotaClass, retry_after: Duration) -> ApiError {
    let message = match class {
        QuotaClass::Api => {
            "the tenant's API request quota is used up; retry after Retry-After seconds"
        }
        QuotaClass::Admin => {
            "the tenant's quota of admin actions is used up; retry after Retry-After seconds"
        }
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message)
        .with_retry_after(retry_after)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hold_ms() -> i64 {
    duration_ms(HOLD)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_limit_frees_its_burst_then_one_token_per_interval() {
        // given 20/s with a burst of 40: one token every 50 ms
        let limit = Limit::new(20, Duration::from_secs(1), 40).unwrap();
        assert_eq!(limit.interval_ms(), 50);
        let now = 1_000_000;
        // then an idle timeline has the whole burst
        assert_eq!(limit.available(None, now), 40);
        assert_eq!(limit.available(Some(now - 5_000), now), 40);
        // a timeline booked to the tolerance has none, and the next is one interval away
        let full = now + 40 * 50;
        assert_eq!(limit.available(Some(full), now), 0);
        assert_eq!(limit.wait(Some(full), now), Duration::from_millis(50));
        // and 120 ms later two are free again
        assert_eq!(limit.available(Some(full), now + 120), 2);
        assert_eq!(limit.wait(Some(full), now + 120), Duration::ZERO);
    }

    #[test]
    fn intervals_round_up_so_the_rate_is_never_exceeded() {
        let admin = Limit::new(6, Duration::from_secs(60), 3).unwrap();
        assert_eq!(admin.interval_ms(), 10_000);
        assert_eq!(
            Limit::new(3, Duration::from_secs(1), 1)
                .unwrap()
                .interval_ms(),
            334
        );
        assert!(Limit::new(0, Duration::from_secs(1), 1).is_none());
        assert!(Limit::new(1, Duration::from_secs(1), 0).is_none());
    }

    #[test]
    fn the_in_process_timeline_admits_the_burst_then_refuses() {
        let limit = Limit::new(1, Duration::from_secs(60), 3).unwrap();
        let now = 5_000_000;
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(limit.take_local(tat, now).expect("within the burst"));
        }
        let wait = limit.take_local(tat, now).expect_err("past the burst");
        assert_eq!(wait, Duration::from_secs(60));
    }

    #[test]
    fn the_config_is_read_from_the_environment_with_defaults() {
        // given only the api rate
        let config = QuotaConfig::from_env(&env(&[("API_QUOTA_PER_SECOND", "20")]))
            .unwrap()
            .unwrap();
        // then the burst is twice the rate, admin 6/min burst 3, blocks of 10
        assert_eq!(
            config.api,
            Limit::new(20, Duration::from_secs(1), 40).unwrap()
        );
        assert_eq!(
            config.admin,
            Limit::new(6, Duration::from_secs(60), 3).unwrap()
        );
        assert_eq!(config.block, 10);
        assert_eq!(config.block(QuotaClass::Admin), 1);
        // no rate: no quotas; a bad or zero one: a clear error naming the variable
        assert_eq!(QuotaConfig::from_env(&env(&[])).unwrap(), None);
        for bad in ["fast", "-1", "0"] {
            let err = QuotaConfig::from_env(&env(&[("API_QUOTA_PER_SECOND", bad)])).unwrap_err();
            assert!(err.to_string().contains("API_QUOTA_PER_SECOND"), "{err}");
        }
        let err = QuotaConfig::from_env(&env(&[
            ("API_QUOTA_PER_SECOND", "20"),
            ("ADMIN_QUOTA_BURST", "0"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("ADMIN_QUOTA"), "{err}");
    }

    #[test]
    fn blocks_follow_the_instances_recent_demand() {
        let mut local = Local::default();
        let start = 10_000_000;
        // given 25 requests within one second
        for i in 0..25 {
            local.count(start + i * 10);
        }
        assert_eq!(local.demand(), 25);
        // then in the next second the previous second's demand still counts
        local.count(start + 1_100);
        assert_eq!(local.demand(), 25);
        // and after two quiet seconds it is back to one
        local.count(start + 5_000);
        assert_eq!(local.demand(), 1);
    }

    #[test]
    fn write_units_per_check_are_updates_over_checks() {
        let stats = QuotaStats {
            checks: 50,
            updates: 6,
            reads: 0,
            fallbacks: 2,
        };
        assert!((stats.write_units_per_check() - 0.12).abs() < 1e-9);
        assert_eq!(QuotaStats::default().write_units_per_check(), 0.0);
        // a run's figure is what it added to the instance's counters
        let after = QuotaStats {
            checks: 550,
            updates: 56,
            reads: 0,
            fallbacks: 2,
        };
        assert!((after.since(stats).write_units_per_check() - 0.1).abs() < 1e-9);
        assert_eq!(after.since(stats).fallbacks, 0);
    }

    #[test]
    fn an_exceeded_quota_is_a_429_with_retry_after() {
        let e = exceeded(QuotaClass::Admin, Duration::from_millis(2_500));
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.code, "quota_exceeded");
        assert_eq!(e.retry_after, Some(3));
        assert_eq!(e.body("r")["error"]["retry_after"], 3);
    }
}
