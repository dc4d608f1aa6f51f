//! The keyed hashes an erasure keeps instead of the identifier: HMAC-SHA256 under the
//! secret `PrivacyHashSecret`, over the tenant id, the kind of identifier and its
//! normalised value (length-prefixed), so the same person hashes differently per tenant and
//! the hashes cannot be reversed by hashing guessed addresses without the key.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::subject::ErasureSubject;
use crate::domain::TenantId;

type HmacSha256 = Hmac<Sha256>;

/// Fewest bytes a hash key may have.
pub const MIN_KEY_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashKeyError {
    #[error("the privacy hash key is shorter than {MIN_KEY_BYTES} bytes")]
    TooShort,
}

/// What an identifier is (part of the hashed message, so an email never collides with a
/// name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    Email,
    NamePostal,
    Name,
}

impl HashKind {
    fn label(self) -> &'static str {
        match self {
            HashKind::Email => "email",
            HashKind::NamePostal => "name+postal_code",
            HashKind::Name => "name",
        }
    }
}

/// The HMAC key. No `Debug` of its bytes.
#[derive(Clone)]
pub struct HashKey(Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(<redacted>)")
    }
}

impl HashKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, HashKeyError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(HashKeyError::TooShort);
        }
        Ok(Self(bytes))
    }

    pub fn from_secret(secret: &SecretString) -> Result<Self, HashKeyError> {
        Self::new(secret.expose_secret().trim().as_bytes().to_vec())
    }

    /// The hash of normalised `parts` of `kind` for `tenant`, hex.
    pub fn hash(&self, tenant: &TenantId, kind: HashKind, parts: &[&str]) -> String {
        // new_from_slice accepts a key of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes a key of any length"),
        };
        for field in ["packr.erasure.v1", tenant.as_str(), kind.label()]
            .into_iter()
            .chain(parts.iter().copied())
        {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        hex(&mac.finalize().into_bytes())
    }

    pub fn email(&self, tenant: &TenantId, normalized_email: &str) -> String {
        self.hash(tenant, HashKind::Email, &[normalized_email])
    }

    pub fn name_postal(&self, tenant: &TenantId, name: &str, postal: &str) -> String {
        self.hash(tenant, HashKind::NamePostal, &[name, postal])
    }

    pub fn name(&self, tenant: &TenantId, normalized_name: &str) -> String {
        self.hash(tenant, HashKind::Name, &[normalized_name])
    }

    /// The hashes an erasure of `subject` keeps.
    pub fn subject(&self, tenant: &TenantId, subject: &ErasureSubject) -> SubjectHashes {
        match subject {
            ErasureSubject::Email(email) => SubjectHashes {
                email: Some(self.email(tenant, email)),
                name_postal: None,
                name: None,
            },
            ErasureSubject::NamePostal { name, postal_code } => SubjectHashes {
                email: None,
                name_postal: Some(self.name_postal(tenant, name, postal_code)),
                name: Some(self.name(tenant, name)),
            },
        }
    }
}

/// The hashes of one erasure's subject.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectHashes {
    pub email: Option<String>,
    pub name_postal: Option<String>,
    /// The name alone: what free text (notes, messages) is searched for.
    pub name: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> HashKey {
        HashKey::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap()
    }

    #[test]
    fn the_same_person_hashes_the_same_within_a_tenant_and_differently_across_tenants() {
        let (a, b) = (
            TenantId::parse("acme").unwrap(),
            TenantId::parse("globex").unwrap(),
        );
        let subject = ErasureSubject::email(" Jane@Example.com").unwrap();
        let again = ErasureSubject::email("jane@example.COM ").unwrap();
        assert_eq!(key().subject(&a, &subject), key().subject(&a, &again));
        assert_ne!(key().subject(&a, &subject), key().subject(&b, &subject));
        let other_key = HashKey::new(b"another key of sixteen+ bytes".to_vec()).unwrap();
        assert_ne!(key().subject(&a, &subject), other_key.subject(&a, &subject));
    }

    #[test]
    fn the_hash_holds_no_identifier_and_kinds_never_collide() {
        let t = TenantId::parse("acme").unwrap();
        let h = key().email(&t, "jane@example.com");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("jane"));
        assert_ne!(key().name(&t, "jane"), key().email(&t, "jane"));
        // length prefixes: ("ab", "c") differs from ("a", "bc")
        assert_ne!(
            key().name_postal(&t, "ab", "C"),
            key().name_postal(&t, "a", "BC")
        );
    }

    #[test]
    fn a_name_subject_keeps_the_name_alone_for_free_text() {
        let t = TenantId::parse("acme").unwrap();
        let hashes = key().subject(
            &t,
            &ErasureSubject::name_postal("Jane Roe", "12345").unwrap(),
        );
        assert_eq!(hashes.name, Some(key().name(&t, "jane roe")));
        assert!(hashes.email.is_none() && hashes.name_postal.is_some());
        assert_eq!(
            HashKey::new(b"short".to_vec()).unwrap_err(),
            HashKeyError::TooShort
        );
    }
}
