//! data-lifecycle on the local stack: the event source mapping feeding `LifecycleJobsQueue`
//! to it (the template's `BatchSize`, the function's `Timeout` as each invocation's
//! deadline, continuations queued as on Lambda) and its handler as the target of
//! `DataLifecycleSchedule` (the retention sweep). Its dependencies come from
//! `packr::lifecycle::wiring` with its template environment, as its binary's do. Started
//! by [`crate::sync::start`], whose schedule runner hosts it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use packr::lifecycle::wiring::{data_lifecycle_from_env, LifecycleDeps};
use packr::metrics::RecordingSink;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::emulator::function_config;
use crate::esm::{self, EsmConfig};
use crate::schedule::Target;
use crate::stack::LocalStack;
use crate::template::Template;

pub const LIFECYCLE_FUNCTION: &str = "DataLifecycleFunction";
pub const LIFECYCLE_QUEUE: &str = "LifecycleJobsQueue";
/// The rule whose target is data-lifecycle (the retention sweep).
pub const LIFECYCLE_RULE: &str = "DataLifecycleSchedule";
/// The function's name: its credentials on the emulator, its metrics.
pub const FUNCTION_NAME: &str = "data-lifecycle";

/// The running data-lifecycle pollers.
pub struct LifecycleStack {
    pub queue_url: String,
    pub deps: Arc<LifecycleDeps>,
    /// Metrics data-lifecycle emitted (`lifecycle.steps`, `lifecycle.jobs_completed` …).
    pub metrics: RecordingSink,
    /// Messages per invocation (the template's `BatchSize`).
    pub batch_size: i32,
    /// The function's `Timeout`: each invocation's deadline is its start plus this.
    pub timeout: Duration,
    pub pollers: usize,
    sqs: aws_sdk_sqs::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LifecycleStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleStack")
            .field("queue_url", &self.queue_url)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Starts `pollers` pollers of the lifecycle-jobs queue; `env` is set over the function's
/// template environment.
pub async fn start(
    sdk: &SdkConfig,
    stack: &LocalStack,
    template: &Template,
    pollers: usize,
    esm_config: EsmConfig,
    env: &BTreeMap<String, String>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<LifecycleStack> {
    let spec = template.function(LIFECYCLE_FUNCTION)?;
    let event = spec
        .sqs_events
        .iter()
        .find(|e| e.queue == LIFECYCLE_QUEUE)
        .with_context(|| format!("{LIFECYCLE_FUNCTION} has no SQS event on {LIFECYCLE_QUEUE}"))?;
    let batch_size = i32::try_from(event.batch_size.clamp(1, 10)).unwrap_or(10);
    let timeout = Duration::from_secs(spec.timeout.unwrap_or(3));

    let mut variables = stack
        .function_environment
        .get(LIFECYCLE_FUNCTION)
        .cloned()
        .with_context(|| format!("template.yaml has no {LIFECYCLE_FUNCTION}"))?;
    variables.extend(env.clone());
    // The function acts with its own credentials (its role on AWS).
    let function_sdk = function_config(sdk, FUNCTION_NAME);
    let metrics = RecordingSink::new();
    let mut deps = data_lifecycle_from_env(&function_sdk, &variables, FUNCTION_NAME)
        .await
        .context("configuring data-lifecycle")?;
    deps.runner.metrics = Arc::new(metrics.clone());
    let deps = Arc::new(deps);

    let queue_url = stack
        .resources
        .queue_url(LIFECYCLE_QUEUE)
        .with_context(|| format!("{LIFECYCLE_QUEUE} was not provisioned"))?
        .to_owned();
    let queue_arn = stack
        .resources
        .queue_arns
        .get(LIFECYCLE_QUEUE)
        .with_context(|| format!("{LIFECYCLE_QUEUE} has no ARN"))?
        .clone();
    let tasks = esm::spawn_pollers(
        pollers,
        aws_sdk_sqs::Client::new(&function_sdk),
        queue_url.clone(),
        queue_arn,
        EsmConfig {
            batch_size,
            ..esm_config
        },
        {
            let deps = Arc::clone(&deps);
            move |event| {
                let deps = Arc::clone(&deps);
                async move {
                    // Lambda's deadline: the invocation's start plus the function's Timeout.
                    let deadline = Instant::now() + timeout;
                    invoke_with_batch(&deps, event, deadline).await
                }
            }
        },
        shutdown,
    );
    Ok(LifecycleStack {
        queue_url,
        deps,
        metrics,
        batch_size,
        timeout,
        pollers: pollers.max(1),
        sqs: aws_sdk_sqs::Client::new(sdk),
        tasks,
    })
}

/// The batch through the function's one handler as Lambda hands it over (JSON), and its
/// answer read back as the event source mapping reads it. An answer that is not a batch
/// response (the handler failed) fails the whole batch, as a failed invocation does.
async fn invoke_with_batch(
    deps: &LifecycleDeps,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let ids: Vec<String> = event
        .records
        .iter()
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let answer = match serde_json::to_value(event) {
        Ok(payload) => packr::lifecycle::handler::handle_event(deps, payload, deadline)
            .await
            .map_err(anyhow::Error::from)
            .and_then(|v| Ok(serde_json::from_value::<SqsBatchResponse>(v)?)),
        Err(e) => Err(e.into()),
    };
    answer.unwrap_or_else(|error| {
        tracing::error!(error = %error, "data-lifecycle failed the whole batch");
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = ids
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        response
    })
}

impl LifecycleStack {
    /// data-lifecycle as a schedule target: the handler given the schedule's input, with
    /// the function's Timeout as its deadline.
    pub fn target(&self) -> Target {
        let deps = Arc::clone(&self.deps);
        let timeout = self.timeout;
        Arc::new(move |event| {
            let deps = Arc::clone(&deps);
            Box::pin(async move {
                let deadline = Instant::now() + timeout;
                Ok(packr::lifecycle::handler::handle_event(&deps, event, deadline).await?)
            })
        })
    }

    /// Waits until the lifecycle-jobs queue holds nothing, visible, delayed or in flight;
    /// false on timeout.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        esm::wait_drained(&self.sqs, &self.queue_url, timeout).await
    }

    /// Waits for the pollers (each finishes its batch in hand) after the shutdown signal.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
