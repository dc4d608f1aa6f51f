//! The health status of a connection: a pure function of its figures and the thresholds.
//!
//! Every threshold is "worse than": a value exactly at a threshold does not cross it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::runtime::{ConfigError, Env};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

/// Warning (→ degraded) and critical (→ unhealthy) levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub sync_lag_warning: Duration,
    pub sync_lag_critical: Duration,
    pub webhook_lag_warning: Duration,
    pub webhook_lag_critical: Duration,
    /// Fractions (0.01 = 1 %).
    pub error_rate_warning: f64,
    pub error_rate_critical: f64,
    pub failures_warning: u64,
    pub failures_critical: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            sync_lag_warning: Duration::from_secs(5 * 60),
            sync_lag_critical: Duration::from_secs(15 * 60),
            webhook_lag_warning: Duration::from_secs(2 * 60),
            webhook_lag_critical: Duration::from_secs(10 * 60),
            error_rate_warning: 0.01,
            error_rate_critical: 0.05,
            failures_warning: 5,
            failures_critical: 20,
        }
    }
}

fn number<T: std::str::FromStr>(
    env: &dyn Env,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match env.var(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: "not a number".into(),
        }),
    }
}

impl Thresholds {
    /// `HEALTH_SYNC_LAG_WARNING_SECONDS`, `HEALTH_SYNC_LAG_CRITICAL_SECONDS`,
    /// `HEALTH_WEBHOOK_LAG_WARNING_SECONDS`, `HEALTH_WEBHOOK_LAG_CRITICAL_SECONDS`,
    /// `HEALTH_ERROR_RATE_WARNING_PERCENT`, `HEALTH_ERROR_RATE_CRITICAL_PERCENT`,
    /// `HEALTH_FAILURES_WARNING`, `HEALTH_FAILURES_CRITICAL`; defaults otherwise.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs =
            |name, default: Duration| number(env, name, default.as_secs()).map(Duration::from_secs);
        let percent = |name, default: f64| number(env, name, default * 100.0).map(|p| p / 100.0);
        Ok(Self {
            sync_lag_warning: secs("HEALTH_SYNC_LAG_WARNING_SECONDS", d.sync_lag_warning)?,
            sync_lag_critical: secs("HEALTH_SYNC_LAG_CRITICAL_SECONDS", d.sync_lag_critical)?,
            webhook_lag_warning: secs("HEALTH_WEBHOOK_LAG_WARNING_SECONDS", d.webhook_lag_warning)?,
            webhook_lag_critical: secs(
                "HEALTH_WEBHOOK_LAG_CRITICAL_SECONDS",
                d.webhook_lag_critical,
            )?,
            error_rate_warning: percent("HEALTH_ERROR_RATE_WARNING_PERCENT", d.error_rate_warning)?,
            error_rate_critical: percent(
                "HEALTH_ERROR_RATE_CRITICAL_PERCENT",
                d.error_rate_critical,
            )?,
            failures_warning: number(env, "HEALTH_FAILURES_WARNING", d.failures_warning)?,
            failures_critical: number(env, "HEALTH_FAILURES_CRITICAL", d.failures_critical)?,
        })
    }
}

/// What the status is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthInputs {
    /// The connection's status, when it is not `active`.
    pub not_active: Option<String>,
    pub breaker_open: bool,
    pub breaker_half_open: bool,
    /// Per resource: now − watermark, `None` when it never synced.
    pub sync_lag: Vec<(String, Option<Duration>)>,
    /// Webhook lag p95 over the last hour (no traffic: `None`).
    pub webhook_lag_p95: Option<Duration>,
    pub error_rate_24h: Option<f64>,
    pub failures_24h: u64,
    pub open_connection_errors: usize,
    pub stuck_schedules: usize,
    /// Backfills Trackstar reported stuck (that data type's scheduled syncs wait on them).
    pub stuck_backfills: usize,
}

/// Why a connection is not healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// `connection_not_active`, `breaker_open`, `breaker_half_open`, `sync_lag`,
    /// `never_synced`, `webhook_lag`, `error_rate`, `failures`, `connection_errors`,
    /// `schedule_stuck`, `backfill_stuck`.
    pub code: String,
    pub severity: Status,
    pub detail: String,
}

fn reason(code: &str, severity: Status, detail: String) -> Reason {
    Reason {
        code: code.to_owned(),
        severity,
        detail,
    }
}

fn level<T: PartialOrd>(value: T, warning: T, critical: T) -> Option<Status> {
    if value > critical {
        Some(Status::Unhealthy)
    } else if value > warning {
        Some(Status::Degraded)
    } else {
        None
    }
}

/// The status and every reason for it (worst reason wins).
pub fn assess(i: &HealthInputs, t: &Thresholds) -> (Status, Vec<Reason>) {
    let mut reasons = Vec::new();
    if let Some(status) = &i.not_active {
        reasons.push(reason(
            "connection_not_active",
            Status::Unhealthy,
            format!("the connection is {status}"),
        ));
    }
    if i.breaker_open {
        reasons.push(reason(
            "breaker_open",
            Status::Unhealthy,
            "the Trackstar circuit breaker is open".into(),
        ));
    } else if i.breaker_half_open {
        reasons.push(reason(
            "breaker_half_open",
            Status::Degraded,
            "the Trackstar circuit breaker is probing".into(),
        ));
    }
    for (resource, lag) in &i.sync_lag {
        match lag {
            None => reasons.push(reason(
                "never_synced",
                Status::Degraded,
                format!("{resource} has not completed a sync yet"),
            )),
            Some(lag) => {
                if let Some(s) = level(*lag, t.sync_lag_warning, t.sync_lag_critical) {
                    reasons.push(reason(
                        "sync_lag",
                        s,
                        format!("{resource} is {} s behind", lag.as_secs()),
                    ));
                }
            }
        }
    }
    if let Some(lag) = i.webhook_lag_p95 {
        if let Some(s) = level(lag, t.webhook_lag_warning, t.webhook_lag_critical) {
            reasons.push(reason(
                "webhook_lag",
                s,
                format!(
                    "webhook lag p95 over the last hour is {} ms",
                    lag.as_millis()
                ),
            ));
        }
    }
    if let Some(rate) = i.error_rate_24h {
        if let Some(s) = level(rate, t.error_rate_warning, t.error_rate_critical) {
            reasons.push(reason(
                "error_rate",
                s,
                format!("{:.2} % of webhook attempts failed in 24 h", rate * 100.0),
            ));
        }
    }
    if let Some(s) = level(i.failures_24h, t.failures_warning, t.failures_critical) {
        reasons.push(reason(
            "failures",
            s,
            format!("{} webhook attempts failed in 24 h", i.failures_24h),
        ));
    }
    if i.open_connection_errors > 0 {
        reasons.push(reason(
            "connection_errors",
            Status::Degraded,
            format!(
                "{} open Trackstar connection errors",
                i.open_connection_errors
            ),
        ));
    }
    if i.stuck_schedules > 0 {
        reasons.push(reason(
            "schedule_stuck",
            Status::Degraded,
            format!("{} Trackstar sync schedules are stuck", i.stuck_schedules),
        ));
    }
    if i.stuck_backfills > 0 {
        reasons.push(reason(
            "backfill_stuck",
            Status::Degraded,
            format!(
                "{} backfills are stuck at Trackstar (its scheduled syncs of that data wait while a job is not done)",
                i.stuck_backfills
            ),
        ));
    }
    let status = reasons
        .iter()
        .map(|r| r.severity)
        .max()
        .unwrap_or(Status::Healthy);
    (status, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> HealthInputs {
        HealthInputs {
            sync_lag: vec![("orders".into(), Some(Duration::from_secs(10)))],
            ..HealthInputs::default()
        }
    }

    fn status(i: &HealthInputs) -> Status {
        assess(i, &Thresholds::default()).0
    }

    /// (just below, at, just above) a threshold → expected statuses.
    fn around<F: Fn(&mut HealthInputs, i64)>(at: i64, step: i64, set: F) -> [Status; 3] {
        [at - step, at, at + step].map(|v| {
            let mut i = healthy();
            set(&mut i, v);
            status(&i)
        })
    }

    #[test]
    fn sync_lag_crosses_at_5_and_15_minutes() {
        let set = |i: &mut HealthInputs, v: i64| {
            i.sync_lag = vec![("orders".into(), Some(Duration::from_secs(v as u64)))]
        };
        use Status::*;
        assert_eq!(around(300, 1, set), [Healthy, Healthy, Degraded]);
        assert_eq!(around(900, 1, set), [Degraded, Degraded, Unhealthy]);
    }

    #[test]
    fn webhook_lag_crosses_at_2_and_10_minutes() {
        let set = |i: &mut HealthInputs, v: i64| {
            i.webhook_lag_p95 = Some(Duration::from_millis(v as u64))
        };
        use Status::*;
        assert_eq!(around(120_000, 1, set), [Healthy, Healthy, Degraded]);
        assert_eq!(around(600_000, 1, set), [Degraded, Degraded, Unhealthy]);
    }

    #[test]
    fn error_rate_crosses_at_1_and_5_percent() {
        // in basis points of a percent: 100 = 1 %
        let set = |i: &mut HealthInputs, v: i64| i.error_rate_24h = Some(v as f64 / 10_000.0);
        use Status::*;
        assert_eq!(around(100, 1, set), [Healthy, Healthy, Degraded]);
        assert_eq!(around(500, 1, set), [Degraded, Degraded, Unhealthy]);
    }

    #[test]
    fn failures_cross_at_5_and_20() {
        let set = |i: &mut HealthInputs, v: i64| i.failures_24h = v as u64;
        use Status::*;
        assert_eq!(around(5, 1, set), [Healthy, Healthy, Degraded]);
        assert_eq!(around(20, 1, set), [Degraded, Degraded, Unhealthy]);
    }

    #[test]
    fn an_open_breaker_or_an_inactive_connection_is_unhealthy() {
        let mut i = healthy();
        assert_eq!(
            assess(&i, &Thresholds::default()),
            (Status::Healthy, vec![])
        );
        i.breaker_open = true;
        assert_eq!(status(&i), Status::Unhealthy);
        let mut i = healthy();
        i.not_active = Some("disconnected".into());
        let (s, reasons) = assess(&i, &Thresholds::default());
        assert_eq!(s, Status::Unhealthy);
        assert_eq!(reasons[0].code, "connection_not_active");
        let mut i = healthy();
        i.breaker_half_open = true;
        i.stuck_schedules = 1;
        assert_eq!(status(&i), Status::Degraded);
        let mut i = healthy();
        i.stuck_backfills = 2;
        let (s, reasons) = assess(&i, &Thresholds::default());
        assert_eq!(s, Status::Degraded);
        assert_eq!(reasons[0].code, "backfill_stuck");
    }

    #[test]
    fn thresholds_come_from_the_environment() {
        let env = std::collections::BTreeMap::from([
            (
                "HEALTH_SYNC_LAG_WARNING_SECONDS".to_owned(),
                "60".to_owned(),
            ),
            (
                "HEALTH_ERROR_RATE_CRITICAL_PERCENT".to_owned(),
                "2.5".to_owned(),
            ),
        ]);
        let t = Thresholds::from_env(&env).unwrap();
        assert_eq!(t.sync_lag_warning, Duration::from_secs(60));
        assert!((t.error_rate_critical - 0.025).abs() < 1e-12);
        assert_eq!(t.failures_critical, 20);
        let bad = std::collections::BTreeMap::from([(
            "HEALTH_FAILURES_WARNING".to_owned(),
            "many".to_owned(),
        )]);
        assert!(Thresholds::from_env(&bad).is_err());
    }
}
