//! Lambda's SQS event source mapping, emulated: receive a batch, hand it to the function as
//! the `SqsEvent` Lambda would send, then delete exactly the messages the function did not
//! report in `batchItemFailures` (`FunctionResponseTypes: [ReportBatchItemFailures]`).
//!
//! Failed messages are left alone: they come back after the visibility timeout, and SQS's
//! receive count drives the redrive to the DLQ (`RedrivePolicy.maxReceiveCount`, which the
//! emulator applies on receive, as SQS does). A response naming a message that is not in the
//! batch (or an empty id) fails the whole batch, as Lambda does; so does a handler panic
//! (a function error).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the mapping polls. `Default` is the template's mapping: batch 10, the queue's own
/// visibility timeout; 1 s long polls keep shutdown quick locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsmConfig {
    /// Messages per batch, 1–10 (SQS's receive limit).
    pub batch_size: i32,
    /// Long-poll wait of each receive, 0–20 s.
    pub wait_seconds: i32,
    /// Visibility timeout asked for on receive; `None` keeps the queue's.
    pub visibility_timeout: Option<Duration>,
}

impl Default for EsmConfig {
    fn default() -> Self {
        Self {
            batch_size: 10,
            wait_seconds: 1,
            visibility_timeout: None,
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Messages received (and handed to the function).
    pub received: usize,
    /// Messages deleted after the function succeeded with them.
    pub deleted: usize,
    /// Messages left on the queue: reported as failed, in a failed batch, or whose delete
    /// SQS refused.
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum EsmError {
    #[error("SQS ReceiveMessage failed")]
    Receive(#[source] Box<aws_sdk_sqs::Error>),
    #[error("SQS DeleteMessageBatch failed")]
    Delete(#[source] Box<aws_sdk_sqs::Error>),
    #[error("the delete request could not be built")]
    Build(#[source] aws_sdk_sqs::error::BuildError),
}

/// Receives one batch, invokes `handler`, deletes what succeeded. An empty receive is
/// `Ok` with `received == 0` (the handler is not invoked, as with Lambda).
pub async fn poll_once<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    config: &EsmConfig,
    handler: F,
) -> Result<PollOutcome, EsmError>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    poll_once_holding(
        sqs,
        queue_url,
        queue_arn,
        config,
        handler,
        &AtomicUsize::new(0),
    )
    .await
}

/// [`poll_once`], keeping in `in_hand` how many received messages it holds (from the
/// receive until their deletes are done).
async fn poll_once_holding<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    config: &EsmConfig,
    handler: F,
    in_hand: &AtomicUsize,
) -> Result<PollOutcome, EsmError>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let mut receive = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(config.batch_size.clamp(1, 10))
        .wait_time_seconds(config.wait_seconds.clamp(0, 20))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All");
    if let Some(timeout) = config.visibility_timeout {
        receive = receive.visibility_timeout(i32::try_from(timeout.as_secs()).unwrap_or(43_200));
    }
    let received = receive
        .send()
        .await
        .map_err(|e| EsmError::Receive(Box::new(e.into())))?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(PollOutcome::default());
    }
    in_hand.store(messages.len(), Ordering::SeqCst);
    let outcome = run_batch(sqs, queue_url, queue_arn, handler, messages).await;
    in_hand.store(0, Ordering::SeqCst);
    outcome
}

/// Invokes `handler` with the received `messages` and deletes those that succeeded.
async fn run_batch<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    handler: F,
    messages: &[Message],
) -> Result<PollOutcome, EsmError>
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let event = sqs_event(messages, queue_arn);
    let batch_ids: Vec<&str> = messages.iter().filter_map(Message::message_id).collect();

    // The call itself is inside the guarded future: a panic while building it counts too.
    let response = AssertUnwindSafe(async { handler(event).await })
        .catch_unwind()
        .await;
    let failed_ids: BTreeSet<String> = match response {
        Ok(response) => match reported_failures(&response, &batch_ids) {
            Some(ids) => ids,
            None => {
                tracing::warn!(
                    queue = queue_url,
                    "batch response names a message not in the batch: the whole batch failed"
                );
                batch_ids.iter().map(|id| (*id).to_owned()).collect()
            }
        },
        Err(_) => {
            tracing::error!(
                queue = queue_url,
                "the function panicked: the whole batch failed"
            );
            batch_ids.iter().map(|id| (*id).to_owned()).collect()
        }
    };

    let to_delete: Vec<&Message> = messages
        .iter()
        .filter(|m| m.message_id().is_some_and(|id| !failed_ids.contains(id)))
        .collect();
    let refused = delete(sqs, queue_url, &to_delete).await?;
    let deleted = to_delete.len() - refused;
    Ok(PollOutcome {
        received: messages.len(),
        deleted,
        failed: messages.len() - deleted,
    })
}

/// The ids a response reports as failed; `None` when one is empty or not in the batch
/// (Lambda then treats the whole batch as failed).
fn reported_failures(response: &SqsBatchResponse, batch_ids: &[&str]) -> Option<BTreeSet<String>> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| {
            let id = failure.item_identifier.as_str();
            (!id.is_empty() && batch_ids.contains(&id)).then(|| id.to_owned())
        })
        .collect()
}

/// Deletes `messages` (at most 10); returns how many SQS refused to delete.
async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[&Message],
) -> Result<usize, EsmError> {
    let mut refused = 0;
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let handle = m.receipt_handle()?;
                Some(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(handle)
                        .build()
                        .map_err(EsmError::Build),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A message without a receipt handle cannot be deleted: it counts as refused.
        refused += chunk.len() - entries.len();
        if entries.is_empty() {
            continue;
        }
        let output = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| EsmError::Delete(Box::new(e.into())))?;
        for failure in output.failed() {
            tracing::warn!(
                queue = queue_url,
                code = failure.code(),
                "SQS refused to delete a processed message; it will be delivered again"
            );
        }
        refused += output.failed().len();
    }
    Ok(refused)
}

/// The event Lambda's event source mapping delivers for `messages` received from the queue
/// `queue_arn` (what [`poll_once`] hands its handler).
pub fn sqs_event(messages: &[Message], queue_arn: &str) -> SqsEvent {
    let region = region_of(queue_arn);
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| to_record(m, queue_arn, region))
        .collect();
    event
}

/// `arn:aws:sqs:<region>:<account>:<name>` → region.
fn region_of(queue_arn: &str) -> &str {
    queue_arn.split(':').nth(3).unwrap_or("us-east-1")
}

/// One record of the event, shaped as Lambda delivers it.
fn to_record(message: &Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.md5_of_body = message.md5_of_body().map(str::to_owned);
    record.md5_of_message_attributes = message.md5_of_message_attributes().map(str::to_owned);
    record.attributes = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.message_attributes = message
        .message_attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.data_type = Some(value.data_type().to_owned());
                    attribute.string_value = value.string_value().map(str::to_owned);
                    attribute.binary_value = value.binary_value().map(|b| base64(b.as_ref()));
                    attribute.string_list_values = value.string_list_values().to_vec();
                    attribute.binary_list_values = value
                        .binary_list_values()
                        .iter()
                        .map(|b| base64(b.as_ref()))
                        .collect();
                    (name.clone(), attribute)
                })
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(region.to_owned());
    record
}

fn base64(bytes: &[u8]) -> Base64Data {
    let mut data = Base64Data::default();
    data.extend_from_slice(bytes);
    data
}

/// Polls `queue_url` until `shutdown` turns true, like one Lambda poller. Shutdown is
/// noticed between polls (a long poll of `wait_seconds` and the batch in hand finish
/// first); a failed poll is retried after a second.
pub fn spawn_poller<F, Fut>(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    config: EsmConfig,
    handler: F,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    spawn_tracked_poller(sqs, queue_url, queue_arn, config, handler, shutdown).task
}

/// A running poller and the messages it holds.
#[derive(Debug)]
pub struct Poller {
    pub task: JoinHandle<()>,
    in_hand: Arc<AtomicUsize>,
}

impl Poller {
    /// Messages received and not yet deleted or left: the batch in hand.
    pub fn in_hand(&self) -> usize {
        self.in_hand.load(Ordering::SeqCst)
    }

    /// Kills the poller where it is, as when a Lambda instance dies mid-batch: the messages
    /// it holds are neither deleted nor failed, so they come back after their visibility
    /// timeout.
    pub fn kill(&self) {
        self.task.abort();
    }
}

/// [`spawn_poller`], telling what it holds ([`Poller::in_hand`]).
pub fn spawn_tracked_poller<F, Fut>(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    config: EsmConfig,
    handler: F,
    mut shutdown: watch::Receiver<bool>,
) -> Poller
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    let in_hand = Arc::new(AtomicUsize::new(0));
    let holding = Arc::clone(&in_hand);
    let task = tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Not raced against shutdown: a batch in hand is finished and its deletes done.
            let outcome =
                poll_once_holding(&sqs, &queue_url, &queue_arn, &config, &handler, &holding).await;
            if let Err(error) = outcome {
                tracing::warn!(
                    queue = %queue_url,
                    error = %crate::testing::error_chain(&error),
                    "polling the queue failed; retrying in 1 s"
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        }
    });
    Poller { task, in_hand }
}

/// `count` pollers on one queue sharing one handler (Lambda runs several per mapping); 0
/// starts none, so the queue only fills (the ingest benchmark reads it back itself).
pub fn spawn_pollers<F, Fut>(
    count: usize,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    config: EsmConfig,
    handler: F,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>>
where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    (0..count)
        .map(|_| {
            let handler = Arc::clone(&handler);
            spawn_poller(
                sqs.clone(),
                queue_url.clone(),
                queue_arn.clone(),
                config.clone(),
                move |event| handler(event),
                shutdown.clone(),
            )
        })
        .collect()
}

/// Messages on a queue (SQS's approximate counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    /// Sent with a delay that has not passed yet.
    pub delayed: u64,
}

impl QueueDepth {
    pub fn is_empty(&self) -> bool {
        self.visible == 0 && self.in_flight == 0 && self.delayed == 0
    }
}

/// Messages on a queue: visible, in flight and delayed.
pub async fn queue_depths(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<QueueDepth, EsmError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| EsmError::Receive(Box::new(e.into())))?;
    let count = |name: A| {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(QueueDepth {
        visible: count(A::ApproximateNumberOfMessages),
        in_flight: count(A::ApproximateNumberOfMessagesNotVisible),
        delayed: count(A::ApproximateNumberOfMessagesDelayed),
    })
}

/// Messages on a queue: `(visible, in flight)` (SQS's approximate counts).
pub async fn queue_depth(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<(u64, u64), EsmError> {
    let depth = queue_depths(sqs, queue_url).await?;
    Ok((depth.visible, depth.in_flight))
}

/// Waits until the queue holds no message, visible, in flight or delayed; false on timeout.
pub async fn wait_drained(sqs: &aws_sdk_sqs::Client, queue_url: &str, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if queue_depths(sqs, queue_url)
            .await
            .is_ok_and(|depth| depth.is_empty())
        {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::BatchItemFailure;

    fn response(ids: &[&str]) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = ids
            .iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = (*id).to_owned();
                failure
            })
            .collect();
        response
    }

    #[test]
    fn reported_failures_must_name_messages_of_the_batch() {
        let batch = ["a", "b", "c"];
        assert_eq!(
            reported_failures(&response(&["b"]), &batch),
            Some(BTreeSet::from(["b".to_owned()]))
        );
        assert_eq!(
            reported_failures(&response(&[]), &batch),
            Some(BTreeSet::new())
        );
        assert_eq!(reported_failures(&response(&["b", "zzz"]), &batch), None);
        assert_eq!(reported_failures(&response(&[""]), &batch), None);
    }

    #[test]
    fn the_region_comes_from_the_queue_arn() {
        assert_eq!(
            region_of("arn:aws:sqs:eu-west-1:123456789012:packr-local-webhooks"),
            "eu-west-1"
        );
        assert_eq!(region_of("nonsense"), "us-east-1");
    }
}
