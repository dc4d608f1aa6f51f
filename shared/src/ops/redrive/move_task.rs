//! SQS's own redrive: `StartMessageMoveTask`, watched with `ListMessageMoveTasks`.

use std::time::Duration;

use aws_sdk_sqs::types::ListMessageMoveTasksResultEntry;
use aws_sdk_sqs::Client;

use super::{Progress, RedriveMode};
use crate::ops::OpsError;

/// Starts a move task from the dead-letter queue to the source queue; its task handle.
pub(super) async fn start(
    sqs: &Client,
    dlq_arn: &str,
    source_arn: &str,
    max_per_second: Option<u32>,
) -> Result<String, OpsError> {
    let out = sqs
        .start_message_move_task()
        .source_arn(dlq_arn)
        .destination_arn(source_arn)
        .set_max_number_of_messages_per_second(
            max_per_second.map(|r| i32::try_from(r.min(500)).unwrap_or(500)),
        )
        .send()
        .await
        .map_err(|e| OpsError::sqs("StartMessageMoveTask", e))?;
    out.task_handle
        .filter(|h| !h.is_empty())
        .ok_or(OpsError::MissingField {
            operation: "StartMessageMoveTask",
            field: "TaskHandle",
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTaskStatus {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
    Unknown,
}

/// One observation of a move task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTaskState {
    pub status: MoveTaskStatus,
    pub moved: u64,
    pub to_move: Option<u64>,
    pub failure_reason: Option<String>,
}

impl MoveTaskState {
    pub fn from_entry(entry: &ListMessageMoveTasksResultEntry) -> Self {
        let status = match entry.status() {
            Some("RUNNING") => MoveTaskStatus::Running,
            Some("COMPLETED") => MoveTaskStatus::Completed,
            Some("CANCELLING") => MoveTaskStatus::Cancelling,
            Some("CANCELLED") => MoveTaskStatus::Cancelled,
            Some("FAILED") => MoveTaskStatus::Failed,
            _ => MoveTaskStatus::Unknown,
        };
        Self {
            status,
            moved: u64::try_from(entry.approximate_number_of_messages_moved()).unwrap_or(0),
            to_move: entry
                .approximate_number_of_messages_to_move()
                .and_then(|n| u64::try_from(n).ok()),
            failure_reason: entry.failure_reason().map(str::to_owned),
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            MoveTaskStatus::Completed | MoveTaskStatus::Cancelled | MoveTaskStatus::Failed
        )
    }

    /// Messages the task set out to move but did not.
    pub fn not_moved(&self) -> u64 {
        self.to_move.map_or(0, |n| n.saturating_sub(self.moved))
    }
}

pub(super) struct Finished {
    pub moved: u64,
    pub failed: u64,
    pub failure: Option<String>,
}

/// Polls until the task is finished, reporting progress.
pub(super) async fn watch(
    sqs: &Client,
    dlq_arn: &str,
    task_handle: &str,
    interval: Duration,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Finished, OpsError> {
    loop {
        tokio::time::sleep(interval).await;
        let out = sqs
            .list_message_move_tasks()
            .source_arn(dlq_arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| OpsError::sqs("ListMessageMoveTasks", e))?;
        // A finished task no longer carries its handle; tasks are listed newest first and
        // a source has at most one running task, so the newest is ours.
        let entries = out.results();
        let Some(entry) = entries
            .iter()
            .find(|e| e.task_handle() == Some(task_handle))
            .or_else(|| entries.first())
        else {
            return Err(OpsError::MissingField {
                operation: "ListMessageMoveTasks",
                field: "the started task",
            });
        };
        let state = MoveTaskState::from_entry(entry);
        progress(Progress {
            mode: RedriveMode::MoveTask,
            moved: state.moved,
            failed: if state.is_finished() {
                state.not_moved()
            } else {
                0
            },
            total: state.to_move,
        });
        if state.is_finished() {
            let failure = match state.status {
                MoveTaskStatus::Completed => None,
                MoveTaskStatus::Cancelled => Some(
                    state
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "cancelled".into()),
                ),
                _ => Some(
                    state
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "failed without a reason".into()),
                ),
            };
            return Ok(Finished {
                moved: state.moved,
                failed: state.not_moved(),
                failure,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: &str, moved: i64, to_move: Option<i64>) -> ListMessageMoveTasksResultEntry {
        ListMessageMoveTasksResultEntry::builder()
            .status(status)
            .approximate_number_of_messages_moved(moved)
            .set_approximate_number_of_messages_to_move(to_move)
            .build()
    }

    #[test]
    fn running_task_is_not_finished() {
        let state = MoveTaskState::from_entry(&entry("RUNNING", 3, Some(10)));
        assert_eq!(state.status, MoveTaskStatus::Running);
        assert!(!state.is_finished());
        assert_eq!((state.moved, state.to_move), (3, Some(10)));
    }

    #[test]
    fn failed_task_counts_what_it_did_not_move() {
        let state = MoveTaskState::from_entry(&entry("FAILED", 4, Some(10)));
        assert!(state.is_finished());
        assert_eq!(state.not_moved(), 6);
    }

    #[test]
    fn completed_task_moved_everything() {
        let state = MoveTaskState::from_entry(&entry("COMPLETED", 10, Some(10)));
        assert!(state.is_finished());
        assert_eq!(state.not_moved(), 0);
    }
}
