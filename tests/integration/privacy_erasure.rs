//! The erasure of a person, end to end on the emulator: `POST /privacy/erasures` through
//! api-connections' handler, the lifecycle job's walk run by the runner, then a Scan of the
//! table (tests may Scan; Packr never does) that finds the identifier nowhere in the
//! tenant's items — orders, returns, inbound shipments, tombstones, messages, failed
//! receipts' kept events — while another tenant's items stay byte-identical. Also: the
//! answer, the status by id, another tenant's id, validation, an idempotent replay, and a
//! walk cut midway that resumes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{
    Address, ConnectionId, CorrelationId, EventId, InboundShipmentStatus, Message, MessageBody,
    MessageId, OrderId, ReturnStatus, TenantId, Timestamp, UserId,
};
use packr::lifecycle::{
    run_job, JobKindTag, JobStatus, LifecycleJobStore, MemoryLifecycleQueue, Registry, RunOutcome,
    RunnerDeps,
};
use packr::privacy::job::ErasureSteps;
use packr::privacy::PrivacyKey;
use packr::store::dynamo::{DynamoStore, Item};
use packr::store::{MessageStore, SyncedStore};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::receipts::ReceiptStore;
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

pub(crate) const EMAIL: &str = "jane.roe@example.com";
const NAME: &str = "Jane Roe";

pub(crate) fn jane() -> Address {
    Address {
        full_name: Some(NAME.into()),
        address1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        postal_code: Some("62701".into()),
        country: Some("US".into()),
        phone_number: Some("+1 555 0100".into()),
        email_address: Some("Jane.Roe@Example.com".into()),
        ..Address::default()
    }
}

/// Every item of the table whose key starts with the tenant's prefix (a test-only Scan).
pub(crate) async fn scan_tenant(s: &Stack, t: &str) -> Vec<Item> {
    let client = aws_sdk_dynamodb::Client::new(&s.sdk);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(&s.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(format!("T#{t}#")))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
    items
}

/// An item's text as a reader of the table could get it: strings, object bodies inflated,
/// kept events decompressed.
pub(crate) fn readable(item: &Item) -> String {
    fn text(value: &AttributeValue, out: &mut String) {
        match value {
            AttributeValue::S(s) => out.push_str(s),
            AttributeValue::Ss(v) => v.iter().for_each(|s| out.push_str(s)),
            AttributeValue::L(v) => v.iter().for_each(|v| text(v, out)),
            AttributeValue::M(m) => m.values().for_each(|v| text(v, out)),
            AttributeValue::B(b) => {
                if let Ok(json) = packr::store::dynamo::inflate_body(b.as_ref()) {
                    out.push_str(&String::from_utf8_lossy(&json));
                }
                if let Ok(v) = packr::webhook::stored_event::decompress_as::<Value>(b.as_ref()) {
                    out.push_str(&v.to_string());
                }
                out.push_str(&String::from_utf8_lossy(b.as_ref()));
            }
            _ => {}
        }
        out.push('\n');
    }
    let mut out = String::new();
    item.values().for_each(|v| text(v, &mut out));
    out.to_lowercase()
}

pub(crate) fn steps(s: &ApiStack, page: i32) -> ErasureSteps {
    // As data-lifecycle runs them (its role holds the walk's calls: the IAM check).
    ErasureSteps::new(
        s.stack.store_as("data-lifecycle"),
        Arc::new(PrivacyKey::from_secret(
            s.secrets.clone(),
            TEST_PRIVACY_SECRET,
        )),
    )
    .with_page(page)
}

pub(crate) fn runner(s: &ApiStack, page: i32, owner: &str) -> RunnerDeps {
    RunnerDeps {
        jobs: LifecycleJobStore::new(s.stack.store_as("data-lifecycle")),
        registry: Registry::new().with(JobKindTag::PersonErasure, Arc::new(steps(s, page))),
        queue: Arc::new(MemoryLifecycleQueue::new()),
        metrics: Arc::new(packr::metrics::RecordingSink::new()),
        owner: owner.to_owned(),
        lease_hold: Duration::from_millis(200),
        deadline_margin: Duration::from_secs(1),
    }
}

fn queued_event(t: &TenantId, id: &str, order_id: &str) -> QueuedEvent {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../../events/trackstar-webhook-order-created.json"
    ))
    .unwrap();
    payload["data"]["id"] = json!(order_id);
    payload["data"]["ship_to_address"]["email_address"] = json!(EMAIL);
    payload["data"]["ship_to_address"]["full_name"] = json!(NAME);
    QueuedEvent {
        event_id: EventId::parse(id).unwrap(),
        tenant_id: t.clone(),
        brand_id: None,
        connection_id: ConnectionId::parse(CONN_ACME).unwrap(),
        event_type: "order.created".into(),
        received_at: at(5),
        delivered_at: None,
        correlation_id: CorrelationId::generate(),
        payload,
    }
}

/// Jane's data in tenant `t` (brand `b`): two orders (one tombstoned), another person's
/// order, a return of her order, an inbound shipment from her address, a message naming
/// her, a failed webhook receipt keeping her order.
async fn seed(store: &DynamoStore, t_name: &str, b: &str) -> (String, String) {
    let t = tenant(t_name);
    let b = brand(b);
    let mut o1 = order(&t, &format!("ord_{t_name}_jane"), Some(&b), 10);
    o1.ship_to_address = Some(jane());
    store.upsert_if_newer(&t, &o1).await.unwrap();
    let mut gone = order(&t, &format!("ord_{t_name}_gone"), Some(&b), 10);
    gone.ship_to_address = Some(jane());
    store.upsert_if_newer(&t, &gone).await.unwrap();
    assert!(
        SyncedStore::<packr::domain::Order>::tombstone(store, &t, gone.id.as_str(), at(20))
            .await
            .unwrap()
    );
    // an order stored before the changes feed's index existed (no feed keys)
    let mut unfed = order(&t, &format!("ord_{t_name}_unfed"), Some(&b), 10);
    unfed.ship_to_address = Some(jane());
    store.upsert_if_newer(&t, &unfed).await.unwrap();
    store
        .client()
        .update_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S(format!("T#{t}#ORDER#{}", unfed.id)))
        .key("sk", AttributeValue::S("ORDER".into()))
        .update_expression("REMOVE chgpk, chgsk")
        .send()
        .await
        .unwrap();
    let mut other = order(&t, &format!("ord_{t_name}_bob"), Some(&b), 10);
    other.ship_to_address = Some(Address {
        full_name: Some("Bob Stone".into()),
        email_address: Some("bob@example.com".into()),
        ..Address::default()
    });
    store.upsert_if_newer(&t, &other).await.unwrap();
    let mut rma = crate::warehouse_objects::a_return(
        &t,
        &format!("ret_{t_name}_jane"),
        Some(&b),
        ReturnStatus::Open,
        "wh_1",
        10,
    );
    rma.order_id = Some(OrderId::parse(o1.id.as_str()).unwrap());
    rma.notes = vec!["left at the porch".into()];
    store.upsert_if_newer(&t, &rma).await.unwrap();
    let mut asn = crate::warehouse_objects::inbound(
        &t,
        &format!("is_{t_name}_jane"),
        Some(&b),
        InboundShipmentStatus::Open,
        "wh_1",
        10,
    );
    asn.ship_from_address = Some(jane());
    asn.notes = vec![format!("questions: {EMAIL}")];
    store.upsert_if_newer(&t, &asn).await.unwrap();
    store
        .append(
            &t,
            &Message {
                tenant_id: t.clone(),
                brand_id: b.clone(),
                id: MessageId::generate(),
                author: UserId::parse("u1").unwrap(),
                author_role: "tenant_admin".into(),
                body: MessageBody::parse(format!(
                    "Order of {NAME} ({EMAIL}) came back; please call Jane Roe."
                ))
                .unwrap(),
                created_at: at(30),
            },
        )
        .await
        .unwrap();
    let event = queued_event(
        &t,
        &format!("msg_{t_name}_failed"),
        &format!("ord_{t_name}_late"),
    );
    store
        .mark_failed(&event, "failure", true, at(40))
        .await
        .unwrap();
    (o1.id.to_string(), rma.id.to_string())
}

async fn post(s: &ApiStack, body: Value, key: &str) -> Answer {
    s.send(
        &Caller::admin(ACME),
        "POST",
        "/privacy/erasures",
        &body,
        &[("Idempotency-Key", key)],
    )
    .await
}

#[tokio::test]
async fn an_erasure_redacts_the_person_everywhere_and_leaves_another_tenant_byte_identical() {
    // given Jane's data in acme, and the same person in globex
    let s = api_stack().await;
    seed(&s.stack.store, ACME, "b1").await;
    seed(&s.stack.store, GLOBEX, "g1").await;
    let globex_before = scan_tenant(&s.stack, GLOBEX).await;
    assert!(scan_tenant(&s.stack, ACME)
        .await
        .iter()
        .any(|i| readable(i).contains(EMAIL)));

    // when acme's admin erases her email (spelled otherwise)
    let r = post(&s, json!({ "email": " JANE.ROE@example.com" }), "erase-1").await;

    // then the answer is 202 with the erasure's id, status, time and the WMS notice
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["erasure_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("era_"));
    assert_eq!(r.body["status"], "pending");
    assert!(Timestamp::parse(r.body["erased_at"].as_str().unwrap()).is_ok());
    assert!(r.body["notice"].as_str().unwrap().contains("WMS"));
    // and its walk is queued, delayed by the guard's wait
    let queued = s.lifecycle_jobs.drain();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].job_id, r.body["job_id"].as_str().unwrap());
    // and the erasure record, the job, the audit entry and the idempotency record hold
    // no identifier (only keyed hashes)
    for item in scan_tenant(&s.stack, ACME).await {
        let pk = item
            .get("pk")
            .and_then(|p| p.as_s().ok())
            .cloned()
            .unwrap_or_default();
        if ["#ERASURE", "#LIFECYCLE", "#AUDIT", "#IDEM#"]
            .iter()
            .any(|k| pk.contains(k))
        {
            assert!(!readable(&item).contains(EMAIL), "{pk} holds the email");
        }
    }

    // when the job runs (after the guard's wait)
    let outcome = run_job(
        &runner(&s, 100, "test-runner"),
        &tenant(ACME),
        &queued[0].job_id,
        Instant::now() + Duration::from_secs(120),
    )
    .await
    .unwrap();
    assert_eq!(outcome, RunOutcome::Finished(JobStatus::Completed));

    // then no item of acme holds her email, and none her name
    for item in scan_tenant(&s.stack, ACME).await {
        let text = readable(&item);
        assert!(
            !text.contains(EMAIL),
            "{:?} holds the email",
            item.get("pk")
        );
        assert!(
            !text.contains("jane roe"),
            "{:?} holds the name",
            item.get("pk")
        );
    }
    // and Bob's order is untouched
    let bob: packr::domain::Order = SyncedStore::get(&s.stack.store, &tenant(ACME), "ord_acme_bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bob.ship_to_address.unwrap().email_address.as_deref(),
        Some("bob@example.com")
    );
    // and the redacted order keeps its country, the fields stay in the schema
    let o: packr::domain::Order = SyncedStore::get(&s.stack.store, &tenant(ACME), "ord_acme_jane")
        .await
        .unwrap()
        .unwrap();
    let a = o.ship_to_address.unwrap();
    assert_eq!(a.country.as_deref(), Some("US"));
    assert_eq!(a.email_address.as_deref(), Some(packr::privacy::ERASED));
    // and globex's items are byte-identical
    assert_eq!(scan_tenant(&s.stack, GLOBEX).await, globex_before);

    // when the status is asked for
    let r = s
        .get(&Caller::admin(ACME), &format!("/privacy/erasures/{id}"))
        .await;
    // then it is completed, with the counts per kind
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(
        r.body["counts"],
        json!({ "orders": 3, "returns": 1, "inbound_shipments": 1, "messages": 1, "failed_receipts": 1 })
    );
    // and another tenant's admin gets a 404 for it, a brand user a 403
    let r = s
        .get(&Caller::admin(GLOBEX), &format!("/privacy/erasures/{id}"))
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .get(
            &Caller::new(ACME, "brand_manager", &["b1"]),
            &format!("/privacy/erasures/{id}"),
        )
        .await;
    assert_eq!(r.status, 403);

    // when the POST is sent again with the same key and body
    let again = post(&s, json!({ "email": "jane.roe@example.com" }), "erase-1").await;
    // then the first answer is replayed: no second erasure, no second job
    assert_eq!(again.status, 202);
    assert_eq!(again.body["erasure_id"], id.as_str());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(s.lifecycle_jobs.drain().is_empty());
    assert_eq!(
        s.stack
            .store
            .list_erasures(&tenant(ACME))
            .await
            .unwrap()
            .len(),
        1
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn invalid_erasure_requests_name_their_field_and_change_nothing() {
    let s = api_stack().await;
    for (n, (body, field)) in [
        (json!({}), "email"),
        (json!({ "email": "not an email" }), "email"),
        (json!({ "name": "Jane Roe" }), "postal_code"),
        (json!({ "postal_code": "62701" }), "name"),
        (json!({ "name": "   ", "postal_code": "62701" }), "name"),
        (
            json!({ "name": "Jane", "postal_code": " - " }),
            "postal_code",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let r = post(&s, body.clone(), &format!("bad-{n}")).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{body}: {}",
            r.body
        );
    }
    let r = post(
        &s,
        json!({ "email": "a@b.co", "phone": "1" }),
        "bad-unknown",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // a brand user may not erase
    let r = s
        .send(
            &Caller::new(ACME, "brand_manager", &["b1"]),
            "POST",
            "/privacy/erasures",
            &json!({ "email": EMAIL }),
            &[("Idempotency-Key", "k-brand")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(s
        .stack
        .store
        .list_erasures(&tenant(ACME))
        .await
        .unwrap()
        .is_empty());
    assert!(s.lifecycle_jobs.drain().is_empty());
    // an id of no erasure is a 404
    let r = s
        .get(&Caller::admin(ACME), "/privacy/erasures/era_nothing")
        .await;
    assert_eq!(r.status, 404);
    s.sim.shutdown().await;
}

/// A worker that dies after `left` saved steps: its next step does its work (writes) and
/// then the process is gone before the runner saves the job.
struct DiesAfter {
    inner: ErasureSteps,
    left: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl packr::lifecycle::JobSteps for DiesAfter {
    async fn step(
        &self,
        job: &mut packr::lifecycle::LifecycleJob,
    ) -> Result<packr::lifecycle::Step, packr::lifecycle::LifecycleError> {
        use std::sync::atomic::Ordering;
        let left = self.left.load(Ordering::SeqCst);
        let step = self.inner.step(job).await?;
        if left == 0 {
            return Err(packr::lifecycle::LifecycleError::transient(
                "the worker",
                "killed after the step's writes, before its save",
            ));
        }
        self.left.store(left - 1, Ordering::SeqCst);
        Ok(step)
    }
}

#[tokio::test]
async fn a_walk_cut_midway_resumes_from_its_checkpoint_and_completes() {
    // given Jane's data, an erasure of her name and postal code, and 1-item pages
    let s = api_stack().await;
    seed(&s.stack.store, ACME, "b1").await;
    let r = post(
        &s,
        json!({ "name": "jane  ROE", "postal_code": "62701" }),
        "erase-cut",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    let t = tenant(ACME);
    let jobs = LifecycleJobStore::new(s.stack.store.clone());

    // when a worker is killed mid-walk, after 6 saved steps (the wait and 5 pages)
    let mut dying = runner(&s, 1, "worker-1");
    dying.registry = Registry::new().with(
        JobKindTag::PersonErasure,
        Arc::new(DiesAfter {
            inner: steps(&s, 1),
            left: 6.into(),
        }),
    );
    let killed = run_job(
        &dying,
        &t,
        &job_id,
        Instant::now() + Duration::from_secs(120),
    )
    .await;
    assert!(killed.is_err(), "{killed:?}");
    // then the job is saved where it was: still running, mid-walk, 6 steps done
    let saved = jobs.get(&t, &job_id).await.unwrap().unwrap();
    assert_eq!(saved.status, JobStatus::Running);
    assert_eq!(saved.steps, 6);
    assert!(saved.phase.starts_with("erase:"), "{}", saved.phase);

    // when another worker takes it over once the lease lapsed
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcome = run_job(
        &runner(&s, 1, "worker-2"),
        &t,
        &job_id,
        Instant::now() + Duration::from_secs(120),
    )
    .await
    .unwrap();
    // then it resumes from the checkpoint and completes; nothing of her is left
    assert_eq!(outcome, RunOutcome::Finished(JobStatus::Completed));
    let done = jobs.get(&t, &job_id).await.unwrap().unwrap();
    assert!(done.steps > 6, "{}", done.steps);
    for item in scan_tenant(&s.stack, ACME).await {
        let text = readable(&item);
        assert!(
            !text.contains("jane roe"),
            "{:?} holds the name",
            item.get("pk")
        );
        assert!(
            !text.contains(EMAIL),
            "{:?} holds the email",
            item.get("pk")
        );
    }
    let r = s
        .get(
            &Caller::admin(ACME),
            &format!(
                "/privacy/erasures/{}",
                r.body["erasure_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(r.body["status"], "completed");
    // the killed step's rewrite (one item at most) is not counted: it was never saved
    let counted: u64 = r.body["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!((6..=7).contains(&counted), "{}", r.body["counts"]);
    s.sim.shutdown().await;
}
