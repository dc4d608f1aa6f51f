//! Writes of inbound shipments and returns, and order address changes before shipping.

use reqwest::Method;
use serde_json::{json, Value};
use trackstar_sim::data::ConnectionData;

use crate::support::{sim, Receiver, Sim, CONN};

fn sku(truth: &ConnectionData) -> String {
    truth.inventory[0].sku.clone().expect("sku")
}

fn inbound_body(sku: &str) -> Value {
    json!({
        "purchase_order_number": "PO-77",
        "supplier": "Acme Goods Co.",
        "tracking_number": "MSKU0000001",
        "expected_arrival_date": "2030-01-15T00:00:00Z",
        "warehouse_id": "wh_west",
        "line_items": [{"sku": sku, "expected_quantity": 40}],
        "supplier_object": {"name": "Acme"},
    })
}

async fn send(s: &Sim, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let response = s
        .req(method, path)
        .json(body)
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn creating_an_inbound_shipment_answers_the_envelope_stores_it_and_sends_created() {
    // given a simulator delivering webhooks
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let truth = s.handle.truth(CONN).expect("truth");
    // when an inbound shipment is created
    let (status, body) = send(
        &s,
        Method::POST,
        "/wms/inbound-shipments",
        &inbound_body(&sku(&truth)),
    )
    .await;
    // then it is open, for the SKU's inventory item, with the unknown field reported unused
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    assert_eq!(body["data"]["status"], "open");
    assert_eq!(body["data"]["warehouse_id"], "wh_west");
    assert_eq!(
        body["data"]["line_items"][0]["inventory_item_id"],
        truth.inventory[0].id.as_str()
    );
    assert_eq!(body["data"]["line_items"][0]["received_quantity"], 0);
    assert_eq!(
        body["data"]["warehouse_customer_id"],
        json!(truth.inventory[0].warehouse_customer_id)
    );
    assert_eq!(body["unused_fields"], json!(["supplier_object"]));
    let (_, one) = s.get_json(&format!("/wms/inbound-shipments/{id}")).await;
    assert_eq!(one["data"], body["data"]);
    assert_eq!(s.handle.requests().applied_to(&id), 1);
    // and inbound-shipment.created is sent
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    let hooks: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["event_type"], "inbound-shipment.created");
    assert_eq!(hooks[0]["data"]["id"], id.as_str());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn bad_inbound_shipments_are_422s_naming_the_field_and_change_nothing() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let good = inbound_body(&sku(&truth));
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(field);
        body
    };
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (without("supplier"), "supplier"),
        (without("warehouse_id"), "warehouse_id"),
        (
            with("expected_arrival_date", json!("next week")),
            "expected_arrival_date",
        ),
        (with("tracking_number", json!("")), "tracking_number"),
        (with("warehouse_id", json!("wh_mars")), "warehouse_id"),
        (with("line_items", json!([])), "line_items"),
        (
            with(
                "line_items",
                json!([{"sku": "NOPE-1", "expected_quantity": 1}]),
            ),
            "line_items.0.sku",
        ),
        (
            with("line_items", json!([{"sku": "X", "expected_quantity": 0}])),
            "line_items.0.expected_quantity",
        ),
        (
            with("line_items", json!([{"sku": "X"}])),
            "line_items.0.expected_quantity",
        ),
        (
            with(
                "line_items",
                json!([{"sku": "X", "expected_quantity": 1, "colour": "red"}]),
            ),
            "line_items.0.colour",
        ),
    ] {
        let (status, answer) = send(&s, Method::POST, "/wms/inbound-shipments", &body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert!(
            answer["detail"]["body"].get(field).is_some(),
            "{field}: {answer}"
        );
    }
    assert_eq!(
        s.handle.truth(CONN).expect("truth").inbound_shipments,
        truth.inbound_shipments
    );
    assert!(s.handle.requests().applied_writes.is_empty());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn an_open_inbound_shipment_can_be_updated_and_one_no_longer_open_cannot() {
    // given a new open shipment
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let truth = s.handle.truth(CONN).expect("truth");
    let (_, created) = send(
        &s,
        Method::POST,
        "/wms/inbound-shipments",
        &inbound_body(&sku(&truth)),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    // when its quantity and tracking number change
    let change = json!({"tracking_number": "MSKU0000002", "line_items": [{"sku": sku(&truth), "expected_quantity": 55}]});
    let (status, body) = send(
        &s,
        Method::PUT,
        &format!("/wms/inbound-shipments/{id}"),
        &change,
    )
    .await;
    // then the new values are stored and inbound-shipment.updated names the old ones
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["line_items"][0]["expected_quantity"], 55);
    assert_eq!(body["data"]["tracking_numbers"], json!(["MSKU0000002"]));
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    let hooks: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[1]["event_type"], "inbound-shipment.updated");
    assert_eq!(
        hooks[1]["previous_attributes"]["tracking_numbers"],
        json!(["MSKU0000001"])
    );
    // given a shipment that is not open
    let received = truth
        .inbound_shipments
        .iter()
        .find(|i| i.status != "open")
        .expect("a shipment not open");
    // when it is updated
    let (status, refused) = send(
        &s,
        Method::PUT,
        &format!("/wms/inbound-shipments/{}", received.id),
        &json!({"tracking_number": "X"}),
    )
    .await;
    // then the integration refuses it with a 422 saying why, and nothing changed
    assert_eq!(status, 422);
    assert_eq!(refused["origin"], "integration");
    assert!(refused["error"]
        .as_str()
        .expect("error")
        .contains(&received.status));
    let after = s.handle.truth(CONN).expect("truth");
    let same = after
        .inbound_shipments
        .iter()
        .find(|i| i.id == received.id)
        .expect("kept");
    assert_eq!(same, received);
    // and an unknown shipment is a 404
    let (status, _) = send(
        &s,
        Method::PUT,
        "/wms/inbound-shipments/ibs_nope",
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn an_inbound_create_replayed_with_its_key_is_applied_once() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let body = inbound_body(&sku(&truth));
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = s
            .req(Method::POST, "/wms/inbound-shipments")
            .header("idempotency-key", "asn-77")
            .json(&body)
            .send()
            .await
            .expect("response");
        let replayed = response.headers().contains_key("idempotent-replayed");
        answers.push((replayed, response.json::<Value>().await.expect("json")));
    }
    assert!(!answers[0].0 && answers[1].0);
    assert_eq!(answers[0].1, answers[1].1);
    let after = s.handle.truth(CONN).expect("truth");
    assert_eq!(
        after.inbound_shipments.len(),
        truth.inbound_shipments.len() + 1
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn creating_a_return_for_an_order_sends_return_created_and_bad_ones_are_422s() {
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let truth = s.handle.truth(CONN).expect("truth");
    let order = &truth.orders[0];
    // when a return of two units is created for an order
    let body = json!({"order_id": order.id, "warehouse_id": "wh_east", "line_items": [{"sku": sku(&truth), "quantity": 2}], "reason": "x"});
    let (status, created) = send(&s, Method::POST, "/wms/returns", &body).await;
    // then it is open, owned by the order's customer, expecting two units
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["status"], "open");
    assert_eq!(created["data"]["order_id"], order.id.as_str());
    assert_eq!(
        created["data"]["warehouse_customer_id"],
        json!(order.warehouse_customer_id)
    );
    assert_eq!(created["data"]["line_items"][0]["expected_quantity"], 2);
    assert_eq!(created["unused_fields"], json!(["reason"]));
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    let hooks: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["event_type"], "return.created");
    // and bad bodies name their field
    for (body, field) in [
        (json!({}), "line_items"),
        (
            json!({"line_items": [{"sku": sku(&truth)}]}),
            "line_items.0.quantity",
        ),
        (
            json!({"order_id": "ord_nope", "line_items": [{"sku": sku(&truth), "quantity": 1}]}),
            "order_id",
        ),
        (
            json!({"warehouse_id": null, "line_items": [{"sku": sku(&truth), "quantity": 1}]}),
            "warehouse_id",
        ),
    ] {
        let (status, answer) = send(&s, Method::POST, "/wms/returns", &body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert!(
            answer["detail"]["body"].get(field).is_some(),
            "{field}: {answer}"
        );
    }
    assert_eq!(
        s.handle.truth(CONN).expect("truth").returns.len(),
        truth.returns.len() + 1
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn an_order_takes_a_new_address_until_it_ships() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let open = truth
        .orders
        .iter()
        .find(|o| o.status == "open")
        .expect("open order");
    let shipped = truth
        .orders
        .iter()
        .find(|o| o.status == "fulfilled")
        .expect("fulfilled order");
    let change = json!({"ship_to_address": {"address1": "9 New Rd", "city": "Denver"}, "shipping_method_id": "sm_ups_express"});
    // when an open order's address and method change
    let (status, body) = send(
        &s,
        Method::PUT,
        &format!("/wms/orders/{}", open.id),
        &change,
    )
    .await;
    // then they are stored
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["ship_to_address"]["address1"], "9 New Rd");
    assert_eq!(body["data"]["shipping_method_id"], "sm_ups_express");
    // when a fulfilled order's do
    let (status, refused) = send(
        &s,
        Method::PUT,
        &format!("/wms/orders/{}", shipped.id),
        &change,
    )
    .await;
    // then the integration refuses, and the order is unchanged
    assert_eq!(status, 422);
    assert_eq!(refused["origin"], "integration");
    let after = s.handle.truth(CONN).expect("truth");
    assert_eq!(
        after.orders.iter().find(|o| o.id == shipped.id),
        Some(shipped)
    );
    // and other fields of a fulfilled order may still change
    let (status, _) = send(
        &s,
        Method::PUT,
        &format!("/wms/orders/{}", shipped.id),
        &json!({"trackstar_tags": ["vip"]}),
    )
    .await;
    assert_eq!(status, 200);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn receiving_an_inbound_shipment_adds_receipts_until_it_is_received() {
    // given a new shipment expecting 40 units
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let truth = s.handle.truth(CONN).expect("truth");
    let sku = sku(&truth);
    let (_, created) = send(
        &s,
        Method::POST,
        "/wms/inbound-shipments",
        &inbound_body(&sku),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/wms/inbound-shipments/{id}/receive");
    let receipt = |quantity: i64| json!({"warehouse_location_id": "A-01", "line_items": [{"sku": sku, "quantity": quantity}]});
    // when 15 arrive
    let (status, first) = send(&s, Method::PUT, &path, &receipt(15)).await;
    // then it is receiving with 15 received in one receipt
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"]["status"], "receiving");
    assert_eq!(first["data"]["line_items"][0]["received_quantity"], 15);
    assert_eq!(
        first["data"]["receipts"]
            .as_array()
            .expect("receipts")
            .len(),
        1
    );
    // when more than the 25 still expected arrive, it is refused naming the quantity
    let (status, refused) = send(&s, Method::PUT, &path, &receipt(26)).await;
    assert_eq!(status, 422);
    assert!(refused["detail"]["body"]
        .get("line_items.0.quantity")
        .is_some());
    // when the last 25 arrive, it is received
    let (_, last) = send(&s, Method::PUT, &path, &receipt(25)).await;
    assert_eq!(last["data"]["status"], "received");
    assert_eq!(last["data"]["line_items"][0]["received_quantity"], 40);
    // and a received shipment takes no more receipts
    let (status, closed) = send(&s, Method::PUT, &path, &receipt(1)).await;
    assert_eq!(status, 422);
    assert_eq!(closed["origin"], "integration");
    // and each receipt raised inbound-shipment.receipt.created with the receipts before it
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    let hooks: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    let receipts: Vec<&Value> = hooks
        .iter()
        .filter(|h| h["event_type"] == "inbound-shipment.receipt.created")
        .collect();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0]["previous_attributes"], json!({"receipts": []}));
    assert_eq!(
        receipts[1]["previous_attributes"]["receipts"]
            .as_array()
            .expect("list")
            .len(),
        1
    );
    // and a SKU not on the shipment, or a missing location, names its field
    let other = truth.inventory[1].sku.clone().expect("sku");
    for (body, field) in [
        (
            json!({"warehouse_location_id": "A-01", "line_items": [{"sku": other, "quantity": 1}]}),
            "line_items.0.sku",
        ),
        (
            json!({"line_items": [{"sku": sku, "quantity": 1}]}),
            "warehouse_location_id",
        ),
    ] {
        let (_, created) = send(
            &s,
            Method::POST,
            "/wms/inbound-shipments",
            &inbound_body(&sku),
        )
        .await;
        let fresh = created["id"].as_str().expect("id");
        let (status, answer) = send(
            &s,
            Method::PUT,
            &format!("/wms/inbound-shipments/{fresh}/receive"),
            &body,
        )
        .await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert!(
            answer["detail"]["body"].get(field).is_some(),
            "{field}: {answer}"
        );
    }
    s.handle.shutdown().await;
}
