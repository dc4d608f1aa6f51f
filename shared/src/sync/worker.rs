//! sync-worker: the SQS consumer of the sync-jobs queue.
//!
//! Each message is one job chunk, run on its own (own span, own panic boundary). The batch
//! response names exactly the messages whose chunk failed in a way SQS should retry.
//! A message the invocation has no time left to start (others of the batch took it) is put
//! back on the queue as a copy (and acknowledged), so it neither waits for the visibility
//! timeout nor burns a receive. An invocation too short for even one page fails instead,
//! so a misconfigured timeout cannot requeue a job forever.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use tracing::{error, warn};

use super::job::SyncJob;
use super::runner::{run_chunk, ChunkOutcome, WorkerDeps};
use crate::metrics::Metric;

/// Handles one SQS batch before `deadline`; never fails as a whole.
pub async fn handle_batch(
    deps: &WorkerDeps,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for (index, message) in event.records.into_iter().enumerate() {
        let id = message.message_id.clone().unwrap_or_default();
        let outcome = AssertUnwindSafe(process_message(deps, message, deadline, index == 0))
            .catch_unwind()
            .await;
        let ok = match outcome {
            Ok(ok) => ok,
            Err(_) => {
                error!(message_id = %id, "a sync job panicked");
                deps.metrics
                    .emit(Metric::count("sync.failures").with("reason", "panic"));
                false
            }
        };
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// `true` when the message may be deleted. `first`: no other message of the batch ran before
/// it, so the time left is the whole invocation's.
async fn process_message(
    deps: &WorkerDeps,
    message: SqsMessage,
    deadline: Instant,
    first: bool,
) -> bool {
    let job: SyncJob = match message.body.as_deref().map(serde_json::from_str::<SyncJob>) {
        Some(Ok(job)) => job,
        _ => {
            // A malformed job is a bug upstream: let it reach the DLQ, where ops see it.
            error!(message_id = ?message.message_id, "unreadable sync job message");
            deps.metrics
                .emit(Metric::count("sync.failures").with("reason", "unreadable"));
            return false;
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let need = deps.config.deadline_margin + deps.config.min_page_time;
    if left < need && first {
        // The whole invocation is shorter than one page needs: the function's timeout is
        // below SYNC_DEADLINE_MARGIN_MS + SYNC_MIN_PAGE_MS. Requeueing would loop forever;
        // failing lets the message reach the DLQ, where ops see it.
        error!(
            left_ms = left.as_millis() as u64,
            need_ms = need.as_millis() as u64,
            "the invocation is too short for any sync page: check the function's timeout"
        );
        deps.metrics
            .emit(Metric::count("sync.failures").with("reason", "timeout_too_short"));
        return false;
    }
    if left < need {
        let again = SyncJob {
            reason: "requeued".to_owned(),
            ..job
        };
        return match deps.queue.enqueue(&[again], Duration::ZERO).await {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "no time left for a job and it could not be requeued");
                false
            }
        };
    }
    match run_chunk(deps, &job, deadline).await {
        Ok(
            ChunkOutcome::Completed { .. }
            | ChunkOutcome::Continued { .. }
            | ChunkOutcome::Deferred { .. }
            | ChunkOutcome::Skipped(_)
            | ChunkOutcome::Stopped(_),
        ) => true,
        Err(e) => {
            error!(
                tenant_id = %job.tenant_id,
                connection_id = %job.connection_id,
                resource = job.resource.as_str(),
                error = %crate::api::error::error_chain(&e),
                "sync job failed; SQS will retry it"
            );
            false
        }
    }
}
