//! The AWS Secrets Manager adapter. It uses the standard credential and endpoint chain
//! (`AWS_ENDPOINT_URL` points it at the local emulator), with no test-only branches.

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretDeleter, SecretError, SecretSource, SecretWriter};

#[derive(Clone, Debug)]
pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client of this SDK configuration (for tools that load theirs once).
    pub fn from_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(sdk))
    }

    /// Builds the client from the environment (region, credentials, endpoint override).
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(Client::new(&config))
    }
}

fn access_error<E>(name: &str, err: SdkError<E>) -> SecretError
where
    E: std::error::Error + Send + Sync + 'static,
{
    SecretError::Access {
        name: name.to_owned(),
        source: DisplayErrorContext(err).to_string().into(),
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        let result = self.client.get_secret_value().secret_id(name).send().await;
        match result {
            Ok(output) => output.secret_string.map(SecretString::from).ok_or_else(|| {
                SecretError::NoStringValue {
                    name: name.to_owned(),
                }
            }),
            Err(err) => {
                let not_found = err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                if not_found {
                    Err(SecretError::NotFound {
                        name: name.to_owned(),
                    })
                } else {
                    Err(access_error(name, err))
                }
            }
        }
    }

    async fn invalidate(&self, _name: &str) {
        // Nothing cached here; `CachedSecretSource` holds the copies.
    }
}

#[async_trait]
impl SecretWriter for SecretsManagerSource {
    /// Creates the secret, or stores a new version when it already exists.
    async fn put(&self, name: &str, value: &SecretString) -> Result<(), SecretError> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose_secret())
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                self.client
                    .put_secret_value()
                    .secret_id(name)
                    .secret_string(value.expose_secret())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| access_error(name, e))
            }
            Err(err) => Err(access_error(name, err)),
        }
    }
}

#[async_trait]
impl SecretDeleter for SecretsManagerSource {
    /// `DeleteSecret` with `ForceDeleteWithoutRecovery`: gone at once, no 7-30 day window
    /// in which the token could still be read.
    async fn delete(&self, name: &str) -> Result<bool, SecretError> {
        let deleted = self
            .client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(access_error(name, err)),
        }
    }
}
