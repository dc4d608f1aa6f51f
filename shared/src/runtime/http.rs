//! One HTTPS client for every AWS SDK client of a process, with its TLS set up once.
//!
//! Without it each SDK client built (DynamoDB, SQS, Secrets Manager, and the STS client of
//! the default credential chain) gets an HTTPS client of its own, and each of those builds
//! a rustls configuration twice: once, thrown away, when the client is constructed
//! (`validate_base_client_config`, "so that native certs load at client initialization")
//! and once on its first request. Every build adds all root certificates to a new
//! `RootCertStore`, parsing each one. So a function with three clients did that work four
//! times in its init and three more times on the clients' first requests.
//!
//! [`shared_https_client`] is the SDK's own default client (rustls on aws-lc, the proxy
//! from the environment, the same connector settings per client) built once and set on the
//! `SdkConfig`, so every client shares its connectors (one per distinct timeout setting)
//! and its connection pool; [`TlsOnce`] passes the construction-time check through only
//! the first time. Init still sets TLS up once (the check builds and discards a connector,
//! which loads the root certificates: Lambda's init has a CPU burst of its own, and every
//! invocation needs them), and the first request of any client builds the one connector
//! all of them then use. Measured: BENCHMARKS.md (cold start, "Adopted since").
//!
//! Hand-written because the SDK offers no switch for it: `aws-smithy-http-client`'s
//! `HyperClient` always builds the construction-time connector.

use std::sync::{Mutex, PoisonError};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// The SDK's default HTTPS client (what `aws-smithy-runtime` builds for a client with a
/// current behavior version), built once for the whole process.
pub fn shared_https_client() -> SharedHttpClient {
    let inner = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            Connector::builder().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(TlsOnce::new(inner))
}

/// An HTTP client shared by several SDK clients whose construction-time check (which, for
/// the hyper client, builds and discards a TLS connector) runs only for the first of them.
#[derive(Debug)]
pub struct TlsOnce {
    inner: SharedHttpClient,
    validated: Mutex<bool>,
}

impl TlsOnce {
    pub fn new(inner: SharedHttpClient) -> Self {
        Self {
            inner,
            validated: Mutex::new(false),
        }
    }
}

impl HttpClient for TlsOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        // Held while the inner check runs: a client built meanwhile waits for its outcome
        // and checks again itself if it failed.
        let mut validated = self
            .validated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !*validated {
            self.inner
                .validate_base_client_config(runtime_components, cfg)?;
            *validated = true;
        }
        Ok(())
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_sdk_dynamodb::config::Credentials;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    /// What an HTTP client was asked to do.
    #[derive(Debug, Default)]
    struct Counts {
        validations: AtomicUsize,
        requests: AtomicUsize,
        failing_validations: AtomicUsize,
    }

    /// An HTTP client that counts its construction-time checks and answers every request
    /// with a 400 (the SDK call fails; only its arrival matters here).
    #[derive(Debug, Clone)]
    struct Counting(Arc<Counts>);

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(Answer(self.0.clone()))
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.validations.fetch_add(1, Ordering::SeqCst);
            let failing = self.0.failing_validations.load(Ordering::SeqCst);
            if failing > 0 {
                self.0
                    .failing_validations
                    .store(failing - 1, Ordering::SeqCst);
                return Err("no root certificates".into());
            }
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Answer(Arc<Counts>);

    impl HttpConnector for Answer {
        fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
            self.0.requests.fetch_add(1, Ordering::SeqCst);
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                StatusCode::try_from(400).expect("status"),
                SdkBody::from("{}"),
            )))
        }
    }

    async fn sdk_on(http: SharedHttpClient) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .load()
            .await
    }

    /// Builds the three SDK clients the functions use and sends one request through each.
    async fn three_clients_and_a_request_each(sdk: &SdkConfig) {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        assert!(dynamo.list_tables().send().await.is_err());
        assert!(sqs.list_queues().send().await.is_err());
        assert!(secrets.list_secrets().send().await.is_err());
    }

    #[tokio::test]
    async fn three_sdk_clients_on_one_config_run_the_construction_time_tls_check_once() {
        // Given: the same counting client, bare and behind TlsOnce
        let bare = Arc::new(Counts::default());
        let once = Arc::new(Counts::default());

        // When: three SDK clients are built from each config and each sends a request
        three_clients_and_a_request_each(
            &sdk_on(SharedHttpClient::new(Counting(bare.clone()))).await,
        )
        .await;
        three_clients_and_a_request_each(
            &sdk_on(SharedHttpClient::new(TlsOnce::new(SharedHttpClient::new(
                Counting(once.clone()),
            ))))
            .await,
        )
        .await;

        // Then: bare, every client runs the check (the hyper client builds a TLS connector
        // each time); behind TlsOnce only the first does, and all three requests still go
        // through the one shared client
        assert_eq!(bare.validations.load(Ordering::SeqCst), 3);
        assert_eq!(once.validations.load(Ordering::SeqCst), 1);
        assert_eq!(once.requests.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failed_check_is_run_again_by_the_next_client_and_a_passed_one_is_not() {
        // Given: an inner client whose first check fails
        let counts = Arc::new(Counts::default());
        counts.failing_validations.store(1, Ordering::SeqCst);
        let client = TlsOnce::new(SharedHttpClient::new(Counting(counts.clone())));
        let components = RuntimeComponentsBuilder::new("test");
        let cfg = ConfigBag::base();

        // When / Then: the failure is reported, the next check runs and passes, and later
        // ones are not run
        assert!(client
            .validate_base_client_config(&components, &cfg)
            .is_err());
        assert!(client
            .validate_base_client_config(&components, &cfg)
            .is_ok());
        assert!(client
            .validate_base_client_config(&components, &cfg)
            .is_ok());
        assert_eq!(counts.validations.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_shared_client_is_the_sdks_hyper_client() {
        // The SDK puts this into its user agent; the shared client must not change it.
        let metadata = shared_https_client()
            .connector_metadata()
            .expect("connector metadata");
        assert_eq!(metadata.name(), "hyper");
    }
}
