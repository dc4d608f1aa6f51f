//! The audit trail: every mutating route records exactly one entry (table-driven over
//! `ROUTES`), a failed audit write fails the request and the retry is safe, the chain is
//! unbroken under concurrent appends, and `packr audit verify` finds an edited, a deleted
//! and an inserted entry.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use packr::api::router::{RouteId, ROUTES};
use packr::audit::Finding;
use packr::domain::{Timestamp, UserId};
use packr::store::{AuditEntry, AuditStore, PageRequest};
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

/// A successful call of a mutating route by a tenant_admin of acme, and the entry it must
/// leave. Exhaustive: a new route needs an arm here, and a new mutating one is then held
/// to leave its entry.
struct Mutation {
    method: &'static str,
    path: String,
    body: Value,
    action: &'static str,
    /// The entry's target; `None`: the id the answer gives, after this prefix.
    target: Result<String, &'static str>,
}

/// The ids earlier routes created, for the routes that change them.
#[derive(Default)]
struct Created {
    order: String,
    product: String,
    inbound: String,
}

fn mutation(route: RouteId, ids: &Created) -> Option<Mutation> {
    let Created {
        order,
        product,
        inbound,
    } = ids;
    let m = |method, path: String, body, action, target| {
        Some(Mutation {
            method,
            path,
            body,
            action,
            target,
        })
    };
    match route {
        RouteId::CreateOrder => m(
            "POST",
            "/orders".into(),
            order_body("b1", "audit-1"),
            "orders.create",
            Err("order:"),
        ),
        RouteId::UpdateOrder => m(
            "PUT",
            format!("/orders/{order}"),
            json!({ "shipping_method_id": "express" }),
            "orders.update",
            Ok(format!("order:{order}")),
        ),
        RouteId::CreateInboundShipment => m(
            "POST",
            "/inbound-shipments".into(),
            inbound_body("b1", "PO-audit-1"),
            "inbound_shipments.create",
            Err("inbound_shipment:"),
        ),
        RouteId::UpdateInboundShipment => m(
            "PUT",
            format!("/inbound-shipments/{inbound}"),
            json!({ "tracking_number": "1Z-audited" }),
            "inbound_shipments.update",
            Ok(format!("inbound_shipment:{inbound}")),
        ),
        RouteId::CreateReturn => m(
            "POST",
            "/returns".into(),
            return_body("b1"),
            "returns.create",
            Err("return:"),
        ),
        RouteId::CancelOrder => m(
            "POST",
            format!("/orders/{order}/cancel"),
            json!({}),
            "orders.cancel",
            Ok(format!("order:{order}")),
        ),
        RouteId::CreateProduct => m(
            "POST",
            "/products".into(),
            product_body("b1", "AUD-1"),
            "products.create",
            Err("product:"),
        ),
        RouteId::UpdateProduct => m(
            "PUT",
            format!("/products/{product}"),
            json!({ "name": "Audited" }),
            "products.update",
            Ok(format!("product:{product}")),
        ),
        RouteId::PostMessage => m(
            "POST",
            "/brands/b1/messages".into(),
            json!({ "body": "hello" }),
            "messages.post",
            Err("message:"),
        ),
        RouteId::CreateLinkToken => m(
            "POST",
            "/connections/link-token".into(),
            json!({}),
            "connections.link_token",
            Ok("connection:new".into()),
        ),
        RouteId::ExchangeAuthCode => m(
            "POST",
            "/connections/exchange".into(),
            json!({ "auth_code": "auth_conn_aud1", "brand_id": "b2" }),
            "connections.exchange",
            Ok("connection:conn_aud1".into()),
        ),
        // The connection the exchange above linked (deleted at the simulator too).
        RouteId::DeleteConnection => m(
            "DELETE",
            "/connections/conn_aud1".into(),
            Value::Null,
            "connections.delete",
            Ok("connection:conn_aud1".into()),
        ),
        RouteId::DeleteBrand => m(
            "DELETE",
            "/brands/b2".into(),
            Value::Null,
            "brands.offboard",
            Ok("brand:b2".into()),
        ),
        RouteId::RunSync => m(
            "POST",
            "/sync/run".into(),
            json!({ "connection_id": CONN_ACME, "mode": "incremental" }),
            "sync.run",
            Ok(format!("connection:{CONN_ACME}")),
        ),
        RouteId::Backfill => m(
            "POST",
            "/sync/backfill".into(),
            json!({
                "connection_id": CONN_ACME,
                "resource": "orders",
                "start_time": "2026-01-01T00:00:00Z",
                "end_time": "2026-01-02T00:00:00Z"
            }),
            "sync.backfill",
            Ok(format!("connection:{CONN_ACME}")),
        ),
        RouteId::CreateErasure => m(
            "POST",
            "/privacy/erasures".into(),
            json!({ "email": "audited.person@example.com" }),
            "privacy.erasure",
            Err("erasure:"),
        ),
        RouteId::Replay => m(
            "POST",
            "/sync/replay".into(),
            json!({ "type": "sync", "brand_id": "b1", "dry_run": true }),
            "sync.replay",
            Ok("connections".into()),
        ),
        RouteId::ListOrders
        | RouteId::GetOrder
        | RouteId::ListInventory
        | RouteId::GetInventory
        | RouteId::ListProducts
        | RouteId::GetProduct
        | RouteId::ListMessages
        | RouteId::ListConnections
        | RouteId::GetOffboarding
        | RouteId::ListAudit
        | RouteId::GetErasure
        | RouteId::SyncHealth
        | RouteId::SyncLag
        | RouteId::ListReconciliations
        | RouteId::GetReconciliation
        | RouteId::ListInboundShipments
        | RouteId::GetInboundShipment
        | RouteId::ListReturns
        | RouteId::GetReturn
        | RouteId::ListWarehouses
        | RouteId::GetWarehouse
        | RouteId::ListShippingMethods
        | RouteId::ListBills
        | RouteId::ListChanges
        | RouteId::GetBill
        | RouteId::OpenApi
        | RouteId::Docs
        | RouteId::DocsAsset => None,
    }
}

/// The tenant's entries, newest first, read directly (not through `deps`).
async fn entries(s: &ApiStack, t: &str) -> Vec<AuditEntry> {
    audit_log(&s.stack)
        .list(&tenant(t), &PageRequest::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn every_mutating_route_records_exactly_one_audit_entry_and_the_chain_verifies() {
    // given acme's admin, and the ids the routes before create
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let mut created = Created::default();
    let mut audited = 0;
    for (n, route) in ROUTES.iter().enumerate() {
        if route.method == "GET" {
            assert!(
                mutation(route.id, &Created::default()).is_none(),
                "{:?}",
                route.id
            );
            continue;
        }
        let m = mutation(route.id, &created)
            .unwrap_or_else(|| panic!("{:?} mutates and needs an audit expectation", route.id));
        assert_eq!(
            (m.method, route.path.contains('{')),
            (route.method, m.path != route.path)
        );
        let before = entries(&s, ACME).await.len();

        // when the admin calls it successfully
        let key = format!("audit-{n}");
        let r = s
            .send(
                &admin,
                m.method,
                &m.path,
                &m.body,
                &[("Idempotency-Key", &key)],
            )
            .await;
        assert!(r.status < 300, "{:?}: {} {}", route.id, r.status, r.body);
        // (an erasure answers its id as `erasure_id`)
        let id = r.body["id"]
            .as_str()
            .or_else(|| r.body["erasure_id"].as_str())
            .unwrap_or_default()
            .to_owned();
        match route.id {
            RouteId::CreateOrder => created.order = id.clone(),
            RouteId::CreateProduct => created.product = id.clone(),
            RouteId::CreateInboundShipment => created.inbound = id.clone(),
            _ => {}
        }

        // then exactly one entry more, newest first, with the action and target
        let after = entries(&s, ACME).await;
        assert_eq!(after.len(), before + 1, "{:?}", route.id);
        let newest = &after[0];
        let target = match &m.target {
            Ok(t) => t.clone(),
            Err(prefix) => format!("{prefix}{id}"),
        };
        assert_eq!(
            (newest.action.as_str(), newest.target.as_str()),
            (m.action, target.as_str()),
            "{:?}",
            route.id
        );
        assert_eq!(newest.actor.as_str(), "user-tenant_admin");
        audited += 1;
    }
    assert_eq!(audited, 17);
    // and the other tenant's log is untouched, the admin's listing shows them all
    assert!(entries(&s, GLOBEX).await.is_empty());
    let listed = s.get(&admin, "/audit?limit=5").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 5);
    let cursor = listed.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = s
        .get(&admin, &format!("/audit?limit=5&cursor={cursor}"))
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 5);
    // and the chain is whole: 17 links, nothing found
    let report = audit_log(&s.stack)
        .verify(&tenant(ACME), Timestamp::now())
        .await
        .unwrap();
    assert_eq!((report.head_seq, report.entries), (17, 17));
    assert!(report.intact(), "{:?}", report.findings);
    s.sim.shutdown().await;
}

/// Points `s`'s audit log (only it) at a fault proxy, and starts a DynamoDB outage there.
async fn audit_outage(s: &mut ApiStack) -> packr_local::faultproxy::FaultProxy {
    let (proxy, sdk) = packr_local::testing::through_fault_proxy(&s.stack.sdk).await;
    let proxied = packr::webhook::wiring::store_without_cursors(&sdk, s.stack.table.clone());
    s.deps.audit = Arc::new(packr::store::dynamo::DynamoAuditLog::new(
        proxied,
        packr::audit::ChainKeys::Given(packr::audit::ChainKey::new(TEST_AUDIT_KEY.to_vec())),
    ));
    proxy.set_outage(packr_local::faultproxy::Service::DynamoDb, true);
    proxy
}

#[tokio::test]
async fn a_failed_audit_write_fails_the_request_and_the_retry_writes_upstream_once() {
    // given an audit log whose DynamoDB calls go through a proxy that is out
    let mut s = api_stack().await;
    let proxy = audit_outage(&mut s).await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let body = order_body("b1", "audit-fail");
    let key = [("Idempotency-Key", "audit-fail-1")];

    // when an order is created while the audit log cannot be written
    let failed = call(
        &s.deps,
        event("POST", "/orders", &manager, Some(&body.to_string()), &key),
    )
    .await;

    // then the request fails, retryably, and nothing is recorded
    assert_eq!((failed.status, failed.code()), (503, "audit_unavailable"));
    assert!(failed.header("retry-after").is_some());
    assert!(entries(&s, ACME).await.is_empty());
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 1);
    let upstream = s.sim.truth(CONN_ACME).unwrap().orders.len();

    // when the log is back and the client retries with the same key
    proxy.set_outage(packr_local::faultproxy::Service::DynamoDb, false);
    let retried = call(
        &s.deps,
        event("POST", "/orders", &manager, Some(&body.to_string()), &key),
    )
    .await;

    // then it succeeds, Trackstar replayed its first answer (no second order upstream),
    // and exactly one entry tells of it
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(s.sim.truth(CONN_ACME).unwrap().orders.len(), upstream);
    let logged = entries(&s, ACME).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].target,
        format!("order:{}", retried.body["id"].as_str().unwrap())
    );
    // and a replay of the completed key records nothing more
    let replayed = call(
        &s.deps,
        event("POST", "/orders", &manager, Some(&body.to_string()), &key),
    )
    .await;
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(entries(&s, ACME).await.len(), 1);
    proxy.shutdown().await;
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_audit_write_on_exchange_leaves_no_connection_behind() {
    // given the audit log out, and an admin exchanging a new connection's auth code
    let mut s = api_stack().await;
    let proxy = audit_outage(&mut s).await;
    let admin = Caller::admin(ACME);
    let body = json!({ "auth_code": "auth_conn_aud2" }).to_string();

    // when the exchange runs
    let failed = call(
        &s.deps,
        event("POST", "/connections/exchange", &admin, Some(&body), &[]),
    )
    .await;

    // then it fails retryably, and no connection, route or sync exists for it
    assert_eq!((failed.status, failed.code()), (503, "audit_unavailable"));
    let id = packr::domain::ConnectionId::parse("conn_aud2").unwrap();
    use packr::store::ConnectionStore;
    assert!(s
        .stack
        .store
        .get_connection(&tenant(ACME), &id)
        .await
        .unwrap()
        .is_none());
    assert!(s.stack.store.route(&id).await.unwrap().is_none());
    assert!(s.sync_jobs.jobs().is_empty());
    assert!(entries(&s, ACME).await.is_empty());
    proxy.shutdown().await;
    s.sim.shutdown().await;
}

fn entry(t: &str, n: usize) -> AuditEntry {
    AuditEntry {
        id: AuditEntry::new_id(),
        tenant_id: tenant(t),
        actor: UserId::parse(format!("user-{n}")).unwrap(),
        actor_role: "tenant_admin".to_owned(),
        action: "orders.create".to_owned(),
        target: format!("order:ord_{n}"),
        at: Timestamp::now(),
        request_id: format!("req-{n}"),
        details: None,
    }
}

#[tokio::test]
async fn concurrent_appends_from_several_instances_form_one_unbroken_chain() {
    // given four "instances" (own clients), whose conditional writes go through a proxy
    // that makes them atomic per item as DynamoDB does (moto does not serialise them)
    let s = stack().await;
    let (proxy, sdk) = packr_local::testing::through_fault_proxy(&s.sdk).await;
    let logs: Vec<_> = (0..4)
        .map(|_| {
            packr::store::dynamo::DynamoAuditLog::new(
                packr::webhook::wiring::store_without_cursors(&sdk, s.table.clone()),
                packr::audit::ChainKeys::Given(packr::audit::ChainKey::new(
                    TEST_AUDIT_KEY.to_vec(),
                )),
            )
        })
        .collect();

    // when 4 tasks append 6 entries each, all at once
    let mut tasks = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for j in 0..6 {
                seqs.push(
                    log.append(&tenant(ACME), &entry(ACME, i * 10 + j))
                        .await
                        .unwrap()
                        .seq,
                );
            }
            seqs
        }));
    }
    let mut seqs: Vec<u64> = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }

    // then every append got its own sequence number, 1 to 24, and the chain verifies
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=24).collect::<Vec<u64>>());
    let report = logs[0]
        .verify(&tenant(ACME), Timestamp::now())
        .await
        .unwrap();
    assert_eq!((report.head_seq, report.entries), (24, 24));
    assert!(report.intact(), "{:?}", report.findings);
    proxy.shutdown().await;
}

/// The stored item of entry `seq` of acme's chain.
async fn item_of(s: &Stack, seq: u64) -> std::collections::HashMap<String, AttributeValue> {
    let client = aws_sdk_dynamodb::Client::new(&s.sdk);
    let out = client
        .query()
        .table_name(&s.table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("T#acme#AUDIT".into()))
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .find(|i| i.get("seq") == Some(&AttributeValue::N(seq.to_string())))
        .cloned()
        .unwrap_or_else(|| panic!("entry #{seq}"))
}

async fn put(s: &Stack, item: std::collections::HashMap<String, AttributeValue>) {
    aws_sdk_dynamodb::Client::new(&s.sdk)
        .put_item()
        .table_name(&s.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn cli_verify(s: &Stack, secret: &str) -> (std::process::ExitCode, String) {
    use clap::Parser;
    let cli =
        packr_cli::Cli::try_parse_from(["packr", "audit", "verify", "--tenant", "acme"]).unwrap();
    let (table, secret) = (s.table.clone(), secret.to_owned());
    let env = move |name: &str| match name {
        "TABLE_NAME" => Some(table.clone()),
        "AUDIT_SECRET_ARN" => Some(secret.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    let code = packr_cli::run(cli, &s.sdk, &env, &mut out).await.unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn packr_audit_verify_passes_an_intact_chain_and_names_an_edited_a_deleted_and_an_inserted_entry(
) {
    // given acme's chain of 8 entries, and the key in Secrets Manager
    let s = stack().await;
    let log = audit_log(&s);
    for n in 1..=8 {
        log.append(&tenant(ACME), &entry(ACME, n)).await.unwrap();
    }
    let secret = audit_secret(&s.sdk).await;

    // and each entry carries the table's TTL attribute, a year after it was recorded
    let first = item_of(&s, 1).await;
    let expires: i64 = first["expires_at"].as_n().unwrap().parse().unwrap();
    let year_ahead = Timestamp::now().unix_seconds() + 365 * 24 * 3600;
    assert!(
        (year_ahead - 120..=year_ahead).contains(&expires),
        "{expires}"
    );

    // when verified intact
    let (code, text) = cli_verify(&s, &secret).await;
    // then it passes
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("8 entries checked") && text.contains("chain intact"),
        "{text}"
    );

    // when someone with table access edits #2's target, deletes #5, and inserts a forged
    // entry as #3 beside the real one
    let mut edited = item_of(&s, 2).await;
    edited.insert(
        "target".into(),
        AttributeValue::S("order:ord_forged".into()),
    );
    put(&s, edited).await;
    let five = item_of(&s, 5).await;
    aws_sdk_dynamodb::Client::new(&s.sdk)
        .delete_item()
        .table_name(&s.table)
        .key("pk", five["pk"].clone())
        .key("sk", five["sk"].clone())
        .send()
        .await
        .unwrap();
    let mut forged = item_of(&s, 3).await;
    forged.insert("id".into(), AttributeValue::S("aud_forged".into()));
    forged.insert(
        "sk".into(),
        AttributeValue::S("2000-01-01T00:00:00.000000Z#aud_forged".into()),
    );
    forged.insert("action".into(), AttributeValue::S("orders.cancel".into()));
    put(&s, forged).await;

    // then verify fails, naming each
    let report = log.verify(&tenant(ACME), Timestamp::now()).await.unwrap();
    assert_eq!(
        report.findings,
        vec![
            Finding::Edited {
                seq: 2,
                id: item_of(&s, 2).await["id"].as_s().unwrap().clone()
            },
            Finding::Inserted {
                seq: Some(3),
                id: "aud_forged".into()
            },
            Finding::Deleted { seq: 5 },
        ]
    );
    let (code, text) = cli_verify(&s, &secret).await;
    assert_eq!(code, std::process::ExitCode::FAILURE, "{text}");
    for needle in ["#2", "aud_forged was inserted as #3", "#5 was deleted"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    // and an entry appended past the head by someone without the key is inserted too
    let mut past = item_of(&s, 8).await;
    past.insert("seq".into(), AttributeValue::N("9".into()));
    past.insert("id".into(), AttributeValue::S("aud_past".into()));
    past.insert(
        "sk".into(),
        AttributeValue::S("2999-01-01T00:00:00.000000Z#aud_past".into()),
    );
    put(&s, past).await;
    let report = log.verify(&tenant(ACME), Timestamp::now()).await.unwrap();
    assert!(report.findings.contains(&Finding::Inserted {
        seq: Some(9),
        id: "aud_past".into()
    }));
}

#[tokio::test]
async fn the_chain_key_is_read_on_the_first_append_then_kept_and_a_missing_or_short_one_fails_retryably(
) {
    use packr::secrets::InMemorySecretSource;
    use packr::store::StoreError;
    // given a log whose key is a secret
    let s = stack().await;
    let secrets = Arc::new(InMemorySecretSource::with("audit-key", &"k".repeat(32)));
    let log = packr::store::dynamo::DynamoAuditLog::new(
        s.store.clone(),
        packr::audit::ChainKeys::from_secret(secrets.clone(), "audit-key"),
    );
    assert_eq!(secrets.get_count(), 0, "nothing is read when it is built");

    // when it appends twice
    for n in 0..2 {
        log.append(&tenant(ACME), &entry(ACME, n)).await.unwrap();
    }

    // then the key was read once
    assert_eq!(secrets.get_count(), 1);

    // and without a configured key, or with one too short, an append fails retryably and
    // writes nothing
    let short = Arc::new(InMemorySecretSource::with("audit-key", "short"));
    for keys in [
        packr::audit::ChainKeys::Missing,
        packr::audit::ChainKeys::from_secret(short, "audit-key"),
    ] {
        let log = packr::store::dynamo::DynamoAuditLog::new(s.store.clone(), keys);
        match log.append(&tenant(GLOBEX), &entry(GLOBEX, 9)).await {
            Err(error @ StoreError::AuditKey(_)) => assert!(error.is_retryable()),
            other => panic!("expected an audit key error, got {other:?}"),
        }
    }
    let globex = audit_log(&s)
        .list(&tenant(GLOBEX), &PageRequest::default())
        .await
        .unwrap();
    assert!(globex.items.is_empty());
}
