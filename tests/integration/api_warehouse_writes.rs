//! Inbound shipments (ASNs) and returns written through Trackstar (the simulator), served by
//! api-warehouse: Trackstar first, the local copy only on success; the same key replays, a
//! reused key with another body is a 422; fields named; viewers never write, brand users
//! only for their brands; an inbound shipment changes only while open.

use packr::domain::{InboundShipment, InboundShipmentStatus};
use packr::store::SyncedStore;
use serde_json::{json, Value};
use trackstar_sim::FaultSpec;

use crate::api_support::*;
use crate::helpers::*;

fn key(k: &str) -> [(&'static str, &str); 1] {
    [("Idempotency-Key", k)]
}

const INBOUND_POSTS: (&str, &str) = ("POST", "/wms/inbound-shipments");
const RETURN_POSTS: (&str, &str) = ("POST", "/wms/returns");

fn sent(s: &ApiStack, (method, path): (&str, &str)) -> u64 {
    s.sim.requests().count(method, path)
}

/// An inbound shipment of brand `b` created through the API; its id.
async fn created_inbound(s: &ApiStack, b: &str, po: &str) -> String {
    let r = s
        .send(
            &Caller::admin(ACME),
            "POST",
            "/inbound-shipments",
            &inbound_body(b, po),
            &key(&format!("create-{po}")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn creating_an_inbound_shipment_writes_to_trackstar_then_stores_it() {
    // given b1's manager
    let s = api_stack().await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let body = inbound_body("b1", "PO-100");

    // when it announces an ASN
    let r = s
        .send(&manager, "POST", "/inbound-shipments", &body, &key("i1"))
        .await;

    // then Trackstar has it, open, and the answer is the stored copy
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["brand_id"], "b1");
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["warehouse_id"], SIM_WAREHOUSE);
    assert_eq!(r.body["line_items"][0]["sku"], SIM_SKU);
    assert_eq!(r.body["line_items"][0]["expected_quantity"], 120);
    let truth = s.sim.truth(CONN_ACME).unwrap();
    let upstream = truth.inbound_shipments.iter().find(|x| x.id == id).unwrap();
    assert_eq!(upstream.purchase_order_number.as_deref(), Some("PO-100"));
    let stored = s.get(&manager, &format!("/inbound-shipments/{id}")).await;
    assert_eq!((stored.status, &stored.body), (200, &r.body));
    let listed = s.get(&manager, "/inbound-shipments?status=open").await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());

    // and the same key replays the answer without a second write
    let again = s
        .send(&manager, "POST", "/inbound-shipments", &body, &key("i1"))
        .await;
    assert_eq!((again.status, &again.body), (201, &r.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(sent(&s, INBOUND_POSTS), 1);

    // and the key with another body is a 422, nothing sent
    let other = inbound_body("b1", "PO-101");
    let r = s
        .send(&manager, "POST", "/inbound-shipments", &other, &key("i1"))
        .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(sent(&s, INBOUND_POSTS), 1);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_invalid_inbound_shipment_names_each_field_and_sends_nothing() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    let mut body = inbound_body("b1", "PO-bad");
    body["warehouse_id"] = json!("wh east");
    body["supplier"] = json!("  ");
    body["expected_arrival_date"] = json!("next tuesday");
    body["line_items"] = json!([
        { "sku": SIM_SKU, "expected_quantity": 0 },
        { "sku": "", "expected_quantity": 5 }
    ]);
    body["tags"] = json!([""]);
    let r = s
        .send(&admin, "POST", "/inbound-shipments", &body, &key("v1"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    let fields = r.body["error"]["details"]["fields"].as_object().unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "expected_arrival_date",
            "line_items[0].expected_quantity",
            "line_items[1].sku",
            "supplier",
            "tags[0]",
            "warehouse_id"
        ]
    );
    // a missing required field, an unknown one and a mistyped one are named too
    for (edit, field) in [
        (json!({ "tracking_number": null }), "tracking_number"),
        (json!({ "carrier": "UPS" }), "carrier"),
        (json!({ "line_items": "many" }), "line_items"),
    ] {
        let mut body = inbound_body("b1", "PO-bad");
        for (k, v) in edit.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let r = s
            .send(&admin, "POST", "/inbound-shipments", &body, &key("v2"))
            .await;
        assert_eq!(r.status, 422, "{field}: {}", r.body);
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{field}: {}",
            r.body
        );
    }
    // no key: 400
    let r = s
        .send(
            &admin,
            "POST",
            "/inbound-shipments",
            &inbound_body("b1", "PO-nokey"),
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));
    assert_eq!(sent(&s, INBOUND_POSTS), 0);
    assert_eq!(s.snapshot().await, before);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn viewers_never_write_and_brand_users_write_only_for_their_brands() {
    let s = api_stack().await;
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let before = s.snapshot().await;
    for (path, body) in [
        ("/inbound-shipments", inbound_body("b1", "PO-v")),
        ("/returns", return_body("b1")),
    ] {
        // a viewer of the brand: 403
        let r = s.send(&viewer, "POST", path, &body, &key("w1")).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{path}");
        // a manager of b1 for b2: 404, as for a brand that does not exist
        let mut other = body.clone();
        other["brand_id"] = json!("b2");
        let r = s.send(&manager, "POST", path, &other, &key("w2")).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{path}");
        // another tenant's admin naming acme's brand: 404
        let r = s
            .send(&Caller::admin(GLOBEX), "POST", path, &body, &key("w3"))
            .await;
        assert_eq!(r.status, 404, "{path}");
    }
    // and a viewer cannot change a shipment either
    let id = created_inbound(&s, "b1", "PO-w").await;
    let before_put = s.snapshot().await;
    let r = s
        .send(
            &viewer,
            "PUT",
            &format!("/inbound-shipments/{id}"),
            &json!({ "tracking_number": "1Z-new" }),
            &key("w4"),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(s.snapshot().await, before_put);
    assert_eq!(sent(&s, INBOUND_POSTS), 1);
    assert_eq!(sent(&s, RETURN_POSTS), 0);
    assert_ne!(before, before_put);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn trackstar_failures_leave_the_table_unchanged() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let open = created_inbound(&s, "b1", "PO-f").await;
    let before = s.snapshot().await;

    // its 422 naming a field (a warehouse the WMS does not know) → 422 with its details
    let mut body = inbound_body("b1", "PO-422");
    body["warehouse_id"] = json!("wh_nowhere");
    let r = s
        .send(&admin, "POST", "/inbound-shipments", &body, &key("f1"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "upstream_validation_failed"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["details"]["fields"]["warehouse_id"].is_array());
    let mut body = return_body("b1");
    body["line_items"][0]["sku"] = json!("NOT-A-SKU");
    let r = s.send(&admin, "POST", "/returns", &body, &key("f2")).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "upstream_validation_failed"),
        "{}",
        r.body
    );
    assert_eq!(s.snapshot().await, before);

    // a failing Trackstar → 502, for each write
    s.sim.set_faults(CONN_ACME, FaultSpec::error(500, None));
    let r = s
        .send(
            &admin,
            "POST",
            "/inbound-shipments",
            &inbound_body("b1", "PO-500"),
            &key("f3"),
        )
        .await;
    assert_eq!((r.status, r.code()), (502, "upstream_error"), "{}", r.body);
    let r = s
        .send(&admin, "POST", "/returns", &return_body("b1"), &key("f4"))
        .await;
    assert_eq!(r.status, 502, "{}", r.body);
    // the failures so far opened the connection's breaker: the change is refused without
    // a call
    let puts = s
        .sim
        .requests()
        .count("PUT", &format!("/wms/inbound-shipments/{open}"));
    let r = s
        .send(
            &admin,
            "PUT",
            &format!("/inbound-shipments/{open}"),
            &json!({ "tracking_number": "1Z-500" }),
            &key("f5"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (503, "upstream_unavailable"),
        "{}",
        r.body
    );
    assert_eq!(
        s.sim
            .requests()
            .count("PUT", &format!("/wms/inbound-shipments/{open}")),
        puts
    );
    assert_eq!(s.snapshot().await, before);
    let truth = s.sim.truth(CONN_ACME).unwrap();
    let upstream = truth
        .inbound_shipments
        .iter()
        .find(|x| x.id == open)
        .unwrap();
    assert_eq!(upstream.tracking_numbers, ["1Z999AA10123456784"]);
    assert!(s
        .sim
        .truth(CONN_ACME)
        .unwrap()
        .inbound_shipments
        .iter()
        .all(|x| x.purchase_order_number.as_deref() != Some("PO-500")));
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_open_inbound_shipment_changes_through_trackstar_and_replays() {
    // given an open shipment of b1
    let s = api_stack().await;
    let id = created_inbound(&s, "b1", "PO-200").await;
    let path = format!("/inbound-shipments/{id}");
    let upstream_path = format!("/wms/inbound-shipments/{id}");
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let change = json!({
        "tracking_number": "1Z-NEW",
        "expected_arrival_date": "2026-05-01T12:00:00Z",
        "line_items": [{ "sku": SIM_SKU, "expected_quantity": 150 }]
    });

    // when b1's manager changes it
    let r = s.send(&manager, "PUT", &path, &change, &key("p1")).await;

    // then Trackstar and the table have the change
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tracking_numbers"], json!(["1Z-NEW"]));
    assert_eq!(r.body["expected_arrival_date"], "2026-05-01T12:00:00Z");
    assert_eq!(r.body["line_items"][0]["expected_quantity"], 150);
    let truth = s.sim.truth(CONN_ACME).unwrap();
    let upstream = truth.inbound_shipments.iter().find(|x| x.id == id).unwrap();
    assert_eq!(upstream.line_items[0].expected_quantity, 150);
    let stored = s.get(&manager, &path).await;
    assert_eq!(stored.body, r.body);

    // and the same key replays; another body with it is a 422
    let again = s.send(&manager, "PUT", &path, &change, &key("p1")).await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let r = s
        .send(
            &manager,
            "PUT",
            &path,
            &json!({ "tracking_number": "1Z-OTHER" }),
            &key("p1"),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(s.sim.requests().count("PUT", &upstream_path), 1);

    // and an update that changes nothing, or names a bad field, is refused by name
    for (body, field) in [
        (json!({}), "body"),
        (
            json!({ "expected_arrival_date": "soon" }),
            "expected_arrival_date",
        ),
        (json!({ "line_items": [] }), "line_items"),
        (json!({ "status": "received" }), "status"),
    ] {
        let r = s.send(&manager, "PUT", &path, &body, &key("p2")).await;
        assert_eq!(r.status, 422, "{field}: {}", r.body);
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{field}: {}",
            r.body
        );
    }
    assert_eq!(s.sim.requests().count("PUT", &upstream_path), 1);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_inbound_shipment_no_longer_open_cannot_change() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let acme = tenant(ACME);
    let store: &dyn SyncedStore<InboundShipment> = &s.stack.store;
    let change = json!({ "tracking_number": "1Z-LATE" });

    // given a shipment the table holds as receiving (the warehouse started on it)
    let id = created_inbound(&s, "b1", "PO-300").await;
    let mut shipment = store.get(&acme, &id).await.unwrap().unwrap();
    shipment.status = InboundShipmentStatus::Receiving;
    shipment.updated_date = shipment.updated_date.plus_seconds(60);
    store.upsert_if_newer(&acme, &shipment).await.unwrap();
    let before = s.snapshot().await;

    // when the admin tries to change it
    let r = s
        .send(
            &admin,
            "PUT",
            &format!("/inbound-shipments/{id}"),
            &change,
            &key("n1"),
        )
        .await;

    // then a 409 that says why, nothing sent to Trackstar, nothing stored
    assert_eq!(
        (r.status, r.code()),
        (409, "inbound_shipment_not_open"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("receiving"));
    assert_eq!(
        s.sim
            .requests()
            .count("PUT", &format!("/wms/inbound-shipments/{id}")),
        0
    );
    assert_eq!(s.snapshot().await, before);

    // and when the table is behind (open here, received in the warehouse), Trackstar's
    // refusal is a 409 as well, and the table stays as it was
    let id = created_inbound(&s, "b1", "PO-301").await;
    s.sim
        .state()
        .with_data(CONN_ACME, |data| {
            let upstream = data
                .inbound_shipments
                .iter_mut()
                .find(|x| x.id == id)
                .unwrap();
            upstream.status = "received".into();
        })
        .unwrap();
    let before = s.snapshot().await;
    let r = s
        .send(
            &admin,
            "PUT",
            &format!("/inbound-shipments/{id}"),
            &change,
            &key("n2"),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "upstream_conflict");
    assert_eq!(s.snapshot().await, before);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn creating_a_return_writes_to_trackstar_then_stores_it() {
    // given an order of b1 and b1's manager
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let order = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "ret-o1"),
            &key("o1"),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().unwrap().to_owned();
    let mut body = return_body("b1");
    body["order_id"] = json!(order_id);
    body["tags"] = json!(["rma-7"]);

    // when the manager announces a return of it
    let r = s
        .send(&manager, "POST", "/returns", &body, &key("r1"))
        .await;

    // then Trackstar has it and so does the table
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["brand_id"], "b1");
    assert_eq!(r.body["order_id"], order_id.as_str());
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["line_items"][0]["quantity"], 1);
    let truth = s.sim.truth(CONN_ACME).unwrap();
    let upstream = truth.returns.iter().find(|x| x.id == id).unwrap();
    assert_eq!(upstream.order_id.as_deref(), Some(order_id.as_str()));
    let stored = s.get(&manager, &format!("/returns/{id}")).await;
    assert_eq!((stored.status, &stored.body), (200, &r.body));

    // and the same key replays, another body with it is a 422
    let again = s
        .send(&manager, "POST", "/returns", &body, &key("r1"))
        .await;
    assert_eq!((again.status, &again.body), (201, &r.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let r = s
        .send(&manager, "POST", "/returns", &return_body("b1"), &key("r1"))
        .await;
    assert_eq!((r.status, r.code()), (422, "idempotency_key_reused"));
    assert_eq!(sent(&s, RETURN_POSTS), 1);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn an_invalid_return_names_each_field_and_an_order_of_another_brand_is_refused() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let other_order = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b2", "ret-o2"),
            &key("o2"),
        )
        .await;
    let other_order = other_order.body["id"].as_str().unwrap().to_owned();
    let before = s.snapshot().await;
    let bad = json!({
        "brand_id": "b1",
        "warehouse_id": "wh/east",
        "order_id": "ord#1",
        "line_items": [{ "sku": SIM_SKU, "quantity": 0 }, { "sku": " A", "quantity": 1 }]
    });
    let r = s.send(&admin, "POST", "/returns", &bad, &key("x1")).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "validation_failed"),
        "{}",
        r.body
    );
    let fields = r.body["error"]["details"]["fields"].as_object().unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "line_items[0].quantity",
            "line_items[1].sku",
            "order_id",
            "warehouse_id"
        ]
    );
    // no line at all
    let r = s
        .send(
            &admin,
            "POST",
            "/returns",
            &json!({ "brand_id": "b1", "line_items": [] }),
            &key("x2"),
        )
        .await;
    assert!(r.body["error"]["details"]["fields"]["line_items"].is_array());
    // an order of another brand, or none Packr knows, is the same 422 on order_id
    for order_id in [other_order.as_str(), "ord_unknown"] {
        let mut body = return_body("b1");
        body["order_id"] = json!(order_id);
        let r = s.send(&admin, "POST", "/returns", &body, &key("x3")).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "validation_failed"),
            "{}",
            r.body
        );
        assert_eq!(
            r.body["error"]["details"]["fields"]["order_id"][0],
            "is not an order of this brand"
        );
    }
    assert_eq!(sent(&s, RETURN_POSTS), 0);
    assert_eq!(s.snapshot().await, before);
    s.sim.shutdown().await;
}

/// The request bodies the document describes are the ones accepted: a minimal return (its
/// lines alone) and a full ASN with a supplier id.
#[tokio::test]
async fn minimal_and_full_bodies_are_accepted() {
    let s = api_stack().await;
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    let minimal = json!({ "brand_id": "b2", "line_items": [{ "sku": SIM_SKU, "quantity": 3 }] });
    let r = s
        .send(&staff, "POST", "/returns", &minimal, &key("m1"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["brand_id"], "b2");
    let mut full: Value = inbound_body("b2", "PO-full");
    full["supplier_id"] = json!("sup_9");
    full["tags"] = json!(["spring", "priority"]);
    let r = s
        .send(&staff, "POST", "/inbound-shipments", &full, &key("m2"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["brand_id"], "b2");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_inbound_change_leaves_the_table_unchanged_and_gives_the_key_up() {
    // given an open shipment and a failing Trackstar
    let s = api_stack().await;
    let id = created_inbound(&s, "b1", "PO-400").await;
    let path = format!("/inbound-shipments/{id}");
    let admin = Caller::admin(ACME);
    let change = json!({ "supplier": "Globex Mills" });
    let before = s.snapshot().await;
    s.sim.set_faults(CONN_ACME, FaultSpec::error(500, Some(2)));
    // when the change is sent
    let r = s.send(&admin, "PUT", &path, &change, &key("g1")).await;
    // then it fails as the warehouse failed, and nothing is stored
    assert_eq!((r.status, r.code()), (502, "upstream_error"), "{}", r.body);
    assert_eq!(s.snapshot().await, before);
    // and once Trackstar answers again, the same key goes through
    s.sim.clear_faults(CONN_ACME);
    let r = s.send(&admin, "PUT", &path, &change, &key("g1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(r.body["supplier"], "Globex Mills");
    s.sim.shutdown().await;
}
