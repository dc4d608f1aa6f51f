//! Redrive: move a dead-letter queue's messages back to their source queue.
//!
//! First choice is SQS's own `StartMessageMoveTask` (what the console's "Start DLQ redrive"
//! runs), watched through `ListMessageMoveTasks`. Where the endpoint cannot run one, a
//! receive → send → delete move does the same without losing a message: a message is deleted
//! from the dead-letter queue only after the source queue accepted it.

mod destination;
mod fallback;
mod move_task;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;

use super::queues::{queue_arn, queue_depth, resolve_source_url};
use super::OpsError;

pub use destination::{Destination, OutgoingMessage, Refusal, SqsDestination};
pub use fallback::{move_messages, Moved};
pub use move_task::{MoveTaskState, MoveTaskStatus};

/// The error of [`redrive`]: the ops boundary's error.
pub type RedriveError = OpsError;

/// How to move the messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Method {
    /// `StartMessageMoveTask`, or the receive/send/delete move where the endpoint cannot
    /// run a move task or `max_messages` is set (a move task cannot stop at a count).
    #[default]
    Auto,
    /// Only `StartMessageMoveTask`; its error is returned.
    MoveTask,
    /// Only the receive/send/delete move.
    Fallback,
}

#[derive(Debug, Clone)]
pub struct RedriveOptions {
    /// Stop after this many messages were handled (moved or failed).
    pub max_messages: Option<usize>,
    /// Messages per receive/send batch, 1..=10.
    pub batch_size: usize,
    /// Upper bound on messages moved per second (move task: 1..=500).
    pub max_per_second: Option<u32>,
    /// Count what would move; move nothing.
    pub dry_run: bool,
    pub method: Method,
    /// How long a received batch stays hidden from other consumers while it is sent and
    /// deleted; a message whose send failed becomes visible again when the run ends.
    pub visibility_timeout: Duration,
    /// Consecutive empty 1 s long-polls after which the dead-letter queue counts as empty.
    pub empty_polls: u32,
    /// How often a running move task is polled for progress.
    pub poll_interval: Duration,
}

impl Default for RedriveOptions {
    fn default() -> Self {
        Self {
            max_messages: None,
            batch_size: 10,
            max_per_second: None,
            dry_run: false,
            method: Method::Auto,
            visibility_timeout: Duration::from_secs(60),
            empty_polls: 2,
            poll_interval: Duration::from_secs(2),
        }
    }
}

impl RedriveOptions {
    fn validate(&self) -> Result<(), OpsError> {
        if !(1..=10).contains(&self.batch_size) {
            return Err(OpsError::InvalidOption("batch size must be 1 to 10"));
        }
        if self.max_per_second == Some(0) {
            return Err(OpsError::InvalidOption("rate must be at least 1 message/s"));
        }
        let timeout = self.visibility_timeout.as_secs();
        if !(1..=43_200).contains(&timeout) {
            return Err(OpsError::InvalidOption(
                "visibility timeout must be 1 s to 12 h",
            ));
        }
        if self.empty_polls == 0 {
            return Err(OpsError::InvalidOption("empty polls must be at least 1"));
        }
        Ok(())
    }
}

/// Which way the messages moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedriveMode {
    MoveTask,
    Fallback,
    DryRun,
}

impl fmt::Display for RedriveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MoveTask => "move task (StartMessageMoveTask)",
            Self::Fallback => "fallback (receive, send, delete)",
            Self::DryRun => "dry run (nothing moved)",
        })
    }
}

/// Why the receive/send/delete move ran instead of a move task.
#[derive(Debug)]
pub enum FallbackReason {
    Requested,
    MessageLimit,
    MoveTaskUnavailable(OpsError),
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Requested => f.write_str("requested"),
            Self::MessageLimit => f.write_str("a message limit was set"),
            Self::MoveTaskUnavailable(error) => {
                write!(f, "StartMessageMoveTask failed: {}", error_chain(error))
            }
        }
    }
}

/// A snapshot while the redrive runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub mode: RedriveMode,
    pub moved: u64,
    pub failed: u64,
    /// How many are expected to move, when known.
    pub total: Option<u64>,
}

/// What went wrong for one message. Every failure leaves the message in the dead-letter
/// queue.
#[derive(Debug, Clone)]
pub enum EntryFailure {
    /// The source queue refused it: not sent.
    SendRefused(Refusal),
    /// The send call failed: not sent.
    SendFailed(Arc<OpsError>),
    /// Sent, but deleting it from the dead-letter queue was refused: it is in both queues;
    /// a later redrive sends it again and the consumer's idempotency absorbs the repeat.
    DeleteRefused(Refusal),
    /// Sent, but the delete call failed (as above).
    DeleteFailed(Arc<OpsError>),
    /// Received without a receipt handle, so it could not be deleted: not sent.
    NoReceiptHandle,
}

impl EntryFailure {
    /// Sent to the source queue but still in the dead-letter queue.
    pub fn was_sent(&self) -> bool {
        matches!(self, Self::DeleteRefused(_) | Self::DeleteFailed(_))
    }
}

impl fmt::Display for EntryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SendRefused(r) => write!(f, "send refused: {r}"),
            Self::SendFailed(e) => write!(f, "send failed: {}", error_chain(e.as_ref())),
            Self::DeleteRefused(r) => write!(f, "sent, but delete refused: {r}"),
            Self::DeleteFailed(e) => {
                write!(f, "sent, but delete failed: {}", error_chain(e.as_ref()))
            }
            Self::NoReceiptHandle => f.write_str("received without a receipt handle"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MessageFailure {
    /// The message id in the dead-letter queue.
    pub message_id: String,
    pub failure: EntryFailure,
}

#[derive(Debug)]
pub struct RedriveSummary {
    pub mode: RedriveMode,
    pub dlq_url: String,
    pub source_url: String,
    /// In the source queue and gone from the dead-letter queue.
    pub moved: u64,
    /// Not sent; still in the dead-letter queue.
    pub failed: u64,
    /// Sent, but still in the dead-letter queue too (delete failed).
    pub undeleted: u64,
    /// Dry run: how many would move (approximate).
    pub would_move: Option<u64>,
    pub duration: Duration,
    /// Per-message failures of the fallback move.
    pub failures: Vec<MessageFailure>,
    /// A move task that ended FAILED or CANCELLED: its reason.
    pub task_failure: Option<String>,
    pub fallback_reason: Option<FallbackReason>,
    /// The error that stopped the fallback move early (what moved before it stays moved).
    pub stopped_by: Option<OpsError>,
}

impl RedriveSummary {
    /// Everything that was to move moved.
    pub fn is_clean(&self) -> bool {
        self.failed == 0
            && self.undeleted == 0
            && self.task_failure.is_none()
            && self.stopped_by.is_none()
    }
}

/// Where a redrive reads from and writes to.
#[derive(Debug, Clone)]
pub struct RedriveTarget {
    pub dlq_url: String,
    /// `None`: the queue whose dead-letter queue this is (see
    /// [`resolve_source_url`](crate::ops::queues::resolve_source_url)).
    pub source_url: Option<String>,
}

/// Moves the dead-letter queue's messages back to the source queue (see the module docs).
/// Per-message failures are counted in the summary; `Err` means the redrive could not start
/// or lost track of a move task.
#[tracing::instrument(skip_all, fields(dlq_url = %target.dlq_url))]
pub async fn redrive(
    sqs: &Client,
    target: &RedriveTarget,
    options: &RedriveOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<RedriveSummary, RedriveError> {
    options.validate()?;
    let started = Instant::now();
    let dlq_url = target.dlq_url.clone();
    let source_url = match &target.source_url {
        Some(url) => url.clone(),
        None => resolve_source_url(sqs, &dlq_url).await?,
    };
    if source_url == dlq_url {
        return Err(OpsError::InvalidOption(
            "the source queue is the dead-letter queue itself",
        ));
    }
    // Both must exist before anything moves.
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let source_arn = queue_arn(sqs, &source_url).await?;
    let depth = queue_depth(sqs, &dlq_url).await?;
    let expected = match options.max_messages {
        Some(max) => depth.visible.min(max as u64),
        None => depth.visible,
    };
    let summary = |mode| RedriveSummary {
        mode,
        dlq_url: dlq_url.clone(),
        source_url: source_url.clone(),
        moved: 0,
        failed: 0,
        undeleted: 0,
        would_move: None,
        duration: Duration::ZERO,
        failures: Vec::new(),
        task_failure: None,
        fallback_reason: None,
        stopped_by: None,
    };

    if options.dry_run {
        progress(Progress {
            mode: RedriveMode::DryRun,
            moved: 0,
            failed: 0,
            total: Some(expected),
        });
        return Ok(RedriveSummary {
            would_move: Some(expected),
            duration: started.elapsed(),
            ..summary(RedriveMode::DryRun)
        });
    }

    let fallback_reason = match (options.method, options.max_messages) {
        (Method::Fallback, _) => FallbackReason::Requested,
        (Method::Auto, Some(_)) => FallbackReason::MessageLimit,
        (Method::MoveTask, _) | (Method::Auto, None) => {
            match move_task::start(sqs, &dlq_arn, &source_arn, options.max_per_second).await {
                Ok(handle) => {
                    let done =
                        move_task::watch(sqs, &dlq_arn, &handle, options.poll_interval, progress)
                            .await?;
                    return Ok(RedriveSummary {
                        moved: done.moved,
                        failed: done.failed,
                        task_failure: done.failure,
                        duration: started.elapsed(),
                        ..summary(RedriveMode::MoveTask)
                    });
                }
                Err(error) if options.method == Method::Auto => {
                    tracing::warn!(
                        error = %error_chain(&error),
                        "StartMessageMoveTask unavailable; moving by receive, send, delete"
                    );
                    FallbackReason::MoveTaskUnavailable(error)
                }
                Err(error) => return Err(error),
            }
        }
    };

    let destination = SqsDestination::new(sqs.clone(), source_url.clone());
    let moved = move_messages(
        sqs,
        &dlq_url,
        &destination,
        options,
        Some(expected),
        progress,
    )
    .await;
    Ok(RedriveSummary {
        moved: moved.moved,
        failed: moved.failed,
        undeleted: moved.undeleted,
        failures: moved.failures,
        stopped_by: moved.stopped_by,
        fallback_reason: Some(fallback_reason),
        duration: started.elapsed(),
        ..summary(RedriveMode::Fallback)
    })
}

pub use crate::errors::error_chain;
