//! `POST /sync/backfill` against the emulator and the simulator: Trackstar asked once, the
//! job recorded and shown in `/sync/health`, refusals and bad input changing nothing,
//! idempotent replays, roles and tenants; then the job's events through the processor, and
//! end to end: the incremental queued by `connection.sync-job-completed` stores what the
//! backfill re-read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packr::domain::{ConnectionId, CorrelationId, EventId, Timestamp};
use packr::metrics::RecordingSink;
use packr::store::SyncedStore;
use packr::sync::{
    run_chunk, BackfillStatus, BackfillStore, ChunkOutcome, DynamoSyncStateStore,
    MemorySyncJobQueue, ResourceKind, SyncConfig, SyncJob, SyncMode, TrackstarSource, WorkerDeps,
};
use packr::trackstar::OnDemandSyncStatus;
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::processor::handle_batch;
use serde_json::{json, Value};
use trackstar_sim::data::Resource as _;
use trackstar_sim::FaultSpec;

use crate::api_support::*;
use crate::helpers::*;
use crate::webhook_processor::{message, sqs_event};

const PATH: &str = "/sync/backfill";
const ON_DEMAND: &str = "/connections/on-demand-syncs";

fn ago(hours: i64) -> String {
    Timestamp::now().plus_seconds(-hours * 3600).to_rfc3339()
}

fn body(connection: &str, resource: &str) -> Value {
    json!({
        "connection_id": connection,
        "resource": resource,
        "start_time": ago(72),
        "end_time": ago(1),
    })
}

async fn post(s: &ApiStack, caller: &Caller, body: &Value, key: &str) -> Answer {
    s.send(caller, "POST", PATH, body, &[("idempotency-key", key)])
        .await
}

fn asked(s: &ApiStack) -> u64 {
    s.sim.requests().count("POST", ON_DEMAND)
}

async fn recorded(s: &ApiStack, t: &str, connection: &str) -> Vec<packr::sync::Backfill> {
    s.stack
        .store
        .backfills(&tenant(t), &ConnectionId::parse(connection).unwrap())
        .await
        .unwrap()
}

/// The backfills `/sync/health` shows for a connection.
async fn health_backfills(s: &ApiStack, caller: &Caller, connection: &str) -> Vec<Value> {
    let health = s.get(caller, "/sync/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    health.body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connection_id"] == connection)
        .expect("the connection's health")["backfills"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_backfill_asks_trackstar_once_records_the_job_and_answers_202() {
    // given the tenant admin of acme
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    // when it asks for a backfill of orders over the last three days
    let r = post(&s, &admin, &body(CONN_ACME, "orders"), "bf-1").await;
    // then Trackstar got one on-demand sync of get_orders, and the job is answered
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(asked(&s), 1);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    let job = s.sim.state().sync_job(&job_id, Some(CONN_ACME)).unwrap();
    assert_eq!(job.function_name, "get_orders");
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["resource"], "orders");
    assert_eq!(r.body["function_name"], "get_orders");
    assert_eq!(r.body["connection_id"], CONN_ACME);
    // and it is recorded, audited and shown in the connection's health
    let records = recorded(&s, ACME, CONN_ACME).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].job_id.as_str(), records[0].status),
        (job_id.as_str(), BackfillStatus::Open)
    );
    assert_eq!(records[0].resource, ResourceKind::Orders);
    let audit = s.get(&admin, "/audit?limit=5").await;
    let entry = &audit.body["items"][0];
    assert_eq!(entry["action"], "sync.backfill");
    assert_eq!(entry["target"], format!("connection:{CONN_ACME}"));
    let shown = health_backfills(&s, &admin, CONN_ACME).await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["job_id"], job_id);
    assert_eq!(shown[0]["status"], "open");
    // and the client reads the job back from Trackstar, as it moves on
    let client = s.deps.trackstar.clone().unwrap();
    let credentials = packr::trackstar::ConnectionCredentials::new(
        tenant(ACME),
        ConnectionId::parse(CONN_ACME).unwrap(),
        format!("{SECRET_PREFIX}{CONN_ACME}"),
    );
    let read = client
        .get_on_demand_sync(&credentials, &job_id)
        .await
        .unwrap();
    assert_eq!(
        (read.id.as_str(), read.status),
        (job_id.as_str(), OnDemandSyncStatus::Open)
    );
    s.sim.state().complete_sync_job(&job_id).unwrap();
    let read = client
        .get_on_demand_sync(&credentials, &job_id)
        .await
        .unwrap();
    assert_eq!(read.status, OnDemandSyncStatus::Completed);
    assert!(matches!(
        client
            .get_on_demand_sync(&credentials, "sync_job_unknown")
            .await,
        Err(packr::trackstar::TrackstarError::NotFound { .. })
    ));
    s.sim.shutdown().await;
}

#[tokio::test]
async fn the_same_key_replays_and_a_reused_key_is_refused() {
    // given a backfill made with key K
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let first = body(CONN_ACME, "returns");
    let r1 = post(&s, &admin, &first, "bf-replay").await;
    assert_eq!(r1.status, 202, "{}", r1.body);
    // when the same request is sent again with K
    let r2 = post(&s, &admin, &first, "bf-replay").await;
    // then it is the saved answer; Trackstar was asked once, one job recorded
    assert_eq!(r2.status, 202);
    assert_eq!(r2.header("idempotent-replayed"), Some("true"));
    assert_eq!(r2.body, r1.body);
    assert_eq!(asked(&s), 1);
    assert_eq!(recorded(&s, ACME, CONN_ACME).await.len(), 1);
    // when K comes with another body
    let r3 = post(&s, &admin, &body(CONN_ACME, "orders"), "bf-replay").await;
    // then it is a 422, and nothing more happened
    assert_eq!(r3.status, 422, "{}", r3.body);
    assert_eq!(r3.code(), "idempotency_key_reused");
    assert_eq!(asked(&s), 1);
    assert_eq!(recorded(&s, ACME, CONN_ACME).await.len(), 1);
    // and without a key it is refused before anything
    let r4 = s
        .send(&admin, "POST", PATH, &body(CONN_ACME, "orders"), &[])
        .await;
    assert_eq!(r4.status, 400, "{}", r4.body);
    assert_eq!(asked(&s), 1);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_combination_trackstar_refuses_is_a_422_that_changes_nothing() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    // given resources Trackstar runs no on-demand sync of for the connection: warehouses
    // (not offered: 400 "not enabled") and bills (refused by policy: 400 "not enabled")
    s.sim.set_resource_policy(
        CONN_ACME,
        trackstar_sim::ResourceKind::Bills,
        trackstar_sim::ResourcePolicy::Forbidden,
    );
    for (i, resource) in ["warehouses", "bills"].iter().enumerate() {
        // when a backfill of it is asked for
        let r = post(
            &s,
            &admin,
            &body(CONN_ACME, resource),
            &format!("bf-no-{i}"),
        )
        .await;
        // then a 422 says so, naming the resource
        assert_eq!(r.status, 422, "{resource}: {}", r.body);
        assert_eq!(r.code(), "backfill_unsupported", "{resource}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(resource),
            "{}",
            r.body
        );
        assert!(r.body["error"]["details"]["fields"]["resource"].is_array());
    }
    assert_eq!(asked(&s), 2);
    // given Trackstar answering the next on-demand sync with its own 422
    s.sim.set_faults(
        CONN_ACME,
        FaultSpec {
            methods: vec!["POST".into()],
            ..FaultSpec::error(422, Some(1))
        },
    );
    let r = post(&s, &admin, &body(CONN_ACME, "orders"), "bf-no-422").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "upstream_validation_failed");
    // then nothing was recorded, audited or kept (each key given up for a retry)
    assert_eq!(s.snapshot().await, before);
    assert!(recorded(&s, ACME, CONN_ACME).await.is_empty());
    s.sim.shutdown().await;
}

#[tokio::test]
async fn inventory_and_invalid_windows_are_refused_before_trackstar_naming_the_field() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    let future = Timestamp::now().plus_seconds(3600).to_rfc3339();
    let cases = [
        (
            body(CONN_ACME, "inventory"),
            "backfill_unsupported",
            "resource",
        ),
        (
            json!({ "connection_id": CONN_ACME, "resource": "orders", "start_time": ago(1), "end_time": ago(2) }),
            "validation_failed",
            "end_time",
        ),
        (
            json!({ "connection_id": CONN_ACME, "resource": "orders", "start_time": ago(1), "end_time": future }),
            "validation_failed",
            "end_time",
        ),
        (
            json!({ "connection_id": CONN_ACME, "resource": "parcels", "start_time": ago(2), "end_time": ago(1) }),
            "validation_failed",
            "resource",
        ),
        (
            json!({ "resource": "orders", "start_time": "last week", "end_time": ago(1) }),
            "validation_failed",
            "start_time",
        ),
    ];
    for (i, (sent, code, field)) in cases.iter().enumerate() {
        let r = post(&s, &admin, sent, &format!("bf-bad-{i}")).await;
        assert_eq!(r.status, 422, "{sent}: {}", r.body);
        assert_eq!(r.code(), *code, "{sent}");
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{sent}: {}",
            r.body
        );
    }
    // a missing connection id is named too
    let r = post(
        &s,
        &admin,
        &json!({ "resource": "orders", "start_time": ago(2), "end_time": ago(1) }),
        "bf-bad-conn",
    )
    .await;
    assert!(r.body["error"]["details"]["fields"]["connection_id"].is_array());
    assert_eq!(asked(&s), 0);
    assert_eq!(s.snapshot().await, before);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn only_the_tenant_admin_backfills_and_only_its_own_connections() {
    let s = api_stack().await;
    // given the other roles of acme
    for caller in [
        Caller::new(ACME, "tenant_staff", &[]),
        Caller::new(ACME, "brand_manager", &["b1"]),
        Caller::new(ACME, "brand_viewer", &["b1"]),
    ] {
        // when they ask for a backfill
        let r = post(&s, &caller, &body(CONN_ACME, "orders"), "bf-role").await;
        // then it is forbidden
        assert_eq!(r.status, 403, "{caller:?}: {}", r.body);
    }
    // when acme's admin names globex's connection, or one that does not exist
    let admin = Caller::admin(ACME);
    for (i, connection) in [CONN_GLOBEX, "conn_nowhere"].iter().enumerate() {
        let r = post(
            &s,
            &admin,
            &body(connection, "orders"),
            &format!("bf-t-{i}"),
        )
        .await;
        // then it is not found
        assert_eq!(r.status, 404, "{connection}: {}", r.body);
    }
    assert_eq!(asked(&s), 0);
    assert!(recorded(&s, GLOBEX, CONN_GLOBEX).await.is_empty());
    assert!(recorded(&s, ACME, CONN_ACME).await.is_empty());
    s.sim.shutdown().await;
}

// ---- the job's events, and end to end ---------------------------------------------------

/// The webhook Trackstar sends for a connection of acme, as ingest queues it.
fn queued(event_type: &str, data: Value) -> QueuedEvent {
    QueuedEvent {
        event_id: EventId::parse(format!("msg_{}", packr::store::AuditEntry::new_id())).unwrap(),
        tenant_id: tenant(ACME),
        brand_id: None,
        connection_id: ConnectionId::parse(CONN_ACME).unwrap(),
        event_type: event_type.to_owned(),
        received_at: Timestamp::now(),
        delivered_at: None,
        correlation_id: CorrelationId::generate(),
        payload: json!({
            "connection_id": CONN_ACME,
            "integration_name": "sandbox",
            "integration_type": "wms",
            "event_type": event_type,
            "data": data,
        }),
    }
}

/// Runs webhook-processor on one event; the sync jobs it queued.
async fn process(s: &ApiStack, event: &QueuedEvent) -> Vec<SyncJob> {
    let queue = Arc::new(MemorySyncJobQueue::new());
    let deps = packr::webhook::processor::ProcessorDeps {
        sync_jobs: queue.clone(),
        ..processor_deps(
            &s.stack.store_as("webhook-processor"),
            &RecordingSink::new(),
        )
    };
    let response = handle_batch(&deps, sqs_event(vec![message("m-1", event)])).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    queue.drain()
}

fn worker(s: &ApiStack, queue: Arc<MemorySyncJobQueue>) -> WorkerDeps {
    let store = s.stack.store_as("sync-worker");
    WorkerDeps {
        states: Arc::new(DynamoSyncStateStore::new(store.clone())),
        connections: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        objects: Arc::new(store.clone()),
        source: Arc::new(TrackstarSource::new(s.deps.trackstar.clone().unwrap())),
        queue,
        reports: Arc::new(store),
        metrics: Arc::new(RecordingSink::new()),
        config: SyncConfig {
            clock_skew: Duration::ZERO,
            ..SyncConfig::default()
        },
        clock: Arc::new(Timestamp::now),
        worker_id: "worker-test".into(),
    }
}

/// Runs a job and its continuations to the end.
async fn run(deps: &WorkerDeps, queue: &MemorySyncJobQueue, job: SyncJob) {
    let mut pending = vec![job];
    for _ in 0..50 {
        let Some(job) = pending.pop() else { return };
        let outcome = run_chunk(deps, &job, Instant::now() + Duration::from_secs(30))
            .await
            .unwrap();
        assert!(
            matches!(
                outcome,
                ChunkOutcome::Completed { .. } | ChunkOutcome::Continued { .. }
            ),
            "{outcome:?}"
        );
        pending.extend(queue.drain());
    }
    panic!("the run did not finish");
}

fn job(resource: ResourceKind, mode: SyncMode) -> SyncJob {
    SyncJob::new(
        tenant(ACME),
        ConnectionId::parse(CONN_ACME).unwrap(),
        resource,
        mode,
        "test",
        Timestamp::now(),
    )
}

#[tokio::test]
async fn a_completed_backfill_queues_an_incremental_that_stores_what_it_re_read() {
    // given acme's orders fully synced, and an order old in the WMS that Trackstar had
    // not read: no incremental window reaches it
    let s = api_stack().await;
    let queue = Arc::new(MemorySyncJobQueue::new());
    let deps = worker(&s, queue.clone());
    run(&deps, &queue, job(ResourceKind::Orders, SyncMode::Full)).await;
    let old = Timestamp::now().plus_seconds(-5 * 24 * 3600);
    let old_id = s
        .sim
        .state()
        .with_data(CONN_ACME, |data| {
            let id = data.mint_id("ord");
            let mut order = data.orders[0].clone();
            order.restamp(
                id.clone(),
                old.plus_seconds(-3600).as_datetime(),
                old.as_datetime(),
            );
            data.orders.push(order);
            id
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    run(
        &deps,
        &queue,
        job(ResourceKind::Orders, SyncMode::Incremental),
    )
    .await;
    let stored = |id: String| {
        let store = s.stack.store.clone();
        async move {
            SyncedStore::<packr::domain::Order>::get(&store, &tenant(ACME), &id)
                .await
                .unwrap()
        }
    };
    assert!(stored(old_id.clone()).await.is_none());
    // when the admin backfills the days around it and Trackstar completes the job
    let admin = Caller::admin(ACME);
    let window = json!({
        "connection_id": CONN_ACME,
        "resource": "orders",
        "start_time": old.plus_seconds(-24 * 3600).to_rfc3339(),
        "end_time": old.plus_seconds(24 * 3600).to_rfc3339(),
    });
    let r = post(&s, &admin, &window, "bf-e2e").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    let (done, reread) = s.sim.state().complete_sync_job(&job_id).unwrap();
    assert!(reread.contains(&old_id), "{reread:?}");
    // and webhook-processor takes its `connection.sync-job-completed`
    let queued_jobs = process(
        &s,
        &queued("connection.sync-job-completed", done.event_data()),
    )
    .await;
    // then the backfill is completed and one incremental of orders is queued
    let records = recorded(&s, ACME, CONN_ACME).await;
    assert_eq!(records[0].status, BackfillStatus::Completed);
    assert_eq!(queued_jobs.len(), 1);
    assert_eq!(
        (queued_jobs[0].resource, queued_jobs[0].mode),
        (ResourceKind::Orders, SyncMode::Incremental)
    );
    // and that incremental stores the record the backfill re-read
    tokio::time::sleep(Duration::from_millis(1100)).await;
    run(&deps, &queue, queued_jobs[0].clone()).await;
    let order = stored(old_id)
        .await
        .expect("the backfilled order is stored");
    assert_eq!(order.updated_date, old);
    let shown = health_backfills(&s, &admin, CONN_ACME).await;
    assert_eq!(shown[0]["status"], "completed");
    // and the same event again leaves the record completed (it queues one more
    // incremental, which is harmless: one run per lease, only-if-newer upserts)
    let again = process(
        &s,
        &queued("connection.sync-job-completed", done.event_data()),
    )
    .await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        recorded(&s, ACME, CONN_ACME).await[0].status,
        BackfillStatus::Completed
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_stuck_backfill_is_shown_stuck_and_a_force_sync_queues_an_incremental() {
    // given an open backfill of returns
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let r = post(&s, &admin, &body(CONN_ACME, "returns"), "bf-stuck").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    // when Trackstar reports it stuck
    let stuck = s.sim.state().stick_sync_job(&job_id).unwrap();
    let jobs = process(&s, &queued("connection.sync-job-stuck", stuck.event_data())).await;
    // then it is stuck in the record and in health, and nothing is queued
    assert!(jobs.is_empty());
    assert_eq!(
        recorded(&s, ACME, CONN_ACME).await[0].status,
        BackfillStatus::Stuck
    );
    assert_eq!(
        health_backfills(&s, &admin, CONN_ACME).await[0]["status"],
        "stuck"
    );
    let health = s.get(&admin, "/sync/health").await;
    let reasons = health.body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connection_id"] == CONN_ACME)
        .unwrap()["reasons"]
        .clone();
    assert!(
        reasons
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "backfill_stuck"),
        "{reasons}"
    );
    // and a late stuck report after its completion never undoes the completion
    let completed = json!({ "sync_job_id": job_id, "function_name": "get_returns", "resource": "returns", "status": "completed" });
    let jobs = process(&s, &queued("connection.sync-job-completed", completed)).await;
    assert_eq!(jobs.len(), 1);
    process(&s, &queued("connection.sync-job-stuck", stuck.event_data())).await;
    assert_eq!(
        recorded(&s, ACME, CONN_ACME).await[0].status,
        BackfillStatus::Completed
    );
    // when a force sync of inbound shipments completes
    let jobs = process(
        &s,
        &queued(
            "connection.force-sync-completed",
            json!({ "function_name": "get_inbound_shipments", "resource": "inbound_shipments", "completed_date": Timestamp::now().to_rfc3339() }),
        ),
    )
    .await;
    // then one incremental of inbound shipments is queued
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].resource, jobs[0].mode),
        (ResourceKind::InboundShipments, SyncMode::Incremental)
    );
    s.sim.shutdown().await;
}
