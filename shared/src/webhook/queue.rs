//! The queue between ingest and processor: a port and its SQS adapter.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::envelope::QueuedEvent;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS {operation} failed")]
    Sqs {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("message could not be encoded")]
    Encode(#[source] serde_json::Error),
}

#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Returns only once the queue durably accepted the message.
    async fn enqueue(&self, event: &QueuedEvent) -> Result<(), QueueError>;
}

#[derive(Debug, Clone)]
pub struct SqsEventQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsEventQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Sqs {
            operation: "SendMessage",
            source: Box::new(e),
        })
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    async fn enqueue(&self, event: &QueuedEvent) -> Result<(), QueueError> {
        let body = serde_json::to_string(event).map_err(QueueError::Encode)?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            // SQS fair queues: one tenant's backlog does not delay the others.
            .message_group_id(event.tenant_id.as_str())
            .message_attributes("tenant_id", attribute(event.tenant_id.as_str())?)
            .message_attributes("event_id", attribute(event.event_id.as_str())?)
            .message_attributes("event_type", attribute(&event.event_type)?)
            .message_attributes("correlation_id", attribute(event.correlation_id.as_str())?)
            .send()
            .await
            .map_err(|e| QueueError::Sqs {
                operation: "SendMessage",
                source: Box::new(aws_sdk_sqs::Error::from(e)),
            })?;
        Ok(())
    }
}
