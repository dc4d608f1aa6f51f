//! What a connection-scoped call needs: which tenant and connection (the key of the
//! connection's shared rate budget and breaker), and where its access token is kept (the
//! token itself is read through the secret source, never held here). Plus the idempotency
//! key that makes a retried write safe.

use std::fmt;

use crate::domain::{ConnectionId, TenantId};

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

/// The `Idempotency-Key` of a write: 1 to 255 visible ASCII characters. A retried write
/// reuses the key of its first attempt, so Trackstar can replay instead of writing twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key must be 1 to 255 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidIdempotencyKey> {
        let value = value.into();
        let valid = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(value))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(format!("pk_{}", uuid::Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("abc-123").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
        assert!(IdempotencyKey::parse("k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("k".repeat(256)).is_err());
        let generated = IdempotencyKey::generate();
        assert_eq!(IdempotencyKey::parse(generated.as_str()), Ok(generated));
    }
}
