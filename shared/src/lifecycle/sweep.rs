//! PLACEHOLDER (helper "export"): the retention sweep is helper "retention"'s, and the lead
//! replaces this file with theirs at the merge. It has the same outline (`SweepDeps`,
//! `SweepDeps::from_env`, `run`, `SweepReport`) so that data-lifecycle's wiring, handler,
//! template and local schedule are in place and tested before it lands; until then the
//! schedule's event runs this empty body.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::domain::Timestamp;
use crate::metrics::{EmfSink, MetricsSink};
use crate::runtime::{required, ConfigError, Env};
use crate::store::dynamo::DynamoStore;

/// What the sweep needs: the table (and, with helper "retention"'s, the retention knobs).
#[derive(Clone)]
pub struct SweepDeps {
    pub store: DynamoStore,
    pub metrics: Arc<dyn MetricsSink>,
}

impl SweepDeps {
    /// `TABLE_NAME`.
    pub fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &dyn Env,
        function: &str,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            store: crate::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?),
            metrics: Arc::new(EmfSink::new(
                crate::webhook::wiring::METRICS_NAMESPACE,
                function,
            )),
        })
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {}

/// The retention sweep: nothing yet (placeholder).
pub async fn run(_deps: &SweepDeps, _now: Timestamp, _deadline: Instant) -> SweepReport {
    SweepReport::default()
}
