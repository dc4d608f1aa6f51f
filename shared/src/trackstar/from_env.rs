//! The one place a function's Trackstar client is assembled from its environment: the
//! client settings, the organisation key, the shared rate budget and breaker, and the
//! function's priority. Each caller decides only what differs between functions: where
//! its secrets come from, whether the key is required, and its priority.

use std::sync::Arc;

use super::{DynamoBudget, Priority, TrackstarClient, TrackstarConfig};
use crate::runtime::{ConfigError, Env};
use crate::secrets::SecretSource;

/// The Trackstar client of a function: the organisation key from the secret
/// `api_key_secret` (read through `secrets` on the first call that needs it, then kept),
/// `TRACKSTAR_BASE_URL` and the `TRACKSTAR_*` client settings (the function's own
/// environment, else the process's), and one rate budget and breaker per access token in
/// `table`, shared by every instance of every function, reached through `dynamo` (the
/// function's one DynamoDB client: each SDK client built sets up TLS of its own at init),
/// at `priority`.
pub fn from_env(
    env: &dyn Env,
    api_key_secret: String,
    secrets: Arc<dyn SecretSource>,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    priority: Priority,
) -> Result<TrackstarClient, ConfigError> {
    let mut config =
        // The function's own environment (the template's variables), else the process's.
        TrackstarConfig::from_lookup(|name| env.var(name).or_else(|| std::env::var(name).ok()))
            .map_err(ConfigError::Trackstar)?;
    if let Some(base_url) = env
        .var("TRACKSTAR_BASE_URL")
        .filter(|v| !v.trim().is_empty())
    {
        config.base_url = base_url;
    }
    let budget = DynamoBudget::new(dynamo, table);
    Ok(
        TrackstarClient::with_api_key_secret(config, api_key_secret, secrets)
            .map_err(ConfigError::Trackstar)?
            .with_shared_budget(budget)
            .with_priority(priority),
    )
}
