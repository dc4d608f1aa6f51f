//! A poison message goes to the DLQ after maxReceiveCount; once the cause is fixed, the ops
//! redrive (receive → send → delete, as on the emulator) brings it back and it is applied
//! exactly once — also when it comes back a second time. Runs ingest, the SQS event source
//! mapping emulation and the processor on the emulator.

use std::time::Duration;

use packr::domain::{EventId, Order, Timestamp};
use packr::metrics::RecordingSink;
use packr::ops::redrive::{redrive, Method, RedriveOptions, RedriveTarget};
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, SyncedStore};
use packr::webhook::ingest::handle;
use packr::webhook::processor::{handle_batch, ProcessorDeps};
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use packr_local::esm::{poll_once, EsmConfig};
use serde_json::json;

use crate::helpers::*;
use crate::webhook_ingest::{ingest, signed};

fn processor(sdk: &aws_config::SdkConfig, table: &str, metrics: &RecordingSink) -> ProcessorDeps {
    // As webhook-processor (for the IAM check).
    let sdk = &packr_local::testing::function_config(sdk, "webhook-processor");
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
        CursorCodec::new(b"k".to_vec()),
    );
    processor_deps(&store, metrics)
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap();
    out.attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_poison_message_reaches_the_dlq_and_a_redrive_applies_it_exactly_once() {
    // given a queued order event
    let s = ingest().await;
    let mut body = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/trackstar-webhook-order-created.json"
        ))
        .unwrap(),
    )
    .unwrap();
    body["connection_id"] = json!("conn_demo");
    let order_id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        handle(&s.deps, signed(&body.to_string(), "msg_poison"))
            .await
            .status_code,
        200
    );
    let queue_arn = s.stack.queue_arns["WebhookQueue"].clone();
    let dlq_url = s.stack.queue_urls["WebhookDeadLetterQueue"].clone();
    let esm = EsmConfig {
        batch_size: 10,
        wait_seconds: 0,
        visibility_timeout: Some(Duration::from_secs(0)),
    };

    // when the processor cannot reach its table (an outage), every receive fails …
    let broken_metrics = RecordingSink::new();
    let broken = processor(&s.sdk, "no-such-table", &broken_metrics);
    for _ in 0..20 {
        poll_once(&s.sqs, &s.queue_url, &queue_arn, &esm, |e| {
            handle_batch(&broken, e)
        })
        .await
        .unwrap();
        if visible(&s.sqs, &dlq_url).await == 1 {
            break;
        }
    }
    // … and after maxReceiveCount (5) SQS moves it to the DLQ
    assert_eq!(
        visible(&s.sqs, &dlq_url).await,
        1,
        "poison message in the DLQ"
    );
    assert_eq!(visible(&s.sqs, &s.queue_url).await, 0);
    assert_eq!(broken_metrics.total("webhook.failures"), 5.0);

    // when ops redrive the DLQ once the outage is over
    let options = RedriveOptions {
        method: Method::Fallback,
        poll_interval: Duration::from_millis(100),
        ..RedriveOptions::default()
    };
    let target = RedriveTarget {
        dlq_url: dlq_url.clone(),
        source_url: Some(s.queue_url.clone()),
    };
    let summary = redrive(&s.sqs, &target, &options, &|_| {}).await.unwrap();
    assert_eq!((summary.moved, summary.failed), (1, 0));
    let metrics = RecordingSink::new();
    let healthy = processor(&s.sdk, s.store.table_name(), &metrics);
    let outcome = poll_once(
        &s.sqs,
        &s.queue_url,
        &queue_arn,
        &EsmConfig::default(),
        |e| handle_batch(&healthy, e),
    )
    .await
    .unwrap();

    // then it is applied once
    assert_eq!((outcome.received, outcome.deleted), (1, 1));
    let stored: Option<Order> = SyncedStore::get(&s.store, &tenant("acme"), &order_id)
        .await
        .unwrap();
    assert!(stored.is_some());
    let receipt = ReceiptStore::get(
        &s.store,
        &tenant("acme"),
        &EventId::parse("msg_poison").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(receipt.state, ReceiptState::Applied);
    assert_eq!(metrics.total("webhook.applied"), 1.0);

    // and the same event arriving again (a second redrive or a replay) is not applied again
    let message = s.sqs.send_message().queue_url(&s.queue_url).message_body(
        serde_json::to_string(&packr::webhook::envelope::QueuedEvent {
            event_id: EventId::parse("msg_poison").unwrap(),
            tenant_id: tenant("acme"),
            brand_id: None,
            connection_id: packr::domain::ConnectionId::parse("conn_demo").unwrap(),
            event_type: "order.created".into(),
            received_at: Timestamp::now(),
            delivered_at: None,
            correlation_id: packr::domain::CorrelationId::generate(),
            payload: body,
        })
        .unwrap(),
    );
    message.send().await.unwrap();
    poll_once(
        &s.sqs,
        &s.queue_url,
        &queue_arn,
        &EsmConfig::default(),
        |e| handle_batch(&healthy, e),
    )
    .await
    .unwrap();
    assert_eq!(metrics.total("webhook.applied"), 1.0);
    assert_eq!(metrics.total("webhook.duplicate_events"), 1.0);
    assert_eq!(
        visible(&s.sqs, &s.queue_url).await + visible(&s.sqs, &dlq_url).await,
        0
    );
}
