//! Where the fallback move sends messages: a narrow port, so a failure can be injected in
//! tests without mocking the AWS SDK, and its SQS adapter.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use crate::ops::OpsError;

/// A dead-letter message as it is sent back to its source queue. `Debug`: the body (a
/// queued webhook with its payload) redacted.
#[derive(Clone, PartialEq)]
pub struct OutgoingMessage {
    /// The message id in the dead-letter queue (the source queue mints a new one).
    pub dlq_message_id: String,
    pub body: String,
    pub attributes: HashMap<String, MessageAttributeValue>,
    /// The tenant: SQS fair queues group by it.
    pub group_id: Option<String>,
}

crate::redacted_debug!(OutgoingMessage { dlq_message_id, attributes, group_id; body });

impl OutgoingMessage {
    /// Body and message attributes as received; the group id from the `MessageGroupId`
    /// system attribute, else from the `tenant_id` message attribute.
    pub fn from_received(message: &Message) -> Self {
        let attributes = message.message_attributes().cloned().unwrap_or_default();
        let group_id = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .filter(|g| !g.is_empty())
            .cloned()
            .or_else(|| {
                attributes
                    .get("tenant_id")
                    .and_then(|v| v.string_value())
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
            });
        Self {
            dlq_message_id: message.message_id().unwrap_or_default().to_owned(),
            body: message.body().unwrap_or_default().to_owned(),
            attributes,
            group_id,
        }
    }
}

/// SQS refused one entry of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub message: Option<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "{}: {message}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

/// The queue messages are moved to.
#[async_trait]
pub trait Destination: Send + Sync {
    /// Sends up to 10 messages. `Ok` holds one result per message, in order: `Ok(())` only
    /// when the queue durably accepted that message. `Err` means the call failed and no
    /// message of the batch counts as sent.
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<Result<(), Refusal>>, OpsError>;
}

/// `SendMessageBatch` to an SQS queue.
#[derive(Debug, Clone)]
pub struct SqsDestination {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDestination {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl Destination for SqsDestination {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<Result<(), Refusal>>, OpsError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
        for (index, message) in batch.iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&message.body)
                .set_message_attributes(
                    (!message.attributes.is_empty()).then(|| message.attributes.clone()),
                )
                .set_message_group_id(message.group_id.clone())
                .build()
                .map_err(|e| OpsError::Sqs {
                    operation: "SendMessageBatch",
                    source: Box::new(e),
                })?;
            request = request.entries(entry);
        }
        let out = request
            .send()
            .await
            .map_err(|e| OpsError::sqs("SendMessageBatch", e))?;

        // An entry SQS reports neither as sent nor as failed is treated as not sent: it stays
        // in the dead-letter queue (at worst it is sent again later, which the consumer's
        // idempotency absorbs), never deleted unsent.
        let mut results: Vec<Result<(), Refusal>> = vec![
            Err(Refusal {
                code: "NotReported".into(),
                message: Some("SendMessageBatch did not report this entry".into()),
            });
            batch.len()
        ];
        for ok in out.successful() {
            if let Some(slot) = ok
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Ok(());
            }
        }
        for failed in out.failed() {
            if let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| results.get_mut(i))
            {
                *slot = Err(Refusal {
                    code: failed.code().to_owned(),
                    message: failed.message().map(str::to_owned),
                });
            }
        }
        Ok(results)
    }
}
