//! A value made from a secret on first use and kept for the instance's life: no network I/O
//! at cold start for the functions that never need it (the cursor key signs only listings'
//! cursors, the audit chain key only mutations' entries, and most invocations never call
//! Trackstar with the organisation key).

use std::sync::Arc;

use secrecy::SecretString;

use super::{SecretError, SecretSource};

pub struct LazySecret<T> {
    secrets: Arc<dyn SecretSource>,
    name: String,
    value: tokio::sync::OnceCell<T>,
}

impl<T> LazySecret<T> {
    pub fn new(secrets: Arc<dyn SecretSource>, name: impl Into<String>) -> Self {
        Self {
            secrets,
            name: name.into(),
            value: tokio::sync::OnceCell::new(),
        }
    }

    /// The secret's name (never its value).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value: made by `make` from the secret on the first call that succeeds, then
    /// the same value every time. A failed read or `make` is tried again on the next call.
    pub async fn get<E: From<SecretError>>(
        &self,
        make: impl FnOnce(&SecretString) -> Result<T, E>,
    ) -> Result<&T, E> {
        self.value
            .get_or_try_init(|| async {
                let secret = self.secrets.get(&self.name).await?;
                make(&secret)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::InMemorySecretSource;

    #[tokio::test]
    async fn the_value_is_made_once_and_a_failure_is_tried_again() {
        // given a secret source holding the key
        let secrets = Arc::new(InMemorySecretSource::with("k", "0123456789"));
        let lazy: LazySecret<usize> = LazySecret::new(secrets, "k");

        // when the first make fails, then another succeeds
        let failed: Result<&usize, SecretError> = lazy
            .get(|_| Err(SecretError::NotFound { name: "k".into() }))
            .await;
        let made = lazy
            .get(|s| Ok::<_, SecretError>(secrecy::ExposeSecret::expose_secret(s).len()))
            .await
            .copied();

        // then the failure was not kept, the value is, and later makes are not called
        assert!(failed.is_err());
        assert_eq!(made.unwrap(), 10);
        let kept = lazy
            .get(|_| -> Result<usize, SecretError> { panic!("made twice") })
            .await
            .copied();
        assert_eq!(kept.unwrap(), 10);
        assert_eq!(lazy.name(), "k");
    }
}
