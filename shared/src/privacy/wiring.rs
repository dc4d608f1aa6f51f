//! The erasure guard from a function's environment: `PRIVACY_HASH_SECRET_ARN` names the
//! hash key's secret (`PrivacyHashSecret` in template.yaml), read through the function's
//! cached secret source on the first tenant with an erasure.

use std::sync::Arc;

use super::guard::{ErasureGuard, PrivacyKey};
use crate::runtime::{required, ConfigError, Env};
use crate::secrets::SecretSource;

pub const SECRET_VARIABLE: &str = "PRIVACY_HASH_SECRET_ARN";

/// The guard of a function that writes objects: the variable is required.
pub fn guard_from_env(
    secrets: Arc<dyn SecretSource>,
    env: &dyn Env,
) -> Result<Arc<ErasureGuard>, ConfigError> {
    let name = required(env, SECRET_VARIABLE)?;
    Ok(Arc::new(ErasureGuard::new(PrivacyKey::from_secret(
        secrets, name,
    ))))
}

/// The guard where the function has the variable (API functions: those that write objects
/// or messages, or serve the erasure routes, have it).
pub fn optional_guard_from_env(
    secrets: Arc<dyn SecretSource>,
    env: &dyn Env,
) -> Option<Arc<ErasureGuard>> {
    env.var(SECRET_VARIABLE)
        .filter(|v| !v.trim().is_empty())
        .map(|name| Arc::new(ErasureGuard::new(PrivacyKey::from_secret(secrets, name))))
}

/// The hash key read from Secrets Manager through `sdk` (ops tools: `packr privacy`).
pub fn key_from_sdk(sdk: &aws_config::SdkConfig, secret: impl Into<String>) -> PrivacyKey {
    let source: Arc<dyn SecretSource> = Arc::new(crate::secrets::SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(sdk),
    ));
    PrivacyKey::from_secret(source, secret)
}

/// The steps of `PersonErasure` jobs for whoever runs lifecycle jobs (the `data-lifecycle`
/// function: `Registry::with(JobKindTag::PersonErasure, steps_from_env(..)?)`), on `store`,
/// the key from `PRIVACY_HASH_SECRET_ARN`.
pub fn steps_from_env(
    store: crate::store::dynamo::DynamoStore,
    secrets: Arc<dyn SecretSource>,
    env: &dyn Env,
) -> Result<Arc<dyn crate::lifecycle::JobSteps>, ConfigError> {
    let name = required(env, SECRET_VARIABLE)?;
    Ok(Arc::new(super::job::ErasureSteps::new(
        store,
        Arc::new(PrivacyKey::from_secret(secrets, name)),
    )))
}
