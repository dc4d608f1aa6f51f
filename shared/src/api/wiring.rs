//! Building `ApiDeps` from a function's environment (as `template.yaml` sets it), once per
//! cold start. Used by the `api-*` binaries and the local gateway alike.
//!
//! | variable                             | use                                          |
//! |--------------------------------------|----------------------------------------------|
//! | `TABLE_NAME`                         | the table, also of the shared Trackstar budget |
//! | `CURSOR_SECRET_ARN`                  | HMAC key of pagination cursors (required)    |
//! | `AUDIT_SECRET_ARN`                   | HMAC key of the audit chain (mutating routes) |
//! | `AUDIT_RETENTION_DAYS`               | audit entries' TTL (default 365)             |
//! | `PRIVACY_HASH_SECRET_ARN`            | the erasure guard's key: functions that write objects or messages, and the erasure routes |
//! | `TRACKSTAR_API_KEY_SECRET_ARN`       | enables write-through (optional)             |
//! | `TRACKSTAR_BASE_URL`                 | Trackstar (or the simulator)                 |
//! | `TRACKSTAR_CONNECTION_SECRET_PREFIX` | where access tokens are stored               |
//! | `CONNECTION_SECRETS_WRITABLE`        | `true` lets the function store access tokens |
//! | `SYNC_JOBS_QUEUE_URL`                | enables enqueueing syncs (optional)          |
//! | `HEALTH_ROUTES`                      | `true`: serves the health routes (api-sync)  |
//! | `HEALTH_*`                           | health thresholds (`health::Thresholds`)     |
//! | `CONNECTION_ERASURE_GRACE_DAYS`      | days an offboarded connection's data is kept (30) |
//! | `LIFECYCLE_JOBS_QUEUE_URL`           | where offboardings and erasures are queued (api-connections) |
//! | `WEBHOOK_QUEUE_URL`                  | enables replaying failed webhooks and queueing a new connection's parked ones (optional) |
//! | `CLAIM_SUBJECT`, `CLAIM_TENANT_ID`, `CLAIM_ROLE`, `CLAIM_BRAND_IDS` | claim names   |
//! | `MAX_BODY_BYTES`                     | request body limit (default 256 KiB)         |
//! | `API_QUOTA_PER_SECOND`, `API_QUOTA_BURST`, `ADMIN_QUOTA_PER_MINUTE`, `ADMIN_QUOTA_BURST`, `API_QUOTA_BLOCK` | per-tenant quotas (`quota::QuotaConfig`; none without the first) |

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use super::quota::{QuotaConfig, TenantQuotas};
use super::{ApiConfig, ApiDeps, ClaimNames, DEFAULT_MAX_BODY_BYTES};
use crate::domain::Timestamp;
use crate::idempotency::{DynamoIdempotencyStore, IdempotencyPolicy};
use crate::lifecycle::retention::ItemExpiry;
use crate::metrics::EmfSink;
use crate::runtime::{optional_seconds, required, ConfigError, Env};
use crate::secrets::{CachedSecretSource, SecretSource, SecretWriter, SecretsManagerSource};
use crate::store::dynamo::DynamoStore;
use crate::sync::SyncJobQueue;
use crate::trackstar::{DynamoBudget, Priority};
use crate::webhook::queue::{EventQueue, SqsEventQueue};

/// The API's dependencies from the environment.
pub async fn from_env(sdk: &SdkConfig, env: &dyn Env) -> Result<ApiDeps, ConfigError> {
    let ttl = optional_seconds(env, "SECRETS_CACHE_TTL_SECONDS", 300)?;
    let manager = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(sdk));
    // One client per service for the whole function, shared by every port: each SDK client
    // built sets up a TLS connector of its own (parsing the root certificates) at init.
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    // Built only when a queue is configured.
    let sqs_client = std::cell::OnceCell::new();
    let sqs = || {
        sqs_client
            .get_or_init(|| aws_sdk_sqs::Client::new(sdk))
            .clone()
    };
    let manager_for_deletes = manager.clone();
    let secrets: Arc<dyn SecretSource> = Arc::new(CachedSecretSource::new(manager.clone(), ttl));
    // The cursor key is read on the first listing, not at init (see `CursorKeys`).
    let store = DynamoStore::with_cursor_secret(
        dynamo.clone(),
        required(env, "TABLE_NAME")?,
        secrets.clone(),
        required(env, "CURSOR_SECRET_ARN")?,
    )
    .with_expiry(ItemExpiry::from_env(env)?);
    // Functions that write objects or messages (write-through, posts) redact erased people.
    let store = match crate::privacy::wiring::optional_guard_from_env(secrets.clone(), env) {
        Some(guard) => store.with_erasure_guard(guard),
        None => store,
    };
    let trackstar = match env
        .var("TRACKSTAR_API_KEY_SECRET_ARN")
        .filter(|v| !v.trim().is_empty())
    {
        None => None,
        Some(api_key_secret) => {
            // Read on the first Trackstar call (write-through), not at init: reads never need
            // it. At the interactive priority (a user is waiting).
            Some(crate::trackstar::from_env(
                env,
                api_key_secret,
                secrets.clone(),
                dynamo.clone(),
                store.table_name().to_owned(),
                Priority::Interactive,
            )?)
        }
    };
    let writable = env
        .var("CONNECTION_SECRETS_WRITABLE")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let secret_writer: Option<Arc<dyn SecretWriter>> = writable.then(|| {
        let writer: Arc<dyn SecretWriter> = Arc::new(manager);
        writer
    });
    let max_body_bytes = match env.var("MAX_BODY_BYTES").filter(|v| !v.trim().is_empty()) {
        None => DEFAULT_MAX_BODY_BYTES,
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name: "MAX_BODY_BYTES",
            reason: "not a number of bytes".into(),
        })?,
    };
    let idempotency = DynamoIdempotencyStore::new(
        dynamo.clone(),
        store.table_name().to_owned(),
        IdempotencyPolicy {
            in_progress_expiry: optional_seconds(env, "IDEMPOTENCY_IN_PROGRESS_SECONDS", 60)?,
            record_ttl: Duration::from_secs(24 * 3600),
        },
    );
    let sync_jobs = match env
        .var("SYNC_JOBS_QUEUE_URL")
        .filter(|v| !v.trim().is_empty())
    {
        None => None,
        Some(_) => {
            let queue: Arc<dyn SyncJobQueue> = Arc::new(crate::sync::wiring::queue_on(sqs(), env)?);
            Some(queue)
        }
    };
    let health = if env
        .var("HEALTH_ROUTES")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        Some(crate::health::HealthSources {
            connections: Arc::new(store.clone()),
            sync_states: Arc::new(crate::sync::DynamoSyncStateStore::new(store.clone())),
            stats: Arc::new(store.clone()),
            backfills: Arc::new(store.clone()),
            breakers: Arc::new(DynamoBudget::new(
                dynamo.clone(),
                store.table_name().to_owned(),
            )),
            thresholds: crate::health::Thresholds::from_env(env)?,
        })
    } else {
        None
    };
    let webhook_queue = env
        .var("WEBHOOK_QUEUE_URL")
        .filter(|v| !v.trim().is_empty())
        .map(|url| {
            let queue: Arc<dyn EventQueue> = Arc::new(SqsEventQueue::new(sqs(), url));
            queue
        });
    let lifecycle_queue = env
        .var("LIFECYCLE_JOBS_QUEUE_URL")
        .filter(|v| !v.trim().is_empty())
        .map(|url| {
            let queue: Arc<dyn crate::lifecycle::LifecycleQueue> =
                Arc::new(crate::lifecycle::SqsLifecycleQueue::new(sqs(), url));
            queue
        });
    let metrics: Arc<dyn crate::metrics::MetricsSink> = Arc::new(EmfSink::new(
        crate::webhook::wiring::METRICS_NAMESPACE,
        env.var("AWS_LAMBDA_FUNCTION_NAME")
            .or_else(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok())
            .unwrap_or_else(|| "api".to_owned()),
    ));
    // Read at init: a bad quota setting fails the cold start, naming the variable.
    let quota = QuotaConfig::from_env(env)?.map(|config| {
        Arc::new(TenantQuotas::new(
            dynamo.clone(),
            store.table_name().to_owned(),
            config,
            metrics.clone(),
        ))
    });
    let prefix = env
        .var("TRACKSTAR_CONNECTION_SECRET_PREFIX")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "packr/local/trackstar/connections/".to_owned());
    // api-connections (the function that may write access tokens) serves offboarding.
    let offboarding = if writable {
        Some(super::offboarding::OffboardApi {
            connections: crate::lifecycle::offboard::ConnectionOffboarder {
                store: store.clone(),
                secrets: Arc::new(manager_for_deletes.clone()),
                grace: crate::lifecycle::offboard::connection::grace_from_env(env)?,
                metrics: metrics.clone(),
            },
            jobs: crate::lifecycle::LifecycleJobStore::new(store.clone()),
            queue: lifecycle_queue.clone(),
            presign: env
                .var("EXPORT_BUCKET")
                .filter(|v| !v.trim().is_empty())
                .map(|bucket| {
                    let exporter: Arc<dyn crate::lifecycle::offboard::Presign> =
                        Arc::new(crate::lifecycle::Exporter::new(
                            store.clone(),
                            crate::lifecycle::wiring::s3_client(sdk),
                            bucket,
                        ));
                    exporter
                }),
        })
    } else {
        None
    };
    Ok(ApiDeps {
        offboarding,
        objects: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        messages: Arc::new(store.clone()),
        audit: Arc::new(crate::audit::log_from_env(
            store.clone(),
            secrets.clone(),
            env,
        )?),
        receipts: Arc::new(store.clone()),
        parked: Arc::new(store.clone()),
        backfills: Arc::new(store.clone()),
        reports: Arc::new(store),
        idempotency: Arc::new(idempotency),
        trackstar,
        secret_writer,
        sync_jobs,
        health,
        webhook_queue,
        lifecycle_queue,
        metrics,
        quota,
        config: ApiConfig {
            claims: ClaimNames::from_env(env),
            max_body_bytes,
            connection_secret_prefix: prefix,
            changes: crate::changes::ChangeFeedConfig::from_env(env)?,
        },
        clock: Arc::new(Timestamp::now),
    })
}
