//! A TTL cache in front of any secret source: Lambda functions read each secret once per
//! TTL instead of on every call, and `invalidate` drops a copy the upstream rejected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;

use super::{SecretError, SecretSource};

pub struct CachedSecretSource<S> {
    inner: S,
    ttl: Duration,
    entries: Mutex<HashMap<String, (SecretString, Instant)>>,
}

impl<S: SecretSource> CachedSecretSource<S> {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SecretString, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl<S: SecretSource> SecretSource for CachedSecretSource<S> {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        if let Some((value, fetched_at)) = self.lock().get(name) {
            if fetched_at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = self.inner.get(name).await?;
        self.lock()
            .insert(name.to_owned(), (value.clone(), Instant::now()));
        Ok(value)
    }

    async fn invalidate(&self, name: &str) {
        self.lock().remove(name);
        self.inner.invalidate(name).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::secrets::InMemorySecretSource;

    #[tokio::test]
    async fn a_fresh_entry_is_served_from_the_cache() {
        // given
        let inner = Arc::new(InMemorySecretSource::with("s", "v1"));
        let cache = CachedSecretSource::new(inner.clone(), Duration::from_secs(60));
        // when
        cache.get("s").await.unwrap();
        inner.set("s", "v2");
        let second = cache.get("s").await.unwrap();
        // then
        assert_eq!(second.expose_secret(), "v1");
        assert_eq!(inner.get_count(), 1);
    }

    #[tokio::test]
    async fn an_expired_entry_is_read_again() {
        // given
        let inner = Arc::new(InMemorySecretSource::with("s", "v1"));
        let cache = CachedSecretSource::new(inner.clone(), Duration::from_millis(20));
        cache.get("s").await.unwrap();
        inner.set("s", "v2");
        // when
        tokio::time::sleep(Duration::from_millis(40)).await;
        let value = cache.get("s").await.unwrap();
        // then
        assert_eq!(value.expose_secret(), "v2");
        assert_eq!(inner.get_count(), 2);
    }

    #[tokio::test]
    async fn invalidate_forces_the_next_read_through() {
        // given
        let inner = Arc::new(InMemorySecretSource::with("s", "old"));
        let cache = CachedSecretSource::new(inner.clone(), Duration::from_secs(60));
        cache.get("s").await.unwrap();
        inner.set("s", "rotated");
        // when
        cache.invalidate("s").await;
        let value = cache.get("s").await.unwrap();
        // then
        assert_eq!(value.expose_secret(), "rotated");
        assert_eq!(inner.invalidation_count(), 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        // given
        let inner = Arc::new(InMemorySecretSource::new());
        let cache = CachedSecretSource::new(inner.clone(), Duration::from_secs(60));
        assert!(cache.get("s").await.is_err());
        // when
        inner.set("s", "now-there");
        // then
        assert_eq!(cache.get("s").await.unwrap().expose_secret(), "now-there");
    }
}
