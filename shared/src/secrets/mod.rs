//! Secrets (Trackstar access tokens, API keys, webhook secrets): a narrow port, its AWS
//! Secrets Manager adapter, a TTL cache in front of it, and an in-memory implementation.
//!
//! Values are `secrecy::SecretString` end to end: they have no `Debug`/`Display` exposure,
//! so a secret cannot reach a log by accident.

mod aws;
mod cache;
mod lazy;
mod memory;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::{ConnectionId, TenantId};

pub use aws::SecretsManagerSource;
pub use cache::CachedSecretSource;
pub use lazy::LazySecret;
pub use memory::InMemorySecretSource;

/// Why a secret could not be read or written. Carries the secret's *name*, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}` does not exist")]
    NotFound { name: String },
    #[error("secret `{name}` has no string value")]
    NoStringValue { name: String },
    #[error("secret `{name}` could not be accessed")]
    Access {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The Secrets Manager name of a connection's access token: `<prefix><tenant>/<connection>`.
/// The tenant is the verified one of the request (never from a body or path), and neither
/// id can hold a `/` or `..` (their types refuse both), so the name of one tenant's token
/// cannot be spelled from another tenant's request. Readers do not rebuild it: they use
/// the name stored on the connection (`Connection::access_token_secret`), so connections
/// linked under an older naming keep working.
pub fn connection_token_name(prefix: &str, tenant: &TenantId, connection: &ConnectionId) -> String {
    format!("{prefix}{tenant}/{connection}")
}

/// Reads secrets by name.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value of the secret called `name`.
    async fn get(&self, name: &str) -> Result<SecretString, SecretError>;

    /// Forget any cached copy of `name`, so the next `get` reads it afresh (used after the
    /// upstream rejected a credential). A no-op for sources without a cache.
    async fn invalidate(&self, name: &str);
}

/// Creates or replaces secrets (e.g. storing a Trackstar access token after the link flow).
#[async_trait]
pub trait SecretWriter: Send + Sync {
    async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretError>;
}

/// Deletes secrets for good (an offboarded connection's access token).
#[async_trait]
pub trait SecretDeleter: Send + Sync {
    /// Deletes `name` at once, without a recovery window; `false` when it did not exist
    /// (deleted already), so a repeated deletion is not an error.
    async fn delete(&self, name: &str) -> Result<bool, SecretError>;
}

#[async_trait]
impl<T: SecretSource + ?Sized> SecretSource for std::sync::Arc<T> {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        (**self).get(name).await
    }

    async fn invalidate(&self, name: &str) {
        (**self).invalidate(name).await
    }
}
