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
        // The sweep's last page may start just before the deadline it is given.
        let sweep_deadline = deadline
            .checked_sub(super::sweep::DEADLINE_MARGIN)
            .unwrap_or_else(Instant::now);
        let report = super::sweep::run(&deps.sweep, Timestamp::now(), sweep_deadline).await;
        info!(report = %json!(report), "retention sweep finished");
        return Ok(json!({ "sweep": report }));
    }
    error!("data-lifecycle got an event it does not handle");
    Err(HandlerError::UnknownEvent)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    async fn deps() -> LifecycleDeps {
        // Clients that are never called: these events are refused before any AWS request.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let env: BTreeMap<String, String> = [
            ("TABLE_NAME", "t"),
            (
                "LIFECYCLE_JOBS_QUEUE_URL",
                "http://127.0.0.1:1/000000000000/q",
            ),
            ("EXPORT_BUCKET", "b"),
            ("PRIVACY_HASH_SECRET_ARN", "packr/test/privacy-hash-key"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        super::super::wiring::data_lifecycle_from_env(&sdk, &env, "data-lifecycle")
            .await
            .expect("wiring")
    }

    #[tokio::test]
    async fn an_event_of_neither_source_is_refused() {
        // given data-lifecycle and an event that is neither SQS nor its schedule's
        let deps = deps().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        // when it is handled
        let answer = handle_event(&deps, json!({"kind": "reconcile"}), deadline).await;
        // then it is an error (the invocation fails; nothing ran)
        assert!(
            matches!(answer, Err(HandlerError::UnknownEvent)),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_batch_is_an_error_and_an_empty_one_has_no_failures() {
        let deps = deps().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let answer = handle_event(&deps, json!({"Records": "no"}), deadline).await;
        assert!(matches!(answer, Err(HandlerError::Batch(_))), "{answer:?}");
        let answer = handle_event(&deps, json!({"Records": []}), deadline)
            .await
            .expect("an empty batch");
        assert_eq!(answer, json!({"batchItemFailures": []}));
    }
}
