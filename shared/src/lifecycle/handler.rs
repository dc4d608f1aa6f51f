//! The `data-lifecycle` function's one handler for its two event sources: an SQS batch of
//! the lifecycle-jobs queue (each message names a job to run: [`super::worker`]) and the
//! `DataLifecycleSchedule` event (`{"kind":"retention-sweep"}`: [`super::sweep::run`]).

use std::time::Instant;

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{json, Value};
use tracing::{error, info};

use super::wiring::LifecycleDeps;
use crate::domain::Timestamp;

/// The schedule's input (template.yaml, `DataLifecycleSchedule`).
pub const SWEEP_EVENT_KIND: &str = "retention-sweep";

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the SQS batch could not be read")]
    Batch(#[source] serde_json::Error),
    #[error("an event that is neither an SQS batch nor the retention-sweep schedule")]
    UnknownEvent,
    #[error("the answer could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// Handles one invocation before `deadline`: an SQS batch answers its
/// `batchItemFailures`; the schedule runs the sweep and answers its report.
pub async fn handle_event(
    deps: &LifecycleDeps,
    event: Value,
    deadline: Instant,
) -> Result<Value, HandlerError> {
    if event.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(event).map_err(HandlerError::Batch)?;
        let answer = super::worker::handle_batch(&deps.runner, batch, deadline).await;
        return serde_json::to_value(answer).map_err(HandlerError::Encode);
    }
    if event.get("kind").and_then(Value::as_str) == Some(SWEEP_EVENT_KIND) {
        let report = super::sweep::run(&deps.sweep, Timestamp::now(), deadline).await;
        info!(report = %json!(report), "retention sweep finished");
        return Ok(json!({ "sweep": report }));
    }
    error!("data-lifecycle got an event it does not handle");
    Err(HandlerError::UnknownEvent)
}
