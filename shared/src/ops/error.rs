//! The one error type of the ops boundary.

/// Why an ops command could not run (or stopped). Per-message failures of a redrive are not
/// errors: they are counted in the summary and the messages stay in the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("SQS {operation} failed")]
    Sqs {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("SQS {operation} answered without {field}")]
    MissingField {
        operation: &'static str,
        field: &'static str,
    },
    #[error("SQS {operation} refused {refused} of its entries")]
    Refused {
        operation: &'static str,
        refused: usize,
    },
    #[error("cannot tell which queue {dlq_url} is the dead-letter queue of: {reason}; pass the source queue URL")]
    SourceUnresolved { dlq_url: String, reason: String },
    #[error("invalid option: {0}")]
    InvalidOption(&'static str),
}

impl OpsError {
    pub(crate) fn sqs(operation: &'static str, error: impl Into<aws_sdk_sqs::Error>) -> Self {
        Self::Sqs {
            operation,
            source: Box::new(error.into()),
        }
    }
}
