//! Building the data lifecycle's dependencies from the environment (as `template.yaml`
//! sets it), once per cold start: the `data-lifecycle` function, the local stack, and the
//! API and CLI where they create jobs and presign exports.
//!
//! | variable                             | use                                             |
//! |--------------------------------------|-------------------------------------------------|
//! | `TABLE_NAME`                         | the table                                       |
//! | `LIFECYCLE_JOBS_QUEUE_URL`           | the lifecycle-jobs queue (jobs, continuations)  |
//! | `EXPORT_BUCKET`                      | the offboarding exports' bucket                 |
//! | `EXPORT_EXPIRY_DAYS`                 | how long S3 keeps an export (7; informational)  |
//! | `TRACKSTAR_CONNECTION_SECRET_PREFIX` | where the connections' access tokens are        |
//! | `PRIVACY_HASH_SECRET_NAME`           | the erasure records' hash key (helper privacy)  |
//! | retention knobs                      | the sweep's (`sweep::SweepDeps::from_env`)      |

use std::sync::Arc;

use aws_config::SdkConfig;

use super::export::Exporter;
use super::job::LifecycleJobStore;
use super::offboard::steps::deps_from_env;
use super::offboard::OffboardSteps;
use super::queue::SqsLifecycleQueue;
use super::runner::RunnerDeps;
use super::sweep::SweepDeps;
use super::{JobKindTag, Registry};
use crate::metrics::{EmfSink, MetricsSink};
use crate::runtime::{optional_number, optional_seconds, required, ConfigError, Env};
use crate::secrets::{CachedSecretSource, SecretSource, SecretsManagerSource};
use crate::store::dynamo::DynamoStore;
use crate::webhook::wiring::{store_without_cursors, METRICS_NAMESPACE};

/// What `data-lifecycle` runs on: the job runner (with every kind's steps) for its queue,
/// the retention sweep for its schedule.
#[derive(Clone)]
pub struct LifecycleDeps {
    pub runner: RunnerDeps,
    pub sweep: SweepDeps,
    pub exporter: Exporter,
    pub settings: LifecycleSettings,
}

/// The knobs of the offboarding steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleSettings {
    /// Days S3 keeps an export (the bucket's lifecycle rule enforces it).
    pub export_expiry_days: u32,
    /// The name prefix of the connections' access-token secrets.
    pub connection_secret_prefix: Option<String>,
    /// The name of the secret keying the erasure records' hashes.
    pub privacy_hash_secret: Option<String>,
}

impl LifecycleSettings {
    pub const DEFAULT_EXPORT_EXPIRY_DAYS: u32 = 7;

    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let text = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            export_expiry_days: optional_number::<u32>(env, "EXPORT_EXPIRY_DAYS")?
                .unwrap_or(Self::DEFAULT_EXPORT_EXPIRY_DAYS),
            connection_secret_prefix: text("TRACKSTAR_CONNECTION_SECRET_PREFIX"),
            privacy_hash_secret: text("PRIVACY_HASH_SECRET_NAME"),
        })
    }
}

/// An S3 client for `sdk`: path-style addressing when an endpoint is configured (the
/// emulator on loopback has no per-bucket host names), virtual-hosted on AWS.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The exporter on `store` and the bucket `EXPORT_BUCKET` (data-lifecycle writes with it;
/// api-connections and the CLI presign with it).
pub fn exporter_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    store: DynamoStore,
) -> Result<Exporter, ConfigError> {
    Ok(Exporter::new(
        store,
        s3_client(sdk),
        required(env, "EXPORT_BUCKET")?,
    ))
}

/// The lifecycle-jobs queue named by `LIFECYCLE_JOBS_QUEUE_URL`.
pub fn queue_from_env(sdk: &SdkConfig, env: &dyn Env) -> Result<SqsLifecycleQueue, ConfigError> {
    Ok(SqsLifecycleQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        required(env, "LIFECYCLE_JOBS_QUEUE_URL")?,
    ))
}

/// The steps of every job kind: the offboardings (`lifecycle::offboard`, whose export
/// phase is [`Exporter::job_step`]) and the erasure of a person (`privacy::job`). A kind
/// not registered fails its jobs as unsupported rather than spinning.
pub fn registry(
    sdk: &SdkConfig,
    exporter: &Exporter,
    store: &DynamoStore,
    secrets: Arc<dyn SecretSource>,
    metrics: Arc<dyn MetricsSink>,
    env: &dyn Env,
) -> Result<Registry, ConfigError> {
    let offboarding = Arc::new(OffboardSteps::new(deps_from_env(
        sdk,
        env,
        Arc::new(exporter.clone()),
        metrics,
    )?));
    Ok(offboarding.register(Registry::new().with(
        JobKindTag::PersonErasure,
        crate::privacy::wiring::steps_from_env(store.clone(), secrets, env)?,
    )))
}

/// data-lifecycle.
pub async fn data_lifecycle_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    function: &str,
) -> Result<LifecycleDeps, ConfigError> {
    let store = store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    let metrics: Arc<dyn MetricsSink> = Arc::new(EmfSink::new(METRICS_NAMESPACE, function));
    let exporter = exporter_from_env(sdk, env, store.clone())?;
    let secrets: Arc<dyn SecretSource> = Arc::new(CachedSecretSource::new(
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(sdk)),
        optional_seconds(env, "SECRETS_CACHE_TTL_SECONDS", 300)?,
    ));
    let runner = RunnerDeps {
        jobs: LifecycleJobStore::new(store.clone()),
        registry: registry(sdk, &exporter, &store, secrets, metrics.clone(), env)?,
        queue: Arc::new(queue_from_env(sdk, env)?),
        metrics,
        owner: format!("{function}-{}", uuid::Uuid::new_v4().simple()),
        lease_hold: RunnerDeps::DEFAULT_LEASE_HOLD,
        deadline_margin: RunnerDeps::DEFAULT_DEADLINE_MARGIN,
    };
    Ok(LifecycleDeps {
        runner,
        sweep: SweepDeps::from_env(sdk, env, function)?,
        exporter,
        settings: LifecycleSettings::from_env(env)?,
    })
}
