//! The receive → send → delete move, for endpoints without `StartMessageMoveTask`.
//!
//! Invariant: a message leaves the dead-letter queue only after the destination accepted it.
//! A message whose send failed stays hidden for the rest of the run (so it is not retried in
//! a loop) and is made visible again when the run ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use aws_sdk_sqs::Client;

use super::destination::{Destination, OutgoingMessage, Refusal};
use super::{EntryFailure, MessageFailure, Progress, RedriveMode, RedriveOptions};
use crate::ops::OpsError;

/// What the move did.
#[derive(Debug, Default)]
pub struct Moved {
    pub moved: u64,
    pub failed: u64,
    pub undeleted: u64,
    pub failures: Vec<MessageFailure>,
    /// The error that stopped the run early (receiving from the dead-letter queue failed).
    pub stopped_by: Option<OpsError>,
}

/// A received message that has not moved (yet).
struct Pending {
    message_id: String,
    receipt_handle: String,
}

/// Moves messages from `dlq_url` to `destination` until the dead-letter queue looks empty or
/// `options.max_messages` were handled. `total` is only passed on to `progress`.
pub async fn move_messages(
    sqs: &Client,
    dlq_url: &str,
    destination: &dyn Destination,
    options: &RedriveOptions,
    total: Option<u64>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Moved {
    let started = Instant::now();
    let mut result = Moved::default();
    let mut not_sent: Vec<Pending> = Vec::new();
    let mut handled: usize = 0;
    let mut empty_polls = 0;
    let visibility = i32::try_from(options.visibility_timeout.as_secs()).unwrap_or(43_200);

    loop {
        let want = match options.max_messages {
            Some(max) if handled >= max => break,
            Some(max) => (max - handled).min(options.batch_size),
            None => options.batch_size,
        };
        let received = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .visibility_timeout(visibility)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(error) => {
                result.stopped_by = Some(OpsError::sqs("ReceiveMessage", error));
                break;
            }
        };
        if messages.is_empty() {
            empty_polls += 1;
            if empty_polls >= options.empty_polls {
                break;
            }
            continue;
        }
        empty_polls = 0;
        handled += messages.len();

        let batch = move_batch(sqs, dlq_url, destination, &messages).await;
        result.moved += batch.moved;
        let sent_but_kept = batch
            .failures
            .iter()
            .filter(|f| f.failure.was_sent())
            .count() as u64;
        result.undeleted += sent_but_kept;
        result.failed += batch.failures.len() as u64 - sent_but_kept;
        result.failures.extend(batch.failures);
        not_sent.extend(batch.not_sent);

        progress(Progress {
            mode: RedriveMode::Fallback,
            moved: result.moved,
            failed: result.failed + result.undeleted,
            total,
        });
        if let Some(rate) = options.max_per_second {
            let due = Duration::from_secs_f64(handled as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }

    make_visible(sqs, dlq_url, &not_sent).await;
    result
}

struct BatchOutcome {
    moved: u64,
    failures: Vec<MessageFailure>,
    not_sent: Vec<Pending>,
}

async fn move_batch(
    sqs: &Client,
    dlq_url: &str,
    destination: &dyn Destination,
    messages: &[Message],
) -> BatchOutcome {
    let mut outcome = BatchOutcome {
        moved: 0,
        failures: Vec::new(),
        not_sent: Vec::new(),
    };
    // Only messages that can be deleted afterwards are sent.
    let mut sendable: Vec<(OutgoingMessage, String)> = Vec::new();
    for message in messages {
        let outgoing = OutgoingMessage::from_received(message);
        match message.receipt_handle() {
            Some(handle) => sendable.push((outgoing, handle.to_owned())),
            None => {
                outcome.failures.push(MessageFailure {
                    message_id: outgoing.dlq_message_id,
                    failure: EntryFailure::NoReceiptHandle,
                });
            }
        }
    }
    if sendable.is_empty() {
        return outcome;
    }

    let outgoing: Vec<OutgoingMessage> = sendable.iter().map(|(m, _)| m.clone()).collect();
    let answered = match destination.send_batch(&outgoing).await {
        Ok(results) if results.len() == outgoing.len() => Ok(results),
        // A destination answering for a different number of messages: trust none of it.
        Ok(_) => Err(OpsError::MissingField {
            operation: "SendMessageBatch",
            field: "one result per entry",
        }),
        Err(error) => Err(error),
    };
    let results = match answered {
        Ok(results) => results,
        Err(error) => {
            let error = Arc::new(error);
            tracing::warn!(
                error = %super::error_chain(error.as_ref()),
                messages = outgoing.len(),
                "send failed; the batch stays in the dead-letter queue"
            );
            for (message, handle) in sendable {
                outcome.failures.push(MessageFailure {
                    message_id: message.dlq_message_id.clone(),
                    failure: EntryFailure::SendFailed(error.clone()),
                });
                outcome.not_sent.push(Pending {
                    message_id: message.dlq_message_id,
                    receipt_handle: handle,
                });
            }
            return outcome;
        }
    };

    let mut sent: Vec<(String, String)> = Vec::new();
    for ((message, handle), result) in sendable.into_iter().zip(results) {
        match result {
            Ok(()) => sent.push((message.dlq_message_id, handle)),
            Err(refusal) => {
                outcome.failures.push(MessageFailure {
                    message_id: message.dlq_message_id.clone(),
                    failure: EntryFailure::SendRefused(refusal),
                });
                outcome.not_sent.push(Pending {
                    message_id: message.dlq_message_id,
                    receipt_handle: handle,
                });
            }
        }
    }
    let deleted = delete(sqs, dlq_url, &sent).await;
    outcome.moved += deleted.moved;
    outcome.failures.extend(deleted.failures);
    outcome
}

struct Deleted {
    moved: u64,
    failures: Vec<MessageFailure>,
}

/// Deletes sent messages from the dead-letter queue; (message id, receipt handle) pairs.
async fn delete(sqs: &Client, dlq_url: &str, sent: &[(String, String)]) -> Deleted {
    let mut deleted = Deleted {
        moved: 0,
        failures: Vec::new(),
    };
    for chunk in sent.chunks(10) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(index, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .build()
            })
            .collect();
        let call = match entries {
            Ok(entries) => sqs
                .delete_message_batch()
                .queue_url(dlq_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| OpsError::sqs("DeleteMessageBatch", e)),
            Err(e) => Err(OpsError::Sqs {
                operation: "DeleteMessageBatch",
                source: Box::new(e),
            }),
        };
        match call {
            Ok(out) => {
                let mut refused: Vec<Option<Refusal>> = vec![None; chunk.len()];
                for failed in out.failed() {
                    if let Some(slot) = failed
                        .id()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| refused.get_mut(i))
                    {
                        *slot = Some(Refusal {
                            code: failed.code().to_owned(),
                            message: failed.message().map(str::to_owned),
                        });
                    }
                }
                for ((message_id, _), refusal) in chunk.iter().zip(refused) {
                    match refusal {
                        None => deleted.moved += 1,
                        Some(refusal) => deleted.failures.push(MessageFailure {
                            message_id: message_id.clone(),
                            failure: EntryFailure::DeleteRefused(refusal),
                        }),
                    }
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                tracing::warn!(
                    error = %super::error_chain(error.as_ref()),
                    "delete failed after a successful send; the messages are in both queues"
                );
                for (message_id, _) in chunk {
                    deleted.failures.push(MessageFailure {
                        message_id: message_id.clone(),
                        failure: EntryFailure::DeleteFailed(error.clone()),
                    });
                }
            }
        }
    }
    deleted
}

/// Makes messages whose send failed visible again now rather than when their visibility
/// timeout ends. Best effort: if this fails they reappear after the timeout anyway.
async fn make_visible(sqs: &Client, dlq_url: &str, pending: &[Pending]) {
    for chunk in pending.chunks(10) {
        let entries: Result<Vec<_>, _> = chunk
            .iter()
            .enumerate()
            .map(|(index, p)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(&p.receipt_handle)
                    .visibility_timeout(0)
                    .build()
            })
            .collect();
        let Ok(entries) = entries else { continue };
        let answer = sqs
            .change_message_visibility_batch()
            .queue_url(dlq_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match answer {
            Ok(out) if out.failed().is_empty() => {}
            Ok(out) => tracing::warn!(
                refused = out.failed().len(),
                "some failed messages stay hidden until their visibility timeout ends"
            ),
            Err(error) => tracing::warn!(
                error = %super::error_chain(&OpsError::sqs("ChangeMessageVisibilityBatch", error)),
                message_ids = ?chunk.iter().map(|p| p.message_id.as_str()).collect::<Vec<_>>(),
                "failed messages stay hidden until their visibility timeout ends"
            ),
        }
    }
}
