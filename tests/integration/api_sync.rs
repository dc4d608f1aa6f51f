//! `POST /sync/run` (api-sync) and the initial full sync of `POST /connections/exchange`:
//! what lands on the sync-jobs queue (the real queue of a fresh stack, or the in-memory one
//! the handlers are given), idempotent replays, validation, audit. Roles × targets are in
//! `api_matrix`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use packr::domain::{ConnectionStatus, TenantId};
use packr::store::ConnectionStore;
use packr::sync::{ResourceKind, SqsSyncJobQueue, SyncJob, SyncJobQueue, SyncMode, SyncQueueError};
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

/// acme gets a second active connection and a disconnected one.
async fn more_acme_connections(s: &ApiStack) {
    let t = tenant(ACME);
    s.stack
        .store
        .create_connection(&t, &connection(&t, "conn_acme_2"))
        .await
        .unwrap();
    let mut old = connection(&t, "conn_acme_old");
    old.status = ConnectionStatus::Disconnected;
    s.stack.store.create_connection(&t, &old).await.unwrap();
}

async fn run(s: &ApiStack, caller: &Caller, body: &Value, key: &str) -> Answer {
    s.send(
        caller,
        "POST",
        "/sync/run",
        body,
        &[("Idempotency-Key", key)],
    )
    .await
}

fn triples(jobs: &Value) -> Vec<(String, String, String)> {
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["connection_id"].as_str().unwrap().to_owned(),
                j["resource"].as_str().unwrap().to_owned(),
                j["mode"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

#[tokio::test]
async fn every_active_connection_gets_a_job_per_resource_on_the_real_queue_grouped_by_tenant() {
    // given acme with two active connections and a disconnected one, and the real queue
    let mut s = api_stack().await;
    more_acme_connections(&s).await;
    let provisioned = packr_local::testing::fresh_stack(&s.stack.sdk).await;
    let url = provisioned.queue_url("SyncJobsQueue").unwrap().to_owned();
    let sqs = aws_sdk_sqs::Client::new(&s.stack.sdk);
    // api-sync sends (as itself, for the IAM check); the test reads with its own client.
    s.deps.sync_jobs = Some(Arc::new(SqsSyncJobQueue::new(
        aws_sdk_sqs::Client::new(&s.stack.sdk_as("api-sync")),
        url.clone(),
    )));

    // when an admin asks for a full sync of everything
    let r = run(
        &s,
        &Caller::admin(ACME),
        &json!({ "mode": "full" }),
        "all-1",
    )
    .await;

    // then 202 with a job per connection and resource, and the disconnected connection reported as skipped
    assert_eq!(r.status, 202, "{}", r.body);
    let mut expected = Vec::new();
    for c in ["conn_acme", "conn_acme_2"] {
        for res in ResourceKind::ALL {
            expected.push((c.to_owned(), res.as_str().to_owned(), "full".to_owned()));
        }
    }
    assert_eq!(triples(&r.body["jobs"]), expected);
    assert_eq!(
        r.body["skipped"],
        json!([{ "connection_id": "conn_acme_old", "reason": "connection_not_active", "status": "disconnected" }])
    );
    // and exactly those messages are on the queue, each in the tenant's group
    let messages = drain(&sqs, &url).await;
    assert_eq!(messages.len(), 2 * ResourceKind::ALL.len());
    let mut landed = Vec::new();
    for m in &messages {
        let job: SyncJob = serde_json::from_str(m.body().unwrap()).unwrap();
        assert_eq!(job.tenant_id, tenant(ACME));
        assert_eq!(job.reason, "admin");
        assert_eq!(job.run_id, None);
        assert_eq!(
            m.attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .map(String::as_str),
            Some(ACME)
        );
        landed.push((
            job.connection_id.to_string(),
            job.resource.as_str().to_owned(),
            job.mode.as_str().to_owned(),
        ));
    }
    landed.sort();
    expected.sort();
    assert_eq!(landed, expected);
}

#[tokio::test]
async fn a_named_connection_syncs_the_resources_asked_for_once_each() {
    let s = api_stack().await;
    more_acme_connections(&s).await;
    let body = json!({
        "connection_id": CONN_ACME,
        "resources": ["products", "orders", "products"],
        "mode": "incremental"
    });
    let r = run(&s, &Caller::admin(ACME), &body, "named-1").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["skipped"], json!([]));
    assert_eq!(
        triples(&r.body["jobs"]),
        vec![
            (CONN_ACME.into(), "orders".into(), "incremental".into()),
            (CONN_ACME.into(), "products".into(), "incremental".into()),
        ]
    );
    let queued = s.sync_jobs.drain();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|j| j.connection_id.as_str() == CONN_ACME
        && j.mode == SyncMode::Incremental
        && j.tenant_id == tenant(ACME)));
    assert_eq!(
        queued.iter().map(|j| j.resource).collect::<Vec<_>>(),
        vec![ResourceKind::Orders, ResourceKind::Products]
    );
}

#[tokio::test]
async fn a_named_inactive_connection_is_a_conflict_and_queues_nothing() {
    let s = api_stack().await;
    more_acme_connections(&s).await;
    let body = json!({ "connection_id": "conn_acme_old", "mode": "full" });
    let r = run(&s, &Caller::admin(ACME), &body, "old-1").await;
    assert_eq!((r.status, r.code()), (409, "connection_not_active"));
    assert_eq!(r.body["error"]["details"]["status"], "disconnected");
    assert!(s.sync_jobs.jobs().is_empty());
}

#[tokio::test]
async fn another_tenants_or_an_unknown_connection_is_not_found_and_queues_nothing() {
    let s = api_stack().await;
    for (i, id) in [CONN_GLOBEX, "conn_nope", "not a connection id!"]
        .iter()
        .enumerate()
    {
        let body = json!({ "connection_id": id, "mode": "full" });
        let r = run(&s, &Caller::admin(ACME), &body, &format!("nf-{i}")).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{id}");
    }
    assert!(s.sync_jobs.jobs().is_empty());
}

#[tokio::test]
async fn validation_errors_name_their_fields() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let cases = [
        (
            json!({ "mode": "full", "resources": ["orders", "labor_activities"] }),
            "resources[1]",
        ),
        (json!({ "mode": "full", "resources": [] }), "resources"),
        (
            json!({ "mode": "full", "resources": "orders" }),
            "resources",
        ),
        (json!({ "resources": ["orders"] }), "mode"),
        (json!({ "mode": "sometimes" }), "mode"),
        (
            json!({ "mode": "full", "connection_id": 42 }),
            "connection_id",
        ),
        (
            json!({ "mode": "full", "connection_id": " " }),
            "connection_id",
        ),
        (json!({ "mode": "full", "force": true }), "force"),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let r = run(&s, &admin, body, &format!("v-{i}")).await;
        assert_eq!((r.status, r.code()), (422, "validation_failed"), "{body}");
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{body}: {}",
            r.body
        );
    }
    // and the key is required
    let r = s
        .send(&admin, "POST", "/sync/run", &json!({ "mode": "full" }), &[])
        .await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));
    assert!(s.sync_jobs.jobs().is_empty());
}

#[tokio::test]
async fn a_replay_returns_the_saved_answer_and_queues_nothing_more() {
    // given a first run
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let body = json!({ "mode": "incremental" });
    let first = run(&s, &admin, &body, "replay-1").await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(s.sync_jobs.jobs().len(), ResourceKind::ALL.len());

    // when the same request comes again with the same key
    let again = run(&s, &admin, &body, "replay-1").await;

    // then the saved answer, marked as replayed, and no new jobs
    assert_eq!(again.status, 202);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(s.sync_jobs.jobs().len(), ResourceKind::ALL.len());
    // the same key with another body is refused
    let other = run(&s, &admin, &json!({ "mode": "full" }), "replay-1").await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused")
    );
    assert_eq!(s.sync_jobs.jobs().len(), ResourceKind::ALL.len());
    // and only one audit entry was written
    let audit = s.get(&admin, "/audit").await;
    let runs = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sync.run")
        .count();
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn a_run_is_audited_with_who_asked_the_mode_and_the_resources() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let body = json!({ "connection_id": CONN_ACME, "resources": ["inventory"], "mode": "full" });
    let r = run(&s, &admin, &body, "audit-1").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let audit = s.get(&admin, "/audit").await;
    let entry = &audit.body["items"][0];
    assert_eq!(entry["action"], "sync.run");
    assert_eq!(entry["target"], "connection:conn_acme");
    assert_eq!(entry["actor"], "user-tenant_admin");
    assert_eq!(entry["actor_role"], "tenant_admin");
    assert_eq!(entry["details"]["mode"], "full");
    assert_eq!(entry["details"]["resources"], json!(["inventory"]));
    assert_eq!(entry["details"]["jobs"], 1);
    // without a connection_id the target names every connection synced
    more_acme_connections(&s).await;
    let r = run(&s, &admin, &json!({ "mode": "incremental" }), "audit-2").await;
    assert_eq!(r.status, 202, "{}", r.body);
    let audit = s.get(&admin, "/audit").await;
    let entry = &audit.body["items"][0];
    assert_eq!(entry["target"], "connections:conn_acme,conn_acme_2");
    assert_eq!(
        entry["details"]["skipped"][0]["connection_id"],
        "conn_acme_old"
    );
}

#[tokio::test]
async fn a_function_without_the_queue_answers_the_opaque_internal_error() {
    let mut s = api_stack().await;
    s.deps.sync_jobs = None;
    let r = run(
        &s,
        &Caller::admin(ACME),
        &json!({ "mode": "full" }),
        "noq-1",
    )
    .await;
    assert_eq!((r.status, r.code()), (500, "internal_error"));
    assert_eq!(r.body["error"]["message"], "an internal error occurred");
}

#[tokio::test]
async fn the_sample_event_runs_through_dispatch() {
    let s = api_stack().await;
    let path = format!(
        "{}/../events/apigw-v2-post-sync-run.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let request = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = s.call(request).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        triples(&r.body["jobs"]),
        vec![
            (CONN_ACME.into(), "orders".into(), "full".into()),
            (CONN_ACME.into(), "inventory".into(), "full".into()),
        ]
    );
    assert_eq!(r.header("x-request-id"), Some("Sy1Nc2Ru3N4="));
    assert_eq!(s.sync_jobs.jobs().len(), 2);
}

#[tokio::test]
async fn an_exchanged_connection_gets_a_full_sync_of_every_resource() {
    let s = api_stack().await;
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/connections/exchange",
            &json!({ "auth_code": "auth_conn_fresh" }),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let queued = s.sync_jobs.jobs();
    assert_eq!(queued.len(), ResourceKind::ALL.len());
    for (job, resource) in queued.iter().zip(ResourceKind::ALL) {
        let (job, delay) = job;
        assert_eq!(job.tenant_id, tenant(ACME));
        assert_eq!(job.connection_id.as_str(), "conn_fresh");
        assert_eq!(job.resource, resource);
        assert_eq!(job.mode, SyncMode::Full);
        assert_eq!(job.reason, "exchange");
        assert_eq!(*delay, Duration::ZERO);
    }
}

struct RefusingQueue;

#[async_trait]
impl SyncJobQueue for RefusingQueue {
    async fn enqueue(&self, jobs: &[SyncJob], _delay: Duration) -> Result<(), SyncQueueError> {
        Err(SyncQueueError::Refused { failed: jobs.len() })
    }
}

#[tokio::test]
async fn an_exchange_succeeds_even_when_the_initial_sync_cannot_be_queued() {
    // given a queue that refuses everything
    let mut s = api_stack().await;
    s.deps.sync_jobs = Some(Arc::new(RefusingQueue));
    // when a connection is exchanged
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/connections/exchange",
            &json!({ "auth_code": "auth_conn_unqueued" }),
            &[],
        )
        .await;
    // then it is stored and active all the same (the scheduler syncs it on its next tick)
    assert_eq!(r.status, 201, "{}", r.body);
    let t: TenantId = tenant(ACME);
    let stored = s
        .stack
        .store
        .get_connection(
            &t,
            &packr::domain::ConnectionId::parse("conn_unqueued").unwrap(),
        )
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.status, ConnectionStatus::Active);
}
