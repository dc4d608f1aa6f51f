//! `PUT /orders/{order_id}` against the simulator: the ship-to address and the shipping
//! method change through Trackstar first, the local copy only on success; refused (409)
//! once the order has shipped, is fulfilled or cancelled; idempotent; fields named.

use packr::domain::{OrderId, OrderStatus, Shipment, ShipmentStatus};
use packr::store::SyncedStore;
use serde_json::{json, Value};
use trackstar_sim::FaultSpec;

use crate::api_support::*;
use crate::helpers::*;

fn key(k: &str) -> [(&'static str, &str); 1] {
    [("Idempotency-Key", k)]
}

/// An order of brand `b`, created through the API (so the simulator has it); its id.
async fn created_order(s: &ApiStack, b: &str, reference: &str) -> String {
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/orders",
            &order_body(b, reference),
            &key(&format!("create-{reference}")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn change() -> Value {
    json!({
        "ship_to_address": {
            "full_name": "Jane Roe",
            "address1": "2 New St",
            "city": "Dallas",
            "state": "TX",
            "postal_code": "75201",
            "country": "US"
        },
        "shipping_method_id": "sm_express",
        "shipping_method": "UPS Next Day Air"
    })
}

#[tokio::test]
async fn changing_an_orders_address_and_shipping_method_writes_through_then_stores_it() {
    // given an open order of b1, and b1's manager
    let s = api_stack().await;
    let id = created_order(&s, "b1", "chg-1").await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let path = format!("/orders/{id}");

    // when the manager changes where and how it ships
    let r = s.send(&manager, "PUT", &path, &change(), &key("u1")).await;

    // then Trackstar has the change, and so does the table
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["shipping_method_id"], "sm_express");
    assert_eq!(r.body["ship_to_address"]["address1"], "2 New St");
    let truth = s.sim.truth(CONN_ACME).unwrap();
    let upstream = truth.orders.iter().find(|o| o.id == id).unwrap();
    assert_eq!(upstream.shipping_method_id.as_deref(), Some("sm_express"));
    let stored = s.get(&manager, &path).await;
    assert_eq!(stored.body["ship_to_address"]["city"], "Dallas");
    assert_eq!(stored.body["shipping_method_id"], "sm_express");
    assert_eq!(
        s.sim.requests().count("PUT", &format!("/wms/orders/{id}")),
        1
    );

    // and the same key replays the answer without a second write
    let again = s.send(&manager, "PUT", &path, &change(), &key("u1")).await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        s.sim.requests().count("PUT", &format!("/wms/orders/{id}")),
        1
    );

    // and the key with another body is a 422, nothing sent
    let other = json!({ "shipping_method_id": "sm_ground" });
    let r = s.send(&manager, "PUT", &path, &other, &key("u1")).await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(
        s.sim.requests().count("PUT", &format!("/wms/orders/{id}")),
        1
    );

    // and the shipping method alone can change too
    let r = s.send(&manager, "PUT", &path, &other, &key("u2")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["shipping_method_id"], "sm_ground");
    assert_eq!(r.body["ship_to_address"]["address1"], "2 New St");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_order_that_shipped_is_fulfilled_or_cancelled_cannot_change() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let acme = tenant(ACME);
    let store: &dyn SyncedStore<packr::domain::Order> = &s.stack.store;
    // given three orders: one with a shipment out of the door, one fulfilled, one cancelled
    let shipped = created_order(&s, "b1", "chg-shipped").await;
    let fulfilled = created_order(&s, "b1", "chg-fulfilled").await;
    let cancelled = created_order(&s, "b2", "chg-cancelled").await;
    let r = s
        .send(
            &admin,
            "POST",
            &format!("/orders/{cancelled}/cancel"),
            &json!({}),
            &key("cancel-1"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (id, status, shipments) in [
        (
            &shipped,
            OrderStatus::Packed,
            vec![Shipment {
                shipment_id: "shp_1".into(),
                warehouse_id: Some("wh_1".into()),
                status: ShipmentStatus::Shipped,
                shipped_date: Some(packr::domain::Timestamp::now()),
                tracking_numbers: vec!["1Z1".into()],
            }],
        ),
        (&fulfilled, OrderStatus::Fulfilled, vec![]),
    ] {
        let mut order = store.get(&acme, id).await.unwrap().unwrap();
        order.status = status;
        order.shipments = shipments;
        order.updated_date = order.updated_date.plus_seconds(60);
        store.upsert_if_newer(&acme, &order).await.unwrap();
    }
    let before = s.snapshot().await;

    // when the admin tries to change each
    for (id, word) in [
        (&shipped, "shipped"),
        (&fulfilled, "fulfilled"),
        (&cancelled, "cancelled"),
    ] {
        let r = s
            .send(
                &admin,
                "PUT",
                &format!("/orders/{id}"),
                &change(),
                &key(&format!("late-{id}")),
            )
            .await;
        // then each is a 409 that says why, and nothing went to Trackstar
        assert_eq!((r.status, r.code()), (409, "order_not_editable"), "{word}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(word),
            "{}",
            r.body
        );
        assert_eq!(
            s.sim.requests().count("PUT", &format!("/wms/orders/{id}")),
            0
        );
    }
    // and the table is as it was (the refused keys were given up, nothing stored)
    assert_eq!(s.snapshot().await, before);
    let id = OrderId::parse(shipped.clone()).unwrap();
    let order = store.get(&acme, id.as_str()).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Packed);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn order_changes_name_each_failing_field_and_viewers_and_other_brands_cannot_change() {
    let s = api_stack().await;
    let id = created_order(&s, "b1", "chg-v").await;
    let path = format!("/orders/{id}");
    let admin = Caller::admin(ACME);
    let put = |body: Value, k: &'static str| {
        let s = &s;
        let path = path.clone();
        let admin = admin.clone();
        async move { s.send(&admin, "PUT", &path, &body, &key(k)).await }
    };
    // nothing to change
    let r = put(json!({}), "v1").await;
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert!(r.body["error"]["details"]["fields"]["body"].is_array());
    // each failing field named by its path
    let mut bad = change();
    bad["ship_to_address"]["country"] = json!("usa");
    bad["ship_to_address"]["city"] = json!(" ");
    bad["shipping_method_id"] = json!("");
    let r = put(bad, "v2").await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields = &r.body["error"]["details"]["fields"];
    for f in [
        "ship_to_address.country",
        "ship_to_address.city",
        "shipping_method_id",
    ] {
        assert!(fields[f].is_array(), "{f}: {fields}");
    }
    // an unknown field, and a status (not changeable here), are refused by name
    for (field, k) in [("priority", "v3"), ("status", "v4")] {
        let r = put(json!({ field: "x", "shipping_method_id": "sm_1" }), k).await;
        assert_eq!(r.status, 422);
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{}",
            r.body
        );
    }
    // no key: 400
    let r = s.send(&admin, "PUT", &path, &change(), &[]).await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));
    // a viewer of the brand: 403; another brand's manager: 404
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    let r = s.send(&viewer, "PUT", &path, &change(), &key("v5")).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let other = Caller::new(ACME, "brand_manager", &["b2"]);
    let r = s.send(&other, "PUT", &path, &change(), &key("v6")).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    // another tenant's admin: 404
    let r = s
        .send(&Caller::admin(GLOBEX), "PUT", &path, &change(), &key("v7"))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        s.sim.requests().count("PUT", &format!("/wms/orders/{id}")),
        0
    );
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_order_change_leaves_the_table_unchanged_and_gives_the_key_up() {
    let s = api_stack().await;
    let id = created_order(&s, "b1", "chg-f").await;
    let path = format!("/orders/{id}");
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    // given a failing Trackstar
    s.sim.set_faults(CONN_ACME, FaultSpec::error(500, Some(2)));
    // when the change is sent
    let r = s.send(&admin, "PUT", &path, &change(), &key("f1")).await;
    // then it fails as the warehouse failed, and nothing is stored
    assert_eq!((r.status, r.code()), (502, "upstream_error"), "{}", r.body);
    assert_eq!(s.snapshot().await, before);
    // and once Trackstar answers again, the same key goes through
    s.sim.clear_faults(CONN_ACME);
    let r = s.send(&admin, "PUT", &path, &change(), &key("f1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(r.body["shipping_method_id"], "sm_express");
    s.sim.shutdown().await;
}
