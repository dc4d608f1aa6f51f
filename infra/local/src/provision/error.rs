use crate::template::TemplateError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why provisioning the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("DynamoDB {operation} on table {table} failed")]
    DynamoDb {
        operation: &'static str,
        table: String,
        #[source]
        source: BoxError,
    },
    #[error("SQS {operation} on queue {queue} failed")]
    Sqs {
        operation: &'static str,
        queue: String,
        #[source]
        source: BoxError,
    },
    #[error("Secrets Manager {operation} on secret {secret} failed")]
    SecretsManager {
        operation: &'static str,
        secret: String,
        #[source]
        source: BoxError,
    },
    #[error("S3 {operation} on bucket {bucket} failed")]
    S3 {
        operation: &'static str,
        bucket: String,
        #[source]
        source: BoxError,
    },
    #[error("the emulator's answer to {operation} on {resource} lacks {field}")]
    MissingField {
        operation: &'static str,
        resource: String,
        field: &'static str,
    },
    #[error("table {table} already exists with another schema ({difference}); restart the emulator or use another name")]
    TableDrift { table: String, difference: String },
    #[error("the template's queue {from} points at {to}, which was not provisioned")]
    UnknownQueue { from: String, to: String },
}

impl ProvisionError {
    pub(super) fn dynamodb(
        operation: &'static str,
        table: &str,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::DynamoDb {
            operation,
            table: table.to_owned(),
            source: source.into(),
        }
    }

    pub(super) fn sqs(operation: &'static str, queue: &str, source: impl Into<BoxError>) -> Self {
        Self::Sqs {
            operation,
            queue: queue.to_owned(),
            source: source.into(),
        }
    }

    pub(super) fn s3(operation: &'static str, bucket: &str, source: impl Into<BoxError>) -> Self {
        Self::S3 {
            operation,
            bucket: bucket.to_owned(),
            source: source.into(),
        }
    }

    pub(super) fn secrets(
        operation: &'static str,
        secret: &str,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::SecretsManager {
            operation,
            secret: secret.to_owned(),
            source: source.into(),
        }
    }
}
