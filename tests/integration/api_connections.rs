//! The connection lifecycle through the API: a reinstall updates the tenant's existing
//! connection, another tenant's connection id is a 404 like any other unknown id, access
//! tokens are stored under the tenant's own name for them, and a connection is stored with
//! its route in one step.

use packr::api::connections::REINSTALL_SYNC_REASON;
use packr::domain::{ConnectionError, ConnectionId, ConnectionStatus, TenantId};
use packr::secrets::{connection_token_name, SecretSource};
use packr::store::{modify_connection, Change, ConnectionStore, StoreError};
use packr::sync::{ResourceKind, SyncMode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

fn connection_id(id: &str) -> ConnectionId {
    ConnectionId::parse(id).unwrap()
}

/// The error envelope without the request id (which differs per request).
fn envelope(r: &Answer) -> Value {
    let mut body = r.body.clone();
    body["error"]
        .as_object_mut()
        .expect("an error envelope")
        .remove("request_id");
    body
}

/// `POST /connections/link-token` for `connection` (a reinstall's link).
async fn link_token(s: &ApiStack, caller: &Caller, connection: &str) -> Answer {
    s.send(
        caller,
        "POST",
        "/connections/link-token",
        &json!({ "connection_id": connection }),
        &[],
    )
    .await
}

async fn exchange(s: &ApiStack, caller: &Caller, body: Value) -> Answer {
    s.send(caller, "POST", "/connections/exchange", &body, &[])
        .await
}

#[tokio::test]
async fn reinstalling_a_connection_updates_it_reactivates_it_and_queues_a_full_sync() {
    // given acme's connection, linked under the older secret name and now refused by
    // Trackstar: reauth required, with an error recorded
    let s = api_stack().await;
    let acme = tenant(ACME);
    let id = connection_id(CONN_ACME);
    modify_connection(&s.stack.store, &acme, &id, |c| {
        c.status = ConnectionStatus::ReauthRequired;
        c.errors.push(ConnectionError {
            error_id: "err_1".into(),
            message: Some("token revoked".into()),
            recorded_at: at(5),
            event_at: None,
        });
        Change::Write(())
    })
    .await
    .unwrap()
    .unwrap();
    let before = s
        .stack
        .store
        .get_connection(&acme, &id)
        .await
        .unwrap()
        .unwrap();
    let admin = Caller::admin(ACME);

    // when the admin asks for a reinstall link token and exchanges its auth code
    let token = link_token(&s, &admin, CONN_ACME).await;
    let r = exchange(
        &s,
        &admin,
        json!({ "auth_code": format!("auth_{CONN_ACME}") }),
    )
    .await;

    // then the existing connection is updated, not refused
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["connection_id"], CONN_ACME);
    assert_eq!(r.body["status"], "active");
    let after = s
        .stack
        .store
        .get_connection(&acme, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, ConnectionStatus::Active);
    assert!(after.errors.is_empty());
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(after.brand_id, before.brand_id);
    // and the new token is stored under the tenant's name for it, which the connection
    // now names
    let name = format!("{SECRET_PREFIX}{ACME}/{CONN_ACME}");
    assert_eq!(after.access_token_secret, name);
    assert_eq!(
        s.secrets.get(&name).await.unwrap().expose_secret(),
        "tok_acme"
    );
    // and it is still one connection, routed to acme
    let listed = s.get(&admin, "/connections").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.stack.store.route(&id).await.unwrap().unwrap().tenant_id,
        acme
    );
    // and a full sync of every resource is queued, as for a new connection
    let jobs = s.sync_jobs.jobs();
    assert_eq!(jobs.len(), ResourceKind::ALL.len());
    for ((job, _), resource) in jobs.iter().zip(ResourceKind::ALL) {
        assert_eq!(
            (&job.tenant_id, &job.connection_id, job.resource, job.mode),
            (&acme, &id, resource, SyncMode::Full)
        );
        assert_eq!(job.reason, REINSTALL_SYNC_REASON);
    }
    // and the reinstall is audited
    let audit = s.get(&admin, "/audit").await;
    assert_eq!(audit.body["items"][0]["action"], "connections.reinstall");
    assert_eq!(audit.body["items"][0]["target"], "connection:conn_acme");
}

#[tokio::test]
async fn a_reinstalled_connection_serves_writes_with_the_token_stored_on_it() {
    // given acme's connection reinstalled (its token now under the per-tenant name) and
    // the token under the older name gone
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let r = exchange(
        &s,
        &admin,
        json!({ "auth_code": format!("auth_{CONN_ACME}") }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.secrets.remove(&format!("{SECRET_PREFIX}{CONN_ACME}"));

    // when an order is written through it
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "after-reinstall"),
            &[("Idempotency-Key", "k-reinstall")],
        )
        .await;

    // then Trackstar got it with the token read from the stored name
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 1);
}

#[tokio::test]
async fn a_reinstall_cannot_move_a_connection_to_another_brand() {
    // given acme's tenant-wide connection
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    // when it is exchanged again for brand b1
    let r = exchange(
        &s,
        &admin,
        json!({ "auth_code": format!("auth_{CONN_ACME}"), "brand_id": "b1" }),
    )
    .await;
    // then it is refused and nothing changed
    assert_eq!((r.status, r.code()), (409, "connection_brand_mismatch"));
    let stored = s
        .stack
        .store
        .get_connection(&tenant(ACME), &connection_id(CONN_ACME))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.version, stored.brand_id), (0, None));
    assert!(s.sync_jobs.jobs().is_empty());
}

#[tokio::test]
async fn another_tenants_connection_id_is_not_found_like_an_unknown_one() {
    // given acme's connection and an admin of globex
    let s = api_stack().await;
    let globex = Caller::admin(GLOBEX);
    let acme = tenant(ACME);
    let id = connection_id(CONN_ACME);

    // when globex asks to reinstall it, and exchanges an auth code Trackstar answers with it
    let link_foreign = link_token(&s, &globex, CONN_ACME).await;
    let link_unknown = link_token(&s, &globex, "conn_nobody").await;
    let exchanged = exchange(
        &s,
        &globex,
        json!({ "auth_code": format!("auth_{CONN_ACME}") }),
    )
    .await;

    // then both are a 404 in the API's envelope, the same as for an id nobody has
    assert_eq!(
        (link_foreign.status, link_foreign.code()),
        (404, "not_found")
    );
    assert_eq!(envelope(&link_foreign), envelope(&link_unknown));
    assert_eq!((exchanged.status, exchanged.code()), (404, "not_found"));
    assert_eq!(envelope(&exchanged), envelope(&link_unknown));
    assert!(exchanged.body["error"]["request_id"].is_string());
    // and nothing was stored: no token under globex's name, acme's connection and route
    // untouched, no sync queued
    assert!(s
        .secrets
        .get(&format!("{SECRET_PREFIX}{GLOBEX}/{CONN_ACME}"))
        .await
        .is_err());
    let stored = s
        .stack
        .store
        .get_connection(&acme, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 0);
    assert_eq!(
        s.stack.store.route(&id).await.unwrap().unwrap().tenant_id,
        acme
    );
    assert!(s
        .stack
        .store
        .get_connection(&tenant(GLOBEX), &id)
        .await
        .unwrap()
        .is_none());
    assert!(s.sync_jobs.jobs().is_empty());
}

#[tokio::test]
async fn a_token_secret_name_is_made_only_from_the_verified_tenant_and_the_connection_id() {
    // given the name of acme's token for conn_acme
    let prefix = SECRET_PREFIX;
    let acme = tenant(ACME);
    let target = connection_token_name(prefix, &acme, &connection_id(CONN_ACME));
    assert_eq!(target, format!("{prefix}acme/conn_acme"));

    // when another tenant's request tries to spell it with its connection id
    let attempts = [
        "../acme/conn_acme",
        "acme/conn_acme",
        "..",
        "x..",
        "conn..acme",
        "%2e%2e/acme/conn_acme",
        "conn_acme",
    ];
    let globex = tenant(GLOBEX);
    // then the id type refuses every id with `/` or `..`, and what it accepts names a
    // secret under globex's own name, never acme's
    for raw in attempts {
        match ConnectionId::parse(raw) {
            Ok(id) => {
                assert!(
                    !raw.contains('/') && !raw.contains(".."),
                    "{raw} was accepted"
                );
                let name = connection_token_name(prefix, &globex, &id);
                assert_ne!(name, target);
                assert!(name.starts_with(&format!("{prefix}globex/")), "{name}");
            }
            Err(_) => assert!(raw.contains('/') || raw.contains(".."), "{raw} was refused"),
        }
    }
    // and a tenant id cannot climb out of its segment either
    for raw in ["..", "acme/..", "a..b", "acme/x"] {
        assert!(TenantId::parse(raw).is_err(), "{raw}");
    }
}

#[tokio::test]
async fn an_exchange_stores_the_token_under_the_callers_tenant_and_takes_no_tenant_from_the_body() {
    // given an admin of globex
    let s = api_stack().await;
    let globex = Caller::admin(GLOBEX);

    // when the body names another tenant, and when Trackstar's answer names a connection
    // id that climbs out of its place
    let with_tenant = exchange(
        &s,
        &globex,
        json!({ "auth_code": "auth_conn_g2", "tenant_id": ACME }),
    )
    .await;
    let climbing = exchange(
        &s,
        &globex,
        json!({ "auth_code": "auth_../acme/conn_acme" }),
    )
    .await;
    let linked = exchange(&s, &globex, json!({ "auth_code": "auth_conn_g2" })).await;

    // then the first is refused, the second stores nothing, the third lands under globex
    assert_eq!(
        (with_tenant.status, with_tenant.code()),
        (422, "validation_failed")
    );
    assert!(with_tenant.body["error"]["details"]["fields"]["tenant_id"].is_array());
    assert!(climbing.status >= 500, "{}", climbing.body);
    assert_eq!(linked.status, 201, "{}", linked.body);
    let stored = s
        .stack
        .store
        .get_connection(&tenant(GLOBEX), &connection_id("conn_g2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.access_token_secret,
        format!("{SECRET_PREFIX}{GLOBEX}/conn_g2")
    );
    assert!(s.secrets.get(&stored.access_token_secret).await.is_ok());
    assert!(s
        .secrets
        .get(&format!("{SECRET_PREFIX}{ACME}/conn_acme"))
        .await
        .is_err());
}

#[tokio::test]
async fn a_connection_is_stored_with_its_route_in_one_transaction() {
    // given conn_x linked to globex (connection and route)
    let s = stack().await;
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let id = connection_id("conn_x");
    s.store
        .create_connection(&globex, &connection(&globex, "conn_x"))
        .await
        .unwrap();

    // when acme stores a connection with the same id, as the exchange does
    let exchange_store = s.store_as("api-connections");
    let taken = exchange_store
        .create_connection(&acme, &connection(&acme, "conn_x"))
        .await;

    // then neither of its two items is written: no connection without its route
    assert!(
        matches!(taken, Err(StoreError::AlreadyExists { .. })),
        "{taken:?}"
    );
    assert!(s.store.get_connection(&acme, &id).await.unwrap().is_none());
    assert_eq!(s.store.route(&id).await.unwrap().unwrap().tenant_id, globex);

    // and given a connection item whose route is missing (written by hand), storing it
    // again writes no route either: both items or none
    let raw = aws_sdk_dynamodb::Client::new(&s.sdk);
    let pk = "T#acme#CONNECTION#conn_y".to_owned();
    raw.put_item()
        .table_name(&s.table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .item(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("CONNECTION".into()),
        )
        .send()
        .await
        .unwrap();
    let again = exchange_store
        .create_connection(&acme, &connection(&acme, "conn_y"))
        .await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert!(s
        .store
        .route(&connection_id("conn_y"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn an_exchanged_connection_is_routable_when_the_exchange_answers() {
    // given an admin of acme
    let s = api_stack().await;
    // when a new connection is exchanged
    let r = exchange(
        &s,
        &Caller::admin(ACME),
        json!({ "auth_code": "auth_conn_r1" }),
    )
    .await;
    // then its route exists, to acme, together with the connection
    assert_eq!(r.status, 201, "{}", r.body);
    let id = connection_id("conn_r1");
    let route = s.stack.store.route(&id).await.unwrap().unwrap();
    assert_eq!(route.tenant_id, tenant(ACME));
    assert!(s
        .stack
        .store
        .get_connection(&tenant(ACME), &id)
        .await
        .unwrap()
        .is_some());
}
