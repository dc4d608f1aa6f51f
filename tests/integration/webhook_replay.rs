//! Replaying failed webhook events (`POST /sync/replay`, `packr::webhook::replay`) on the
//! emulator: failed events are kept on their receipts and listed per tenant; a replay
//! touches only the caller's tenant's events, re-enqueues each unchanged, and the
//! processor applies each exactly once (a replay of an applied event is a no-op); dry runs
//! and the cap hold; every call is audited.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{BrandId, ConnectionId, CorrelationId, EventId, Order, Timestamp};
use packr::metrics::RecordingSink;
use packr::store::{ConnectionStore, PageRequest, SyncedStore};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::processor::{handle_batch, ProcessorDeps};
use packr::webhook::queue::SqsEventQueue;
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use packr::webhook::replay::{replay, ReplayRequest};
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

/// The connection the failing events name: unknown to its tenant until the "fix".
const LATE_ACME: &str = "conn_late_acme";
const LATE_GLOBEX: &str = "conn_late_globex";

struct Replay {
    s: ApiStack,
    processor: ProcessorDeps,
    metrics: RecordingSink,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

async fn replay_stack() -> Replay {
    let mut s = api_stack().await;
    let sqs = aws_sdk_sqs::Client::new(&s.stack.sdk);
    let queue_url = sqs
        .create_queue()
        // Named as the template's WebhookQueue (`<prefix>-WebhookQueue`), which it stands
        // for: the IAM check maps it onto that queue.
        .queue_name(format!("replay-{}-WebhookQueue", uuid_suffix()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // api-sync replays as itself, the processor processes as itself (for the IAM check).
    s.deps.webhook_queue = Some(Arc::new(SqsEventQueue::new(
        aws_sdk_sqs::Client::new(&s.stack.sdk_as("api-sync")),
        &queue_url,
    )));
    let metrics = RecordingSink::new();
    let store = s.stack.store_as("webhook-processor");
    let processor = processor_deps(&store, &metrics);
    Replay {
        s,
        processor,
        metrics,
        sqs,
        queue_url,
    }
}

fn uuid_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn order_body(connection: &str, order_id: &str) -> Value {
    let path = format!(
        "{}/../events/trackstar-webhook-order-updated.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    body["connection_id"] = json!(connection);
    body["data"]["id"] = json!(order_id);
    body
}

fn message(event: &QueuedEvent, n: usize) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m-{}-{n}", event.event_id));
    m.body = Some(serde_json::to_string(event).unwrap());
    m
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages;
    e
}

impl Replay {
    /// An event ingested (receipt claimed and queued) and processed once, failing: its
    /// connection is not known to the tenant yet.
    async fn failed_event(
        &self,
        t: &str,
        connection: &str,
        event_id: &str,
        brand: Option<&str>,
        age: Duration,
    ) -> QueuedEvent {
        let body = order_body(connection, &format!("ord_{event_id}"));
        let received = Timestamp::now().plus_seconds(-(age.as_secs() as i64));
        let event = QueuedEvent {
            event_id: EventId::parse(event_id).unwrap(),
            tenant_id: tenant(t),
            brand_id: brand.map(|b| BrandId::parse(b).unwrap()),
            connection_id: ConnectionId::parse(connection).unwrap(),
            event_type: "order.updated".into(),
            received_at: received,
            delivered_at: None,
            correlation_id: CorrelationId::generate(),
            payload: body,
        };
        handle_batch(&self.processor, batch(vec![message(&event, 0)])).await;
        assert_eq!(
            self.state(t, event_id).await,
            ReceiptState::Failed,
            "the event fails"
        );
        event
    }

    async fn state(&self, t: &str, event_id: &str) -> ReceiptState {
        ReceiptStore::get(
            &self.s.stack.store,
            &tenant(t),
            &EventId::parse(event_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .state
    }

    /// The receipt item as stored (to see which attributes it carries).
    async fn raw_receipt(
        &self,
        t: &str,
        event_id: &str,
    ) -> std::collections::HashMap<String, AttributeValue> {
        aws_sdk_dynamodb::Client::new(&self.s.stack.sdk)
            .get_item()
            .table_name(&self.s.stack.table)
            .key("pk", AttributeValue::S(format!("T#{t}#EVT#{event_id}")))
            .key("sk", AttributeValue::S("RECEIPT".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn fix_connections(&self) {
        for (t, c) in [(ACME, LATE_ACME), (GLOBEX, LATE_GLOBEX)] {
            let tid = tenant(t);
            self.s
                .stack
                .store
                .create_connection(&tid, &connection(&tid, c))
                .await
                .unwrap();
        }
    }

    /// Everything on the replay queue (delays of the first events are 0).
    async fn drain(&self) -> Vec<SqsMessage> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if got.is_empty() {
                return out;
            }
            for m in got {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                let mut msg = SqsMessage::default();
                msg.message_id = m.message_id.clone();
                msg.body = m.body.clone();
                out.push(msg);
            }
        }
    }

    async fn post(&self, caller: &Caller, body: Value, key: &str) -> Answer {
        self.s
            .send(
                caller,
                "POST",
                "/sync/replay",
                &body,
                &[("Idempotency-Key", key)],
            )
            .await
    }

    async fn order(&self, t: &str, id: &str) -> Option<Order> {
        SyncedStore::<Order>::get(&self.s.stack.store, &tenant(t), id)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_replay_touches_only_the_callers_tenant_and_applies_each_event_exactly_once() {
    // given two failed events of acme and one of globex, in the same table
    let r = replay_stack().await;
    let hour = Duration::from_secs(3600);
    r.failed_event(ACME, LATE_ACME, "msg_a1", Some("b1"), hour)
        .await;
    r.failed_event(ACME, LATE_ACME, "msg_a2", Some("b2"), hour)
        .await;
    r.failed_event(GLOBEX, LATE_GLOBEX, "msg_g1", Some("g1"), hour)
        .await;
    assert_eq!(r.state(ACME, "msg_a1").await, ReceiptState::Failed);
    // each failed receipt keeps its event (compressed) and is listed for its tenant only
    let raw = r.raw_receipt(ACME, "msg_a1").await;
    assert!(matches!(
        raw.get("failed_event"),
        Some(AttributeValue::B(_))
    ));
    assert_eq!(raw["gsi2pk"], AttributeValue::S("T#acme#EVTFAILED".into()));
    let store = &r.s.stack.store;
    assert_eq!(
        store
            .list_failed(&tenant(ACME), None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_failed(&tenant(GLOBEX), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // when the cause is fixed and acme's admin replays its failed events
    r.fix_connections().await;
    let answer = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook" }),
            "replay-1",
        )
        .await;

    // then both of acme's are enqueued, and globex's event is untouched
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["matched"], 2);
    assert_eq!(answer.body["enqueued"], 2);
    assert_eq!(answer.body["skipped"], json!([]));
    assert_eq!(r.state(GLOBEX, "msg_g1").await, ReceiptState::Failed);
    assert_eq!(
        store
            .list_failed(&tenant(GLOBEX), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(r.state(ACME, "msg_a1").await, ReceiptState::Queued);
    assert!(store
        .list_failed(&tenant(ACME), None, 10)
        .await
        .unwrap()
        .is_empty());

    // the queue holds acme's events unchanged (same event ids), nothing of globex
    let messages = r.drain().await;
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| {
            let e: QueuedEvent = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            assert_eq!(e.tenant_id, tenant(ACME));
            e.event_id.to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["msg_a1", "msg_a2"]);

    // when the processor takes them: each is applied
    let response = handle_batch(&r.processor, batch(messages.clone())).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(r.order(ACME, "ord_msg_a1").await.is_some());
    assert!(r.order(ACME, "ord_msg_a2").await.is_some());
    assert!(r.order(GLOBEX, "ord_msg_g1").await.is_none());
    assert_eq!(r.state(ACME, "msg_a1").await, ReceiptState::Applied);
    // and an applied receipt no longer carries the event or the index keys
    let raw = r.raw_receipt(ACME, "msg_a1").await;
    for gone in ["failed_event", "gsi2pk", "gsi2sk", "failure_reason"] {
        assert!(!raw.contains_key(gone), "{gone} is still on the receipt");
    }

    // when the same replayed messages arrive again: a no-op (the idempotency record holds)
    // (the hourly webhook stats count the duplicates: every other item stays as it was)
    let without_stats = |items: Vec<String>| -> Vec<String> {
        items
            .into_iter()
            .filter(|i| !i.contains("#WHSTATS#"))
            .collect()
    };
    let before = without_stats(r.s.snapshot().await);
    let applied_before = r.metrics.total("webhook.applied");
    let response = handle_batch(&r.processor, batch(messages)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(r.metrics.total("webhook.duplicate_events"), 2.0);
    assert_eq!(r.metrics.total("webhook.applied"), applied_before);
    assert_eq!(without_stats(r.s.snapshot().await), before);

    // when acme replays again, or names an applied event and globex's event
    let again = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook" }),
            "replay-2",
        )
        .await;
    assert_eq!(again.body["matched"], 0);
    assert_eq!(again.body["enqueued"], 0);
    let named = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "event_ids": ["msg_a1", "msg_g1"] }),
            "replay-3",
        )
        .await;
    assert_eq!(named.status, 202, "{}", named.body);
    assert_eq!(named.body["enqueued"], 0);
    assert_eq!(
        named.body["skipped"],
        json!([
            { "event_id": "msg_a1", "reason": "already_applied" },
            { "event_id": "msg_g1", "reason": "not_found" }
        ])
    );
    assert!(r.drain().await.is_empty());
    assert_eq!(r.state(GLOBEX, "msg_g1").await, ReceiptState::Failed);

    // and every call is audited with actor, filter, counts and request id
    let audit =
        r.s.deps
            .audit
            .list(&tenant(ACME), &PageRequest::default())
            .await
            .unwrap();
    let replays: Vec<_> = audit
        .items
        .iter()
        .filter(|e| e.action == "sync.replay")
        .collect();
    assert_eq!(replays.len(), 3);
    let first = replays
        .iter()
        .find(|e| e.details.as_ref().unwrap()["matched"] == 2)
        .unwrap();
    assert_eq!(first.actor.to_string(), "user-tenant_admin");
    assert!(first.request_id.starts_with("req-"));
    assert_eq!(first.details.as_ref().unwrap()["enqueued"], 2);
    assert_eq!(first.details.as_ref().unwrap()["filter"]["dry_run"], false);
    let globex_audit =
        r.s.deps
            .audit
            .list(&tenant(GLOBEX), &PageRequest::default())
            .await
            .unwrap();
    assert!(globex_audit.items.iter().all(|e| e.action != "sync.replay"));
}

#[tokio::test]
async fn a_dry_run_counts_and_enqueues_nothing_and_filters_select() {
    // given acme's failed events of two brands, one of them old
    let r = replay_stack().await;
    let hour = Duration::from_secs(3600);
    r.failed_event(ACME, LATE_ACME, "msg_d1", Some("b1"), hour)
        .await;
    r.failed_event(ACME, LATE_ACME, "msg_d2", Some("b2"), hour)
        .await;
    r.failed_event(ACME, LATE_ACME, "msg_d3", Some("b1"), 30 * hour)
        .await;

    // when a dry run asks for everything: counted, nothing sent, nothing changed
    let dry = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "dry_run": true }),
            "dry-1",
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["matched"], 3);
    assert_eq!(dry.body["enqueued"], 0);
    assert_eq!(dry.body["dry_run"], true);
    assert!(r.drain().await.is_empty());
    for id in ["msg_d1", "msg_d2", "msg_d3"] {
        assert_eq!(r.state(ACME, id).await, ReceiptState::Failed);
    }

    // brand and age filters
    let b1 = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "brand_id": "b1", "dry_run": true }),
            "dry-2",
        )
        .await;
    assert_eq!(b1.body["matched"], 2);
    let recent_b1 = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "brand_id": "b1", "max_age_hours": 24, "dry_run": true }),
            "dry-3",
        )
        .await;
    assert_eq!(recent_b1.body["matched"], 1);
    let named = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "brand_id": "b2", "event_ids": ["msg_d1", "msg_d2"], "dry_run": true }),
            "dry-4",
        )
        .await;
    assert_eq!(named.body["matched"], 1);
    assert_eq!(
        named.body["skipped"],
        json!([{ "event_id": "msg_d1", "reason": "filtered_out" }])
    );

    // the same key with the same body answers the saved response; validation names fields
    let replayed = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "dry_run": true }),
            "dry-1",
        )
        .await;
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let invalid = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "max_age_hours": 0, "mode": "full" }),
            "dry-5",
        )
        .await;
    assert_eq!(invalid.status, 422);
    let fields = invalid.body["error"]["details"]["fields"]
        .as_object()
        .unwrap();
    assert!(fields.contains_key("max_age_hours") && fields.contains_key("mode"));
    let unknown = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "webhook", "all": true }),
            "dry-6",
        )
        .await;
    assert_eq!(unknown.status, 422);
}

#[tokio::test]
async fn the_cap_limits_a_replay_and_the_rest_stays_listed() {
    // given five failed events of acme
    let r = replay_stack().await;
    for i in 0..5 {
        r.failed_event(
            ACME,
            LATE_ACME,
            &format!("msg_c{i}"),
            None,
            Duration::from_secs(60 + i),
        )
        .await;
    }
    let queue = SqsEventQueue::new(r.sqs.clone(), &r.queue_url);
    let request = ReplayRequest {
        tenant: tenant(ACME),
        brand: None,
        event_ids: vec![],
        max_age: None,
        max: 3,
        dry_run: false,
    };

    // when a replay may take three (the same code the route and `packr replay` run)
    let report = replay(
        &r.s.stack.store,
        &r.s.stack.store,
        Some(&queue),
        &request,
        Timestamp::now(),
    )
    .await
    .unwrap();

    // then the three newest go, the cap is reported, and two stay listed as failed
    assert_eq!(report.matched, 3);
    assert_eq!(report.enqueued, 3);
    assert!(report.truncated);
    // spread at two per second: the first two at once, the third a second later
    assert_eq!(r.drain().await.len(), 2);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(r.drain().await.len(), 1);
    let left =
        r.s.stack
            .store
            .list_failed(&tenant(ACME), None, 10)
            .await
            .unwrap();
    let mut left: Vec<String> = left
        .iter()
        .map(|f| f.receipt.event_id.to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["msg_c3", "msg_c4"]);
}

#[tokio::test]
async fn a_sync_replay_queues_the_brands_connections_and_other_tenants_brands_are_404() {
    let r = replay_stack().await;
    // when acme's admin asks for a full sync of brand b1 (served by the tenant-wide
    // connection)
    let answer = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "sync", "brand_id": "b1", "mode": "full" }),
            "sync-1",
        )
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let jobs = r.s.sync_jobs.jobs();
    assert_eq!(jobs.len(), packr::sync::ResourceKind::ALL.len());
    assert!(jobs.iter().all(|(j, _)| j.tenant_id == tenant(ACME)
        && j.connection_id.as_str() == CONN_ACME
        && j.mode == packr::sync::SyncMode::Full
        && j.reason == "replay"));
    // another tenant's brand is a 404; other roles are refused
    let foreign = r
        .post(
            &Caller::admin(ACME),
            json!({ "type": "sync", "brand_id": "g1" }),
            "sync-2",
        )
        .await;
    assert_eq!(foreign.status, 404);
    let staff = r
        .post(
            &Caller::new(ACME, "tenant_staff", &[]),
            json!({ "type": "sync" }),
            "sync-3",
        )
        .await;
    assert_eq!(staff.status, 403);
    assert_eq!(
        r.s.sync_jobs.jobs().len(),
        packr::sync::ResourceKind::ALL.len()
    );
}

async fn cli(r: &Replay, argv: &[&str]) -> (anyhow::Result<std::process::ExitCode>, String) {
    use clap::Parser;
    let cli = packr_cli::Cli::try_parse_from(argv).unwrap();
    let table = r.s.stack.table.clone();
    let queue = r.queue_url.clone();
    let audit_key = audit_secret(&r.s.stack.sdk).await;
    let env = move |name: &str| match name {
        "TABLE_NAME" => Some(table.clone()),
        "WEBHOOK_QUEUE_URL" => Some(queue.clone()),
        "AUDIT_SECRET_ARN" => Some(audit_key.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    let result = packr_cli::run(cli, &r.s.stack.sdk, &env, &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn packr_replay_runs_the_same_replay_for_one_tenant_and_audits_it() {
    // given a failed event of each tenant, its cause fixed
    let r = replay_stack().await;
    let hour = Duration::from_secs(3600);
    r.failed_event(ACME, LATE_ACME, "msg_cli1", Some("b1"), hour)
        .await;
    r.failed_event(GLOBEX, LATE_GLOBEX, "msg_cli2", Some("g1"), hour)
        .await;
    r.fix_connections().await;

    // when ops dry-run, then replay acme's
    let (code, text) = cli(&r, &["packr", "replay", "--tenant", "acme", "--dry-run"]).await;
    assert_eq!(code.unwrap(), std::process::ExitCode::SUCCESS);
    assert!(text.contains("matched     1"), "{text}");
    assert!(text.contains("enqueued    0"), "{text}");
    assert!(r.drain().await.is_empty());
    let (code, text) = cli(
        &r,
        &[
            "packr", "replay", "--tenant", "acme", "--event", "msg_cli1", "--event", "msg_cli2",
        ],
    )
    .await;
    assert_eq!(code.unwrap(), std::process::ExitCode::SUCCESS);
    assert!(text.contains("enqueued    1"), "{text}");
    assert!(
        text.contains("msg_cli2") && text.contains("not_found"),
        "{text}"
    );

    // then only acme's event is on the queue, and it applies
    let messages = r.drain().await;
    assert_eq!(messages.len(), 1);
    assert!(handle_batch(&r.processor, batch(messages))
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(r.state(ACME, "msg_cli1").await, ReceiptState::Applied);
    assert_eq!(r.state(GLOBEX, "msg_cli2").await, ReceiptState::Failed);
    let audit =
        r.s.deps
            .audit
            .list(&tenant(ACME), &PageRequest::default())
            .await
            .unwrap();
    let by_cli: Vec<_> = audit
        .items
        .iter()
        .filter(|e| e.action == "sync.replay" && e.actor.to_string() == "packr-cli")
        .collect();
    assert_eq!(by_cli.len(), 2);

    // an unknown tenant is an error
    let (code, _) = cli(&r, &["packr", "replay", "--tenant", "nobody"]).await;
    assert!(code.is_err());
}

#[tokio::test]
async fn packr_reconcile_queues_dry_run_reconcile_jobs_of_one_active_connection() {
    use clap::Parser;
    let r = replay_stack().await;
    let cli = packr_cli::Cli::try_parse_from([
        "packr",
        "reconcile",
        "--tenant",
        "acme",
        "--connection",
        CONN_ACME,
        "--resource",
        "orders",
        "--resource",
        "products",
        "--dry-run",
    ])
    .unwrap();
    let packr_cli::Command::Reconcile(args) = cli.command else {
        panic!("not reconcile");
    };
    let request = packr_cli::ReconcileRequest::try_from(&args).unwrap();
    let queue = packr::sync::MemorySyncJobQueue::new();
    let store = &r.s.stack.store;
    let jobs = packr_cli::enqueue_reconcile(store, store, &queue, &request, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let queued = queue.drain();
    assert_eq!(queued, jobs);
    assert!(queued
        .iter()
        .all(|j| j.mode == packr::sync::SyncMode::Reconcile
            && j.dry_run
            && j.reason == "cli"
            && j.tenant_id == tenant(ACME)));
    // another tenant's connection is unknown to acme
    let mut other = request.clone();
    other.connection = CONN_GLOBEX.to_owned();
    assert!(matches!(
        packr_cli::enqueue_reconcile(store, store, &queue, &other, Timestamp::now()).await,
        Err(packr_cli::SyncRunError::UnknownConnection { .. })
    ));
    assert!(queue.drain().is_empty());
}
