//! The quotas' settings: the classes a route can draw on, their rates and bursts, read once
//! from the environment at cold start.

use std::time::Duration;

use super::{millis, DEFAULT_QUOTA_TIMEOUT};
use crate::runtime::{ConfigError, Env};
use crate::store::keys;

/// Which quota a route draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaClass {
    /// Every authorized route.
    Api,
    /// Admin actions: their own, smaller quota, and the api quota too.
    Admin,
}

impl QuotaClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Admin => "admin",
        }
    }

    pub(super) fn sort_key(self) -> &'static str {
        match self {
            Self::Api => keys::QUOTA_API_SK,
            Self::Admin => keys::QUOTA_ADMIN_SK,
        }
    }

    /// The quotas a request of this class is checked against, in order.
    pub fn checks(self) -> &'static [QuotaClass] {
        match self {
            Self::Api => &[QuotaClass::Api],
            Self::Admin => &[QuotaClass::Admin, QuotaClass::Api],
        }
    }
}

/// A rate with a burst, as GCRA's emission interval and tolerance (`burst · interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    interval_ms: i64,
    burst: u32,
}

impl Limit {
    /// `count` requests per `per`, up to `burst` at once; `None` if either is zero. The
    /// interval is rounded up to whole milliseconds (never a faster rate than asked).
    pub fn new(count: u32, per: Duration, burst: u32) -> Option<Self> {
        if count == 0 || burst == 0 || per.is_zero() {
            return None;
        }
        let per_ms = i64::try_from(per.as_millis()).ok()?;
        let interval_ms = ((per_ms + i64::from(count) - 1) / i64::from(count)).max(1);
        Some(Self { interval_ms, burst })
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    pub(super) fn tolerance_ms(&self) -> i64 {
        self.interval_ms * i64::from(self.burst)
    }

    /// Whole tokens free at `now` on a timeline whose TAT is `tat`.
    pub fn available(&self, tat: Option<i64>, now: i64) -> u32 {
        let start = tat.unwrap_or(now).max(now);
        let free = (now + self.tolerance_ms() - start) / self.interval_ms;
        u32::try_from(free.clamp(0, i64::from(self.burst))).unwrap_or(0)
    }

    /// How long until one token is free (zero if one is).
    pub fn wait(&self, tat: Option<i64>, now: i64) -> Duration {
        let start = tat.unwrap_or(now).max(now);
        millis(start + self.interval_ms - self.tolerance_ms() - now)
    }

    /// Takes one token on a timeline kept in memory: the new TAT, or how long to wait.
    pub(super) fn take_local(&self, tat: Option<i64>, now: i64) -> Result<i64, Duration> {
        if self.available(tat, now) >= 1 {
            Ok(tat.unwrap_or(now).max(now) + self.interval_ms)
        } else {
            Err(self.wait(tat, now))
        }
    }
}

/// The quotas' settings, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaConfig {
    pub api: Limit,
    pub admin: Limit,
    /// The most api tokens an instance takes per DynamoDB call.
    pub block: u32,
    /// How long one DynamoDB call may take before the store counts as failed.
    pub timeout: Duration,
}

impl QuotaConfig {
    /// From `API_QUOTA_PER_SECOND`, `API_QUOTA_BURST`, `ADMIN_QUOTA_PER_MINUTE`,
    /// `ADMIN_QUOTA_BURST`, `API_QUOTA_BLOCK`, `API_QUOTA_TIMEOUT_MS` (`template.yaml` sets them all on the API
    /// functions). `None` without `API_QUOTA_PER_SECOND`: no quotas.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        let Some(per_second) = number_var(env, "API_QUOTA_PER_SECOND")? else {
            return Ok(None);
        };
        let api_burst = number_var(env, "API_QUOTA_BURST")?.unwrap_or(per_second * 2);
        let admin_per_minute = number_var(env, "ADMIN_QUOTA_PER_MINUTE")?.unwrap_or(6);
        let admin_burst = number_var(env, "ADMIN_QUOTA_BURST")?.unwrap_or(3);
        let block = number_var(env, "API_QUOTA_BLOCK")?.unwrap_or(10).max(1);
        let timeout = number_var(env, "API_QUOTA_TIMEOUT_MS")?
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_QUOTA_TIMEOUT, |ms| {
                Duration::from_millis(u64::from(ms))
            });
        let zero = |name: &'static str| ConfigError::Invalid {
            name,
            reason: "must be at least 1".into(),
        };
        Ok(Some(Self {
            api: Limit::new(per_second, Duration::from_secs(1), api_burst)
                .ok_or_else(|| zero("API_QUOTA_PER_SECOND"))?,
            admin: Limit::new(admin_per_minute, Duration::from_secs(60), admin_burst)
                .ok_or_else(|| zero("ADMIN_QUOTA_PER_MINUTE"))?,
            block,
            timeout,
        }))
    }

    pub fn limit(&self, class: QuotaClass) -> Limit {
        match class {
            QuotaClass::Api => self.api,
            QuotaClass::Admin => self.admin,
        }
    }

    /// The largest block an instance takes of `class`.
    pub(super) fn block(&self, class: QuotaClass) -> u32 {
        match class {
            QuotaClass::Api => self.block.min(self.api.burst),
            QuotaClass::Admin => 1,
        }
    }
}

fn number_var(env: &dyn Env, name: &'static str) -> Result<Option<u32>, ConfigError> {
    crate::runtime::optional_number(env, name)
}
