//! The SQS consumer of the lifecycle-jobs queue (the `data-lifecycle` function): each
//! message names a job to run until its deadline. A job that needs more time is put back
//! as a continuation; one another worker holds comes back after the lease; a job that no
//! longer exists is dropped. A failed run is left to SQS's retries, then the DLQ.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use tracing::{error, warn};

use super::job::{LifecycleError, LifecycleJob};
use super::queue::LifecycleMessage;
use super::runner::{run_job, RunOutcome, RunnerDeps};
use crate::metrics::Metric;

/// Handles one SQS batch before `deadline`; never fails as a whole.
pub async fn handle_batch(
    deps: &RunnerDeps,
    event: SqsEvent,
    deadline: Instant,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let ok = match AssertUnwindSafe(process(deps, message, deadline))
            .catch_unwind()
            .await
        {
            Ok(ok) => ok,
            Err(_) => {
                error!(message_id = %id, "a lifecycle job panicked");
                deps.metrics
                    .emit(Metric::count("lifecycle.failures").with("reason", "panic"));
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

/// `true` when the message may be deleted.
async fn process(deps: &RunnerDeps, message: SqsMessage, deadline: Instant) -> bool {
    let parsed = message
        .body
        .as_deref()
        .map(serde_json::from_str::<LifecycleMessage>);
    let Some(Ok(request)) = parsed else {
        error!(message_id = ?message.message_id, "unreadable lifecycle job message");
        deps.metrics
            .emit(Metric::count("lifecycle.failures").with("reason", "unreadable"));
        return false;
    };
    if !LifecycleJob::valid_id(&request.job_id) {
        error!(message_id = ?message.message_id, "lifecycle job message with an invalid job id");
        deps.metrics
            .emit(Metric::count("lifecycle.failures").with("reason", "unreadable"));
        return false;
    }
    let requeue = |reason: &str, delay: Duration| {
        let next = LifecycleMessage {
            reason: reason.to_owned(),
            ..request.clone()
        };
        async move {
            match deps.queue.enqueue(&next, delay).await {
                Ok(()) => true,
                Err(e) => {
                    warn!(job = %next.job_id, error = %crate::errors::error_chain(&e), "could not requeue a lifecycle job: SQS retries the message");
                    false
                }
            }
        }
    };
    match run_job(deps, &request.tenant_id, &request.job_id, deadline).await {
        Ok(RunOutcome::Finished(_)) => true,
        Ok(RunOutcome::Continue) => requeue("continuation", Duration::ZERO).await,
        Ok(RunOutcome::Busy) => requeue("busy", deps.lease_hold).await,
        Err(LifecycleError::NotFound(_)) => {
            warn!(job = %request.job_id, "lifecycle job message for a job that does not exist: dropped");
            true
        }
        Err(e) => {
            warn!(job = %request.job_id, error = %crate::errors::error_chain(&e), "lifecycle job run failed: SQS retries it");
            deps.metrics
                .emit(Metric::count("lifecycle.failures").with("reason", "run"));
            false
        }
    }
}
