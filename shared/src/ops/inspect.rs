//! Looking into a dead-letter queue without taking anything out of it.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
};
use aws_sdk_sqs::Client;
use chrono::{DateTime, Utc};

use super::queues::queue_depth;
use super::OpsError;

#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// List at most this many messages (the counts cover the whole queue).
    pub limit: usize,
    /// How long listed messages are hidden while the listing runs; they are made visible
    /// again as soon as it ends.
    pub peek_timeout: Duration,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            limit: 50,
            peek_timeout: Duration::from_secs(30),
        }
    }
}

/// One dead-letter message, as far as its attributes tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqEntry {
    pub message_id: String,
    pub tenant_id: Option<String>,
    pub group_id: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    /// Receives so far (listing it counts as one).
    pub receive_count: Option<u32>,
    /// When it was first sent (to the source queue: SQS keeps it across the DLQ move).
    pub sent_at: Option<DateTime<Utc>>,
    pub first_received_at: Option<DateTime<Utc>>,
}

impl DlqEntry {
    pub fn from_message(message: &Message) -> Self {
        let attribute = |name: &str| {
            message
                .message_attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value())
                .map(str::to_owned)
        };
        let system = |name: MessageSystemAttributeName| {
            message
                .attributes()
                .and_then(|a| a.get(&name))
                .map(String::as_str)
        };
        let millis = |name| {
            system(name)
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(DateTime::<Utc>::from_timestamp_millis)
        };
        Self {
            message_id: message.message_id().unwrap_or_default().to_owned(),
            tenant_id: attribute("tenant_id"),
            group_id: system(MessageSystemAttributeName::MessageGroupId).map(str::to_owned),
            event_id: attribute("event_id"),
            event_type: attribute("event_type"),
            receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|v| v.parse().ok()),
            sent_at: millis(MessageSystemAttributeName::SentTimestamp),
            first_received_at: millis(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DlqReport {
    pub dlq_url: String,
    /// Approximate, before the listing.
    pub visible: u64,
    /// Approximate, before the listing: received by someone and not yet deleted.
    pub in_flight: u64,
    pub messages: Vec<DlqEntry>,
    /// The listing stopped at the limit; there may be more.
    pub truncated: bool,
}

/// Counts and lists a dead-letter queue's messages and leaves them all in place: listed
/// messages are hidden only while the listing runs (so each is listed once), then made
/// visible again.
#[tracing::instrument(skip_all, fields(dlq_url = %dlq_url))]
pub async fn inspect(
    sqs: &Client,
    dlq_url: &str,
    options: &InspectOptions,
) -> Result<DlqReport, OpsError> {
    let depth = queue_depth(sqs, dlq_url).await?;
    let peek = i32::try_from(options.peek_timeout.as_secs().clamp(1, 43_200)).unwrap_or(30);
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    let mut handles = Vec::new();
    let mut failure = None;

    while messages.len() < options.limit {
        let want = (options.limit - messages.len()).min(10);
        let received = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .visibility_timeout(peek)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let batch = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(error) => {
                failure = Some(OpsError::sqs("ReceiveMessage", error));
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        for message in &batch {
            if let Some(handle) = message.receipt_handle() {
                handles.push(handle.to_owned());
            }
            let entry = DlqEntry::from_message(message);
            if seen.insert(entry.message_id.clone()) {
                messages.push(entry);
            }
        }
    }

    let restored = make_visible(sqs, dlq_url, &handles).await;
    if let Some(error) = failure {
        return Err(error);
    }
    restored?;
    Ok(DlqReport {
        dlq_url: dlq_url.to_owned(),
        visible: depth.visible,
        in_flight: depth.in_flight,
        truncated: messages.len() >= options.limit,
        messages,
    })
}

async fn make_visible(sqs: &Client, dlq_url: &str, handles: &[String]) -> Result<(), OpsError> {
    let mut first_error = None;
    for chunk in handles.chunks(10) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
            })
            .collect();
        let answer = match entries {
            Ok(entries) => sqs
                .change_message_visibility_batch()
                .queue_url(dlq_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| OpsError::sqs("ChangeMessageVisibilityBatch", e))
                .and_then(|out| {
                    if out.failed().is_empty() {
                        Ok(())
                    } else {
                        Err(OpsError::Refused {
                            operation: "ChangeMessageVisibilityBatch",
                            refused: out.failed().len(),
                        })
                    }
                }),
            Err(e) => Err(OpsError::Sqs {
                operation: "ChangeMessageVisibilityBatch",
                source: Box::new(e),
            }),
        };
        // Keep restoring the rest; report the first failure.
        if let Err(error) = answer {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}
