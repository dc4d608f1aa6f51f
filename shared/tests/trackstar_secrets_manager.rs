//! The Secrets Manager adapter (and the TTL cache in front of it) against the AWS emulator.
//! The test runner (`make test`) exports `AWS_ENDPOINT_URL`; without it these tests fail
//! with a clear message rather than reach for a real AWS account.

use std::sync::Arc;
use std::time::Duration;

use packr::secrets::{
    CachedSecretSource, SecretError, SecretSource, SecretWriter, SecretsManagerSource,
};
use secrecy::{ExposeSecret, SecretString};

fn require_emulator() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL must point at the AWS emulator: run `make test`, or \
         `eval \"$(infra/scripts/moto.sh start)\"` first"
    );
}

fn unique(name: &str) -> String {
    format!("packr-test/{name}/{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_stored_token_is_read_back_and_a_new_version_replaces_it() {
    require_emulator();
    // given
    let source = SecretsManagerSource::from_env().await;
    let name = unique("token");
    source
        .put(&name, &SecretString::from("tok_first"))
        .await
        .unwrap();
    // when / then
    assert_eq!(
        source.get(&name).await.unwrap().expose_secret(),
        "tok_first"
    );
    source
        .put(&name, &SecretString::from("tok_second"))
        .await
        .unwrap();
    assert_eq!(
        source.get(&name).await.unwrap().expose_secret(),
        "tok_second"
    );
}

#[tokio::test]
async fn a_missing_secret_is_not_found() {
    require_emulator();
    let source = SecretsManagerSource::from_env().await;
    let err = source.get(&unique("missing")).await.unwrap_err();
    assert!(matches!(err, SecretError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn the_cache_serves_a_rotated_secret_only_after_invalidate() {
    require_emulator();
    // given a cached secret that is then rotated in Secrets Manager
    let source = Arc::new(SecretsManagerSource::from_env().await);
    let cache = CachedSecretSource::new(source.clone(), Duration::from_secs(300));
    let name = unique("rotated");
    source.put(&name, &SecretString::from("old")).await.unwrap();
    assert_eq!(cache.get(&name).await.unwrap().expose_secret(), "old");
    source.put(&name, &SecretString::from("new")).await.unwrap();
    // when / then: the cache still holds the old copy until told otherwise
    assert_eq!(cache.get(&name).await.unwrap().expose_secret(), "old");
    cache.invalidate(&name).await;
    assert_eq!(cache.get(&name).await.unwrap().expose_secret(), "new");
}
