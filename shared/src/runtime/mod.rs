//! What every Lambda binary does at cold start: JSON logs, AWS config, typed environment.
//!
//! **What belongs in init, what is deferred.** Lambda runs a function's init (everything
//! before its first `GET /next`) on a CPU burst of its own, while an invocation of a 256 MB
//! function gets a fraction of a vCPU; and init is on the cold start's path either way. So:
//! - *In init*: CPU work that (nearly) every invocation needs and no network I/O — reading
//!   and validating the environment (a misconfigured function fails its init with a clear
//!   error, before it takes an event), the tracing subscriber, the SDK config, **one SDK
//!   client per service**, all on one HTTPS client whose TLS is set up once per process
//!   ([`http`]: otherwise each SDK client parses the root certificates twice), the
//!   Trackstar HTTP client (compiled-in roots, no file I/O). The SDK's roots come from the
//!   one CA bundle `SSL_CERT_FILE` names (template `Globals`): without it
//!   rustls-native-certs also reads every file of the candidate certificate directories,
//!   the largest share of init measured on a Debian host.
//! - *Deferred to first use*: network I/O — secrets (the cursor key on the first listing
//!   that signs a cursor, `store::CursorKeys`; the Trackstar API key on the first Trackstar
//!   call, `TrackstarClient::with_api_key_secret`; webhook signing secrets, connection
//!   tokens: already on use), credentials and connections (the SDK resolves and opens them
//!   on the first request). Each is then kept as it was when read at init (secrets with
//!   their cache TTL), so behaviour is the same; a missing secret now fails the request
//!   that needs it instead of the init.
//!
//! Measured: BENCHMARKS.md (stage `10-coldstart`, `infra/coldstart`).

pub mod http;
pub mod logging;
pub mod tls;

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("could not read secret {name}")]
    Secret {
        name: String,
        #[source]
        source: crate::secrets::SecretError,
    },
    #[error("Trackstar client configuration failed")]
    Trackstar(#[from] crate::trackstar::ConfigError),
}

/// Where configuration comes from: the process environment on Lambda; a map in the local
/// gateway, which hosts several functions in one process.
pub trait Env: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

pub fn required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    match env.var(name) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// A number from the environment: `None` when unset or blank, an error naming the
/// variable when it does not parse (a typo must not fall back to a default).
pub fn optional_number<T>(env: &dyn Env, name: &'static str) -> Result<Option<T>, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match env.var(name) {
        Some(v) if !v.trim().is_empty() => {
            v.trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                })
        }
        _ => Ok(None),
    }
}

pub fn optional_seconds(
    env: &dyn Env,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(
        optional_number(env, name)?.unwrap_or(default),
    ))
}

/// JSON logs on stdout: `LOG_LEVEL` (default info) for Packr's own crates, dependencies
/// capped at `warn` ([`logging`]). Safe to call more than once.
pub fn init_tracing() {
    logging::init(&ProcessEnv);
}

/// The AWS SDK config from the environment (region, credentials, `AWS_ENDPOINT_URL`), on
/// one HTTPS client shared by every SDK client built from it ([`http`]).
pub async fn aws() -> SdkConfig {
    aws_loader().load().await
}

/// The loader [`aws`] uses, for callers that set more (the local stack's endpoint, region
/// and credentials) on the same HTTPS client the functions use.
pub fn aws_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http::shared_https_client())
}

/// The invocation deadline Lambda gives in milliseconds since the Unix epoch
/// (`Context::deadline`), as an `Instant` on this process's clock.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> std::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    std::time::Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}
