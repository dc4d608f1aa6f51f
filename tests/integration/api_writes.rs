//! Write-through against the simulator: Trackstar first, the local copy only on success;
//! every Trackstar failure maps to its status and leaves the table unchanged; idempotent
//! replays, reused keys, concurrent requests with one key; body limits.

use packr::store::TenantStore;
use serde_json::json;
use trackstar_sim::FaultSpec;

use crate::api_support::*;
use crate::helpers::tenant;

fn key(k: &str) -> [(&'static str, &str); 1] {
    [("Idempotency-Key", k)]
}

#[tokio::test]
async fn creating_an_order_writes_to_trackstar_then_stores_it() {
    let s = api_stack().await;
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    let r = s
        .send(
            &staff,
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("k1"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["brand_id"], "b1");
    assert_eq!(
        r.body["totals"]["price"],
        json!({"minor": 2468, "currency": "USD"})
    );
    // the simulator holds it, and so does the table
    assert!(s
        .sim
        .truth(CONN_ACME)
        .unwrap()
        .orders
        .iter()
        .any(|o| o.id == id));
    let stored = s.get(&staff, &format!("/orders/{id}")).await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.body["reference_id"], "r1");
}

#[tokio::test]
async fn a_replayed_key_returns_the_saved_answer_without_writing_again() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let first = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("k1"),
        )
        .await;
    let again = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("k1"),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    s.send(
        &admin,
        "POST",
        "/orders",
        &order_body("b1", "r1"),
        &key("k1"),
    )
    .await;
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r2"),
            &key("k1"),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_write_once() {
    let s = api_stack().await;
    s.sim.set_faults(
        CONN_ACME,
        FaultSpec {
            latency_ms: 300,
            ..FaultSpec::default()
        },
    );
    let admin = Caller::admin(ACME);
    let body = order_body("b1", "r1");
    let same = key("same");
    let answers =
        futures::future::join_all((0..5).map(|_| s.send(&admin, "POST", "/orders", &body, &same)))
            .await;
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    let in_progress: Vec<_> = answers.iter().filter(|a| a.status == 409).collect();
    assert_eq!(created.len() + in_progress.len(), 5, "{answers:?}");
    assert!(!created.is_empty());
    for a in &in_progress {
        assert_eq!(a.code(), "idempotency_key_in_progress");
        assert!(a.header("retry-after").is_some());
    }
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 1);
}

#[tokio::test]
async fn a_post_without_idempotency_key_is_400() {
    let s = api_stack().await;
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("has space"),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_idempotency_key"));
}

#[tokio::test]
async fn trackstar_failures_map_to_statuses_and_leave_the_table_unchanged() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);

    // its 422 naming a field (the WMS requires a warehouse customer, and this brand has
    // none) → 422 with its details
    s.stack
        .store
        .create_brand(&tenant(ACME), &brand_record(ACME, "b-nowhc", Vec::new()))
        .await
        .unwrap();
    let before = s.snapshot().await;
    let body = order_body("b-nowhc", "r-422");
    let r = s
        .send(&admin, "POST", "/orders", &body, &key("k-422"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "upstream_validation_failed"),
        "{}",
        r.body
    );
    assert!(
        r.body["error"]["details"]["fields"]["warehouse_customer_id"].is_array(),
        "{}",
        r.body
    );
    assert_eq!(s.snapshot().await, before);

    // 500s → 502
    s.sim.set_faults(CONN_ACME, FaultSpec::error(500, Some(2)));
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r-500"),
            &key("k-500"),
        )
        .await;
    assert_eq!((r.status, r.code()), (502, "upstream_error"));
    assert_eq!(s.snapshot().await, before);

    // a hanging Trackstar → 504
    s.sim.set_faults(
        CONN_ACME,
        FaultSpec {
            hang: true,
            ..FaultSpec::default()
        },
    );
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r-504"),
            &key("k-504"),
        )
        .await;
    assert_eq!((r.status, r.code()), (504, "upstream_timeout"));
    assert_eq!(s.snapshot().await, before);

    // the failures opened the connection's circuit → 503 with Retry-After, no call made
    s.sim.clear_faults(CONN_ACME);
    let calls = s.sim.requests().count("POST", "/wms/orders");
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r-503"),
            &key("k-503"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "upstream_unavailable"),
        "{}",
        r.body
    );
    let retry_after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), calls);
    assert_eq!(s.snapshot().await, before);

    // a failed key was given up: the same key may be retried later (here: still open)
    let r = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r-500"),
            &key("k-500"),
        )
        .await;
    assert_eq!(r.status, 503);
}

#[tokio::test]
async fn a_rate_limited_trackstar_is_503_with_retry_after() {
    let s = api_stack().await;
    s.sim.set_faults(
        CONN_ACME,
        FaultSpec {
            rate_limit_storm: 10,
            ..FaultSpec::default()
        },
    );
    let before = s.snapshot().await;
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("k1"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "upstream_rate_limited"),
        "{}",
        r.body
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn cancelling_writes_through_and_replays() {
    let s = api_stack().await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let created = s
        .send(
            &manager,
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("c1"),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/orders/{id}/cancel");
    let r = s
        .send(&manager, "POST", &path, &json!({}), &key("x1"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(
        s.get(&manager, &format!("/orders/{id}")).await.body["status"],
        "cancelled"
    );
    let again = s
        .send(&manager, "POST", &path, &json!({}), &key("x1"))
        .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        s.sim
            .requests()
            .count("PUT", &format!("/wms/orders/{id}/cancel")),
        1
    );
    // a viewer of the brand sees it but may not cancel
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    let r = s.send(&viewer, "POST", &path, &json!({}), &key("x2")).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
}

#[tokio::test]
async fn a_failed_cancel_leaves_the_order_as_it_was() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let created = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "r1"),
            &key("c1"),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let before = s.snapshot().await;
    s.sim.set_faults(CONN_ACME, FaultSpec::error(503, None));
    let r = s
        .send(
            &admin,
            "POST",
            &format!("/orders/{id}/cancel"),
            &json!({}),
            &key("x1"),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn invalid_order_bodies_name_each_failing_field() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let mut body = order_body("b1", "r1");
    body["currency"] = json!("XXX");
    body["line_items"] = json!([{ "sku": "A", "quantity": 0 }, { "sku": "", "quantity": 1 }]);
    body["ship_to_address"]["country"] = json!("usa");
    let r = s.send(&admin, "POST", "/orders", &body, &key("k")).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    let fields = &r.body["error"]["details"]["fields"];
    for f in [
        "currency",
        "line_items[0].quantity",
        "line_items[1].sku",
        "ship_to_address.country",
    ] {
        assert!(fields[f].is_array(), "{f}: {fields}");
    }
    body = order_body("b1", "r1");
    body["line_items"] = json!([]);
    let r = s.send(&admin, "POST", "/orders", &body, &key("k")).await;
    assert!(r.body["error"]["details"]["fields"]["line_items"].is_array());
    let many: Vec<_> = (0..501)
        .map(|i| json!({"sku": format!("S{i}"), "quantity": 1}))
        .collect();
    body["line_items"] = json!(many);
    let r = s.send(&admin, "POST", "/orders", &body, &key("k")).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["details"]["fields"]["line_items"].is_array());
    // unknown fields are rejected, by name
    let mut body = order_body("b1", "r1");
    body["priority"] = json!("high");
    let r = s.send(&admin, "POST", "/orders", &body, &key("k")).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["error"]["details"]["fields"]["priority"].is_array(),
        "{}",
        r.body
    );
    assert_eq!(s.sim.requests().count("POST", "/wms/orders"), 0);
}

#[tokio::test]
async fn wrong_content_type_oversized_and_malformed_bodies() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let text = order_body("b1", "r1").to_string();
    let r = s
        .call(event(
            "POST",
            "/orders",
            &admin,
            Some(&text),
            &[("content-type", "text/plain"), ("idempotency-key", "k")],
        ))
        .await;
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type"));
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(300 * 1024));
    let r = s
        .call(event(
            "POST",
            "/orders",
            &admin,
            Some(&huge),
            &[("idempotency-key", "k")],
        ))
        .await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    for bad in ["{", "[1,2]", "null", "\u{0}"] {
        let r = s
            .call(event(
                "POST",
                "/orders",
                &admin,
                Some(bad),
                &[("idempotency-key", "k")],
            ))
            .await;
        assert!(matches!(r.status, 400 | 422), "{bad}: {}", r.status);
    }
}

#[tokio::test]
async fn a_mistyped_or_unknown_nested_field_is_named_by_its_path_and_nothing_is_written() {
    // given an order whose second line has a float price (money is integer minor units)
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    let mut body = order_body("b1", "r-path");
    body["line_items"] = json!([
        { "sku": "A", "quantity": 1 },
        { "sku": "B", "quantity": 1, "unit_price": 12.5 }
    ]);
    // when it is posted
    let r = s
        .send(&admin, "POST", "/orders", &body, &key("k-path"))
        .await;
    // then the field is named by its path, not as `body`
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    let fields = &r.body["error"]["details"]["fields"];
    assert!(fields["line_items[1].unit_price"].is_array(), "{fields}");
    assert!(fields.get("body").is_none(), "{fields}");
    // and an unknown field inside the address, likewise
    let mut body = order_body("b1", "r-path");
    body["ship_to_address"]["floor"] = json!(3);
    let r = s
        .send(&admin, "POST", "/orders", &body, &key("k-path-2"))
        .await;
    let fields = &r.body["error"]["details"]["fields"];
    assert!(fields["ship_to_address.floor"].is_array(), "{fields}");
    assert_eq!(s.snapshot().await, before);
}
