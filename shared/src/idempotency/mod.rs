//! Idempotency: "start processing, or here is the saved result".
//!
//! A record is keyed by tenant + scope + key. The first caller takes a lease (state
//! in-progress, with an expiry so a crashed attempt can be retried); it completes the
//! record with the response to replay, or abandons it on a failure worth retrying. A record
//! lives for a TTL, checked on every read (DynamoDB's own TTL deletion lags). The same key
//! with a different payload is a distinct error. All of it is enforced by DynamoDB
//! conditional writes, so concurrent starts have exactly one winner.

mod dynamo;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{TenantId, Timestamp};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
    Invalid,
}

/// A client-chosen idempotency key: 1–255 visible ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(value: impl Into<String>) -> Result<Self, KeyError> {
        let value = value.into();
        if value.is_empty()
            || value.len() > Self::MAX_LEN
            || !value.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(KeyError::Invalid);
        }
        Ok(Self(value))
    }

    /// A fresh random key (Packr's own writes to Trackstar).
    pub fn generate() -> Self {
        Self(format!("pk_{}", uuid::Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as it appears in storage: a digest, so any key is a safe key segment.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

/// What an idempotency key is unique within, e.g. `orders.create` or `webhook.apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope(&'static str);

impl Scope {
    /// Scopes are code constants: lower-case letters, digits, `.` and `_`.
    pub const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "scope must not be empty");
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_',
                "scope may contain only a-z, 0-9, '.', '_'"
            );
            i += 1;
        }
        Self(name)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// A digest of the request payload the key was first used with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of_bytes(payload: &[u8]) -> Self {
        Self(hex(&Sha256::digest(payload)))
    }

    /// Of a JSON value, independent of key order and white space in the original text.
    pub fn of_json(payload: &serde_json::Value) -> Self {
        // serde_json's Map is ordered (BTreeMap) without `preserve_order`, so this is
        // canonical.
        Self::of_bytes(payload.to_string().as_bytes())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The result saved for replay. `Debug`: the body (an order with its address, a message)
/// redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

crate::redacted_debug!(SavedResponse { status; body });

/// Proof of having started: needed to complete or abandon the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    tenant: TenantId,
    scope: Scope,
    key_digest: String,
    token: String,
    expires_at: Timestamp,
}

impl Lease {
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAction {
    /// Nobody has done this yet (or an earlier attempt crashed): do it, then complete.
    Start(Lease),
    /// Done before: return this.
    ReturnSaved(SavedResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("a request with this idempotency key is still in progress")]
    InProgress { retry_after: Duration },
    #[error("this idempotency key was used with a different payload")]
    PayloadMismatch,
    #[error("the lease on this idempotency record expired and was taken over")]
    LeaseLost,
    #[error("idempotency store failed")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyPolicy {
    /// How long an in-progress record blocks others before it counts as crashed.
    pub in_progress_expiry: Duration,
    /// How long a record (and its saved response) lives.
    pub record_ttl: Duration,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self {
            in_progress_expiry: Duration::from_secs(60),
            record_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn begin(
        &self,
        tenant: &TenantId,
        scope: Scope,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: Timestamp,
    ) -> Result<NextAction, IdempotencyError>;

    /// Saves the response; fails with `LeaseLost` if another attempt took over.
    async fn complete(
        &self,
        lease: &Lease,
        response: &SavedResponse,
        now: Timestamp,
    ) -> Result<(), IdempotencyError>;

    /// Gives the key up after a failure worth retrying, so the next attempt starts afresh.
    async fn abandon(&self, lease: &Lease) -> Result<(), IdempotencyError>;
}

pub use dynamo::DynamoIdempotencyStore;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("a".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse("a".repeat(256)),
            Err(KeyError::Invalid)
        );
        assert_eq!(IdempotencyKey::parse(""), Err(KeyError::Invalid));
        assert_eq!(IdempotencyKey::parse("has space"), Err(KeyError::Invalid));
        assert_eq!(IdempotencyKey::parse("ключ"), Err(KeyError::Invalid));
        let generated = IdempotencyKey::generate();
        assert_eq!(IdempotencyKey::parse(generated.as_str()), Ok(generated));
        assert!(IdempotencyKey::parse("order#1/retry").is_ok());
    }

    #[test]
    fn json_fingerprints_ignore_key_order_and_spacing() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "b": [1, 2], "a": 1 }"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[2,1]}"#).unwrap();
        assert_eq!(Fingerprint::of_json(&a), Fingerprint::of_json(&b));
        assert_ne!(Fingerprint::of_json(&a), Fingerprint::of_json(&c));
    }

    proptest! {
        #[test]
        fn key_digests_are_safe_key_segments(s in "[!-~]{1,255}") {
            let key = IdempotencyKey::parse(s).unwrap();
            let d = key.digest();
            prop_assert_eq!(d.len(), 64);
            prop_assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
