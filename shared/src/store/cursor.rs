//! Opaque keyset-pagination cursors.
//!
//! A cursor carries the DynamoDB key of the last item served, bound to the tenant and the
//! query that produced it, and authenticated with HMAC-SHA256 under a server-side key. A
//! cursor that was tampered with, minted for another tenant, or minted for another query
//! (other filters, another listing) is rejected, never used.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::TenantId;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const TAG_LEN: usize = 32;
/// Cursors longer than this are rejected before any decoding.
pub const MAX_CURSOR_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is malformed")]
    Malformed,
    #[error("cursor was not issued by this service or was modified")]
    BadSignature,
    #[error("cursor does not belong to this query")]
    WrongQuery,
}

/// Key material for cursor signatures (from Secrets Manager in production).
#[derive(Clone)]
pub struct CursorCodec {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec { key: [redacted] }")
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    /// Digest of tenant + query description.
    b: String,
    /// The last item's key attributes.
    k: BTreeMap<String, String>,
}

/// Where a store's cursor key comes from: given, or the secret `name` read through
/// `secrets` on the first listing (not at cold start: that is network I/O, and only the
/// listings sign cursors), then kept for the instance's life, as a key read at init was.
#[derive(Clone)]
pub(crate) enum CursorKeys {
    Given(CursorCodec),
    Secret(std::sync::Arc<crate::secrets::LazySecret<CursorCodec>>),
}

impl std::fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(codec) => codec.fmt(f),
            Self::Secret(key) => write!(f, "CursorKeys {{ secret: {:?} }}", key.name()),
        }
    }
}

impl CursorKeys {
    pub(crate) fn from_secret(
        secrets: std::sync::Arc<dyn crate::secrets::SecretSource>,
        name: String,
    ) -> Self {
        Self::Secret(std::sync::Arc::new(crate::secrets::LazySecret::new(
            secrets, name,
        )))
    }

    pub(crate) async fn codec(&self) -> Result<&CursorCodec, crate::secrets::SecretError> {
        match self {
            Self::Given(codec) => Ok(codec),
            Self::Secret(key) => {
                key.get(|value| {
                    Ok::<_, crate::secrets::SecretError>(CursorCodec::new(
                        value.expose_secret().as_bytes().to_vec(),
                    ))
                })
                .await
            }
        }
    }
}

impl CursorCodec {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: SecretSlice::from(key.into()),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(self.key.expose_secret()).expect("HMAC takes any key length")
    }

    fn binding(tenant: &TenantId, query: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(tenant.as_str().as_bytes());
        hasher.update([0u8]);
        hasher.update(query.as_bytes());
        URL_SAFE_NO_PAD.encode(&hasher.finalize()[..16])
    }

    /// Encodes the position after `key` for this tenant and query.
    pub fn encode(&self, tenant: &TenantId, query: &str, key: BTreeMap<String, String>) -> String {
        let payload = Payload {
            v: VERSION,
            b: Self::binding(tenant, query),
            k: key,
        };
        // Serializing a struct of strings cannot fail.
        let mut bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor, checking its signature and that it belongs to this tenant and query.
    pub fn decode(
        &self,
        tenant: &TenantId,
        query: &str,
        cursor: &str,
    ) -> Result<BTreeMap<String, String>, CursorError> {
        if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| CursorError::Malformed)?;
        if bytes.len() <= TAG_LEN {
            return Err(CursorError::Malformed);
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag)
            .map_err(|_| CursorError::BadSignature)?;
        let payload: Payload = serde_json::from_slice(body).map_err(|_| CursorError::Malformed)?;
        if payload.v != VERSION {
            return Err(CursorError::Malformed);
        }
        if payload.b != Self::binding(tenant, query) {
            return Err(CursorError::WrongQuery);
        }
        Ok(payload.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("pk".to_owned(), "T#a#ORDER#1".to_owned()),
            ("sk".to_owned(), "ORDER".to_owned()),
        ])
    }

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[test]
    fn a_cursor_decodes_for_its_own_tenant_and_query() {
        let codec = CursorCodec::new(b"k".to_vec());
        let c = codec.encode(&tenant("a"), "orders|status=open", key());
        assert_eq!(
            codec.decode(&tenant("a"), "orders|status=open", &c),
            Ok(key())
        );
    }

    #[test]
    fn a_cursor_of_another_tenant_or_query_is_rejected() {
        let codec = CursorCodec::new(b"k".to_vec());
        let c = codec.encode(&tenant("a"), "orders|status=open", key());
        assert_eq!(
            codec.decode(&tenant("b"), "orders|status=open", &c),
            Err(CursorError::WrongQuery)
        );
        assert_eq!(
            codec.decode(&tenant("a"), "orders|status=packed", &c),
            Err(CursorError::WrongQuery)
        );
    }

    #[test]
    fn a_cursor_signed_with_another_key_is_rejected() {
        let c = CursorCodec::new(b"k1".to_vec()).encode(&tenant("a"), "q", key());
        assert_eq!(
            CursorCodec::new(b"k2".to_vec()).decode(&tenant("a"), "q", &c),
            Err(CursorError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let codec = CursorCodec::new(b"k".to_vec());
        for bad in ["", "!!!", "abc", &"A".repeat(5000)] {
            assert_eq!(
                codec.decode(&tenant("a"), "q", bad),
                Err(CursorError::Malformed)
            );
        }
    }

    proptest! {
        #[test]
        fn any_single_byte_change_is_detected(pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let codec = CursorCodec::new(b"k".to_vec());
            let c = codec.encode(&tenant("a"), "q", key());
            let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
            let i = pos.index(bytes.len());
            bytes[i] ^= flip;
            let tampered = URL_SAFE_NO_PAD.encode(bytes);
            prop_assert!(codec.decode(&tenant("a"), "q", &tampered).is_err());
        }

        #[test]
        fn decode_never_panics(s in "\\PC{0,300}") {
            let codec = CursorCodec::new(b"k".to_vec());
            let _ = codec.decode(&tenant("a"), "q", &s);
        }
    }
}
