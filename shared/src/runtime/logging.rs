//! The functions' logs: JSON lines on stdout, one filter built here for production and the
//! tests that capture the logs alike.
//!
//! **The level applies to Packr's own code only.** `LOG_LEVEL` (the template's `LogLevel`
//! parameter: `error`, `warn`, `info`, `debug`, `trace`) sets the level of the library
//! (`packr`) and the function binaries. Every other crate is capped at `warn`
//! ([`DEPENDENCY_CAP`]) whatever the parameter says: at `debug`/`trace` `lambda_runtime`
//! logs each raw event it receives (bearer tokens, addresses, message text), and the HTTP
//! and AWS SDK stacks log requests and responses. No `LogLevel` value turns those on.

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use super::{ConfigError, Env};

/// The environment variable the template sets from its `LogLevel` parameter.
pub const LEVEL_VAR: &str = "LOG_LEVEL";

/// The level when `LOG_LEVEL` is unset.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::INFO;

/// The most verbose level any dependency may log at.
pub const DEPENDENCY_CAP: LevelFilter = LevelFilter::WARN;

/// Packr's own crates, as log targets (module paths start with the crate's name): the
/// library and every function binary.
pub const OWN_CRATES: &[&str] = &[
    "packr",
    "api_connections",
    "api_docs",
    "api_inventory",
    "api_messages",
    "api_orders",
    "api_products",
    "api_sync",
    "api_warehouse",
    "data_lifecycle",
    "sync_scheduler",
    "sync_worker",
    "webhook_ingest",
    "webhook_processor",
];

/// Parses a `LogLevel` value (case and surrounding blanks ignored).
pub fn parse_level(value: &str) -> Result<LevelFilter, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "error" => Ok(LevelFilter::ERROR),
        "warn" => Ok(LevelFilter::WARN),
        "info" => Ok(LevelFilter::INFO),
        "debug" => Ok(LevelFilter::DEBUG),
        "trace" => Ok(LevelFilter::TRACE),
        _ => Err(ConfigError::Invalid {
            name: LEVEL_VAR,
            reason: "must be one of error, warn, info, debug, trace".to_owned(),
        }),
    }
}

/// `LOG_LEVEL` from `env`; [`DEFAULT_LEVEL`] when unset or blank.
pub fn level_from_env(env: &dyn Env) -> Result<LevelFilter, ConfigError> {
    match env.var(LEVEL_VAR) {
        Some(v) if !v.trim().is_empty() => parse_level(&v),
        _ => Ok(DEFAULT_LEVEL),
    }
}

/// The filter: `level` for Packr's own crates, at most [`DEPENDENCY_CAP`] for every other.
pub fn log_filter(level: LevelFilter) -> Targets {
    Targets::new()
        .with_default(level.min(DEPENDENCY_CAP))
        .with_targets(OWN_CRATES.iter().map(|krate| (*krate, level)))
}

/// The functions' subscriber: JSON lines (what CloudWatch Logs Insights reads) with the
/// current span's fields, no timestamp (Lambda adds one), filtered by [`log_filter`],
/// written to `writer` (stdout on Lambda, a buffer in tests).
pub fn subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .with_filter(log_filter(level));
    tracing_subscriber::registry().with(json)
}

/// Installs [`subscriber`] on stdout at the level `env` names, as the process's default.
/// An invalid `LOG_LEVEL` logs at [`DEFAULT_LEVEL`] and says so. Safe to call more than once.
pub fn init(env: &dyn Env) {
    let (level, invalid) = match level_from_env(env) {
        Ok(level) => (level, None),
        Err(e) => (DEFAULT_LEVEL, Some(e)),
    };
    let installed = tracing::subscriber::set_global_default(subscriber(level, std::io::stdout));
    if let (Ok(()), Some(e)) = (installed, invalid) {
        tracing::warn!(error = %e, level = %DEFAULT_LEVEL, "LOG_LEVEL ignored");
    }
}

/// A buffer that collects what a [`subscriber`] writes, for tests that read the logs.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Makes [`subscriber`] at `level`, writing here, the current thread's default until the
    /// guard is dropped (a `#[tokio::test]` runs on one thread, so it sees every event).
    pub fn install(&self, level: LevelFilter) -> CaptureGuard {
        CaptureGuard {
            _default: tracing::subscriber::set_default(subscriber(level, self.clone())),
        }
    }
}

/// Capturing lasts as long as this lives.
#[must_use = "capturing stops when the guard is dropped"]
pub struct CaptureGuard {
    _default: tracing::subscriber::DefaultGuard,
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tracing::Level;

    use super::*;

    /// The target and level at which lambda_runtime 1.x logs each raw event it receives
    /// (`layers/api_response.rs`: `trace!(body = …, "raw JSON event received from Lambda")`).
    const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

    fn env(level: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(LEVEL_VAR.to_owned(), level.to_owned())])
    }

    #[test]
    fn every_log_level_value_parses_and_unset_means_info() {
        for (value, level) in [
            ("error", LevelFilter::ERROR),
            ("warn", LevelFilter::WARN),
            ("info", LevelFilter::INFO),
            ("debug", LevelFilter::DEBUG),
            (" TRACE ", LevelFilter::TRACE),
        ] {
            assert_eq!(level_from_env(&env(value)).unwrap(), level, "{value}");
        }
        assert_eq!(level_from_env(&BTreeMap::new()).unwrap(), LevelFilter::INFO);
        assert_eq!(level_from_env(&env("  ")).unwrap(), LevelFilter::INFO);
    }

    #[test]
    fn a_directive_or_unknown_level_is_refused_naming_the_variable() {
        for bad in ["verbose", "trace,hyper=trace", "lambda_runtime=trace", "5"] {
            let err = level_from_env(&env(bad)).unwrap_err();
            assert!(err.to_string().contains(LEVEL_VAR), "{bad}: {err}");
        }
    }

    #[test]
    fn at_trace_packr_logs_everything_and_no_dependency_logs_below_warn() {
        // given the most verbose level the parameter allows
        let filter = log_filter(LevelFilter::TRACE);
        // then Packr's library and every function binary log at trace
        for krate in OWN_CRATES {
            let target = format!("{krate}::some::module");
            assert!(filter.would_enable(&target, &Level::TRACE), "{target}");
        }
        // and lambda_runtime's raw event never is; dependencies keep warnings and errors
        assert!(!filter.would_enable(RAW_EVENT_TARGET, &Level::TRACE));
        assert!(!filter.would_enable(RAW_EVENT_TARGET, &Level::DEBUG));
        for dependency in [
            "lambda_runtime",
            "lambda_http",
            "lambda_runtime_api_client",
            "aws_smithy_runtime::client::orchestrator",
            "aws_config",
            "hyper_util::client",
            "h2::codec",
            "rustls::client",
            "reqwest::connect",
        ] {
            assert!(
                !filter.would_enable(dependency, &Level::INFO),
                "{dependency}"
            );
            assert!(
                filter.would_enable(dependency, &Level::WARN),
                "{dependency}"
            );
        }
    }

    #[test]
    fn below_the_cap_dependencies_follow_the_level() {
        let filter = log_filter(LevelFilter::ERROR);
        assert!(!filter.would_enable("packr::api", &Level::WARN));
        assert!(!filter.would_enable("lambda_runtime", &Level::WARN));
        assert!(filter.would_enable("lambda_runtime", &Level::ERROR));
        let info = log_filter(LevelFilter::INFO);
        assert!(info.would_enable("packr::webhook", &Level::INFO));
        assert!(!info.would_enable("packr::webhook", &Level::DEBUG));
    }

    #[test]
    fn the_own_crates_are_the_library_and_every_function_binary() {
        // given the workspace's function crates
        let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        let mut names: Vec<String> = std::fs::read_dir(functions)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().replace('-', "_"))
            .collect();
        names.push("packr".to_owned());
        names.sort();
        // then each is listed, and nothing else
        let mut own: Vec<String> = OWN_CRATES.iter().map(|c| (*c).to_owned()).collect();
        own.sort();
        assert_eq!(own, names);
    }

    #[test]
    fn the_production_subscriber_drops_a_raw_event_logged_at_trace_and_keeps_packrs_lines() {
        // given the production subscriber at trace, writing to a buffer
        let capture = LogCapture::new();
        let _guard = capture.install(LevelFilter::TRACE);
        // when lambda_runtime logs a raw event as it does, and Packr logs at trace
        tracing::trace!(
            target: RAW_EVENT_TARGET,
            body = r#"{"headers":{"authorization":"Bearer eyJsecret"}}"#,
            "raw JSON event received from Lambda"
        );
        tracing::warn!(target: "lambda_runtime", "a runtime warning");
        tracing::trace!(event_id = "evt_1", "packr at trace");
        // then only Packr's line and the warning are written, as JSON lines
        let logs = capture.contents();
        assert!(!logs.contains("eyJsecret"), "{logs}");
        assert!(!logs.contains("raw JSON event"), "{logs}");
        let lines: Vec<serde_json::Value> = logs
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{logs}");
        assert_eq!(lines[0]["fields"]["message"], "a runtime warning");
        assert_eq!(lines[1]["fields"]["event_id"], "evt_1");
        assert_eq!(lines[1]["level"], "TRACE");
    }
}
