//! Sync settings, read once per cold start (`SYNC_*` variables), with production defaults.

use std::time::Duration;

use crate::runtime::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// How far each incremental window reaches back before the watermark.
    pub overlap: Duration,
    /// How far before the run's start each window ends (WMS clocks run ahead of ours).
    pub clock_skew: Duration,
    /// Objects per Trackstar page (1–1000).
    pub page_limit: u32,
    /// How long a lease lasts past each checkpoint; a crashed worker's job is free again
    /// this long after its last checkpoint. Longer than the worker's timeout.
    pub lease: Duration,
    /// The longest one invocation works on one job before it checkpoints and hands the
    /// rest to a continuation (so other tenants' jobs interleave).
    pub max_chunk: Duration,
    /// Kept in reserve before the invocation deadline for the last checkpoint, the lease
    /// release and the continuation.
    pub deadline_margin: Duration,
    /// No page is started with less time than this left.
    pub min_page_time: Duration,
    /// Concurrent conditional writes while storing a page.
    pub write_concurrency: usize,
    /// Window restarts (refused page tokens) allowed per run before it is given up.
    pub max_window_restarts: u32,
    /// How long the schedule leaves a resource Trackstar refused for a connection (403,
    /// 501) before asking again.
    pub unavailable_recheck: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(120),
            clock_skew: Duration::from_secs(5),
            page_limit: 1000,
            lease: Duration::from_secs(180),
            max_chunk: Duration::from_secs(60),
            deadline_margin: Duration::from_secs(3),
            min_page_time: Duration::from_secs(2),
            write_concurrency: 16,
            max_window_restarts: 3,
            unavailable_recheck: Duration::from_secs(6 * 3600),
        }
    }
}

fn number(env: &dyn Env, name: &'static str) -> Result<Option<u64>, ConfigError> {
    crate::runtime::optional_number(env, name)
}

impl SyncConfig {
    /// `SYNC_OVERLAP_SECONDS`, `SYNC_CLOCK_SKEW_SECONDS`, `SYNC_PAGE_LIMIT`,
    /// `SYNC_LEASE_SECONDS`, `SYNC_MAX_CHUNK_SECONDS`, `SYNC_DEADLINE_MARGIN_MS`,
    /// `SYNC_MIN_PAGE_MS`, `SYNC_WRITE_CONCURRENCY`, `SYNC_UNAVAILABLE_RECHECK_SECONDS`; unset
    /// ones keep their defaults.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(v) = number(env, "SYNC_OVERLAP_SECONDS")? {
            config.overlap = Duration::from_secs(v);
        }
        if let Some(v) = number(env, "SYNC_CLOCK_SKEW_SECONDS")? {
            config.clock_skew = Duration::from_secs(v);
        }
        if let Some(v) = number(env, "SYNC_PAGE_LIMIT")? {
            config.page_limit = u32::try_from(v)
                .ok()
                .filter(|l| (1..=1000).contains(l))
                .ok_or(ConfigError::Invalid {
                    name: "SYNC_PAGE_LIMIT",
                    reason: "must be 1 to 1000".into(),
                })?;
        }
        if let Some(v) = number(env, "SYNC_LEASE_SECONDS")? {
            config.lease = Duration::from_secs(v.max(1));
        }
        if let Some(v) = number(env, "SYNC_MAX_CHUNK_SECONDS")? {
            config.max_chunk = Duration::from_secs(v.max(1));
        }
        if let Some(v) = number(env, "SYNC_DEADLINE_MARGIN_MS")? {
            config.deadline_margin = Duration::from_millis(v);
        }
        if let Some(v) = number(env, "SYNC_MIN_PAGE_MS")? {
            config.min_page_time = Duration::from_millis(v);
        }
        if let Some(v) = number(env, "SYNC_UNAVAILABLE_RECHECK_SECONDS")? {
            config.unavailable_recheck = Duration::from_secs(v);
        }
        if let Some(v) = number(env, "SYNC_WRITE_CONCURRENCY")? {
            config.write_concurrency = usize::try_from(v.clamp(1, 64)).unwrap_or(16);
        }
        // A chunk shorter than the least time a page is started with never starts one: every
        // chunk would end at once and queue a continuation, forever, with no progress.
        if config.max_chunk <= config.min_page_time {
            return Err(ConfigError::Invalid {
                name: "SYNC_MAX_CHUNK_SECONDS",
                reason: format!(
                    "must be longer than SYNC_MIN_PAGE_MS ({} ms), or no chunk starts a page",
                    config.min_page_time.as_millis()
                ),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let empty = BTreeMap::new();
        assert_eq!(SyncConfig::from_env(&empty).unwrap(), SyncConfig::default());
        let env = BTreeMap::from([
            ("SYNC_OVERLAP_SECONDS".to_owned(), "30".to_owned()),
            ("SYNC_PAGE_LIMIT".to_owned(), "100".to_owned()),
        ]);
        let config = SyncConfig::from_env(&env).unwrap();
        assert_eq!(config.overlap, Duration::from_secs(30));
        assert_eq!(config.page_limit, 100);
        let bad = BTreeMap::from([("SYNC_PAGE_LIMIT".to_owned(), "5000".to_owned())]);
        assert!(SyncConfig::from_env(&bad).is_err());
    }

    #[test]
    fn a_chunk_too_short_to_start_a_page_is_refused() {
        // given chunks of 2 s and pages that need 2 s to be started
        let env = BTreeMap::from([("SYNC_MAX_CHUNK_SECONDS".to_owned(), "2".to_owned())]);
        // then the configuration is refused (every chunk would end before its first page)
        assert!(SyncConfig::from_env(&env).is_err());
        let env = BTreeMap::from([
            ("SYNC_MAX_CHUNK_SECONDS".to_owned(), "2".to_owned()),
            ("SYNC_MIN_PAGE_MS".to_owned(), "200".to_owned()),
        ]);
        assert!(SyncConfig::from_env(&env).is_ok());
    }
}
