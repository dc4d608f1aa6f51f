//! Building the sync functions' dependencies from their environment (as `template.yaml`
//! sets it), once per cold start. Used by the Lambda binaries and the local gateway alike.
//!
//! | variable                       | use                                          |
//! |--------------------------------|----------------------------------------------|
//! | `TABLE_NAME`                   | the table                                    |
//! | `SYNC_JOBS_QUEUE_URL`          | the sync-jobs queue                          |
//! | `TRACKSTAR_API_KEY_SECRET_ARN` | the organisation key (sync-worker)           |
//! | `TRACKSTAR_BASE_URL`           | Trackstar (or the simulator)                 |
//! | `SYNC_RESOURCES`               | comma-separated subset of orders,inventory,products (scheduler) |
//! | `WEBHOOK_QUEUE_URL`            | enables the parked-events sweep (scheduler)  |
//! | `PARKED_RETENTION_HOURS`       | how long parked webhooks wait (168)          |
//! | `SYNC_*`                       | see [`SyncConfig::from_env`]                 |

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use super::config::SyncConfig;
use super::dynamo::DynamoSyncStateStore;
use super::job::SqsSyncJobQueue;
use super::runner::WorkerDeps;
use super::scheduler::SchedulerDeps;
use super::source::TrackstarSource;
use crate::lifecycle::retention::ItemExpiry;
use crate::metrics::{EmfSink, MetricsSink};
use crate::resource::ResourceKind;
use crate::runtime::{required, ConfigError, Env};
use crate::trackstar::Priority;
use crate::webhook::ingest::system_clock;
use crate::webhook::parked::{ParkedSweeper, DEFAULT_RETENTION};
use crate::webhook::queue::SqsEventQueue;
use crate::webhook::wiring::{store_without_cursors, trackstar_client_from_env, METRICS_NAMESPACE};

/// The sync-jobs queue named by `SYNC_JOBS_QUEUE_URL`.
pub fn queue_from_env(sdk: &SdkConfig, env: &dyn Env) -> Result<SqsSyncJobQueue, ConfigError> {
    queue_on(aws_sdk_sqs::Client::new(sdk), env)
}

/// The sync-jobs queue named by `SYNC_JOBS_QUEUE_URL`, through a function's SQS client.
pub fn queue_on(sqs: aws_sdk_sqs::Client, env: &dyn Env) -> Result<SqsSyncJobQueue, ConfigError> {
    Ok(SqsSyncJobQueue::new(
        sqs,
        required(env, "SYNC_JOBS_QUEUE_URL")?,
    ))
}

/// sync-worker.
pub async fn worker_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    function: &str,
) -> Result<WorkerDeps, ConfigError> {
    let store = store_without_cursors(sdk, required(env, "TABLE_NAME")?)
        .with_expiry(ItemExpiry::from_env(env)?);
    // Incremental by default; full runs lower it (`TrackstarSource`).
    let metrics: Arc<dyn MetricsSink> = Arc::new(EmfSink::new(METRICS_NAMESPACE, function));
    let client = trackstar_client_from_env(sdk, env, Priority::Incremental, store.client().clone())
        .await?
        .with_metrics(metrics.clone());
    Ok(WorkerDeps {
        states: Arc::new(DynamoSyncStateStore::new(store.clone())),
        connections: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        objects: Arc::new(store.clone()),
        source: Arc::new(TrackstarSource::new(client)),
        queue: Arc::new(queue_from_env(sdk, env)?),
        reports: Arc::new(store.clone()),
        metrics,
        config: SyncConfig::from_env(env)?,
        clock: system_clock(),
        worker_id: format!("{function}-{}", uuid::Uuid::new_v4().simple()),
    })
}

/// `PARKED_RETENTION_HOURS`: how long a parked webhook waits for its connection (7 days).
fn parked_retention(env: &dyn Env) -> Result<Duration, ConfigError> {
    let default = DEFAULT_RETENTION.as_secs() / 3600;
    let hours = match env
        .var("PARKED_RETENTION_HOURS")
        .filter(|v| !v.trim().is_empty())
    {
        None => default,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|h| *h > 0)
            .ok_or_else(|| ConfigError::Invalid {
                name: "PARKED_RETENTION_HOURS",
                reason: "not a positive number of hours".into(),
            })?,
    };
    Ok(Duration::from_secs(hours * 3600))
}

/// sync-scheduler.
pub fn scheduler_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    function: &str,
) -> Result<SchedulerDeps, ConfigError> {
    let store = store_without_cursors(sdk, required(env, "TABLE_NAME")?)
        .with_expiry(ItemExpiry::from_env(env)?);
    // One SQS client for both queues (each SDK client sets up TLS of its own at init).
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let resources = match env.var("SYNC_RESOURCES").filter(|v| !v.trim().is_empty()) {
        None => ResourceKind::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|r| {
                ResourceKind::parse(r).ok_or_else(|| ConfigError::Invalid {
                    name: "SYNC_RESOURCES",
                    reason: format!("unknown resource `{}`", r.trim()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let parked_sweep = match env
        .var("WEBHOOK_QUEUE_URL")
        .filter(|v| !v.trim().is_empty())
    {
        None => None,
        Some(url) => Some(ParkedSweeper {
            parked: Arc::new(store.clone()),
            queue: Arc::new(SqsEventQueue::new(sqs.clone(), url)),
            retention: parked_retention(env)?,
        }),
    };
    Ok(SchedulerDeps {
        connections: Arc::new(store.clone()),
        states: Arc::new(DynamoSyncStateStore::new(store)),
        queue: Arc::new(queue_on(sqs, env)?),
        metrics: Arc::new(EmfSink::new(METRICS_NAMESPACE, function)),
        clock: system_clock(),
        resources,
        unavailable_recheck: SyncConfig::from_env(env)?.unavailable_recheck,
        parked_sweep,
    })
}
