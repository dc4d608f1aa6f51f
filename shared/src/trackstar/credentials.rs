//! What a connection-scoped call needs: which tenant and connection (the key of the
//! connection's shared rate budget and breaker), and where its access token is kept (the
//! token itself is read through the secret source, never held here). Plus the idempotency
//! key that makes a retried write safe.

use crate::domain::{Connection, ConnectionId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionCredentials {
    /// The tenant the connection belongs to.
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    /// The Secrets Manager name (or ARN) of the connection's access token.
    pub access_token_secret: String,
}

impl ConnectionCredentials {
    pub fn new(
        tenant_id: TenantId,
        connection_id: ConnectionId,
        access_token_secret: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            connection_id,
            access_token_secret: access_token_secret.into(),
        }
    }
}

/// The one place a connection's credentials are taken from the stored connection.
impl From<&Connection> for ConnectionCredentials {
    fn from(connection: &Connection) -> Self {
        Self::new(
            connection.tenant_id.clone(),
            connection.connection_id.clone(),
            connection.access_token_secret.clone(),
        )
    }
}

/// The `Idempotency-Key` of a write: the one key type of Packr (1 to 255 visible ASCII
/// characters). A retried write reuses the key of its first attempt, so Trackstar can
/// replay instead of writing twice; a client's key is passed on as it is.
pub use crate::idempotency::{IdempotencyKey, KeyError as InvalidIdempotencyKey};
