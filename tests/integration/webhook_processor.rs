//! webhook-processor against the emulator: exactly once, never out of order, partial batch
//! failures, crash recovery, connection events, truncated events fetched from Trackstar.
//! Event bodies are the Trackstar webhook fixtures in `events/`.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use packr::domain::{
    Connection, ConnectionId, ConnectionStatus, CorrelationId, EventId, Order, OrderStatus,
    TenantId, Timestamp,
};
use packr::health::{HourStats, WebhookStatsStore};
use packr::metrics::RecordingSink;
use packr::resource::WireObject;
use packr::secrets::InMemorySecretSource;
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, SyncedStore};
use packr::sync::{MemorySyncJobQueue, ResourceKind, SyncMode};
use packr::trackstar::{TrackstarClient, TrackstarConfig};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::processor::{handle_batch, ObjectFetcher, ProcessorDeps, ProcessorLimits};
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use packr::webhook::wiring::TrackstarFetcher;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::*;

pub(crate) const CONNECTION: &str = "conn_fixture";
pub(crate) const CUSTOMER: &str = "wc_fixture_1";
const BASE_MS: i64 = 1_759_200_000_000; // 2025-09-30T02:40:00Z, after the fixtures' dates

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../events/trackstar-webhook-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A webhook the contract describes but the official OpenAPI document has no schema for
/// (so it is kept apart from the fixtures the simulator's contract test checks).
fn contract_fixture(name: &str) -> Value {
    let path = format!(
        "{}/../events/trackstar-contract-webhook-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture with its `data.updated_date` (and optionally `status`) changed.
fn order_event(updated: &str, status: &str) -> Value {
    let mut body = fixture("order-updated");
    body["data"]["updated_date"] = json!(updated);
    body["data"]["status"] = json!(status);
    body
}

/// The stats store, counting its writes.
pub struct CountingStats {
    pub inner: DynamoStore,
    pub writes: Arc<AtomicUsize>,
}

#[async_trait]
impl WebhookStatsStore for CountingStats {
    async fn add(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        delta: &HourStats,
    ) -> Result<(), packr::store::StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.add(tenant, connection, delta).await
    }

    async fn hours(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        since: Timestamp,
    ) -> Result<Vec<HourStats>, packr::store::StoreError> {
        self.inner.hours(tenant, connection, since).await
    }
}

pub(crate) struct Processor {
    stats_writes: Arc<AtomicUsize>,
    pub(crate) deps: ProcessorDeps,
    sync_jobs: Arc<MemorySyncJobQueue>,
    pub(crate) store: DynamoStore,
    pub(crate) metrics: RecordingSink,
    pub(crate) now_ms: Arc<AtomicI64>,
    pub(crate) tenant: TenantId,
}

pub(crate) async fn processor_with(fetcher: Arc<dyn ObjectFetcher>) -> Processor {
    let s = stack().await;
    let t = seed_acme(&s.store, CUSTOMER, CONNECTION).await;
    // The function's dependencies sign as webhook-processor (for the IAM check); `store`
    // is the test's own.
    let function = s.store_as("webhook-processor");
    let metrics = RecordingSink::new();
    let now_ms = Arc::new(AtomicI64::new(BASE_MS));
    let clock_ms = now_ms.clone();
    let sync_jobs = Arc::new(MemorySyncJobQueue::new());
    let stats_writes = Arc::new(AtomicUsize::new(0));
    let deps = ProcessorDeps {
        stats: Arc::new(CountingStats {
            inner: function.clone(),
            writes: stats_writes.clone(),
        }),
        max_receive_count: packr::webhook::processor::DEFAULT_MAX_RECEIVE_COUNT,
        offboarding: None,
        objects: Arc::new(function.clone()),
        tenants: Arc::new(function.clone()),
        connections: Arc::new(function.clone()),
        receipts: Arc::new(function.clone()),
        backfills: Arc::new(function),
        fetcher,
        capacity: packr::store::capacity::CapacityMeter::new(),
        limits: ProcessorLimits::default(),
        sync_jobs: sync_jobs.clone(),
        metrics: Arc::new(metrics.clone()),
        clock: Arc::new(move || {
            Timestamp::from_unix_micros(clock_ms.load(Ordering::SeqCst) * 1000).unwrap()
        }),
    };
    Processor {
        stats_writes,
        deps,
        sync_jobs,
        store: s.store,
        metrics,
        now_ms,
        tenant: t,
    }
}

/// A fetcher for tests where Trackstar must not be called.
pub struct NoFetcher;

#[async_trait]
impl ObjectFetcher for NoFetcher {
    async fn fetch_many(
        &self,
        _: &Connection,
        _: ResourceKind,
        _: &[String],
    ) -> Result<Vec<WireObject>, packr::webhook::processor::FetchError> {
        Err("no Trackstar in this test".into())
    }
}

struct PanickingFetcher;

#[async_trait]
impl ObjectFetcher for PanickingFetcher {
    async fn fetch_many(
        &self,
        _: &Connection,
        _: ResourceKind,
        _: &[String],
    ) -> Result<Vec<WireObject>, packr::webhook::processor::FetchError> {
        panic!("injected panic while fetching")
    }
}

async fn processor() -> Processor {
    processor_with(Arc::new(NoFetcher)).await
}

impl Processor {
    /// A queued event as ingest would have produced it (ingest writes no receipt).
    pub(crate) async fn queued(&self, event_id: &str, body: Value) -> QueuedEvent {
        let event_type = body["event_type"].as_str().unwrap().to_owned();
        QueuedEvent {
            event_id: EventId::parse(event_id).unwrap(),
            tenant_id: self.tenant.clone(),
            brand_id: None,
            connection_id: ConnectionId::parse(CONNECTION).unwrap(),
            event_type,
            received_at: Timestamp::from_unix_micros((BASE_MS - 250) * 1000).unwrap(),
            delivered_at: None,
            correlation_id: CorrelationId::generate(),
            payload: body,
        }
    }

    pub(crate) async fn receipt(&self, event_id: &str) -> packr::webhook::receipts::Receipt {
        ReceiptStore::get(
            &self.store,
            &self.tenant,
            &EventId::parse(event_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
    }

    async fn order(&self, id: &str) -> Option<Order> {
        SyncedStore::<Order>::get(&self.store, &self.tenant, id)
            .await
            .unwrap()
    }
}

/// An SQS event as Lambda delivers it (each message a fresh SQS message id, as after a
/// redrive), one record per body.
pub fn sqs_event(bodies: Vec<(String, String)>) -> SqsEvent {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/sqs-webhook-processor-batch.json"
    ))
    .unwrap();
    let template: Value = serde_json::from_str(&raw).unwrap();
    let record = template["Records"][0].clone();
    let records: Vec<Value> = bodies
        .into_iter()
        .map(|(message_id, body)| {
            let mut r = record.clone();
            r["messageId"] = json!(message_id);
            r["body"] = json!(body);
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

pub fn message(id: &str, event: &QueuedEvent) -> (String, String) {
    (id.to_owned(), serde_json::to_string(event).unwrap())
}

pub(crate) fn failed_ids(
    response: &aws_lambda_events::event::sqs::SqsBatchResponse,
) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

pub const ORDER_ID: &str = "ord_542e98c7d77d04f90d8c55e1";

#[tokio::test]
async fn an_order_event_is_applied_with_its_brand_and_the_receipt_says_applied() {
    // given
    let p = processor().await;
    let e = p.queued("msg_1", fixture("order-created")).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then
    assert!(r.batch_item_failures.is_empty());
    let order = p.order(ORDER_ID).await.expect("order stored");
    assert_eq!(
        order.brand_id,
        Some(brand("b1")),
        "brand from the warehouse customer id"
    );
    assert_eq!(order.tenant_id, p.tenant);
    assert_eq!(p.receipt("msg_1").await.state, ReceiptState::Applied);
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    assert_eq!(p.metrics.values("webhook.lag_ms"), vec![250.0]);
    assert_eq!(p.metrics.values("webhook.processing_latency_ms").len(), 1);
}

#[tokio::test]
async fn a_redelivered_event_is_not_applied_twice() {
    // given event 1 (older) applied, then event 2 (newer) applied
    let p = processor().await;
    let e1 = p
        .queued("msg_1", order_event("2025-09-30T01:00:00Z", "processing"))
        .await;
    let e2 = p
        .queued("msg_2", order_event("2025-09-30T02:00:00Z", "packed"))
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e1)])).await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &e2)])).await;
    // when event 1 comes back (a DLQ redrive: new SQS message id, same event id)
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-redriven", &e1)])).await;
    // then it is acknowledged as a duplicate and nothing changes
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(p.order(ORDER_ID).await.unwrap().status, OrderStatus::Packed);
    assert_eq!(p.metrics.total("webhook.duplicate_events"), 1.0);
    assert_eq!(p.metrics.total("webhook.applied"), 2.0);
}

#[tokio::test]
async fn an_older_update_after_a_newer_one_is_stale_and_the_newer_state_stays() {
    let p = processor().await;
    let newer = p
        .queued("msg_new", order_event("2025-09-30T02:00:00Z", "fulfilled"))
        .await;
    let older = p
        .queued("msg_old", order_event("2025-09-30T01:00:00Z", "processing"))
        .await;

    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &newer)])).await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &older)])).await;

    assert!(r.batch_item_failures.is_empty());
    let order = p.order(ORDER_ID).await.unwrap();
    assert_eq!(order.status, OrderStatus::Fulfilled);
    assert_eq!(p.receipt("msg_old").await.state, ReceiptState::Stale);
    assert_eq!(p.metrics.total("webhook.stale"), 1.0);
}

#[tokio::test]
async fn in_a_mixed_batch_exactly_the_bad_message_is_reported() {
    // given an applied event, and a batch of good, bad, duplicate and stale messages
    let p = processor().await;
    let first = p
        .queued("msg_first", order_event("2025-09-30T02:00:00Z", "packed"))
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-0", &first)])).await;
    let good = p.queued("msg_good", fixture("inventory-updated")).await;
    let stale = p
        .queued("msg_stale", order_event("2025-09-30T01:00:00Z", "open"))
        .await;
    let batch = sqs_event(vec![
        message("sqs-good", &good),
        ("sqs-bad".into(), "{not json".into()),
        message("sqs-dup", &first),
        message("sqs-stale", &stale),
    ]);
    // when
    let r = handle_batch(&p.deps, batch).await;
    // then
    assert_eq!(failed_ids(&r), vec!["sqs-bad".to_owned()]);
    assert_eq!(p.receipt("msg_good").await.state, ReceiptState::Applied);
    assert_eq!(p.receipt("msg_stale").await.state, ReceiptState::Stale);
    assert_eq!(p.order(ORDER_ID).await.unwrap().status, OrderStatus::Packed);
}

#[tokio::test]
async fn an_attempt_that_applied_but_crashed_before_its_receipt_is_recorded_once_on_retry() {
    // given an attempt that stored the order and crashed before writing the receipt
    let p = processor().await;
    let e = p.queued("msg_1", fixture("order-created")).await;
    let crashed = processor().await;
    let _ = crashed; // (a second stack: the crash leaves nothing but the stored object)
    let stores = p.deps.object_stores();
    let wire = WireObject::from_json(ResourceKind::Orders, &e.payload["data"]).unwrap();
    let connection = p
        .store
        .get_connection(&p.tenant, &ConnectionId::parse(CONNECTION).unwrap())
        .await
        .unwrap()
        .unwrap();
    let ctx = packr::apply::ContextResolver::new(&p.store, &connection)
        .context(&wire)
        .await
        .unwrap();
    stores
        .upsert(
            &p.tenant,
            &wire.into_domain(&ctx).unwrap(),
            packr::apply::Freshness::Event,
        )
        .await
        .unwrap();
    // when SQS redelivers it
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then it is recorded as applied (the stored state is the event's), once
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(p.receipt("msg_1").await.state, ReceiptState::Applied);
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    // and again is a duplicate
    handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &e)])).await;
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    assert_eq!(p.metrics.total("webhook.duplicate_events"), 1.0);
}

#[tokio::test]
async fn unhandled_event_types_are_recorded_and_acknowledged() {
    let p = processor().await;
    let mut body = fixture("inbound-shipment-updated");
    body["event_type"] = json!("warehouse-location.updated");
    let e = p.queued("msg_1", body).await;

    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;

    assert!(r.batch_item_failures.is_empty());
    assert_eq!(p.receipt("msg_1").await.state, ReceiptState::Ignored);
    assert_eq!(p.metrics.total("webhook.ignored"), 1.0);
}

#[tokio::test]
async fn connection_events_mark_the_connection() {
    let p = processor().await;
    let id = ConnectionId::parse(CONNECTION).unwrap();
    let events = [
        ("msg_c1", "connection-created"),
        ("msg_c2", "connection-error-created"),
    ];
    for (event_id, name) in events {
        let e = p.queued(event_id, fixture(name)).await;
        let r = handle_batch(&p.deps, sqs_event(vec![message(event_id, &e)])).await;
        assert!(r.batch_item_failures.is_empty(), "{name}");
    }
    let c = p
        .store
        .get_connection(&p.tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    assert!(
        c.full_sync_requested_at.is_some(),
        "a full sync is requested"
    );
    assert_eq!(c.errors.len(), 1);

    for (event_id, name) in [
        ("msg_c3", "connection-error-deleted"),
        ("msg_c4", "connection-deleted"),
    ] {
        let e = p.queued(event_id, fixture(name)).await;
        handle_batch(&p.deps, sqs_event(vec![message(event_id, &e)])).await;
    }
    let c = p
        .store
        .get_connection(&p.tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(c.errors.is_empty());
    assert_eq!(c.status, ConnectionStatus::Disconnected);
}

#[tokio::test]
async fn connection_created_queues_its_full_syncs_on_the_real_sync_jobs_queue() {
    // given the processor's sync-jobs queue on SQS, as the processor sends to it
    let mut p = processor().await;
    let sdk = packr_local::testing::emulator_config().await;
    let url = packr_local::testing::fresh_stack(&sdk)
        .await
        .queue_url("SyncJobsQueue")
        .unwrap()
        .to_owned();
    p.deps.sync_jobs = Arc::new(packr::sync::SqsSyncJobQueue::new(
        aws_sdk_sqs::Client::new(&packr_local::testing::function_config(
            &sdk,
            "webhook-processor",
        )),
        url.clone(),
    ));
    let e = p.queued("msg_c2", fixture("connection-created")).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("msg_c2", &e)])).await;
    // then one job per resource is on the queue
    assert!(r.batch_item_failures.is_empty());
    let queued = aws_sdk_sqs::Client::new(&sdk)
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(queued.len(), ResourceKind::ALL.len(), "{queued:?}");
}

#[tokio::test]
async fn connection_created_queues_a_full_sync_of_every_resource() {
    // given a connection.created webhook (Trackstar sends no resource webhooks for the
    // initial historical sync)
    let p = processor().await;
    let e = p.queued("msg_c1", fixture("connection-created")).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("msg_c1", &e)])).await;
    // then one full job per resource is on the sync-jobs queue, for this tenant
    assert!(r.batch_item_failures.is_empty());
    let mut jobs = p.sync_jobs.drain();
    jobs.sort_by_key(|j| j.resource);
    assert_eq!(
        jobs.iter().map(|j| j.resource).collect::<Vec<_>>(),
        ResourceKind::ALL.to_vec()
    );
    assert!(jobs.iter().all(|j| j.mode == SyncMode::Full
        && j.tenant_id == p.tenant
        && j.connection_id.as_str() == CONNECTION));
    assert_eq!(jobs[0].reason, "connection.created");
    // and a redelivery of the same event (already applied) queues nothing more
    let r = handle_batch(&p.deps, sqs_event(vec![message("msg_c1b", &e)])).await;
    assert!(r.batch_item_failures.is_empty());
    assert!(p.sync_jobs.drain().is_empty());
}

#[tokio::test]
async fn historical_sync_completed_queues_a_full_sync_of_that_resource_only() {
    let p = processor().await;
    let e = p
        .queued("msg_h1", fixture("connection-historical-sync-completed"))
        .await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("msg_h1", &e)])).await;
    assert!(r.batch_item_failures.is_empty());
    let jobs = p.sync_jobs.drain();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].resource, jobs[0].mode),
        (ResourceKind::Orders, SyncMode::Full)
    );
    // a resource Packr does not sync needs no job
    let mut body = fixture("connection-historical-sync-completed");
    body["data"]["resource"] = json!("labor_activities");
    let e = p.queued("msg_h2", body).await;
    handle_batch(&p.deps, sqs_event(vec![message("msg_h2", &e)])).await;
    assert!(p.sync_jobs.drain().is_empty());
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_with_its_reason_kept_for_replay_and_acknowledged() {
    // given an order event for a connection the tenant does not know
    let p = processor().await;
    let mut body = fixture("order-created");
    body["connection_id"] = json!("conn_other");
    let mut e = p.queued("msg_1", body).await;
    e.connection_id = ConnectionId::parse("conn_other").unwrap();
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then it is not retried (no receive is burnt on it), but recorded and kept
    assert!(r.batch_item_failures.is_empty());
    let receipt = p.receipt("msg_1").await;
    assert_eq!(receipt.state, ReceiptState::Failed);
    assert!(receipt.failure_permanent);
    assert!(receipt.failure_reason.unwrap().contains("connection"));
    let kept = p
        .store
        .get_for_replay(&p.tenant, &EventId::parse("msg_1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.event.as_ref().map(|k| &k.event_id), Some(&e.event_id));
    assert_eq!(p.metrics.total("webhook.failures"), 1.0);
}

#[tokio::test]
async fn a_malformed_payload_is_a_permanent_failure() {
    // given an order event whose data is not a Trackstar order
    let p = processor().await;
    let mut body = fixture("order-created");
    body["data"] = json!({"id": ORDER_ID, "line_items": "not a list"});
    let e = p.queued("msg_1", body).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then
    assert!(r.batch_item_failures.is_empty());
    let receipt = p.receipt("msg_1").await;
    assert_eq!(
        (receipt.state, receipt.failure_permanent),
        (ReceiptState::Failed, true)
    );
    assert!(p.order(ORDER_ID).await.is_none());
}

#[tokio::test]
async fn a_transient_failure_is_recorded_and_retried_by_the_queue() {
    // given a truncated event whose fetch fails (Trackstar unreachable)
    let p = processor().await; // NoFetcher: every fetch fails
    let mut body = fixture("order-updated");
    body["data_truncated"] = json!(true);
    body["data"] = json!({"id": ORDER_ID});
    let e = p.queued("msg_1", body).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then the message goes back to the queue, and the receipt says why
    assert_eq!(failed_ids(&r), vec!["sqs-1".to_owned()]);
    let receipt = p.receipt("msg_1").await;
    assert_eq!(
        (receipt.state, receipt.failure_permanent),
        (ReceiptState::Failed, false)
    );
    assert!(receipt.failure_reason.unwrap().contains("Trackstar"));
    // and a retry is tried again (not blocked by the first attempt)
    let again = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    assert_eq!(failed_ids(&again), vec!["sqs-1".to_owned()]);
    assert_eq!(p.receipt("msg_1").await.processing_attempts, 2);
}

#[tokio::test]
async fn a_panic_in_one_message_does_not_fail_the_others() {
    let p = processor_with(Arc::new(PanickingFetcher)).await;
    let mut truncated = fixture("order-updated");
    truncated["data_truncated"] = json!(true);
    truncated["data"] = json!({"id": ORDER_ID});
    let bad = p.queued("msg_truncated", truncated).await;
    let good = p.queued("msg_good", fixture("product-created")).await;

    let r = handle_batch(
        &p.deps,
        sqs_event(vec![message("sqs-bad", &bad), message("sqs-good", &good)]),
    )
    .await;

    assert_eq!(failed_ids(&r), vec!["sqs-bad".to_owned()]);
    assert_eq!(p.receipt("msg_good").await.state, ReceiptState::Applied);
}

/// The simulator holding the fixture connection's data, with the connection's token.
pub(crate) async fn fixture_sim() -> trackstar_sim::SimHandle {
    trackstar_sim::spawn(trackstar_sim::SimConfig {
        connections: vec![trackstar_sim::SimConnection {
            connection_id: CONNECTION.into(),
            access_token: "tok_fixture".into(),
            integration_name: "sandbox".into(),
            warehouse_customer_ids: vec![CUSTOMER.into()],
        }],
        ..trackstar_sim::SimConfig::default()
    })
    .await
    .unwrap()
}

/// The processor's Trackstar fetcher, against `sim`.
pub(crate) fn sim_fetcher(sim: &trackstar_sim::SimHandle) -> Arc<dyn ObjectFetcher> {
    let client = TrackstarClient::new(
        TrackstarConfig {
            base_url: sim.base_url.clone(),
            ..TrackstarConfig::default()
        },
        SecretString::from("sim_api_key".to_owned()),
        Arc::new(InMemorySecretSource::with(
            "packr/test/trackstar/connections/conn_fixture",
            "tok_fixture",
        )),
    )
    .unwrap();
    Arc::new(TrackstarFetcher { client })
}

#[tokio::test]
async fn a_truncated_event_is_fetched_from_trackstar() {
    // given the simulator holding the connection's data, and the connection's token
    let sim = fixture_sim().await;
    let truth = sim.truth(CONNECTION).unwrap();
    let order = truth.orders.first().unwrap();
    let order_id = order.id.clone();
    let p = processor_with(sim_fetcher(&sim)).await;
    let mut body = fixture("order-updated");
    body["data_truncated"] = json!(true);
    body["data"] = json!({"id": order_id});
    body["data_url"] = json!(format!("{}/wms/orders/{order_id}", sim.base_url));
    let e = p.queued("msg_1", body).await;
    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then the stored order is the simulator's
    assert!(
        r.batch_item_failures.is_empty(),
        "{:?}",
        p.receipt("msg_1").await.failure_reason
    );
    let stored = p.order(&order_id).await.unwrap();
    assert_eq!(stored.order_number, Some(order.order_number.clone()));
    assert_eq!(
        stored.updated_date,
        Timestamp::from_datetime(order.updated_date)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn two_changes_in_the_same_second_end_in_trackstars_current_state() {
    // given the simulator's current order, and two webhooks carrying its updated_date
    // (Trackstar's dates have whole seconds) but different statuses
    let sim = fixture_sim().await;
    let truth = sim
        .truth(CONNECTION)
        .unwrap()
        .orders
        .first()
        .unwrap()
        .clone();
    let current_status = truth.status.clone();
    let other_status = if current_status == "open" {
        "exception"
    } else {
        "open"
    };
    let p = processor_with(sim_fetcher(&sim)).await;
    let date = Timestamp::from_datetime(truth.updated_date).to_rfc3339();
    let event = |status: &str| {
        let mut body = order_event(&date, status);
        body["data"]["id"] = json!(truth.id);
        body
    };
    // when the change that is no longer current is applied first, then the current one,
    // then the old one once more (reordered delivery)
    let old = p.queued("msg_old", event(other_status)).await;
    let new = p.queued("msg_new", event(&current_status)).await;
    let old_again = p.queued("msg_old_again", event(other_status)).await;
    for (id, e) in [("sqs-1", &old), ("sqs-2", &new), ("sqs-3", &old_again)] {
        let r = handle_batch(&p.deps, sqs_event(vec![message(id, e)])).await;
        assert!(r.batch_item_failures.is_empty());
    }
    // then the stored order is Trackstar's current state
    let stored = p.order(&truth.id).await.unwrap();
    assert_eq!(stored.status.as_str(), current_status);
    assert_eq!(
        stored.updated_date,
        Timestamp::from_datetime(truth.updated_date)
    );
    sim.shutdown().await;
}

/// Trackstar as seen by a fetch that another instance's write overtakes: each fetch
/// answers the current `answer` (read when the request is made), but the first one waits,
/// after telling `started`, until `proceed` lets it answer.
struct OvertakenFetcher {
    answer: std::sync::Mutex<Value>,
    started: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    proceed: tokio::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

#[async_trait]
impl ObjectFetcher for OvertakenFetcher {
    async fn fetch_many(
        &self,
        _: &Connection,
        kind: ResourceKind,
        _: &[String],
    ) -> Result<Vec<WireObject>, packr::webhook::processor::FetchError> {
        let answer = self.answer.lock().unwrap().clone();
        if let Some(started) = self.started.lock().unwrap().take() {
            let _ = started.send(());
        }
        if let Some(proceed) = self.proceed.lock().await.take() {
            let _ = proceed.await;
        }
        Ok(vec![WireObject::from_json(kind, &answer)?])
    }
}

#[tokio::test]
async fn a_fetched_copy_never_replaces_a_same_second_copy_stored_while_it_was_fetched() {
    // given a stored order of an earlier second, and Trackstar answering a fetch with the
    // order at 02:00:05 "open" (its state when asked)
    let date = "2025-09-30T02:00:05Z";
    let open = order_event(date, "open");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (proceed_tx, proceed_rx) = tokio::sync::oneshot::channel();
    let fetcher = Arc::new(OvertakenFetcher {
        answer: std::sync::Mutex::new(open["data"].clone()),
        started: std::sync::Mutex::new(Some(started_tx)),
        proceed: tokio::sync::Mutex::new(Some(proceed_rx)),
    });
    let p = processor_with(fetcher.clone()).await;
    let earlier = p
        .queued("msg_earlier", order_event("2025-09-30T02:00:01Z", "open"))
        .await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-0", &earlier)])).await;
    assert!(r.batch_item_failures.is_empty());
    let order_id = earlier.payload["data"]["id"].as_str().unwrap().to_owned();
    let mut truncated = fixture("order-updated");
    truncated["data_truncated"] = json!(true);
    truncated["data"] = json!({"id": order_id});
    let truncated = p.queued("msg_truncated", truncated).await;
    // and a later change in the same second (02:00:05, "exception"), whose webhook
    let later = p.queued("msg_later", order_event(date, "exception")).await;

    // when the truncated event's fetch is under way, another instance applies the later
    // change's webhook, and only then does the fetch answer (with the state it read)
    let fetching = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &truncated)]));
    let overtaking = async {
        started_rx.await.unwrap();
        *fetcher.answer.lock().unwrap() = later.payload["data"].clone();
        let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &later)])).await;
        proceed_tx.send(()).unwrap();
        r
    };
    let (fetched, overtook) = tokio::join!(fetching, overtaking);

    // then the later change stays stored: the answer was read before it was stored
    assert!(overtook.batch_item_failures.is_empty());
    assert_eq!(
        p.order(&order_id).await.unwrap().status.as_str(),
        "exception"
    );
    // and the truncated event is retried, not settled on a copy that may be older
    assert_eq!(fetched.batch_item_failures.len(), 1);
    let receipt = p.receipt("msg_truncated").await;
    assert_eq!(receipt.state, ReceiptState::Failed);
    assert!(receipt
        .failure_reason
        .as_deref()
        .is_some_and(|r| r.contains("written again")));

    // when SQS redelivers it, the fetch reads Trackstar's state after that write
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-3", &truncated)])).await;

    // then it is settled, and the stored order is still the later change
    assert!(r.batch_item_failures.is_empty());
    assert!(p.receipt("msg_truncated").await.state.is_final());
    assert_eq!(
        p.order(&order_id).await.unwrap().status.as_str(),
        "exception"
    );
}

async fn stats_of(p: &Processor, connection: &str) -> packr::health::WebhookFigures {
    let now = Timestamp::from_unix_micros(p.now_ms.load(Ordering::SeqCst) * 1000).unwrap();
    let hours = WebhookStatsStore::hours(
        &p.store,
        &p.tenant,
        &ConnectionId::parse(connection).unwrap(),
        now.plus_seconds(-48 * 3600),
    )
    .await
    .unwrap();
    packr::health::figures(&hours, now, None)
}

#[tokio::test]
async fn a_batch_writes_its_stats_once_per_connection() {
    // given four events of one connection and one of a connection the tenant does not know
    let p = processor().await;
    let mut messages = Vec::new();
    for (i, updated) in [
        "2025-09-30T01:00:01Z",
        "2025-09-30T01:00:02Z",
        "2025-09-30T01:00:03Z",
    ]
    .iter()
    .enumerate()
    {
        let e = p
            .queued(&format!("msg_{i}"), order_event(updated, "open"))
            .await;
        messages.push(message(&format!("sqs-{i}"), &e));
    }
    let e = p.queued("msg_inv", fixture("inventory-updated")).await;
    messages.push(message("sqs-inv", &e));
    let mut body = fixture("order-created");
    body["connection_id"] = json!("conn_other");
    let mut other = p.queued("msg_other", body).await;
    other.connection_id = ConnectionId::parse("conn_other").unwrap();
    messages.push(message("sqs-other", &other));

    // when
    let r = handle_batch(&p.deps, sqs_event(messages)).await;

    // then one UpdateItem per connection, holding every outcome (the unknown connection is
    // a permanent failure: recorded, acknowledged)
    assert!(failed_ids(&r).is_empty());
    assert_eq!(p.stats_writes.load(Ordering::SeqCst), 2);
    let f = stats_of(&p, CONNECTION).await;
    assert_eq!(f.attempts_24h, 4);
    assert_eq!(f.failures_24h, 0);
    assert_eq!(f.lag_1h.count, 4);
    // received 250 ms before the clock: lag within one bucket of 250 ms
    let p95 = f.lag_1h.p95_ms.unwrap();
    assert!((250..=298).contains(&p95), "lag p95 {p95}");
    assert_eq!(f.processing_latency_1h.count, 4);
    assert!(f.last_applied_at.is_some());
    let bad = stats_of(&p, "conn_other").await;
    assert_eq!((bad.attempts_24h, bad.failures_24h), (1, 1));
    assert_eq!(bad.error_rate_24h, Some(1.0));
    assert_eq!(bad.backlog.events, 1);
    // a permanent failure leaves the queue at once: it awaits a replay
    assert_eq!(bad.failed_awaiting_replay, 1);

    // and a retry of the failed event counts a failure, not a second unapplied event
    handle_batch(&p.deps, sqs_event(vec![message("sqs-other", &other)])).await;
    assert_eq!(p.stats_writes.load(Ordering::SeqCst), 3);
    let bad = stats_of(&p, "conn_other").await;
    assert_eq!((bad.failures_24h, bad.backlog.events), (2, 1));
}

#[tokio::test]
async fn an_event_failing_on_its_last_receive_awaits_replay_until_it_is_applied() {
    // given an event whose connection is unknown, on the queue's last receive
    let p = processor().await;
    let mut body = fixture("order-created");
    body["connection_id"] = json!("conn_late");
    let mut e = p.queued("msg_late", body).await;
    e.connection_id = ConnectionId::parse("conn_late").unwrap();
    for receive in 1..=5 {
        let mut batch = sqs_event(vec![message("sqs-late", &e)]);
        batch.records[0]
            .attributes
            .insert("ApproximateReceiveCount".into(), receive.to_string());
        handle_batch(&p.deps, batch).await;
    }
    let f = stats_of(&p, "conn_late").await;
    assert_eq!(
        (f.failures_24h, f.backlog.events, f.failed_awaiting_replay),
        (5, 1, 1)
    );

    // when the connection appears and the event is replayed (a fresh message)
    p.store
        .create_connection(&p.tenant, &connection(&p.tenant, "conn_late"))
        .await
        .unwrap();
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-replay", &e)])).await;

    // then nothing is left unapplied or awaiting replay
    assert!(failed_ids(&r).is_empty());
    let f = stats_of(&p, "conn_late").await;
    assert_eq!((f.backlog.events, f.failed_awaiting_replay), (0, 0));
    assert_eq!(f.lag_1h.count, 1);
}

struct BrokenStats;

#[async_trait]
impl WebhookStatsStore for BrokenStats {
    async fn add(
        &self,
        _: &TenantId,
        _: &ConnectionId,
        _: &HourStats,
    ) -> Result<(), packr::store::StoreError> {
        Err(packr::store::StoreError::NotFound { what: "stats" })
    }

    async fn hours(
        &self,
        _: &TenantId,
        _: &ConnectionId,
        _: Timestamp,
    ) -> Result<Vec<HourStats>, packr::store::StoreError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_failed_stats_write_fails_no_event() {
    let mut p = processor().await;
    p.deps.stats = Arc::new(BrokenStats);
    let e = p
        .queued("msg_1", order_event("2025-09-30T01:00:01Z", "open"))
        .await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    assert!(failed_ids(&r).is_empty());
    assert_eq!(p.receipt("msg_1").await.state, ReceiptState::Applied);
}

#[tokio::test]
async fn a_stuck_schedule_is_recorded_and_a_completed_force_sync_clears_it() {
    // given
    let p = processor().await;
    let e = p
        .queued("msg_stuck", contract_fixture("connection-schedule-stuck"))
        .await;

    // when
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;

    // then
    assert!(failed_ids(&r).is_empty());
    let c = p
        .store
        .get_connection(&p.tenant, &ConnectionId::parse(CONNECTION).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.stuck_schedules.len(), 1);
    assert_eq!(c.stuck_schedules[0].function, "get_orders");
    assert_eq!(
        c.stuck_schedules[0].latest_data,
        Some(Timestamp::parse("2025-09-29T18:00:00Z").unwrap())
    );

    let done = p
        .queued(
            "msg_done",
            contract_fixture("connection-force-sync-completed"),
        )
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &done)])).await;
    let c = p
        .store
        .get_connection(&p.tenant, &ConnectionId::parse(CONNECTION).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(c.stuck_schedules.is_empty());
}

#[tokio::test]
async fn an_applied_webhook_costs_two_small_writes_and_its_lookups_are_cached() {
    // given the processor wired as for Lambda: a metered client, cached lookups
    let mut p = processor().await;
    let sdk = packr_local::testing::emulator_config().await;
    let meter = packr::store::capacity::CapacityMeter::new();
    let metered = DynamoStore::new(
        packr::store::capacity::metered_client(
            &packr_local::testing::function_config(&sdk, "webhook-processor"),
            meter.clone(),
        ),
        p.store.table_name(),
        packr::store::CursorCodec::new(b"k".to_vec()),
    );
    let lookups = Arc::new(packr::store::cache::CachedLookups::new(
        Arc::new(metered.clone()),
        Arc::new(metered.clone()),
        std::time::Duration::from_secs(60),
    ));
    p.deps.objects = Arc::new(metered.clone());
    p.deps.receipts = Arc::new(metered.clone());
    p.deps.tenants = lookups.clone();
    p.deps.connections = lookups;
    p.deps.capacity = meter;
    let batch = |p: &Processor, first: usize| {
        let events: Vec<QueuedEvent> = (first..first + 10)
            .map(|i| {
                let mut body = fixture("order-created");
                body["data"]["id"] = json!(format!("ord_units_{i}"));
                QueuedEvent {
                    event_id: EventId::parse(format!("msg_units_{i}")).unwrap(),
                    tenant_id: p.tenant.clone(),
                    brand_id: None,
                    connection_id: ConnectionId::parse(CONNECTION).unwrap(),
                    event_type: "order.created".into(),
                    received_at: Timestamp::from_unix_micros(BASE_MS * 1000).unwrap(),
                    delivered_at: None,
                    correlation_id: CorrelationId::generate(),
                    payload: body,
                }
            })
            .collect();
        sqs_event(
            events
                .iter()
                .enumerate()
                .map(|(i, e)| message(&format!("sqs-{first}-{i}"), e))
                .collect(),
        )
    };
    // when two batches of ten new orders are processed (the stats store is not metered)
    let first = handle_batch(&p.deps, batch(&p, 0)).await;
    let reads_cold = p.metrics.total("dynamodb.reads");
    let second = handle_batch(&p.deps, batch(&p, 10)).await;
    // then every event was applied with two writes (object, receipt), as emitted
    assert!(first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty());
    assert_eq!(p.metrics.total("webhook.applied"), 20.0);
    assert_eq!(p.metrics.total("dynamodb.writes"), 40.0);
    // and the lookups were read once (connection, tenant, brand), not once per event
    assert_eq!(reads_cold, 3.0);
    assert_eq!(p.metrics.total("dynamodb.reads"), 3.0);
    // and each write is at most 1 KB, so one write unit on DynamoDB
    for i in [0, 19] {
        for (pk, sk) in [
            (format!("T#acme#ORDER#ord_units_{i}"), "ORDER"),
            (format!("T#acme#EVT#msg_units_{i}"), "RECEIPT"),
        ] {
            let item = p
                .store
                .client()
                .get_item()
                .table_name(p.store.table_name())
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap_or_else(|| panic!("{pk} stored"));
            let bytes = packr_local::recorder::attribute_item_size(&item);
            assert!(bytes <= 1024, "{pk} is {bytes} bytes");
        }
    }
}

#[tokio::test]
async fn the_receipt_outlives_the_dlq_and_the_replay_window() {
    // given an event applied today
    let p = processor().await;
    let e = p.queued("msg_1", fixture("order-created")).await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then its receipt expires no sooner than DLQ retention (14 d) plus the replay window
    let item = p
        .store
        .client()
        .get_item()
        .table_name(p.store.table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("T#acme#EVT#msg_1".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("RECEIPT".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let applied_at = BASE_MS / 1000;
    assert!(
        expires - applied_at >= 28 * 24 * 3600,
        "kept {} days",
        (expires - applied_at) / 86400
    );
    // when a DLQ redrive brings it back after 15 days (another order state stored since
    // would make it stale anyway: here nothing changed, the strongest case)
    p.now_ms.fetch_add(15 * 24 * 3600 * 1000, Ordering::SeqCst);
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-redriven", &e)])).await;
    // then it is a duplicate, not applied again
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    assert_eq!(p.metrics.total("webhook.duplicate_events"), 1.0);
    assert_eq!(p.receipt("msg_1").await.processing_attempts, 1);
}

/// A sync job queue that never answers (SQS hanging).
struct HangingSyncQueue;

#[async_trait]
impl packr::sync::SyncJobQueue for HangingSyncQueue {
    async fn enqueue(
        &self,
        _: &[packr::sync::SyncJob],
        _: std::time::Duration,
    ) -> Result<(), packr::sync::SyncQueueError> {
        futures::future::pending().await
    }
}

#[tokio::test]
async fn a_message_that_hangs_is_cut_off_and_only_it_and_the_unstarted_ones_fail_before_the_deadline(
) {
    use std::time::{Duration, Instant};
    // given one message at a time, 400 ms per message, 100 ms reserve, and a batch whose
    // second message hangs (its full-sync enqueue never returns)
    let mut p = processor().await;
    p.deps.sync_jobs = Arc::new(HangingSyncQueue);
    p.deps.limits = ProcessorLimits {
        reserve: Duration::from_millis(100),
        per_message: Duration::from_millis(400),
        concurrency: 1,
    };
    let good = p.queued("msg_good", fixture("order-created")).await;
    let hangs = p.queued("msg_hangs", fixture("connection-created")).await;
    let mut later = Vec::new();
    for i in 0..3 {
        let mut body = fixture("product-created");
        body["data"]["id"] = json!(format!("prod_later_{i}"));
        later.push(p.queued(&format!("msg_later_{i}"), body).await);
    }
    let mut messages = vec![message("sqs-good", &good), message("sqs-hangs", &hangs)];
    messages.extend(
        later
            .iter()
            .enumerate()
            .map(|(i, e)| message(&format!("sqs-later-{i}"), e)),
    );
    // when the invocation has 900 ms
    let deadline = Instant::now() + Duration::from_millis(900);
    let r =
        packr::webhook::processor::handle_batch_until(&p.deps, sqs_event(messages), deadline).await;
    // then it returned in time, the hanging message was cut off, the rest never started
    assert!(Instant::now() < deadline, "returned after the deadline");
    assert_eq!(
        failed_ids(&r),
        vec!["sqs-hangs", "sqs-later-0", "sqs-later-1", "sqs-later-2"]
    );
    assert_eq!(p.receipt("msg_good").await.state, ReceiptState::Applied);
    let cut = p.receipt("msg_hangs").await;
    assert_eq!(
        (cut.state, cut.failure_permanent),
        (ReceiptState::Failed, false)
    );
    assert_eq!(p.metrics.total("webhook.cut_off"), 1.0);
    assert_eq!(p.metrics.total("webhook.unstarted"), 3.0);
    for i in 0..3 {
        let id = EventId::parse(format!("msg_later_{i}")).unwrap();
        assert_eq!(
            ReceiptStore::get(&p.store, &p.tenant, &id).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn same_second_changes_of_a_batch_are_settled_with_one_listing() {
    // given three of the simulator's orders stored from webhooks carrying their
    // updated_date but a status that is not current
    let sim = fixture_sim().await;
    let truth: Vec<_> = sim.truth(CONNECTION).unwrap().orders[..3].to_vec();
    let p = processor_with(sim_fetcher(&sim)).await;
    let not = |status: &str| {
        if status == "open" {
            "exception"
        } else {
            "open"
        }
    };
    let event = |id: &str, updated, status: &str| {
        let date = Timestamp::from_datetime(updated).to_rfc3339();
        let mut body = order_event(&date, status);
        body["data"]["id"] = json!(id);
        body
    };
    let mut first = Vec::new();
    for (i, o) in truth.iter().enumerate() {
        let e = p
            .queued(
                &format!("msg_a{i}"),
                event(&o.id, o.updated_date, not(&o.status)),
            )
            .await;
        first.push(message(&format!("sqs-a{i}"), &e));
    }
    assert!(handle_batch(&p.deps, sqs_event(first))
        .await
        .batch_item_failures
        .is_empty());
    // when a batch brings a third same-second state of each
    let mut second = Vec::new();
    for (i, o) in truth.iter().enumerate() {
        let e = p
            .queued(&format!("msg_b{i}"), event(&o.id, o.updated_date, "packed"))
            .await;
        second.push(message(&format!("sqs-b{i}"), &e));
    }
    let gets_before = packr_local::recorder::sim_gets(&sim);
    let r = handle_batch(&p.deps, sqs_event(second)).await;
    // then one `ids[in]` listing settled all three, each stored as Trackstar has it
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(packr_local::recorder::sim_gets(&sim) - gets_before, 1);
    for o in &truth {
        assert_eq!(p.order(&o.id).await.unwrap().status.as_str(), o.status);
    }
    sim.shutdown().await;
}

// ---- connection events: ordered by event time, merged under concurrency -----------------

/// The processor's dependencies with another connection store (the rest shared).
fn deps_with_connections(p: &Processor, connections: Arc<dyn ConnectionStore>) -> ProcessorDeps {
    let d = &p.deps;
    ProcessorDeps {
        objects: d.objects.clone(),
        tenants: d.tenants.clone(),
        connections,
        receipts: d.receipts.clone(),
        fetcher: d.fetcher.clone(),
        capacity: d.capacity.clone(),
        limits: d.limits,
        sync_jobs: d.sync_jobs.clone(),
        backfills: d.backfills.clone(),
        metrics: d.metrics.clone(),
        stats: d.stats.clone(),
        max_receive_count: d.max_receive_count,
        offboarding: None,
        clock: d.clock.clone(),
    }
}

async fn stored_connection(p: &Processor) -> Connection {
    p.store
        .get_connection(&p.tenant, &ConnectionId::parse(CONNECTION).unwrap())
        .await
        .unwrap()
        .unwrap()
}

fn error_event(kind: &str, url: &str, updated: &str, message: &str) -> Value {
    let mut body = fixture(&format!("connection-error-{kind}"));
    body["data"]["failed_url"] = json!(url);
    body["data"]["updated_date"] = json!(updated);
    body["data"]["last_seen"] = json!(updated);
    body["data"]["error_message"] = json!(message);
    body
}

#[tokio::test]
async fn a_late_connection_created_after_connection_deleted_leaves_it_deleted() {
    // given a connection deleted at 01:00
    let p = processor().await;
    let deleted = p.queued("msg_del", fixture("connection-deleted")).await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &deleted)])).await;
    // when its connection.created (created at 00:30) arrives after it
    let mut body = fixture("connection-created");
    body["data"]["created_date"] = json!("2025-09-30T00:30:00Z");
    let created = p.queued("msg_created", body).await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &created)])).await;
    // then it stays deleted, the late event is acknowledged as stale, and nothing is synced
    assert!(r.batch_item_failures.is_empty());
    let c = stored_connection(&p).await;
    assert_eq!(c.status, ConnectionStatus::Disconnected);
    assert_eq!(c.full_sync_requested_at, None);
    assert_eq!(p.receipt("msg_created").await.state, ReceiptState::Stale);
    assert!(p.sync_jobs.drain().is_empty());
}

#[tokio::test]
async fn an_older_error_event_after_a_newer_one_changes_nothing() {
    // given an error last updated at 02:00
    let p = processor().await;
    let url = "https://wms.example.com/api/v2/orders";
    let newer = p
        .queued(
            "msg_e2",
            error_event("updated", url, "2025-09-30T02:00:00Z", "second"),
        )
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &newer)])).await;
    // when the update of 01:00 arrives after it
    let older = p
        .queued(
            "msg_e1",
            error_event("updated", url, "2025-09-30T01:00:00Z", "first"),
        )
        .await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &older)])).await;
    // then the newer message stays
    assert!(r.batch_item_failures.is_empty());
    let c = stored_connection(&p).await;
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].message.as_deref(), Some("second"));
    assert_eq!(p.receipt("msg_e1").await.state, ReceiptState::Stale);
    // and an older creation cannot bring a deleted error back either
    let gone = p
        .queued(
            "msg_e3",
            error_event("deleted", url, "2025-09-30T02:00:00Z", "second"),
        )
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-3", &gone)])).await;
    let again = p
        .queued(
            "msg_e0",
            error_event("created", url, "2025-09-30T00:00:00Z", "zeroth"),
        )
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-4", &again)])).await;
    assert!(stored_connection(&p).await.errors.is_empty());
    assert_eq!(p.receipt("msg_e0").await.state, ReceiptState::Stale);
}

type Hook = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>;

/// The real store, except that its first `update_connection` lets another applier run to
/// completion first (between this applier's read and its write): a deterministic race.
struct Interleaving {
    inner: DynamoStore,
    before_first_write: std::sync::Mutex<Option<Hook>>,
    conflicts: AtomicUsize,
}

#[async_trait]
impl ConnectionStore for Interleaving {
    async fn create_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), packr::store::StoreError> {
        self.inner.create_connection(tenant, connection).await
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), packr::store::StoreError> {
        let hook = self.before_first_write.lock().unwrap().take();
        if let Some(hook) = hook {
            hook().await;
        }
        let result = self.inner.update_connection(tenant, connection).await;
        if matches!(result, Err(packr::store::StoreError::Conflict { .. })) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    async fn get_connection(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Connection>, packr::store::StoreError> {
        self.inner.get_connection(tenant, connection).await
    }

    async fn list_connections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Connection>, packr::store::StoreError> {
        self.inner.list_connections(tenant).await
    }

    async fn list_active(&self) -> Result<Vec<Connection>, packr::store::StoreError> {
        self.inner.list_active().await
    }

    async fn route(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<packr::domain::ConnectionRoute>, packr::store::StoreError> {
        self.inner.route(connection).await
    }
}

#[tokio::test]
async fn two_concurrent_error_events_both_end_up_in_the_list() {
    // given two error events for different endpoints, the second applied entirely between
    // the first one's read of the connection and its write
    let p = processor().await;
    let orders = p
        .queued(
            "msg_err_orders",
            error_event("created", "https://wms/orders", "2025-09-30T01:00:00Z", "a"),
        )
        .await;
    let products = p
        .queued(
            "msg_err_products",
            error_event(
                "created",
                "https://wms/products",
                "2025-09-30T01:00:00Z",
                "b",
            ),
        )
        .await;
    let other = Arc::new(deps_with_connections(&p, Arc::new(p.store.clone())));
    let hook: Hook = Box::new(move || {
        Box::pin(async move {
            let r = handle_batch(&other, sqs_event(vec![message("sqs-b", &products)])).await;
            assert!(r.batch_item_failures.is_empty());
        })
    });
    let racing = Arc::new(Interleaving {
        inner: p.store.clone(),
        before_first_write: std::sync::Mutex::new(Some(hook)),
        conflicts: AtomicUsize::new(0),
    });
    let deps = deps_with_connections(&p, racing.clone());
    // when the first one is applied
    let r = handle_batch(&deps, sqs_event(vec![message("sqs-a", &orders)])).await;
    // then its stale write was refused once, re-applied on the newer copy, and both
    // errors are on the connection
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(racing.conflicts.load(Ordering::SeqCst), 1);
    let c = stored_connection(&p).await;
    let mut ids: Vec<&str> = c.errors.iter().map(|e| e.error_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["https://wms/orders", "https://wms/products"]);
    assert_eq!(c.version, 2);
    for id in ["msg_err_orders", "msg_err_products"] {
        assert_eq!(p.receipt(id).await.state, ReceiptState::Applied);
    }
}

#[tokio::test]
async fn a_late_redelivery_never_revives_an_object_trackstar_deleted_but_a_newer_event_does() {
    // given an order applied from an event, then tombstoned by reconciliation
    let p = processor().await;
    let e = p
        .queued("msg_1", order_event("2025-09-30T01:00:00Z", "processing"))
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    assert!(
        SyncedStore::<Order>::tombstone(&p.store, &p.tenant, ORDER_ID, at(10))
            .await
            .unwrap()
    );
    // when the old event comes back, and then a newer change of the order
    let late = QueuedEvent {
        event_id: EventId::parse("msg_1_replayed_as_new").unwrap(),
        ..e.clone()
    };
    handle_batch(
        &p.deps,
        sqs_event(vec![message("sqs-2", &e), message("sqs-3", &late)]),
    )
    .await;
    // then it stays deleted
    assert!(p.order(ORDER_ID).await.is_none());
    assert_eq!(
        p.receipt("msg_1_replayed_as_new").await.state,
        ReceiptState::Stale
    );
    let newer = p
        .queued("msg_2", order_event("2025-09-30T02:00:00Z", "packed"))
        .await;
    handle_batch(&p.deps, sqs_event(vec![message("sqs-4", &newer)])).await;
    assert_eq!(p.order(ORDER_ID).await.unwrap().status, OrderStatus::Packed);
}
