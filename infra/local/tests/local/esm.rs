//! The event source mapping emulation against the emulator's SQS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use packr_local::esm::{poll_once, queue_depth, EsmConfig, PollOutcome};
use packr_local::provision::Provisioned;
use packr_local::testing::{emulator_config, fresh_stack};

struct Queue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    dlq_url: String,
}

async fn webhook_queue() -> Queue {
    let sdk = emulator_config().await;
    let stack: Provisioned = fresh_stack(&sdk).await;
    Queue {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        url: stack.queue_urls["WebhookQueue"].clone(),
        arn: stack.queue_arns["WebhookQueue"].clone(),
        dlq_url: stack.queue_urls["WebhookDeadLetterQueue"].clone(),
    }
}

impl Queue {
    async fn send(&self, body: &str) -> String {
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value("demo-3pl")
            .build()
            .expect("attribute");
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id("demo-3pl")
            .message_attributes("tenant_id", attribute)
            .send()
            .await
            .expect("send")
            .message_id()
            .expect("message id")
            .to_owned()
    }

    /// Polls until `want` messages were handled in total (moto may split a receive).
    async fn poll_until<F>(&self, config: &EsmConfig, want: usize, handler: F) -> PollOutcome
    where
        F: Fn(SqsEvent) -> SqsBatchResponse,
    {
        let mut total = PollOutcome::default();
        for _ in 0..10 {
            let outcome = poll_once(&self.sqs, &self.url, &self.arn, config, |event| {
                std::future::ready(handler(event))
            })
            .await
            .expect("poll");
            total.received += outcome.received;
            total.deleted += outcome.deleted;
            total.failed += outcome.failed;
            if total.received >= want {
                break;
            }
        }
        total
    }
}

fn failures(ids: impl IntoIterator<Item = String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = ids
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

fn quick() -> EsmConfig {
    EsmConfig {
        batch_size: 10,
        wait_seconds: 1,
        visibility_timeout: Some(Duration::from_secs(1)),
    }
}

#[tokio::test]
async fn successful_messages_are_deleted_and_reported_failures_stay() {
    // given three messages, one of which the function fails
    let queue = webhook_queue().await;
    queue.send("ok-1").await;
    let failing_id = queue.send("fail").await;
    queue.send("ok-2").await;
    let seen = Arc::new(Mutex::new(Vec::new()));

    // when the mapping polls
    let outcome = queue
        .poll_until(&quick(), 3, |event| {
            seen.lock().expect("lock").extend(event.records.clone());
            failures(
                event
                    .records
                    .iter()
                    .filter(|r| r.body.as_deref() == Some("fail"))
                    .filter_map(|r| r.message_id.clone()),
            )
        })
        .await;

    // then the two successes are deleted and the failure is in flight until it times out
    assert_eq!(
        outcome,
        PollOutcome {
            received: 3,
            deleted: 2,
            failed: 1
        }
    );
    assert_eq!(
        queue_depth(&queue.sqs, &queue.url).await.expect("depth"),
        (0, 1)
    );
    // and the records are shaped as Lambda delivers them
    let records = seen.lock().expect("lock").clone();
    for record in &records {
        assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
        assert_eq!(record.event_source_arn.as_deref(), Some(queue.arn.as_str()));
        assert_eq!(record.aws_region.as_deref(), Some("us-east-1"));
        assert!(record.receipt_handle.is_some());
        assert!(record.md5_of_body.is_some());
        for attribute in [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "ApproximateFirstReceiveTimestamp",
            "MessageGroupId",
        ] {
            assert!(
                record.attributes.contains_key(attribute),
                "{attribute} missing from {:?}",
                record.attributes
            );
        }
        assert_eq!(record.attributes["ApproximateReceiveCount"], "1");
        assert_eq!(record.attributes["MessageGroupId"], "demo-3pl");
        let tenant = &record.message_attributes["tenant_id"];
        assert_eq!(tenant.string_value.as_deref(), Some("demo-3pl"));
        assert_eq!(tenant.data_type.as_deref(), Some("String"));
    }
    let json = serde_json::to_value(&records[0]).expect("json");
    assert_eq!(json["eventSource"], "aws:sqs");
    assert_eq!(
        json["messageAttributes"]["tenant_id"]["stringValue"],
        "demo-3pl"
    );

    // when the visibility timeout has passed, only the failed message comes back
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = Arc::new(Mutex::new(Vec::new()));
    let outcome = queue
        .poll_until(&quick(), 1, |event| {
            again.lock().expect("lock").extend(event.records.clone());
            SqsBatchResponse::default()
        })
        .await;
    assert_eq!(outcome.deleted, 1);
    let again = again.lock().expect("lock").clone();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id.as_deref(), Some(failing_id.as_str()));
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(
        queue_depth(&queue.sqs, &queue.url).await.expect("depth"),
        (0, 0)
    );
}

#[tokio::test]
async fn a_message_failing_every_time_lands_in_the_dlq_after_max_receive_count() {
    // given a message the function always fails (WebhookQueue: maxReceiveCount 5)
    let queue = webhook_queue().await;
    queue.send("poison").await;
    let invocations = AtomicUsize::new(0);

    // when the mapping keeps polling (1 s visibility timeout)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut in_dlq = false;
    while tokio::time::Instant::now() < deadline {
        poll_once(&queue.sqs, &queue.url, &queue.arn, &quick(), |event| {
            invocations.fetch_add(event.records.len(), Ordering::SeqCst);
            std::future::ready(failures(
                event.records.iter().filter_map(|r| r.message_id.clone()),
            ))
        })
        .await
        .expect("poll");
        let (visible, _) = queue_depth(&queue.sqs, &queue.dlq_url).await.expect("dlq");
        if visible > 0 {
            in_dlq = true;
            break;
        }
    }

    // then it was handed to the function exactly five times, then moved to the DLQ
    assert!(in_dlq, "the message never reached the DLQ");
    assert_eq!(invocations.load(Ordering::SeqCst), 5);
    let dlq = queue
        .sqs
        .receive_message()
        .queue_url(&queue.dlq_url)
        .send()
        .await
        .expect("receive from DLQ");
    assert_eq!(dlq.messages()[0].body(), Some("poison"));
    assert_eq!(
        queue_depth(&queue.sqs, &queue.url).await.expect("depth"),
        (0, 0)
    );
}

#[tokio::test]
async fn a_failure_naming_a_message_outside_the_batch_fails_the_whole_batch() {
    // given two messages
    let queue = webhook_queue().await;
    queue.send("a").await;
    queue.send("b").await;

    // when the function reports an identifier that is not in the batch
    let outcome = queue
        .poll_until(&quick(), 2, |_| failures(["not-a-message-id".to_owned()]))
        .await;

    // then nothing is deleted: both come back after the visibility timeout
    assert_eq!(
        outcome,
        PollOutcome {
            received: 2,
            deleted: 0,
            failed: 2
        }
    );
    assert_eq!(
        queue_depth(&queue.sqs, &queue.url).await.expect("depth"),
        (0, 2)
    );
}

#[tokio::test]
async fn a_panicking_function_fails_the_whole_batch() {
    let queue = webhook_queue().await;
    queue.send("a").await;

    let outcome = queue
        .poll_until(&quick(), 1, |_| -> SqsBatchResponse {
            panic!("the function crashed")
        })
        .await;

    assert_eq!(outcome.deleted, 0);
    assert_eq!(outcome.failed, 1);
}

#[test]
fn the_sample_sqs_event_parses_as_lambda_delivers_it() {
    let text = std::fs::read_to_string(
        packr_local::template::repo_root().join("events/sqs-webhook-batch.json"),
    )
    .expect("events/sqs-webhook-batch.json");
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    assert_eq!(event.records.len(), 2);
    assert_eq!(event.records[0].event_source.as_deref(), Some("aws:sqs"));
    assert_eq!(event.records[1].attributes["ApproximateReceiveCount"], "2");
    let body: packr::webhook::envelope::QueuedEvent =
        serde_json::from_str(event.records[0].body.as_deref().expect("body"))
            .expect("a queued event");
    assert_eq!(body.tenant_id.as_str(), "demo-3pl");
}
