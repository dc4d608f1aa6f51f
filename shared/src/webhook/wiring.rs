//! Building the webhook functions' dependencies from their environment (as `template.yaml`
//! sets it), once per cold start. Used by the Lambda binaries and the local gateway alike.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ingest::{system_clock, IngestDeps, VerifierSource, DEFAULT_MAX_BODY_BYTES};
use super::processor::{FetchError, ObjectFetcher, ProcessorDeps, ProcessorLimits};
use super::queue::SqsEventQueue;
use super::signature::{Verifier, WebhookSecret};
use crate::domain::Connection;
use crate::lifecycle::retention::ItemExpiry;
use crate::metrics::{EmfSink, MetricsSink};
use crate::resource::{ResourceKind, WireObject};
use crate::runtime::{optional_seconds, required, ConfigError, Env};
use crate::secrets::{CachedSecretSource, SecretSource, SecretsManagerSource};
use crate::store::cache::{CachedLookups, DEFAULT_TTL};
use crate::store::capacity::{metered_client, CapacityMeter};
use crate::store::dynamo::DynamoStore;
use crate::store::CursorCodec;
use crate::trackstar::{ConnectionCredentials, Priority, TrackstarClient};

pub const METRICS_NAMESPACE: &str = "Packr";

/// The signing secret as stored: `{"current": "whsec_…", "previous": "whsec_…"}` (previous
/// may be empty), or a bare `whsec_…` string.
#[derive(Deserialize)]
struct StoredSecrets {
    current: String,
    #[serde(default)]
    previous: String,
}

/// Reads the webhook signing secrets through a cached secret source.
pub struct SecretVerifierSource {
    secrets: Arc<dyn SecretSource>,
    name: String,
}

impl SecretVerifierSource {
    pub fn new(secrets: Arc<dyn SecretSource>, name: impl Into<String>) -> Self {
        Self {
            secrets,
            name: name.into(),
        }
    }
}

/// Parses the stored secret value into a verifier holding the current and previous keys.
pub fn verifier_from_secret(value: &SecretString) -> Result<Verifier, String> {
    let raw = value.expose_secret().trim();
    let keys: Vec<String> = if raw.starts_with('{') {
        let stored: StoredSecrets =
            serde_json::from_str(raw).map_err(|_| "webhook secret JSON is malformed".to_owned())?;
        [stored.current, stored.previous]
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .collect()
    } else {
        vec![raw.to_owned()]
    };
    let secrets = keys
        .into_iter()
        .map(|k| WebhookSecret::parse(&SecretString::from(k)).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if secrets.is_empty() {
        return Err("webhook secret holds no key".into());
    }
    Ok(Verifier::new(secrets))
}

#[async_trait]
impl VerifierSource for SecretVerifierSource {
    async fn verifier(&self) -> Result<Verifier, Box<dyn std::error::Error + Send + Sync>> {
        let value = self.secrets.get(&self.name).await?;
        verifier_from_secret(&value).map_err(Into::into)
    }
}

/// Fetches current objects through the Trackstar client (at the webhook priority).
pub struct TrackstarFetcher {
    pub client: TrackstarClient,
}

#[async_trait]
impl ObjectFetcher for TrackstarFetcher {
    async fn fetch_many(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<WireObject>, FetchError> {
        let page = crate::sync::source::objects_of(
            &self.client,
            &ConnectionCredentials::from(connection),
            resource,
            ids,
        )
        .await?;
        Ok(page.objects)
    }
}

pub(crate) fn secret_source(
    sdk: &SdkConfig,
    env: &dyn Env,
) -> Result<Arc<dyn SecretSource>, ConfigError> {
    let ttl = optional_seconds(env, "SECRETS_CACHE_TTL_SECONDS", 300)?;
    Ok(Arc::new(CachedSecretSource::new(
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(sdk)),
        ttl,
    )))
}

/// A store for functions that never hand out pagination cursors: a random cursor key.
pub fn store_without_cursors(sdk: &SdkConfig, table: String) -> DynamoStore {
    metered_store(sdk, table, CapacityMeter::new())
}

/// Such a store whose DynamoDB units go to `meter`.
pub fn metered_store(sdk: &SdkConfig, table: String, meter: Arc<CapacityMeter>) -> DynamoStore {
    let key: [u8; 32] = rand::random();
    DynamoStore::new(
        metered_client(sdk, meter),
        table,
        CursorCodec::new(key.to_vec()),
    )
}

/// webhook-ingest: `TABLE_NAME`, `WEBHOOK_QUEUE_URL`, `WEBHOOK_SECRET_ARN`.
pub fn ingest_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    function: &str,
) -> Result<IngestDeps, ConfigError> {
    let capacity = CapacityMeter::new();
    let store = metered_store(sdk, required(env, "TABLE_NAME")?, capacity.clone())
        .with_expiry(ItemExpiry::from_env(env)?);
    let lookups = Arc::new(CachedLookups::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        optional_seconds(env, "LOOKUP_CACHE_TTL_SECONDS", DEFAULT_TTL.as_secs())?,
    ));
    let queue = SqsEventQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        required(env, "WEBHOOK_QUEUE_URL")?,
    );
    let verifier = SecretVerifierSource::new(
        secret_source(sdk, env)?,
        required(env, "WEBHOOK_SECRET_ARN")?,
    );
    let metrics: Arc<dyn MetricsSink> = Arc::new(EmfSink::new(METRICS_NAMESPACE, function));
    Ok(IngestDeps {
        verifier: Arc::new(verifier),
        connections: lookups,
        receipts: Arc::new(store.clone()),
        capacity,
        queue: Arc::new(queue),
        parked: Arc::new(store),
        metrics,
        clock: system_clock(),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    })
}

/// The Trackstar client of a function that needs one: `TRACKSTAR_API_KEY_SECRET_ARN`
/// (required; read on the first call, then kept) through the function's cached secret
/// source, with the shared rate budget and breaker in `TABLE_NAME`, reached through
/// `dynamo` (see [`crate::trackstar::from_env`]).
pub(crate) async fn trackstar_client_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    priority: Priority,
    dynamo: aws_sdk_dynamodb::Client,
) -> Result<TrackstarClient, ConfigError> {
    let secrets = secret_source(sdk, env)?;
    // Read on the first Trackstar call, not at init (see `TrackstarClient::with_api_key_secret`).
    let api_key_secret = required(env, "TRACKSTAR_API_KEY_SECRET_ARN")?;
    crate::trackstar::from_env(
        env,
        api_key_secret,
        secrets,
        dynamo,
        required(env, "TABLE_NAME")?,
        priority,
    )
}

/// webhook-processor: `TABLE_NAME`, `TRACKSTAR_API_KEY_SECRET_ARN`, `TRACKSTAR_BASE_URL`,
/// `PRIVACY_HASH_SECRET_ARN` (the erasure guard's key),
/// `WEBHOOK_MAX_RECEIVE_COUNT` (the queue's `maxReceiveCount`, default 5).
pub async fn processor_from_env(
    sdk: &SdkConfig,
    env: &dyn Env,
    function: &str,
) -> Result<ProcessorDeps, ConfigError> {
    let capacity = CapacityMeter::new();
    // Every object it writes passes the erasure guard (`crate::privacy`).
    let store = metered_store(sdk, required(env, "TABLE_NAME")?, capacity.clone())
        .with_expiry(ItemExpiry::from_env(env)?)
        .with_erasure_guard(crate::privacy::wiring::guard_from_env(
            secret_source(sdk, env)?,
            env,
        )?);
    let lookups = Arc::new(CachedLookups::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
        optional_seconds(env, "LOOKUP_CACHE_TTL_SECONDS", DEFAULT_TTL.as_secs())?,
    ));
    // Webhook refetches rank with interactive calls.
    let metrics: Arc<dyn MetricsSink> = Arc::new(EmfSink::new(METRICS_NAMESPACE, function));
    // The store's client: the budget's units go to the same meter.
    let client = trackstar_client_from_env(sdk, env, Priority::Webhook, store.client().clone())
        .await?
        .with_metrics(metrics.clone());
    let limits = ProcessorLimits::default();
    let offboarding = crate::lifecycle::offboard::ConnectionOffboarder {
        store: store.clone(),
        secrets: Arc::new(crate::secrets::SecretsManagerSource::new(
            aws_sdk_secretsmanager::Client::new(sdk),
        )),
        grace: crate::lifecycle::offboard::connection::grace_from_env(env)?,
        metrics: metrics.clone(),
    };
    Ok(ProcessorDeps {
        offboarding: Some(offboarding),
        objects: Arc::new(store.clone()),
        tenants: lookups.clone(),
        connections: lookups,
        receipts: Arc::new(store.clone()),
        fetcher: Arc::new(TrackstarFetcher { client }),
        stats: Arc::new(store.clone()),
        capacity,
        limits,
        max_receive_count: match env
            .var("WEBHOOK_MAX_RECEIVE_COUNT")
            .filter(|v| !v.trim().is_empty())
        {
            None => super::processor::DEFAULT_MAX_RECEIVE_COUNT,
            Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "WEBHOOK_MAX_RECEIVE_COUNT",
                reason: "not a number".into(),
            })?,
        },
        sync_jobs: Arc::new(crate::sync::wiring::queue_from_env(sdk, env)?),
        backfills: Arc::new(store),
        metrics,
        clock: system_clock(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_secret_yields_current_and_previous_keys() {
        let v = verifier_from_secret(&SecretString::from(
            r#"{"current":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","previous":""}"#.to_owned(),
        ));
        assert!(v.is_ok());
        assert!(verifier_from_secret(&SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()
        ))
        .is_ok());
        assert!(verifier_from_secret(&SecretString::from("{\"current\": 1}".to_owned())).is_err());
        assert!(
            verifier_from_secret(&SecretString::from("{\"current\": \"\"}".to_owned())).is_err()
        );
    }
}
