//! The erasure guard of the one upsert path: before an object's item is built
//! (`DynamoStore::conditional_upsert`) or a message is stored, the tenant's erasures
//! redact whatever matches, so a webhook, sync, reconciliation, replay, redrive or
//! write-through of an erased person's data stores it redacted, and a redacted copy
//! compares as a duplicate of the redacted stored one.
//!
//! The tenant's erasures are loaded by one strongly consistent Query of `T#<t>#ERASURE`
//! and kept per instance for [`GUARD_CACHE_TTL`]; the hash key is read on the first
//! tenant that has an erasure (a tenant without one costs the Query per TTL, no secret
//! read). A failed load fails the write (retried as any store error): nothing is written
//! unchecked. Because of the cache, an erasure's walk of what is stored waits
//! [`walk_wait`] after its record was written: by then every writer has the record, and
//! any write that read the cache before it has landed (writes carrying a feed position
//! are given up after `changes::WRITE_WINDOW`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::hash::{HashKey, HashKeyError};
use super::record::ErasureRecord;
use super::redaction::Matcher;
use crate::domain::{Message, MessageBody, TenantId};
use crate::resource::DomainObject;
use crate::secrets::{LazySecret, SecretError, SecretSource};
use crate::store::dynamo::DynamoStore;
use crate::store::StoreError;

/// How long an instance keeps a tenant's erasures.
pub const GUARD_CACHE_TTL: Duration = Duration::from_secs(10);

/// How long an erasure's walk waits after its record was written: the guard's cache time
/// plus the store's write window, plus a second for clocks.
pub fn walk_wait() -> Duration {
    GUARD_CACHE_TTL + crate::changes::WRITE_WINDOW + Duration::from_secs(1)
}

/// Why the hash key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyKeyError {
    #[error("the privacy hash key could not be read")]
    Secret(#[from] SecretError),
    #[error("the privacy hash key is unusable")]
    Key(#[from] HashKeyError),
}

/// The hash key, read from its secret on first use and kept.
pub struct PrivacyKey(LazySecret<HashKey>);

impl PrivacyKey {
    pub fn from_secret(secrets: Arc<dyn SecretSource>, name: impl Into<String>) -> Self {
        Self(LazySecret::new(secrets, name))
    }

    pub async fn get(&self) -> Result<&HashKey, PrivacyKeyError> {
        self.0
            .get(|secret| HashKey::from_secret(secret).map_err(PrivacyKeyError::from))
            .await
    }
}

type Cached = (Instant, Option<Arc<Matcher>>);

/// The guard (one per instance, shared by its store's clones).
pub struct ErasureGuard {
    key: PrivacyKey,
    ttl: Duration,
    cache: Mutex<HashMap<TenantId, Cached>>,
}

impl std::fmt::Debug for ErasureGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasureGuard")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A tenant's erasures as one matcher (`None`: it has none).
pub fn matcher_of(tenant: &TenantId, key: &HashKey, records: &[ErasureRecord]) -> Option<Matcher> {
    if records.is_empty() {
        return None;
    }
    let mut matcher = Matcher::new(tenant.clone(), key.clone());
    for r in records {
        matcher.add(
            &r.id,
            r.email_hash.iter().chain(&r.email_hashes).cloned(),
            r.name_postal_hash.as_deref(),
            r.name_hashes.iter().cloned(),
            r.order_ids.iter().cloned(),
        );
    }
    Some(matcher)
}

impl ErasureGuard {
    pub fn new(key: PrivacyKey) -> Self {
        Self::with_ttl(key, GUARD_CACHE_TTL)
    }

    pub fn with_ttl(key: PrivacyKey, ttl: Duration) -> Self {
        Self {
            key,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn key(&self) -> &PrivacyKey {
        &self.key
    }

    fn cached(&self, tenant: &TenantId) -> Option<Option<Arc<Matcher>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(tenant)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, m)| m.clone())
    }

    /// Forgets the tenant's erasures (after this instance added to them).
    pub fn invalidate(&self, tenant: &TenantId) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(tenant);
    }

    /// The tenant's erasures: cached, else one Query.
    pub async fn matcher(
        &self,
        store: &DynamoStore,
        tenant: &TenantId,
    ) -> Result<Option<Arc<Matcher>>, StoreError> {
        if let Some(found) = self.cached(tenant) {
            return Ok(found);
        }
        let loaded_at = Instant::now();
        let records = store.list_erasures(tenant).await?;
        let matcher = if records.is_empty() {
            None
        } else {
            let key = self.key.get().await.map_err(StoreError::PrivacyKey)?;
            matcher_of(tenant, key, &records).map(Arc::new)
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(tenant.clone(), (loaded_at, matcher.clone()));
        Ok(matcher)
    }

    /// `object` redacted when it matches an erasure of the tenant (an order's id is then
    /// kept on the erasures it matched, so the person's returns match too); `None` when it
    /// matches none.
    pub async fn redact_object(
        &self,
        store: &DynamoStore,
        tenant: &TenantId,
        object: &DomainObject,
    ) -> Result<Option<DomainObject>, StoreError> {
        let Some(matcher) = self.matcher(store, tenant).await? else {
            return Ok(None);
        };
        let Some((redacted, found)) = object.redacted(&matcher) else {
            return Ok(None);
        };
        // Kept on the erasures: the order's returns, the name and email in free text.
        let erasures = found.erasures.clone();
        let mut links = super::record::ErasureLinks::default();
        links.extend(found);
        if !links.is_empty() {
            for erasure in &erasures {
                store.add_erasure_links(tenant, erasure, &links).await?;
            }
            self.invalidate(tenant);
        }
        tracing::info!(
            kind = %object.kind(),
            id = object.id(),
            erasures = erasures.len(),
            "object redacted by an erasure"
        );
        Ok(Some(redacted))
    }

    /// `message` with the erased emails and names in its body replaced, when it has any.
    pub async fn redact_message(
        &self,
        store: &DynamoStore,
        tenant: &TenantId,
        message: &Message,
    ) -> Result<Option<Message>, StoreError> {
        let Some(matcher) = self.matcher(store, tenant).await? else {
            return Ok(None);
        };
        Ok(redact_message_with(&matcher, message))
    }
}

/// `message` with its body scrubbed by `matcher`, when anything was found.
pub fn redact_message_with(matcher: &Matcher, message: &Message) -> Option<Message> {
    let (body, _) = matcher.scrub_text(message.body.as_str())?;
    // A scrubbed body is never blank and only grows by a few characters per occurrence;
    // past the limit it is cut (a cut message beats one that keeps the identifier).
    let body = MessageBody::parse(body.clone()).unwrap_or_else(|_| {
        let cut: String = body.chars().take(MessageBody::MAX_CHARS).collect();
        MessageBody::parse(cut).unwrap_or_else(|_| {
            MessageBody::parse(super::redaction::ERASED).unwrap_or_else(|_| message.body.clone())
        })
    });
    Some(Message {
        body,
        ..message.clone()
    })
}
