//! The queue between ingest and processor: a port and its SQS adapter.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

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

    /// Sends each event hidden for its delay (at most 15 min; replays spread this way);
    /// one result per event, in order. Queues without delays send them at once.
    async fn enqueue_delayed(
        &self,
        events: &[(QueuedEvent, Duration)],
    ) -> Vec<Result<(), QueueError>> {
        let mut results = Vec::with_capacity(events.len());
        for (event, _) in events {
            results.push(self.enqueue(event).await);
        }
        results
    }
}

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

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

fn attributes(event: &QueuedEvent) -> Result<HashMap<String, MessageAttributeValue>, QueueError> {
    Ok(HashMap::from([
        ("tenant_id".to_owned(), attribute(event.tenant_id.as_str())?),
        ("event_id".to_owned(), attribute(event.event_id.as_str())?),
        ("event_type".to_owned(), attribute(&event.event_type)?),
        (
            "correlation_id".to_owned(),
            attribute(event.correlation_id.as_str())?,
        ),
    ]))
}

fn refused(reason: String) -> QueueError {
    QueueError::Sqs {
        operation: "SendMessageBatch",
        source: reason.into(),
    }
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    /// `SendMessageBatch`, ten at a time, each with its own `DelaySeconds`.
    async fn enqueue_delayed(
        &self,
        events: &[(QueuedEvent, Duration)],
    ) -> Vec<Result<(), QueueError>> {
        let mut results: Vec<Result<(), QueueError>> = Vec::with_capacity(events.len());
        for chunk in events.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            let mut chunk_results: Vec<Option<Result<(), QueueError>>> =
                (0..chunk.len()).map(|_| None).collect();
            for (i, (event, delay)) in chunk.iter().enumerate() {
                let delay = i32::try_from(delay.min(&MAX_DELAY).as_secs()).unwrap_or(900);
                let built = serde_json::to_string(event)
                    .map_err(QueueError::Encode)
                    .and_then(|body| {
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("e{i}"))
                            .message_body(body)
                            .message_group_id(event.tenant_id.as_str())
                            .delay_seconds(delay)
                            .set_message_attributes(Some(attributes(event)?))
                            .build()
                            .map_err(|e| QueueError::Sqs {
                                operation: "SendMessageBatch",
                                source: Box::new(e),
                            })
                    });
                match built {
                    Ok(entry) => entries.push(entry),
                    Err(e) => chunk_results[i] = Some(Err(e)),
                }
            }
            if !entries.is_empty() {
                match self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                {
                    Ok(output) => {
                        for ok in output.successful() {
                            if let Some(i) = index_of(ok.id()) {
                                chunk_results[i] = Some(Ok(()));
                            }
                        }
                        for failed in output.failed() {
                            if let Some(i) = index_of(failed.id()) {
                                chunk_results[i] = Some(Err(refused(format!(
                                    "{}: {}",
                                    failed.code(),
                                    failed.message().unwrap_or("")
                                ))));
                            }
                        }
                    }
                    Err(e) => {
                        let e = aws_sdk_sqs::Error::from(e);
                        for entry in &entries {
                            if let Some(i) = index_of(entry.id()) {
                                chunk_results[i] = Some(Err(refused(e.to_string())));
                            }
                        }
                    }
                }
            }
            results.extend(
                chunk_results.into_iter().map(|r| {
                    r.unwrap_or_else(|| Err(refused("no answer for the entry".to_owned())))
                }),
            );
        }
        results
    }

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

fn index_of(entry_id: &str) -> Option<usize> {
    entry_id.strip_prefix('e')?.parse().ok()
}
