//! Inventory, products, messages, connections and the audit log through the real handlers.

use packr::store::SyncedStore;
use serde_json::json;

use crate::api_support::*;
use crate::helpers::*;

#[tokio::test]
async fn inventory_is_listed_per_brand_and_looked_up_by_sku() {
    let s = api_stack().await;
    let t = tenant(ACME);
    for (id, sku, b) in [
        ("i1", "TEE BLK", "b1"),
        ("i2", "TEE BLK", "b2"),
        ("i3", "CAP", "b1"),
    ] {
        s.stack
            .store
            .upsert_if_newer(&t, &inventory(&t, id, sku, Some(&brand(b))))
            .await
            .unwrap();
    }
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    let r = s.get(&viewer, "/inventory").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = s.get(&viewer, "/inventory/TEE%20BLK").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["items"][0]["unit_cost"],
        json!({"minor": 300, "currency": "USD"})
    );
    let r = s.get(&Caller::admin(ACME), "/inventory/TEE%20BLK").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(s.get(&viewer, "/inventory/NOPE").await.status, 404);
    assert_eq!(
        s.get(&Caller::admin(GLOBEX), "/inventory/CAP").await.status,
        404
    );
}

#[tokio::test]
async fn products_are_created_and_updated_through_trackstar() {
    let s = api_stack().await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let r = s
        .send(
            &manager,
            "POST",
            "/products",
            &product_body("b1", "SKU-1"),
            &[("Idempotency-Key", "p1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/products/{id}");
    assert_eq!(s.get(&manager, &path).await.body["sku"], "SKU-1");
    let r = s
        .send(
            &manager,
            "PUT",
            &path,
            &json!({"name": "Renamed"}),
            &[("Idempotency-Key", "p2")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get(&manager, &path).await.body["name"], "Renamed");
    let r = s.get(&manager, "/products").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    // an empty update and a bad measurement name their fields
    let r = s
        .send(
            &manager,
            "PUT",
            &path,
            &json!({}),
            &[("Idempotency-Key", "p3")],
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    let mut body = product_body("b1", "SKU-2");
    body["measurements"]["unit"] = json!("furlong");
    let r = s
        .send(
            &manager,
            "POST",
            "/products",
            &body,
            &[("Idempotency-Key", "p4")],
        )
        .await;
    assert!(
        r.body["error"]["details"]["fields"]["measurements.unit"].is_array(),
        "{}",
        r.body
    );
    // a duplicate SKU is refused by Trackstar (a 422 naming no field): a 409, nothing stored
    let before = s.snapshot().await;
    let r = s
        .send(
            &manager,
            "POST",
            "/products",
            &product_body("b1", "SKU-1"),
            &[("Idempotency-Key", "p5")],
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (409, Some("upstream_conflict")),
        "{}",
        r.body
    );
    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn messages_thread_between_a_3pl_and_a_brand() {
    let s = api_stack().await;
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    for (who, text, key) in [(&staff, "hello", "m-1"), (&manager, "hi back", "m-2")] {
        let r = s
            .send(
                who,
                "POST",
                "/brands/b1/messages",
                &json!({"body": text}),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = s.get(&manager, "/brands/b1/messages").await;
    let bodies: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, vec![json!("hi back"), json!("hello")]);
    assert_eq!(r.body["items"][0]["author_role"], "brand_manager");
    // limits
    let r = s
        .send(
            &staff,
            "POST",
            "/brands/b1/messages",
            &json!({"body": "x".repeat(4001)}),
            &[("idempotency-key", "long")],
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert!(r.body["error"]["details"]["fields"]["body"].is_array());
    let r = s
        .send(
            &staff,
            "POST",
            "/brands/b1/messages",
            &json!({"body": "  "}),
            &[("idempotency-key", "blank")],
        )
        .await;
    assert_eq!(r.status, 422);
    // a viewer reads but may not post; another brand is a 404
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    assert_eq!(
        s.send(
            &viewer,
            "POST",
            "/brands/b1/messages",
            &json!({"body": "x"}),
            &[("idempotency-key", "viewer")]
        )
        .await
        .status,
        403
    );
    assert_eq!(s.get(&viewer, "/brands/b2/messages").await.status, 404);
}

#[tokio::test]
async fn linking_a_connection_stores_the_token_and_the_mapping_and_is_audited() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let r = s
        .send(&admin, "POST", "/connections/link-token", &json!({}), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["link_token"].as_str().unwrap().starts_with("lt_"));
    let r = s
        .send(
            &admin,
            "POST",
            "/connections/exchange",
            &json!({"auth_code": "auth_conn_new", "brand_id": "b2"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["connection_id"], "conn_new");
    assert_eq!(r.body["brand_id"], "b2");
    assert!(r.body.get("access_token_secret").is_none());
    // the token is in the secret store under the tenant's name for it, the mapping in
    // the table
    use packr::secrets::SecretSource;
    use secrecy::ExposeSecret;
    let token = s
        .secrets
        .get(&format!("{SECRET_PREFIX}{ACME}/conn_new"))
        .await
        .unwrap();
    assert!(token.expose_secret().starts_with("tok_"));
    let listed = s.get(&admin, "/connections").await;
    let ids: Vec<_> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("conn_acme"), json!("conn_new")]);
    // the audit log holds both mutations, newest first, with actor and request id
    let audit = s.get(&admin, "/audit").await;
    assert_eq!(audit.status, 200);
    let actions: Vec<_> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(
        actions,
        vec![
            json!("connections.exchange"),
            json!("connections.link_token")
        ]
    );
    assert_eq!(audit.body["items"][0]["actor"], "user-tenant_admin");
    assert_eq!(audit.body["items"][0]["target"], "connection:conn_new");
    assert!(audit.body["items"][0]["request_id"]
        .as_str()
        .unwrap()
        .starts_with("req-"));
    // only tenant admins
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    assert_eq!(s.get(&staff, "/audit").await.status, 403);
    assert_eq!(s.get(&staff, "/connections").await.status, 403);
    // another tenant's audit log is its own
    assert_eq!(
        s.get(&Caller::admin(GLOBEX), "/audit").await.body["items"],
        json!([])
    );
}

fn sample(name: &str) -> lambda_http::Request {
    let path = format!(
        "{}/../events/apigw-v2-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_sample_api_gateway_events_run_through_dispatch() {
    let s = api_stack().await;
    let t = tenant(ACME);
    s.stack
        .store
        .upsert_if_newer(&t, &order(&t, "ord_123", Some(&brand("b1")), 1))
        .await
        .unwrap();
    let r = s.call(sample("get-orders")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"][0]["id"], "ord_123");
    assert_eq!(r.header("x-request-id"), Some("Ab1Cd2Ef3Gh4="));
    let r = s.call(sample("get-order")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.call(sample("post-orders")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["reference_id"], "web-1001");
}

/// `ApiDeps` built from an environment as `template.yaml` sets it (what the functions and
/// the local gateway do), against a stack provisioned from the template.
#[tokio::test]
async fn deps_built_from_the_environment_serve_requests() {
    let sdk = packr_local::testing::emulator_config().await;
    let provisioned = packr_local::testing::fresh_stack(&sdk).await;
    let env = std::collections::BTreeMap::from([
        ("TABLE_NAME".to_owned(), provisioned.table_name.clone()),
        (
            "CURSOR_SECRET_ARN".to_owned(),
            provisioned
                .secret_arn("CursorSigningSecret")
                .unwrap()
                .to_owned(),
        ),
    ]);
    let deps = packr::api::wiring::from_env(&sdk, &env).await.unwrap();
    assert!(deps.trackstar.is_none());
    let r = call(
        &deps,
        crate::api_support::event("GET", "/orders", &Caller::admin(ACME), None, &[]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"], json!([]));
}

/// Garbage in paths, queries and bodies: never a 5xx (a panic guard's 500 would fail it),
/// and every refusal carries the error envelope.
#[tokio::test]
async fn garbage_input_gets_the_error_envelope_and_never_a_server_error() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    let paths = [
        "/orders/%00",
        "/orders/%E2%28",
        "/orders/a#b",
        "/inventory/%20",
        "/products/..%2F..",
        "/brands/%23/messages",
        "/orders?limit=-1",
        "/orders?updated_since=%FF",
        "/orders?cursor=",
        "/orders/x/cancel",
        "//orders",
        "/orders/",
    ];
    let bodies = [
        "",
        "{}",
        "{\"brand_id\":null}",
        "{\"line_items\":\"x\"}",
        "[]",
        "1e999",
        "\"\\ud800\"",
        "{\"body\":1}",
    ];
    // Every answer: no server error, and a failure carries the error envelope.
    let check = |what: String, r: Answer| {
        assert!(r.status < 500, "{what}: {} {}", r.status, r.body);
        if r.status >= 400 {
            assert!(
                !r.code().is_empty() && r.body["error"]["message"].is_string(),
                "{what}: {} without the error envelope: {}",
                r.status,
                r.body
            );
        }
    };
    let mut answered = 0;
    for caller in [&admin, &viewer] {
        for path in paths {
            let r = s.call(event("GET", path, caller, None, &[])).await;
            check(format!("GET {path}"), r);
            answered += 1;
            for body in bodies {
                for method in ["POST", "PUT"] {
                    let r = s
                        .call(event(
                            method,
                            path,
                            caller,
                            Some(body),
                            &[("idempotency-key", "g")],
                        ))
                        .await;
                    check(format!("{method} {path} {body}"), r);
                    answered += 1;
                }
            }
        }
        for route in [
            "/orders",
            "/products",
            "/brands/b1/messages",
            "/connections/exchange",
            "/connections/link-token",
        ] {
            for body in bodies {
                let r = s
                    .call(event(
                        "POST",
                        route,
                        caller,
                        Some(body),
                        &[("idempotency-key", "g")],
                    ))
                    .await;
                check(format!("POST {route} {body}"), r);
                answered += 1;
            }
        }
    }
    assert_eq!(answered, 2 * (12 + 12 * 8 * 2 + 5 * 8));
}
