//! Events for a connection no tenant has linked yet: parked by ingest (200 to Trackstar),
//! queued once by the exchange that links the connection, applied by the processor; and
//! expired by the sweep, never silently. Ingest, the API and the processor run against one
//! emulated stack (table and queues) and the Trackstar simulator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use packr::domain::{
    ConnectionId, ConnectionRoute, ConnectionStatus, CorrelationId, EventId, Order, Timestamp,
};
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, CursorCodec, StoreError, SyncedStore};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::ingest::{handle, IngestDeps, DEFAULT_MAX_BODY_BYTES};
use packr::webhook::parked::{
    release_parked, sweep, Park, ParkedEntry, ParkedEvent, ParkedEventStore, ParkedKey,
    ReleaseDeps, Released, SweepDeps,
};
use packr::webhook::processor::{handle_batch, ProcessorDeps};
use packr::webhook::queue::SqsEventQueue;
use packr::webhook::signature::Verifier;
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;
use crate::webhook_ingest::{secret, signed, NOW, SECRET};
use crate::webhook_processor::{fixture, sqs_event, ORDER_ID};

const NEW: &str = "conn_new";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

struct Rig {
    api: ApiStack,
    ingest: IngestDeps,
    processor: ProcessorDeps,
    store: DynamoStore,
    queue: SqsEventQueue,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    ingest_metrics: RecordingSink,
    api_metrics: RecordingSink,
}

/// One stack with queues: `acme` and `globex` (see `api_stack`), ingest at [`NOW`].
async fn rig() -> Rig {
    let sdk = packr_local::testing::emulator_config().await;
    let provisioned = packr_local::testing::fresh_stack(&sdk).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        provisioned.table_name.clone(),
        CursorCodec::new(b"integration-test-cursor-key".to_vec()),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = provisioned.queue_url("WebhookQueue").unwrap().to_owned();
    let queue = SqsEventQueue::new(sqs.clone(), queue_url.clone());
    let stack = Stack {
        sdk: sdk.clone(),
        table: provisioned.table_name.clone(),
        store: store.clone(),
    };
    // Each function's dependencies sign as that function (for the IAM check).
    let ingest_store = stack.store_as("webhook-ingest");
    let processor_store = stack.store_as("webhook-processor");
    let queue_as = |function: &str| {
        SqsEventQueue::new(
            aws_sdk_sqs::Client::new(&stack.sdk_as(function)),
            queue_url.clone(),
        )
    };
    let ingest_queue = queue_as("webhook-ingest");
    let api_queue = queue_as("api-connections");
    let mut api = api_stack_on(stack).await;
    let api_metrics = RecordingSink::new();
    api.deps.webhook_queue = Some(Arc::new(api_queue));
    api.deps.metrics = Arc::new(api_metrics.clone());
    let ingest_metrics = RecordingSink::new();
    let ingest = IngestDeps {
        verifier: Arc::new(Verifier::new(vec![secret(SECRET)])),
        connections: Arc::new(ingest_store.clone()),
        receipts: Arc::new(ingest_store.clone()),
        queue: Arc::new(ingest_queue),
        parked: Arc::new(ingest_store),
        metrics: Arc::new(ingest_metrics.clone()),
        capacity: packr::store::capacity::CapacityMeter::new(),
        clock: Arc::new(|| Timestamp::from_unix_seconds(NOW).unwrap()),
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    };
    let processor = processor_deps(&processor_store, &RecordingSink::new());
    Rig {
        api,
        ingest,
        processor,
        store,
        queue,
        sqs,
        queue_url,
        ingest_metrics,
        api_metrics,
    }
}

/// A Trackstar fixture addressed to `connection`.
fn body_for(connection: &str, name: &str) -> String {
    let mut body = fixture(name);
    body["connection_id"] = json!(connection);
    body.to_string()
}

fn status(r: &aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse) -> Value {
    serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap()
}

fn connection_id(id: &str) -> ConnectionId {
    ConnectionId::parse(id).unwrap()
}

fn parked_event(connection: &str, event: &str) -> ParkedEvent {
    ParkedEvent {
        event_id: EventId::parse(event).unwrap(),
        connection_id: connection_id(connection),
        event_type: "order.created".into(),
        received_at: at(0),
        delivered_at: Some(at(0)),
        correlation_id: CorrelationId::generate(),
        payload: serde_json::from_str(&body_for(connection, "order-created")).unwrap(),
    }
}

impl Rig {
    /// Every message on the webhook queue (received once; they stay invisible after).
    async fn take_queued(&self) -> Vec<QueuedEvent> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let batch = out.messages.unwrap_or_default();
            if batch.is_empty() {
                return all;
            }
            all.extend(
                batch
                    .iter()
                    .map(|m| serde_json::from_str(m.body().unwrap()).unwrap()),
            );
        }
    }

    async fn exchange(&self, tenant: &str, connection: &str) -> Answer {
        self.api
            .send(
                &Caller::admin(tenant),
                "POST",
                "/connections/exchange",
                &json!({ "auth_code": format!("auth_{connection}") }),
                &[],
            )
            .await
    }

    async fn parked(&self, connection: &str) -> Vec<ParkedEntry> {
        ParkedEventStore::parked(&self.store, &connection_id(connection))
            .await
            .unwrap()
    }

    fn release_deps<'a>(&'a self, parked: &'a dyn ParkedEventStore) -> ReleaseDeps<'a> {
        ReleaseDeps {
            parked,
            queue: &self.queue,
            metrics: self.api.deps.metrics.as_ref(),
        }
    }
}

fn batch(events: &[QueuedEvent]) -> SqsEvent {
    sqs_event(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("sqs-{i}"), serde_json::to_string(e).unwrap()))
            .collect(),
    )
}

#[tokio::test]
async fn events_that_arrive_before_the_exchange_are_parked_then_queued_and_applied() {
    // given an order and the connection.created of a connection not linked yet
    let r = rig().await;
    let order = handle(&r.ingest, signed(&body_for(NEW, "order-created"), "msg_o1")).await;
    let created = handle(
        &r.ingest,
        signed(&body_for(NEW, "connection-created"), "msg_c1"),
    )
    .await;
    // then Trackstar is told 200 for both, nothing is queued, both are parked
    assert_eq!((order.status_code, created.status_code), (200, 200));
    assert_eq!(status(&order)["status"], "parked");
    assert!(r.take_queued().await.is_empty());
    assert_eq!(r.parked(NEW).await.len(), 2);
    assert_eq!(r.ingest_metrics.total("webhook.parked"), 2.0);

    // when acme links the connection
    let answer = r.exchange(ACME, NEW).await;
    assert_eq!(answer.status, 201, "{}", answer.body);

    // then both events are queued for acme, once, and nothing stays parked
    let queued = r.take_queued().await;
    let mut ids: Vec<&str> = queued.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["msg_c1", "msg_o1"]);
    assert!(queued
        .iter()
        .all(|e| e.tenant_id == tenant(ACME) && e.connection_id == connection_id(NEW)));
    assert!(r.parked(NEW).await.is_empty());
    assert_eq!(r.api_metrics.total("webhook.parked_released"), 2.0);

    // and the processor applies them: the order is stored, the connection active
    let response = handle_batch(&r.processor, batch(&queued)).await;
    assert!(response.batch_item_failures.is_empty());
    let stored: Option<Order> = SyncedStore::<Order>::get(&r.store, &tenant(ACME), ORDER_ID)
        .await
        .unwrap();
    assert!(stored.is_some(), "the parked order is applied");
    let connection = r
        .store
        .get_connection(&tenant(ACME), &connection_id(NEW))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::Active);
    assert_eq!(
        connection.marks.lifecycle_at,
        Some(Timestamp::parse("2025-09-30T01:00:00Z").unwrap()),
        "connection.created was applied"
    );
}

/// The real store, except that deleting a parked record fails while `failures` lasts (a
/// crash between the send and the delete).
struct CrashBeforeDelete {
    inner: DynamoStore,
    failures: AtomicUsize,
}

#[async_trait]
impl ParkedEventStore for CrashBeforeDelete {
    async fn park(&self, event: &ParkedEvent, now: Timestamp) -> Result<Park, StoreError> {
        self.inner.park(event, now).await
    }

    async fn parked(&self, connection: &ConnectionId) -> Result<Vec<ParkedEntry>, StoreError> {
        self.inner.parked(connection).await
    }

    async fn parked_before(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ParkedKey>, StoreError> {
        self.inner.parked_before(before, limit).await
    }

    async fn remove(&self, connection: &ConnectionId, event: &EventId) -> Result<bool, StoreError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::dynamo("DeleteItem", "injected: crashed"));
        }
        self.inner.remove(connection, event).await
    }
}

#[tokio::test]
async fn a_drain_interrupted_before_its_delete_resends_the_event_under_its_own_id() {
    // given a parked event of a connection that is linked now
    let r = rig().await;
    ParkedEventStore::park(&r.store, &parked_event(NEW, "msg_1"), at(0))
        .await
        .unwrap();
    let route = ConnectionRoute {
        connection_id: connection_id(NEW),
        tenant_id: tenant(ACME),
        brand_id: None,
        deleted_at: None,
    };
    let crashing = CrashBeforeDelete {
        inner: r.store.clone(),
        failures: AtomicUsize::new(1),
    };
    // when a drain sends it but crashes before deleting the record, and a second drain runs
    let first = release_parked(r.release_deps(&crashing), &route)
        .await
        .unwrap();
    assert_eq!(
        r.parked(NEW).await.len(),
        1,
        "the record survived the crash"
    );
    let second = release_parked(r.release_deps(&crashing), &route)
        .await
        .unwrap();
    // then the second drain sent it again and deleted the record; both copies carry the
    // event's own id, so the processor's record of the event applies it once (see
    // webhook_processor::a_redelivered_event_is_not_applied_twice)
    let once = Released {
        queued: 1,
        ..Released::default()
    };
    assert_eq!((first, second), (once, once));
    let queued = r.take_queued().await;
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|q| q.event_id.as_str() == "msg_1"));
    assert!(r.parked(NEW).await.is_empty());
}

#[tokio::test]
async fn the_sweep_removes_expired_parked_events_with_a_metric_and_keeps_fresh_ones() {
    // given two events parked a week ago for a connection never linked, one parked an hour
    // ago for another, and an old one of a connection linked since
    let r = rig().await;
    let now = at(0).plus_seconds(WEEK.as_secs() as i64 + 60);
    for event in ["msg_old_1", "msg_old_2"] {
        ParkedEventStore::park(&r.store, &parked_event("conn_gone", event), at(0))
            .await
            .unwrap();
    }
    ParkedEventStore::park(
        &r.store,
        &parked_event("conn_fresh", "msg_fresh"),
        now.plus_seconds(-3600),
    )
    .await
    .unwrap();
    ParkedEventStore::park(&r.store, &parked_event("conn_linked", "msg_linked"), at(0))
        .await
        .unwrap();
    r.store
        .create_connection(&tenant(GLOBEX), &connection(&tenant(GLOBEX), "conn_linked"))
        .await
        .unwrap();
    let metrics = RecordingSink::new();
    let deps = SweepDeps {
        release: ReleaseDeps {
            metrics: &metrics,
            ..r.release_deps(&r.store)
        },
        connections: &r.store,
        retention: WEEK,
    };
    // when the sweep runs
    let report = sweep(&deps, now).await.unwrap();
    // then the expired ones are gone and counted, the fresh one stays, and the linked
    // connection's event is queued for its tenant instead of expiring
    assert_eq!((report.expired, report.connections), (2, 1));
    assert_eq!(report.released.queued, 1);
    assert_eq!(metrics.total("webhook.parked_expired"), 2.0);
    assert!(r.parked("conn_gone").await.is_empty());
    assert_eq!(r.parked("conn_fresh").await.len(), 1);
    assert!(r.parked("conn_linked").await.is_empty());
    let queued = r.take_queued().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].tenant_id, tenant(GLOBEX));
    // and a second sweep finds nothing more to expire
    let again = sweep(&deps, now).await.unwrap();
    assert_eq!(again.expired, 0);
    assert_eq!(metrics.total("webhook.parked_expired"), 2.0);
}

#[tokio::test]
async fn a_tenant_cannot_drain_another_connections_parked_events() {
    // given events parked for conn_new
    let r = rig().await;
    let parked = handle(&r.ingest, signed(&body_for(NEW, "order-created"), "msg_o1")).await;
    assert_eq!(status(&parked)["status"], "parked");
    // when globex links a different connection, and acme tries to link globex's
    let other = r.exchange(GLOBEX, "conn_other").await;
    let taken = r.exchange(ACME, CONN_GLOBEX).await;
    // then nothing of conn_new is queued, and the taken connection is not found
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(taken.status, 404, "{}", taken.body);
    assert!(r.take_queued().await.is_empty());
    assert_eq!(r.parked(NEW).await.len(), 1);
    // and only the exchange of conn_new itself releases them, to the tenant linking it
    let linked = r.exchange(GLOBEX, NEW).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let queued = r.take_queued().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].tenant_id, tenant(GLOBEX));
}
