//! The lifecycle-jobs queue: one message per job run (a job to start, or a continuation of
//! one whose invocation reached its deadline), `MessageGroupId` = tenant (SQS fair queues).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;

/// The body of one lifecycle-jobs message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleMessage {
    pub tenant_id: TenantId,
    pub job_id: String,
    /// `created`, `continuation`, `busy`, `sweep`, `cli`.
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleQueueError {
    #[error("SQS SendMessage failed")]
    Sqs(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a lifecycle message could not be encoded")]
    Encode(#[source] serde_json::Error),
}

#[async_trait]
pub trait LifecycleQueue: Send + Sync {
    /// Returns once the queue durably accepted the message; `delay` (at most 15 min) hides
    /// it for that long.
    async fn enqueue(
        &self,
        message: &LifecycleMessage,
        delay: Duration,
    ) -> Result<(), LifecycleQueueError>;
}

#[derive(Debug, Clone)]
pub struct SqsLifecycleQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsLifecycleQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl LifecycleQueue for SqsLifecycleQueue {
    async fn enqueue(
        &self,
        message: &LifecycleMessage,
        delay: Duration,
    ) -> Result<(), LifecycleQueueError> {
        let body = serde_json::to_string(message).map_err(LifecycleQueueError::Encode)?;
        let delay_seconds =
            i32::try_from(delay.min(crate::sync::job::MAX_DELAY).as_secs()).unwrap_or(900);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(message.tenant_id.as_str())
            .delay_seconds(delay_seconds)
            .send()
            .await
            .map_err(|e| LifecycleQueueError::Sqs(Box::new(aws_sdk_sqs::Error::from(e))))?;
        Ok(())
    }
}

/// An in-memory queue: keeps what was enqueued (handler tests, the ops CLI's in-process
/// runs).
#[derive(Debug, Default)]
pub struct MemoryLifecycleQueue {
    messages: std::sync::Mutex<Vec<(LifecycleMessage, Duration)>>,
}

impl MemoryLifecycleQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes everything enqueued so far.
    pub fn drain(&self) -> Vec<LifecycleMessage> {
        std::mem::take(&mut *self.messages.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }
}

#[async_trait]
impl LifecycleQueue for MemoryLifecycleQueue {
    async fn enqueue(
        &self,
        message: &LifecycleMessage,
        delay: Duration,
    ) -> Result<(), LifecycleQueueError> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((message.clone(), delay));
        Ok(())
    }
}
