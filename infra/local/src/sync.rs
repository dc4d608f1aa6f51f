//! The sync engine on the local stack: the event source mapping feeding `SyncJobsQueue` to
//! sync-worker (the template's `BatchSize`, the function's `Timeout` as each invocation's
//! deadline), and the schedules of `template.yaml` with sync-scheduler hosted as the
//! target of `IncrementalSyncSchedule`. Both functions get their dependencies from
//! `packr::sync::wiring` with their template environment, as their binaries do, with
//! `TRACKSTAR_BASE_URL` = the simulator. The schedule runner also hosts data-lifecycle
//! (`DataLifecycleSchedule`), whose lifecycle-jobs pollers start here too
//! ([`crate::lifecycle`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use packr::domain::{ConnectionId, TenantId, Timestamp};
use packr::metrics::RecordingSink;
use packr::sync::wiring::{scheduler_from_env, worker_from_env};
use packr::sync::{
    request_sync, ResourceKind, SchedulerDeps, SqsSyncJobQueue, SyncJob, SyncMode, WorkerDeps,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::emulator::function_config;
use crate::esm::{self, EsmConfig};
use crate::lifecycle::LifecycleStack;
use crate::schedule::{Pace, ScheduleRunner, Target};
use crate::stack::LocalStack;
use crate::template::{repo_template_path, Template};

pub const WORKER_FUNCTION: &str = "SyncWorkerFunction";
pub const SCHEDULER_FUNCTION: &str = "SyncSchedulerFunction";
pub const JOBS_QUEUE: &str = "SyncJobsQueue";
/// The rule whose target is sync-scheduler.
pub const INCREMENTAL_RULE: &str = "IncrementalSyncSchedule";

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The template (schedules, the worker's batch size and timeout); the repository's
    /// `template.yaml` when `None`.
    pub template: Option<PathBuf>,
    /// Concurrent pollers of the sync-jobs queue (the template caps Lambda at its
    /// `MaximumConcurrency`).
    pub pollers: usize,
    /// Long-poll wait and visibility; the batch size comes from the template.
    pub esm: EsmConfig,
    /// Variables set over the worker's template environment (e.g. `SYNC_MAX_CHUNK_SECONDS`).
    pub worker_env: BTreeMap<String, String>,
    /// Variables set over the scheduler's template environment (e.g. `SYNC_RESOURCES`).
    pub scheduler_env: BTreeMap<String, String>,
    /// The schedules' pace; `None`: from `PACKR_LOCAL_SCHEDULE_SPEEDUP` /
    /// `PACKR_LOCAL_SCHEDULE_EVERY_MS` (real time when unset).
    pub pace: Option<Pace>,
    /// Whether the schedules run by themselves (they can always be fired by hand).
    pub run_schedules: bool,
    /// Concurrent pollers of the lifecycle-jobs queue (data-lifecycle).
    pub lifecycle_pollers: usize,
    /// Variables set over data-lifecycle's template environment.
    pub lifecycle_env: BTreeMap<String, String>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            template: None,
            pollers: 2,
            esm: EsmConfig::default(),
            worker_env: BTreeMap::new(),
            scheduler_env: BTreeMap::new(),
            pace: None,
            run_schedules: true,
            lifecycle_pollers: 1,
            lifecycle_env: BTreeMap::new(),
        }
    }
}

/// The running sync engine; stops with the shutdown signal given to [`start`].
pub struct SyncStack {
    pub queue_url: String,
    pub queue: SqsSyncJobQueue,
    pub worker: Arc<WorkerDeps>,
    pub scheduler: Arc<SchedulerDeps>,
    pub schedules: Arc<ScheduleRunner>,
    /// Metrics sync-worker emitted (`sync.records`, `sync.pages`, `sync.runs` …).
    pub worker_metrics: RecordingSink,
    pub scheduler_metrics: RecordingSink,
    /// data-lifecycle: its queue's pollers, and the target of `DataLifecycleSchedule`.
    pub lifecycle: LifecycleStack,
    /// Messages per sync-worker invocation (the template's `BatchSize`).
    pub batch_size: i32,
    /// sync-worker's `Timeout`: each invocation's deadline is its start plus this.
    pub timeout: Duration,
    pub pollers: usize,
    sqs: aws_sdk_sqs::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SyncStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncStack")
            .field("queue_url", &self.queue_url)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn function_env(
    stack: &LocalStack,
    function: &str,
    overrides: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = stack
        .function_environment
        .get(function)
        .cloned()
        .with_context(|| format!("template.yaml has no {function}"))?;
    env.extend(overrides.clone());
    Ok(env)
}

/// Starts the sync-jobs pollers and the schedule runner. `stack` is the stack as the
/// functions see it (`TRACKSTAR_BASE_URL` = the simulator).
pub async fn start(
    sdk: &SdkConfig,
    stack: &LocalStack,
    options: SyncOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<SyncStack> {
    let template_path = options.template.clone().unwrap_or_else(repo_template_path);
    let template = Template::load(&template_path)?;
    let worker_spec = template.function(WORKER_FUNCTION)?;
    let event = worker_spec
        .sqs_events
        .iter()
        .find(|e| e.queue == JOBS_QUEUE)
        .with_context(|| format!("{WORKER_FUNCTION} has no SQS event on {JOBS_QUEUE}"))?;
    let batch_size = i32::try_from(event.batch_size.clamp(1, 10)).unwrap_or(10);
    let timeout = Duration::from_secs(worker_spec.timeout.unwrap_or(3));

    let worker_metrics = RecordingSink::new();
    // Each function acts with its own credentials (its role on AWS).
    let worker_sdk = function_config(sdk, "sync-worker");
    let mut worker = worker_from_env(
        &worker_sdk,
        &function_env(stack, WORKER_FUNCTION, &options.worker_env)?,
        "sync-worker",
    )
    .await
    .context("configuring sync-worker")?;
    worker.metrics = Arc::new(worker_metrics.clone());
    let worker = Arc::new(worker);

    let scheduler_metrics = RecordingSink::new();
    let mut scheduler = scheduler_from_env(
        &function_config(sdk, "sync-scheduler"),
        &function_env(stack, SCHEDULER_FUNCTION, &options.scheduler_env)?,
        "sync-scheduler",
    )
    .context("configuring sync-scheduler")?;
    scheduler.metrics = Arc::new(scheduler_metrics.clone());
    let scheduler = Arc::new(scheduler);

    let pace = match options.pace {
        Some(pace) => pace,
        None => Pace::from_env().map_err(anyhow::Error::msg)?,
    };
    let lifecycle = crate::lifecycle::start(
        sdk,
        stack,
        &template,
        options.lifecycle_pollers,
        options.esm.clone(),
        &options.lifecycle_env,
        shutdown.clone(),
    )
    .await?;
    let mut runner = ScheduleRunner::new(template.rules()?, &stack.prefix, pace)?;
    runner.host(SCHEDULER_FUNCTION, scheduler_target(Arc::clone(&scheduler)));
    runner.host(crate::lifecycle::LIFECYCLE_FUNCTION, lifecycle.target());
    let schedules = Arc::new(runner);

    let queue_url = stack
        .resources
        .queue_url(JOBS_QUEUE)
        .with_context(|| format!("{JOBS_QUEUE} was not provisioned"))?
        .to_owned();
    let queue_arn = stack
        .resources
        .queue_arns
        .get(JOBS_QUEUE)
        .with_context(|| format!("{JOBS_QUEUE} has no ARN"))?
        .clone();
    let sqs = aws_sdk_sqs::Client::new(sdk);
    // Lambda's event source mapping polls with the function's execution role.
    let mut tasks = esm::spawn_pollers(
        options.pollers,
        aws_sdk_sqs::Client::new(&worker_sdk),
        queue_url.clone(),
        queue_arn,
        EsmConfig {
            batch_size,
            ..options.esm.clone()
        },
        {
            let worker = Arc::clone(&worker);
            move |event| {
                let worker = Arc::clone(&worker);
                async move {
                    // Lambda's deadline: the invocation's start plus the function's Timeout.
                    let deadline = Instant::now() + timeout;
                    packr::sync::worker::handle_batch(&worker, event, deadline).await
                }
            }
        },
        shutdown.clone(),
    );
    if options.run_schedules {
        tasks.extend(schedules.spawn(shutdown));
    }
    Ok(SyncStack {
        queue: SqsSyncJobQueue::new(sqs.clone(), queue_url.clone()),
        queue_url,
        worker,
        scheduler,
        schedules,
        worker_metrics,
        scheduler_metrics,
        lifecycle,
        batch_size,
        timeout,
        pollers: options.pollers.max(1),
        sqs,
        tasks,
    })
}

/// sync-scheduler as a schedule target: one tick per scheduled event (or reconciliation
/// input).
fn scheduler_target(deps: Arc<SchedulerDeps>) -> Target {
    Arc::new(move |event| {
        let deps = Arc::clone(&deps);
        Box::pin(async move {
            let report = packr::sync::handle_event(&deps, &event).await?;
            Ok(serde_json::to_value(report)?)
        })
    })
}

impl SyncStack {
    /// Enqueues a sync of `resources` of one connection (as `POST /sync/run` does).
    pub async fn request(
        &self,
        tenant: &str,
        connection: &str,
        resources: &[ResourceKind],
        mode: SyncMode,
        reason: &str,
    ) -> anyhow::Result<Vec<SyncJob>> {
        let tenant = TenantId::parse(tenant)?;
        let connection = ConnectionId::parse(connection)?;
        Ok(request_sync(
            &self.queue,
            &tenant,
            &connection,
            resources,
            mode,
            reason,
            Timestamp::now(),
        )
        .await?)
    }

    /// Fires `IncrementalSyncSchedule` now through the runner (sync-scheduler's tick).
    pub async fn fire_incremental(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        self.schedules.fire(INCREMENTAL_RULE).await
    }

    /// Waits until the sync-jobs queue holds nothing, visible, delayed or in flight;
    /// false on timeout.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        esm::wait_drained(&self.sqs, &self.queue_url, timeout).await
    }

    /// Waits for the tasks (pollers finish their batch in hand, schedules their tick) after
    /// the shutdown signal.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        self.lifecycle.join().await;
    }
}
