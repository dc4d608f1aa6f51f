//! Where the chain key comes from: given (tests, tools), or a Secrets Manager secret read on
//! the first append or verification and kept for the instance's life (like the cursor key:
//! no network I/O at cold start for functions that never audit).

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::chain::ChainKey;
use crate::secrets::{LazySecret, SecretError, SecretSource};

/// Shortest key accepted from a secret: 32 bytes, HMAC-SHA256's output size.
pub const MIN_KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no audit chain key is configured (AUDIT_SECRET_ARN)")]
    NotConfigured,
    #[error("the audit chain key secret could not be read")]
    Secret(#[from] SecretError),
    #[error("the audit chain key secret is shorter than {MIN_KEY_LEN} bytes")]
    TooShort,
}

#[derive(Clone)]
pub enum ChainKeys {
    Given(ChainKey),
    Secret(Arc<LazySecret<ChainKey>>),
    /// No key: every append fails (a function that must not audit, or a misconfiguration
    /// that must not pass silently).
    Missing,
}

impl std::fmt::Debug for ChainKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(key) => key.fmt(f),
            Self::Secret(secret) => write!(f, "ChainKeys {{ secret: {:?} }}", secret.name()),
            Self::Missing => f.write_str("ChainKeys::Missing"),
        }
    }
}

impl ChainKeys {
    pub fn from_secret(secrets: Arc<dyn SecretSource>, name: impl Into<String>) -> Self {
        Self::Secret(Arc::new(LazySecret::new(secrets, name)))
    }

    pub async fn key(&self) -> Result<&ChainKey, KeyError> {
        match self {
            Self::Given(key) => Ok(key),
            Self::Missing => Err(KeyError::NotConfigured),
            Self::Secret(secret) => {
                secret
                    .get(|value| {
                        let bytes = value.expose_secret().as_bytes();
                        if bytes.len() < MIN_KEY_LEN {
                            return Err(KeyError::TooShort);
                        }
                        Ok(ChainKey::new(bytes.to_vec()))
                    })
                    .await
            }
        }
    }
}
