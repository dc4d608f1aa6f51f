//! The chain's cryptography: the key, the canonical encoding of an entry and of the head,
//! and their MACs.
//!
//! An entry's `hash` is HMAC-SHA256, under the tenant-independent audit key, of a
//! canonical encoding of everything the entry says and of its place in the chain (tenant,
//! sequence number, previous entry's hash, expiries). The encoding is a domain tag followed
//! by each field as a 4-byte big-endian length and its bytes, in a fixed order: no two
//! different entries encode alike, whatever their fields contain, and nothing depends on
//! how DynamoDB or serde order attributes. `details` is encoded as its JSON text with keys
//! sorted (`serde_json`'s map is ordered), so it survives a round trip through DynamoDB.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::domain::TenantId;
use crate::store::{AuditEntry, ChainHead, ChainLink};

type HmacSha256 = Hmac<Sha256>;

/// `prev_hash` of a tenant's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const ENTRY_TAG: &[u8] = b"packr.audit.entry.v1";
const HEAD_TAG: &[u8] = b"packr.audit.head.v1";

/// The audit chain's HMAC key (from Secrets Manager in production, see `audit::wiring`).
#[derive(Clone)]
pub struct ChainKey(SecretSlice<u8>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

/// Everything of an entry's link but its own hash: what the hash is computed over, with the
/// entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFields {
    pub seq: u64,
    pub prev_hash: String,
    /// The previous entry's expiry (unix seconds); none for the first entry.
    pub prev_expires_at: Option<i64>,
    /// This entry's expiry (unix seconds), DynamoDB's TTL attribute.
    pub expires_at: i64,
}

impl LinkFields {
    pub fn sealed(self, key: &ChainKey, entry: &AuditEntry) -> ChainLink {
        let hash = key.entry_hash(entry, &self);
        ChainLink {
            seq: self.seq,
            prev_hash: self.prev_hash,
            prev_expires_at: self.prev_expires_at,
            expires_at: self.expires_at,
            hash,
        }
    }
}

impl From<&ChainLink> for LinkFields {
    fn from(link: &ChainLink) -> Self {
        Self {
            seq: link.seq,
            prev_hash: link.prev_hash.clone(),
            prev_expires_at: link.prev_expires_at,
            expires_at: link.expires_at,
        }
    }
}

struct Encoder(HmacSha256);

impl Encoder {
    fn field(&mut self, bytes: &[u8]) {
        // Fields are far below 4 GiB (an item is at most 400 KB).
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.update(&len.to_be_bytes());
        self.0.update(bytes);
    }

    fn text(&mut self, value: &str) {
        self.field(value.as_bytes());
    }

    fn number(&mut self, value: i128) {
        self.text(&value.to_string());
    }

    fn hex(self) -> String {
        self.0
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl ChainKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(SecretSlice::from(key.into()))
    }

    fn encoder(&self, tag: &[u8]) -> Encoder {
        // HMAC accepts keys of any length.
        let mac =
            HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        let mut encoder = Encoder(mac);
        encoder.field(tag);
        encoder
    }

    /// The hash of `entry` at the place `link` gives it (lower-case hex, 64 digits).
    pub fn entry_hash(&self, entry: &AuditEntry, link: &LinkFields) -> String {
        let mut e = self.encoder(ENTRY_TAG);
        e.text(entry.tenant_id.as_str());
        e.number(link.seq.into());
        e.text(&link.prev_hash);
        match link.prev_expires_at {
            Some(at) => e.number(at.into()),
            None => e.text(""),
        }
        e.number(link.expires_at.into());
        e.text(&entry.id);
        e.text(entry.actor.as_str());
        e.text(&entry.actor_role);
        e.text(&entry.action);
        e.text(&entry.target);
        e.number(entry.at.unix_micros().into());
        e.text(&entry.request_id);
        match &entry.details {
            Some(details) => e.text(&details.to_string()),
            None => e.text(""),
        }
        e.hex()
    }

    /// The MAC of a chain head: it binds the tenant, the last sequence number and the last
    /// entry's hash, so a head rolled forward over a forged entry does not verify.
    pub fn head_mac(
        &self,
        tenant: &TenantId,
        seq: u64,
        hash: &str,
        last_id: &str,
        last_expires_at: i64,
    ) -> String {
        let mut e = self.encoder(HEAD_TAG);
        e.text(tenant.as_str());
        e.number(seq.into());
        e.text(hash);
        e.text(last_id);
        e.number(last_expires_at.into());
        e.hex()
    }

    /// Whether `head`'s MAC is this key's for its content.
    pub fn head_is_genuine(&self, tenant: &TenantId, head: &ChainHead) -> bool {
        let expected = self.head_mac(
            tenant,
            head.seq,
            &head.hash,
            &head.last_id,
            head.last_expires_at,
        );
        constant_time_eq(expected.as_bytes(), head.mac.as_bytes())
    }

    /// Whether `link.hash` is this key's hash of `entry` at its place.
    pub fn entry_is_genuine(&self, entry: &AuditEntry, link: &ChainLink) -> bool {
        let expected = self.entry_hash(entry, &LinkFields::from(link));
        constant_time_eq(expected.as_bytes(), link.hash.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Timestamp, UserId};

    fn entry() -> AuditEntry {
        AuditEntry {
            id: "aud_1".to_owned(),
            tenant_id: TenantId::parse("acme").unwrap(),
            actor: UserId::parse("user_1").unwrap(),
            actor_role: "tenant_admin".to_owned(),
            action: "orders.create".to_owned(),
            target: "order:ord_1".to_owned(),
            at: Timestamp::from_unix_seconds(1_700_000_000).unwrap(),
            request_id: "req_1".to_owned(),
            details: Some(serde_json::json!({ "b": 1, "a": [true, null] })),
        }
    }

    fn link(seq: u64) -> LinkFields {
        LinkFields {
            seq,
            prev_hash: GENESIS.to_owned(),
            prev_expires_at: None,
            expires_at: 1_731_536_000,
        }
    }

    #[test]
    fn an_entry_hash_depends_on_every_field_and_on_the_key() {
        let key = ChainKey::new(b"k1".to_vec());
        let base = key.entry_hash(&entry(), &link(1));
        assert_eq!(base.len(), 64);
        let mut edited = entry();
        edited.target = "order:ord_2".to_owned();
        assert_ne!(key.entry_hash(&edited, &link(1)), base);
        let mut edited = entry();
        edited.details = None;
        assert_ne!(key.entry_hash(&edited, &link(1)), base);
        assert_ne!(key.entry_hash(&entry(), &link(2)), base);
        let mut moved = link(1);
        moved.prev_expires_at = Some(1);
        assert_ne!(key.entry_hash(&entry(), &moved), base);
        assert_ne!(
            ChainKey::new(b"k2".to_vec()).entry_hash(&entry(), &link(1)),
            base
        );
    }

    #[test]
    fn field_boundaries_are_part_of_the_encoding() {
        // given two entries whose concatenated action + target are equal
        let key = ChainKey::new(b"k".to_vec());
        let mut a = entry();
        a.action = "ab".to_owned();
        a.target = "c".to_owned();
        let mut b = entry();
        b.action = "a".to_owned();
        b.target = "bc".to_owned();
        // then their hashes differ
        assert_ne!(key.entry_hash(&a, &link(1)), key.entry_hash(&b, &link(1)));
    }

    #[test]
    fn a_sealed_link_verifies_and_a_changed_one_does_not() {
        let key = ChainKey::new(b"k".to_vec());
        let sealed = link(3).sealed(&key, &entry());
        assert!(key.entry_is_genuine(&entry(), &sealed));
        let mut other = sealed.clone();
        other.seq = 4;
        assert!(!key.entry_is_genuine(&entry(), &other));
        assert!(!ChainKey::new(b"x".to_vec()).entry_is_genuine(&entry(), &sealed));
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        assert_eq!(
            format!("{:?}", ChainKey::new(b"secret".to_vec())),
            "ChainKey([redacted])"
        );
    }
}
