//! Creates the template's table, queues, secrets and buckets on the AWS emulator.
//!
//! Names are `<prefix>-<LogicalId>`, so many test runs can share one emulator. Everything is
//! idempotent: provisioning again with the same prefix finds what exists and converges it.

mod buckets;
mod error;
mod queues;
mod secret_values;
mod secrets;
mod table;

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use crate::template::Template;

pub use error::ProvisionError;
pub use secret_values::DEV_TRACKSTAR_API_KEY;
pub use table::provision_table;

/// What [`provision`] created, by the template's logical ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provisioned {
    pub table_name: String,
    pub queue_urls: BTreeMap<String, String>,
    pub queue_arns: BTreeMap<String, String>,
    pub secret_arns: BTreeMap<String, String>,
    /// Bucket names by logical id (`<prefix>-<logicalid>`, lower case).
    pub bucket_names: BTreeMap<String, String>,
}

impl Provisioned {
    /// The URL of the queue with this logical id.
    pub fn queue_url(&self, logical_id: &str) -> Option<&str> {
        self.queue_urls.get(logical_id).map(String::as_str)
    }

    /// The name of the bucket with this logical id.
    pub fn bucket_name(&self, logical_id: &str) -> Option<&str> {
        self.bucket_names.get(logical_id).map(String::as_str)
    }

    /// The ARN of the secret with this logical id.
    pub fn secret_arn(&self, logical_id: &str) -> Option<&str> {
        self.secret_arns.get(logical_id).map(String::as_str)
    }
}

/// The emulator name of a template resource.
pub fn resource_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{logical_id}")
}

/// Creates (or converges) only the template's buckets under `prefix`: their names by
/// logical id.
pub async fn provision_buckets(
    sdk: &SdkConfig,
    template: &Template,
    prefix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    buckets::create_all(
        &packr::lifecycle::wiring::s3_client(sdk),
        &template.buckets()?,
        prefix,
    )
    .await
}

/// Creates (or converges) every table, queue and secret of `template` under `prefix`.
pub async fn provision(
    sdk: &SdkConfig,
    template: &Template,
    prefix: &str,
) -> Result<Provisioned, ProvisionError> {
    let table_spec = template.table()?;
    let queue_specs = template.queues()?;
    let secret_specs = template.secrets()?;
    let bucket_specs = template.buckets()?;

    let table_name = resource_name(prefix, &table_spec.logical_id);
    table::create(
        &aws_sdk_dynamodb::Client::new(sdk),
        &table_spec,
        &table_name,
    )
    .await?;
    let queues = queues::create_all(&aws_sdk_sqs::Client::new(sdk), &queue_specs, prefix).await?;
    let secret_arns = secrets::create_all(
        &aws_sdk_secretsmanager::Client::new(sdk),
        &secret_specs,
        prefix,
    )
    .await?;
    let bucket_names = buckets::create_all(
        &packr::lifecycle::wiring::s3_client(sdk),
        &bucket_specs,
        prefix,
    )
    .await?;

    Ok(Provisioned {
        table_name,
        queue_urls: queues.urls,
        queue_arns: queues.arns,
        secret_arns,
        bucket_names,
    })
}
