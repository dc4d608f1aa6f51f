//! Why sync-worker failed a job: its log line (target `packr::sync::worker`, level ERROR,
//! "sync job failed; SQS will retry it", with the job's `resource` and the `error` chain),
//! kept by a tracing layer the chaos binary installs, so the phase can tell a failure the
//! emulator caused (a write answered after the store's 5-s write window, given up and
//! retried) from one no fault explains.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// One failure the worker logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerFailure {
    pub at: DateTime<Utc>,
    pub resource: String,
    pub error: String,
}

static FAILURES: Mutex<Vec<WorkerFailure>> = Mutex::new(Vec::new());

/// What the worker's failures logged so far.
pub fn logged() -> Vec<WorkerFailure> {
    FAILURES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The layer (give it a filter passing `packr::sync::worker` at ERROR).
#[derive(Debug, Clone, Copy, Default)]
pub struct FailureLayer;

#[derive(Default)]
struct Fields {
    resource: Option<String>,
    error: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "resource" => self.resource = Some(value.to_owned()),
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "resource" => self.resource = Some(text.trim_matches('"').to_owned()),
            "error" => self.error = Some(text),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for FailureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target() != "packr::sync::worker" || *meta.level() != tracing::Level::ERROR {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(error) = fields.error {
            FAILURES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(WorkerFailure {
                    at: Utc::now(),
                    resource: fields.resource.unwrap_or_default(),
                    error,
                });
        }
    }
}

/// What the emulator's slowness looks like in a failure: the store gave a write up after
/// its write window.
pub const WRITE_WINDOW_EXCEEDED: &str = "deadline has elapsed";
