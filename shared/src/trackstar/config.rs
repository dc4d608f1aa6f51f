//! Client configuration, read once from the environment with production defaults.

use std::num::NonZeroU32;
use std::time::Duration;

/// The date field incremental windows filter on (`TRACKSTAR_UPDATED_FIELD`).
///
/// `trackstar_updated_date` (the default) is Trackstar's change clock: it moves whenever
/// Trackstar's copy of an object changes, including when Trackstar first sees a record that
/// is old in the WMS (a backfill, a WMS that syncs late), as Trackstar's sync guide
/// prescribes for incremental consumers. `updated_date` is the WMS's own clock: such a
/// record is older than the watermark and no incremental window ever reads it (only a full
/// sync or the nightly reconciliation finds it). Either way, objects are ordered by the
/// `updated_date` their payloads carry (only-if-newer); this picks only what a window reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdatedField {
    UpdatedDate,
    #[default]
    TrackstarUpdatedDate,
}

impl UpdatedField {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UpdatedDate => "updated_date",
            Self::TrackstarUpdatedDate => "trackstar_updated_date",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "updated_date" => Some(Self::UpdatedDate),
            "trackstar_updated_date" => Some(Self::TrackstarUpdatedDate),
            _ => None,
        }
    }
}

/// Retries with jittered exponential backoff, for retryable failures only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest a `retry-after` / `x-ratelimit-reset` wait is honoured; a longer one is
    /// cut to this.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(30),
        }
    }
}

/// When a connection's circuit breaker opens and how long it stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Retryable failures within `window` that open the breaker.
    pub failure_threshold: u32,
    pub window: Duration,
    /// How long the breaker stays open before letting one probe through.
    pub reset_timeout: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            window: Duration::from_secs(30),
            reset_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackstarConfig {
    pub base_url: String,
    /// GET requests per second per access token.
    pub get_rate: NonZeroU32,
    /// POST/PUT/PATCH/DELETE requests per second per access token.
    pub write_rate: NonZeroU32,
    pub connect_timeout: Duration,
    /// The whole request, from sending to the last body byte.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
    pub updated_field_name: UpdatedField,
    /// The largest response body read; a longer one is refused
    /// ([`super::TrackstarError::ResponseTooLarge`]) without reading further. A full page
    /// (1,000 orders with their line items and shipments) is a few MiB.
    pub max_response_bytes: usize,
}

/// 32 MiB: several times the largest page seen, far below a function's memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

pub const DEFAULT_BASE_URL: &str = "https://production.trackstarhq.com";

impl Default for TrackstarConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            get_rate: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            write_rate: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(25),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            updated_field_name: UpdatedField::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} has an invalid value")]
    Invalid { name: &'static str },
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
    #[error("the TLS configuration could not be built")]
    Tls(#[source] rustls::Error),
    /// Credentials travel in headers: only HTTPS may carry them, but to a loopback
    /// address (the local stack's simulator), where nothing leaves the machine.
    #[error("the Trackstar base URL must be https:// (http:// only to a loopback address): {url}")]
    InsecureBaseUrl { url: String },
}

impl TrackstarConfig {
    /// Reads `TRACKSTAR_*` variables; unset ones keep their defaults, unparsable ones are
    /// an error (a typo should not silently fall back).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| ConfigError::Invalid { name })
                })
                .transpose()
        };
        let rate = |name: &'static str| -> Result<Option<NonZeroU32>, ConfigError> {
            number(name)?
                .map(|n| {
                    u32::try_from(n)
                        .ok()
                        .and_then(NonZeroU32::new)
                        .ok_or(ConfigError::Invalid { name })
                })
                .transpose()
        };
        let millis = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            Ok(number(name)?.map(Duration::from_millis))
        };

        if let Some(url) = get("TRACKSTAR_BASE_URL") {
            config.base_url = url.trim().trim_end_matches('/').to_owned();
            check_base_url(&config.base_url)?;
        }
        if let Some(v) = rate("TRACKSTAR_GET_RATE")? {
            config.get_rate = v;
        }
        if let Some(v) = rate("TRACKSTAR_WRITE_RATE")? {
            config.write_rate = v;
        }
        if let Some(v) = millis("TRACKSTAR_CONNECT_TIMEOUT_MS")? {
            config.connect_timeout = v;
        }
        if let Some(v) = millis("TRACKSTAR_REQUEST_TIMEOUT_MS")? {
            config.request_timeout = v;
        }
        if let Some(v) = number("TRACKSTAR_RETRY_MAX_ATTEMPTS")? {
            config.retry.max_attempts =
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ConfigError::Invalid {
                        name: "TRACKSTAR_RETRY_MAX_ATTEMPTS",
                    })?;
        }
        if let Some(v) = millis("TRACKSTAR_RETRY_BASE_MS")? {
            config.retry.base_delay = v;
        }
        if let Some(v) = millis("TRACKSTAR_RETRY_MAX_MS")? {
            config.retry.max_delay = v;
        }
        if let Some(v) = millis("TRACKSTAR_RATE_LIMIT_MAX_WAIT_MS")? {
            config.retry.max_rate_limit_wait = v;
        }
        if let Some(v) = number("TRACKSTAR_BREAKER_FAILURES")? {
            config.breaker.failure_threshold =
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ConfigError::Invalid {
                        name: "TRACKSTAR_BREAKER_FAILURES",
                    })?;
        }
        if let Some(v) = millis("TRACKSTAR_BREAKER_WINDOW_MS")? {
            config.breaker.window = v;
        }
        if let Some(v) = millis("TRACKSTAR_BREAKER_RESET_MS")? {
            config.breaker.reset_timeout = v;
        }
        if let Some(v) = number("TRACKSTAR_MAX_RESPONSE_BYTES")? {
            config.max_response_bytes =
                usize::try_from(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::Invalid {
                        name: "TRACKSTAR_MAX_RESPONSE_BYTES",
                    })?;
        }
        if let Some(v) = get("TRACKSTAR_UPDATED_FIELD") {
            config.updated_field_name = UpdatedField::parse(&v).ok_or(ConfigError::Invalid {
                name: "TRACKSTAR_UPDATED_FIELD",
            })?;
        }
        Ok(config)
    }
}

/// Whether `url` may carry Trackstar's credentials: `https://`, or `http://` to a loopback
/// address (the local stack's simulator; nothing leaves the machine).
pub fn check_base_url(url: &str) -> Result<(), ConfigError> {
    let insecure = || ConfigError::InsecureBaseUrl {
        url: url.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| insecure())?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(insecure()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<TrackstarConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TrackstarConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_production_defaults() {
        let config = from(&[]).unwrap();
        assert_eq!(config.base_url, "https://production.trackstarhq.com");
        assert_eq!(config.get_rate.get(), 10);
        assert_eq!(config.write_rate.get(), 50);
        assert_eq!(
            config.updated_field_name,
            UpdatedField::TrackstarUpdatedDate
        );
    }

    #[test]
    fn variables_override_the_defaults() {
        let config = from(&[
            ("TRACKSTAR_BASE_URL", "http://127.0.0.1:9000/"),
            ("TRACKSTAR_GET_RATE", "5"),
            ("TRACKSTAR_REQUEST_TIMEOUT_MS", "1500"),
            ("TRACKSTAR_BREAKER_FAILURES", "3"),
            ("TRACKSTAR_UPDATED_FIELD", "updated_date"),
        ])
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:9000");
        assert_eq!(config.get_rate.get(), 5);
        assert_eq!(config.request_timeout, Duration::from_millis(1500));
        assert_eq!(config.breaker.failure_threshold, 3);
        assert_eq!(config.updated_field_name, UpdatedField::UpdatedDate);
    }

    #[test]
    fn unparsable_values_are_errors_not_defaults() {
        assert!(matches!(
            from(&[("TRACKSTAR_GET_RATE", "0")]),
            Err(ConfigError::Invalid {
                name: "TRACKSTAR_GET_RATE"
            })
        ));
        assert!(from(&[("TRACKSTAR_MAX_RESPONSE_BYTES", "0")]).is_err());
        assert!(from(&[("TRACKSTAR_UPDATED_FIELD", "modified")]).is_err());
        assert!(from(&[("TRACKSTAR_RETRY_MAX_ATTEMPTS", "many")]).is_err());
    }

    #[test]
    fn credentials_go_only_over_https_or_to_loopback() {
        // given / when / then
        for ok in [
            "https://production.trackstarhq.com",
            "https://10.0.0.7:8443",
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:9000",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://production.trackstarhq.com",
            "http://10.0.0.7:9000",
            "http://127.0.0.1.nip.io",
            "ftp://127.0.0.1",
            "production.trackstarhq.com",
            "",
        ] {
            assert!(
                matches!(
                    check_base_url(refused),
                    Err(ConfigError::InsecureBaseUrl { .. })
                ),
                "{refused}"
            );
        }
        assert!(matches!(
            from(&[("TRACKSTAR_BASE_URL", "http://trackstar.example")]),
            Err(ConfigError::InsecureBaseUrl { .. })
        ));
    }

    #[test]
    fn the_response_cap_defaults_to_32_mib_and_is_configurable() {
        assert_eq!(from(&[]).unwrap().max_response_bytes, 32 * 1024 * 1024);
        let config = from(&[("TRACKSTAR_MAX_RESPONSE_BYTES", "65536")]).unwrap();
        assert_eq!(config.max_response_bytes, 65_536);
    }
}
