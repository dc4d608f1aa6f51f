//! An in-memory secret source for tests and local runs. It counts reads and invalidations
//! so tests can assert how the client used it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretDeleter, SecretError, SecretSource, SecretWriter};

#[derive(Default)]
pub struct InMemorySecretSource {
    values: Mutex<HashMap<String, SecretString>>,
    gets: AtomicUsize,
    invalidations: AtomicUsize,
}

impl InMemorySecretSource {
    pub fn new() -> Self {
        Self::default()
    }

    /// A source holding one secret.
    pub fn with(name: &str, value: &str) -> Self {
        let source = Self::new();
        source.set(name, value);
        source
    }

    pub fn set(&self, name: &str, value: &str) {
        self.lock()
            .insert(name.to_owned(), SecretString::from(value.to_owned()));
    }

    pub fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    /// How many times `get` was called.
    pub fn get_count(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// How many times `invalidate` was called.
    pub fn invalidation_count(&self) -> usize {
        self.invalidations.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        // A poisoned map still holds valid secrets: keep serving them.
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SecretSource for InMemorySecretSource {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.lock()
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::NotFound {
                name: name.to_owned(),
            })
    }

    async fn invalidate(&self, _name: &str) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl SecretWriter for InMemorySecretSource {
    async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretError> {
        self.set(name, value.expose_secret());
        Ok(())
    }
}

#[async_trait]
impl SecretDeleter for InMemorySecretSource {
    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        Ok(self.lock().remove(name).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stored_secrets_are_returned_and_missing_ones_are_not_found() {
        // given
        let source = InMemorySecretSource::with("tok/conn_1", "tok_abc");
        // when / then
        let value = source.get("tok/conn_1").await.unwrap();
        assert_eq!(value.expose_secret(), "tok_abc");
        assert!(matches!(
            source.get("tok/other").await,
            Err(SecretError::NotFound { .. })
        ));
        assert_eq!(source.get_count(), 2);
    }
}
