//! webhook-ingest against the emulator: signature checks, routing, receipts, exactly-once
//! queueing, and the answers Svix acts on. Requests are built from
//! `events/function-url-webhook.json`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use packr::domain::{ConnectionId, EventId, Timestamp};
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, CursorCodec};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::ingest::{handle, IngestDeps, DEFAULT_MAX_BODY_BYTES};
use packr::webhook::parked::ParkedEventStore;
use packr::webhook::queue::{EventQueue, QueueError, SqsEventQueue};
use packr::webhook::receipts::ReceiptStore;
use packr::webhook::signature::{Verifier, WebhookSecret};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::*;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const NOW: i64 = 1_700_000_000;

pub fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::parse(&SecretString::from(s.to_owned())).unwrap()
}

/// A function URL event as AWS sends it, with this body and signature headers.
pub fn request(body: &str, id: &str, timestamp: i64, signature: &str) -> LambdaFunctionUrlRequest {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/function-url-webhook.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&raw).unwrap();
    event["body"] = json!(body);
    event["headers"]["svix-id"] = json!(id);
    event["headers"]["svix-timestamp"] = json!(timestamp.to_string());
    event["headers"]["svix-signature"] = json!(signature);
    serde_json::from_value(event).unwrap()
}

pub fn signed(body: &str, id: &str) -> LambdaFunctionUrlRequest {
    request(
        body,
        id,
        NOW,
        &secret(SECRET).sign(id, NOW, body.as_bytes()),
    )
}

pub fn webhook_body(connection: &str, event_type: &str, data: Value) -> String {
    json!({
        "connection_id": connection,
        "integration_name": "shipbob",
        "integration_type": "wms",
        "event_type": event_type,
        "data": data,
    })
    .to_string()
}

/// Fails the first `n` sends, then passes through to the real queue.
pub struct FlakyQueue {
    pub inner: SqsEventQueue,
    pub failures_left: AtomicUsize,
}

#[async_trait]
impl EventQueue for FlakyQueue {
    async fn enqueue(&self, event: &QueuedEvent) -> Result<(), QueueError> {
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(QueueError::Sqs {
                operation: "SendMessage",
                source: "injected: SQS unavailable".into(),
            });
        }
        self.inner.enqueue(event).await
    }
}

pub struct Ingest {
    pub deps: IngestDeps,
    pub store: DynamoStore,
    pub metrics: RecordingSink,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub sdk: aws_config::SdkConfig,
    pub stack: packr_local::provision::Provisioned,
}

/// A stack of its own with connection `conn_demo` routed to tenant `acme`.
pub async fn ingest_with(queue_failures: usize) -> Ingest {
    let sdk = packr_local::testing::emulator_config().await;
    let stack = packr_local::testing::fresh_stack(&sdk).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.table_name.clone(),
        CursorCodec::new(b"k".to_vec()),
    );
    let t = tenant("acme");
    store
        .create_connection(&t, &connection(&t, "conn_demo"))
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = stack.queue_url("WebhookQueue").unwrap().to_owned();
    let metrics = RecordingSink::new();
    // The function's clients sign as webhook-ingest (the IAM check holds them to its role);
    // `store` and `sqs` are the test's own.
    let function = packr_local::testing::function_config(&sdk, "webhook-ingest");
    let function_store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&function),
        stack.table_name.clone(),
        CursorCodec::new(b"k".to_vec()),
    );
    let deps = IngestDeps {
        verifier: Arc::new(Verifier::new(vec![secret(SECRET)])),
        connections: Arc::new(function_store.clone()),
        receipts: Arc::new(function_store),
        queue: Arc::new(FlakyQueue {
            inner: SqsEventQueue::new(aws_sdk_sqs::Client::new(&function), queue_url.clone()),
            failures_left: AtomicUsize::new(queue_failures),
        }),
        parked: Arc::new(store.clone()),
        metrics: Arc::new(metrics.clone()),
        capacity: packr::store::capacity::CapacityMeter::new(),
        clock: Arc::new(|| Timestamp::from_unix_seconds(NOW).unwrap()),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    };
    Ingest {
        deps,
        store,
        metrics,
        sqs,
        queue_url,
        sdk,
        stack,
    }
}

pub async fn ingest() -> Ingest {
    ingest_with(0).await
}

impl Ingest {
    /// Every message on the queue (received once; they stay invisible afterwards).
    pub async fn drain(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let batch = out.messages.unwrap_or_default();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }
}

fn body_json(r: &LambdaFunctionUrlResponse) -> Value {
    serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn a_signed_webhook_is_queued_with_tenant_attributes_and_its_receipt_says_queued() {
    // given
    let s = ingest().await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    // when
    let r = handle(&s.deps, signed(&body, "msg_1")).await;
    // then
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    assert_eq!(body_json(&r)["status"], "queued");
    let messages = s.drain().await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    let attrs = m.message_attributes.as_ref().unwrap();
    assert_eq!(attrs["tenant_id"].string_value(), Some("acme"));
    assert_eq!(attrs["event_id"].string_value(), Some("msg_1"));
    assert!(attrs["correlation_id"]
        .string_value()
        .unwrap()
        .starts_with("cor_"));
    let system = m.attributes.as_ref().unwrap();
    assert_eq!(
        system
            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some("acme")
    );
    let queued: QueuedEvent = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(
        queued.payload,
        serde_json::from_str::<Value>(&body).unwrap()
    );
    // and ingest wrote nothing: the processor writes the event's one record
    let receipt = s
        .store
        .get(&tenant("acme"), &EventId::parse("msg_1").unwrap())
        .await
        .unwrap();
    assert_eq!(receipt, None);
}

#[tokio::test]
async fn a_bad_signature_is_401_and_nothing_is_stored_or_queued() {
    let s = ingest().await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    let sig = secret(SECRET).sign("msg_1", NOW, body.as_bytes());
    let tampered = body.replace("ord_1", "ord_2");

    let r = handle(&s.deps, request(&tampered, "msg_1", NOW, &sig)).await;

    assert_eq!(r.status_code, 401);
    assert_eq!(body_json(&r)["error"]["code"], "signature_mismatch");
    assert!(s.drain().await.is_empty());
    assert_eq!(
        s.store
            .get(&tenant("acme"), &EventId::parse("msg_1").unwrap())
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.metrics.total("webhook.signature_failures"), 1.0);
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_401() {
    let s = ingest().await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    for ts in [NOW - 301, NOW + 301] {
        let sig = secret(SECRET).sign("msg_1", ts, body.as_bytes());
        let r = handle(&s.deps, request(&body, "msg_1", ts, &sig)).await;
        assert_eq!(r.status_code, 401);
    }
    assert!(s.drain().await.is_empty());
}

#[tokio::test]
async fn an_oversize_body_is_413() {
    let s = ingest().await;
    let big = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
    let body = webhook_body(
        "conn_demo",
        "order.updated",
        json!({"id": "ord_1", "pad": big}),
    );

    let r = handle(&s.deps, signed(&body, "msg_1")).await;

    assert_eq!(r.status_code, 413);
    assert!(s.drain().await.is_empty());
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400_and_recorded() {
    let s = ingest().await;
    let body = "{\"connection_id\": \"conn_demo\", \"event_type\": ";

    let r = handle(&s.deps, signed(body, "msg_bad")).await;

    assert_eq!(r.status_code, 400);
    assert_eq!(body_json(&r)["error"]["code"], "invalid_body");
    assert!(s.drain().await.is_empty());
    assert_eq!(s.metrics.total("webhook.rejected"), 1.0);
    let rejected = s
        .store
        .client()
        .scan()
        .table_name(s.store.table_name())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("REJECTED#"))
        .count();
    assert_eq!(rejected, 1);
}

#[tokio::test]
async fn an_event_for_a_connection_not_linked_yet_is_parked_whole_and_acknowledged() {
    // given a connection no tenant has linked
    let s = ingest().await;
    let body = webhook_body("conn_nobody", "order.updated", json!({"id": "ord_1"}));
    // when an event for it arrives, and is redelivered
    let r = handle(&s.deps, signed(&body, "msg_1")).await;
    let again = handle(&s.deps, signed(&body, "msg_1")).await;
    // then both are acknowledged, nothing is queued, and the event is parked once, whole
    assert_eq!((r.status_code, again.status_code), (200, 200));
    assert_eq!(body_json(&r)["status"], "parked");
    assert!(s.drain().await.is_empty());
    assert_eq!(s.metrics.total("webhook.parked"), 1.0);
    let parked = ParkedEventStore::parked(&s.store, &ConnectionId::parse("conn_nobody").unwrap())
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    let event = parked[0].event.clone().expect("readable");
    assert_eq!(event.event_id.as_str(), "msg_1");
    assert_eq!(event.event_type, "order.updated");
    assert_eq!(event.payload, serde_json::from_str::<Value>(&body).unwrap());
    assert_eq!(event.delivered_at, Timestamp::from_unix_seconds(NOW));
    assert_eq!(
        parked[0].parked_at,
        Timestamp::from_unix_seconds(NOW).unwrap()
    );
}

#[tokio::test]
async fn a_queued_event_carries_the_svix_timestamp_of_its_delivery() {
    let s = ingest().await;
    let body = webhook_body("conn_demo", "connection.deleted", json!({}));
    let id = "msg_ts";
    let at = NOW - 30;
    let r = handle(
        &s.deps,
        request(&body, id, at, &secret(SECRET).sign(id, at, body.as_bytes())),
    )
    .await;
    assert_eq!(r.status_code, 200);
    let messages = s.drain().await;
    let queued: QueuedEvent = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(queued.delivered_at, Timestamp::from_unix_seconds(at));
    assert_eq!(
        queued.received_at,
        Timestamp::from_unix_seconds(NOW).unwrap()
    );
}

#[tokio::test]
async fn a_duplicate_delivery_is_acknowledged_and_queued_again_for_the_processor_to_tell() {
    // given one event delivered twice (Svix retries, or delivers twice)
    let s = ingest().await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    // when
    let first = handle(&s.deps, signed(&body, "msg_1")).await;
    let second = handle(&s.deps, signed(&body, "msg_1")).await;
    // then both are acknowledged and both queued with the same event id; the processor's
    // record of the event acknowledges the second as a duplicate (see webhook_processor)
    assert_eq!((first.status_code, second.status_code), (200, 200));
    let queued = s.drain().await;
    assert_eq!(queued.len(), 2);
    assert!(queued
        .iter()
        .all(|m| m.body().unwrap().contains("\"event_id\":\"msg_1\"")));
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_are_all_acknowledged() {
    let s = Arc::new(ingest().await);
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));

    let tasks = (0..8).map(|_| {
        let s = s.clone();
        let body = body.clone();
        tokio::spawn(async move { handle(&s.deps, signed(&body, "msg_1")).await.status_code })
    });
    let statuses: Vec<i64> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();

    assert_eq!(statuses, vec![200; 8]);
    assert_eq!(s.drain().await.len(), 8);
}

#[tokio::test]
async fn when_sqs_fails_the_sender_gets_5xx_and_its_retry_queues_the_event() {
    // given SQS fails on the first send
    let s = ingest_with(1).await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    // when the first delivery fails and Svix retries
    let first = handle(&s.deps, signed(&body, "msg_1")).await;
    let retry = handle(&s.deps, signed(&body, "msg_1")).await;
    // then
    assert_eq!(first.status_code, 500);
    assert_eq!(retry.status_code, 200);
    assert_eq!(body_json(&retry)["status"], "queued");
    assert_eq!(s.drain().await.len(), 1);
    assert_eq!(s.metrics.total("webhook.enqueue_failures"), 1.0);
}

#[tokio::test]
async fn an_event_ingest_can_route_costs_no_dynamodb_write_and_a_cached_route_no_read() {
    // given ingest as wired for Lambda: metered client, cached route lookups
    let mut s = ingest().await;
    let meter = packr::store::capacity::CapacityMeter::new();
    let metered = DynamoStore::new(
        packr::store::capacity::metered_client(
            &packr_local::testing::function_config(&s.sdk, "webhook-ingest"),
            meter.clone(),
        ),
        s.store.table_name(),
        CursorCodec::new(b"k".to_vec()),
    );
    s.deps.connections = Arc::new(packr::store::cache::CachedLookups::new(
        Arc::new(metered.clone()),
        Arc::new(metered),
        std::time::Duration::from_secs(60),
    ));
    s.deps.capacity = meter.clone();
    // when 20 events of one connection are delivered
    for i in 0..20 {
        let body = webhook_body(
            "conn_demo",
            "order.updated",
            json!({"id": format!("ord_{i}")}),
        );
        assert_eq!(
            handle(&s.deps, signed(&body, &format!("msg_{i}")))
                .await
                .status_code,
            200
        );
    }
    // then one read (the first route lookup) and no write were made, as emitted
    assert_eq!(s.metrics.total("dynamodb.write_units"), 0.0);
    assert_eq!(
        s.metrics.values("dynamodb.read_units").len(),
        1,
        "only the first delivery read DynamoDB"
    );
    assert_eq!(s.drain().await.len(), 20);
}

#[tokio::test]
async fn when_dynamodb_fails_the_sender_gets_5xx_and_nothing_is_queued() {
    let mut s = ingest().await;
    let broken = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&s.sdk),
        "no-such-table",
        CursorCodec::new(b"k".to_vec()),
    );
    s.deps.connections = Arc::new(broken.clone());
    s.deps.receipts = Arc::new(broken);
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));

    let r = handle(&s.deps, signed(&body, "msg_1")).await;

    assert_eq!(r.status_code, 500);
    assert!(s.drain().await.is_empty());
}

#[tokio::test]
async fn the_previous_secret_still_verifies_during_a_rotation() {
    let mut s = ingest().await;
    s.deps.verifier = Arc::new(Verifier::new(vec![
        secret("whsec_bmV3LXNlY3JldC1rZXk="),
        secret(SECRET),
    ]));
    let body = webhook_body("conn_demo", "inventory.updated", json!({"id": "inv_1"}));

    let r = handle(&s.deps, signed(&body, "msg_1")).await;

    assert_eq!(r.status_code, 200);
}

#[tokio::test]
async fn only_post_is_accepted() {
    let s = ingest().await;
    let body = webhook_body("conn_demo", "order.updated", json!({"id": "ord_1"}));
    let mut req = signed(&body, "msg_1");
    req.request_context.http.method = Some("GET".into());

    let r = handle(&s.deps, req).await;

    assert_eq!(r.status_code, 405);
}
