use reqwest::Method;
use serde_json::{json, Value};
use trackstar_sim::{SimConnection, WriteAction};

use crate::support::{sim, API_KEY, CONN};

pub fn order_body() -> Value {
    json!({
        "reference_id": "#9001",
        "order_number": "PK-9001",
        "warehouse_customer_id": "wc_demo_1",
        "channel": "shopify",
        "shipping_method_id": "sm_ups_ground",
        "service_level": "ground",
        "invoice_currency_code": "USD",
        "total_price": 42.5,
        "total_tax": 3.4,
        "total_discount": 0,
        "total_shipping": 5.99,
        "ship_to_address": {
            "full_name": "Ava Kim", "address1": "1 Main St", "city": "Austin",
            "state": "TX", "postal_code": "78701", "country": "US"
        },
        "line_items": [{"sku": "TEE-000000", "quantity": 2, "unit_price": 16.55, "discount_amount": 0}],
        "gift_note": "not a Trackstar field"
    })
}

#[tokio::test]
async fn create_order_answers_data_id_and_unused_fields_and_is_listed_as_updated() {
    // given
    let s = sim().await;
    let before = trackstar_sim::data::now();
    // when
    let response = s
        .req(Method::POST, "/wms/orders")
        .json(&order_body())
        .send()
        .await
        .expect("response");
    // then
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_owned();
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["status"], "open");
    assert_eq!(body["unused_fields"], json!(["gift_note"]));
    let since = before.format("%Y-%m-%dT%H:%M:%SZ");
    let (_, page) = s
        .get_json(&format!("/wms/orders?updated_date[gte]={since}"))
        .await;
    assert!(page["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|o| o["id"] == id.as_str()));
    assert_eq!(s.handle.requests().applied_to(&id), 1);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn null_or_empty_fields_are_422_with_field_details() {
    let s = sim().await;
    let mut body = order_body();
    body["channel"] = Value::Null;
    body["order_number"] = json!("");
    body["ship_to_address"]["city"] = json!("");
    let response = s
        .req(Method::POST, "/wms/orders")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.expect("json");
    assert!(error["error"].is_string());
    let fields = &error["detail"]["body"];
    assert!(fields["channel"].is_array(), "{error}");
    assert!(fields["order_number"].is_array());
    assert!(fields["ship_to_address.city"].is_array());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn missing_required_fields_are_422() {
    let s = sim().await;
    let response = s
        .req(Method::POST, "/wms/products")
        .json(&json!({"sku": "NEW-1"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.expect("json");
    for field in ["name", "gtin", "measurements"] {
        assert!(
            error["detail"]["body"][field].is_array(),
            "{field}: {error}"
        );
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn update_and_cancel_bump_updated_date_and_refuse_shipped_orders() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let open = truth
        .orders
        .iter()
        .find(|o| o.status == "open")
        .expect("an open order");
    let shipped = truth
        .orders
        .iter()
        .find(|o| o.status == "fulfilled")
        .expect("a fulfilled order");

    let updated: Value = s
        .req(Method::PUT, &format!("/wms/orders/{}", open.id))
        .json(&json!({"status": "confirmed"}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(updated["data"]["status"], "confirmed");
    let after = s.handle.truth(CONN).expect("truth");
    let now_order = after
        .orders
        .iter()
        .find(|o| o.id == open.id)
        .expect("order");
    assert!(now_order.updated_date > open.updated_date);

    let cancelled = s
        .req(Method::PUT, &format!("/wms/orders/{}/cancel", open.id))
        .send()
        .await
        .expect("response");
    assert_eq!(cancelled.status(), 200);
    let refused = s
        .req(Method::PUT, &format!("/wms/orders/{}/cancel", shipped.id))
        .send()
        .await
        .expect("response");
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.expect("json");
    assert_eq!(refused["origin"], "integration");
    s.handle.shutdown().await;
}

#[tokio::test]
async fn inventory_adjust_changes_on_hand_and_refuses_negative_stock() {
    let s = sim().await;
    let item = s.handle.truth(CONN).expect("truth").inventory[0].clone();
    let up: Value = s
        .req(Method::PUT, &format!("/wms/inventory/{}/adjust", item.id))
        .json(&json!({"quantity": 5, "adjustment_type": "increase", "warehouse_id": "wh_east"}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(up["data"]["onhand"].as_i64(), Some(item.onhand + 5));
    let down = s
        .req(Method::PUT, &format!("/wms/inventory/{}/adjust", item.id))
        .json(&json!({"quantity": 1_000_000, "adjustment_type": "decrease"}))
        .send()
        .await
        .expect("response");
    assert_eq!(down.status(), 422);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn product_writes_on_an_integration_without_them_are_501() {
    // given a connection on the integration that lacks product writes
    let s = sim().await;
    s.handle
        .add_connection(SimConnection::new("conn_fba", "tok_fba").with_integration("fba"));
    assert!(!SimConnection::new("x", "y")
        .with_integration("fba")
        .supports(WriteAction::CreateProduct));
    // when
    let response = s
        .http
        .post(s.handle.url("/wms/products"))
        .header("x-trackstar-api-key", API_KEY)
        .header("x-trackstar-access-token", "tok_fba")
        .json(&json!({"sku": "S", "name": "N", "gtin": "1", "measurements": {}}))
        .send()
        .await
        .expect("response");
    // then
    assert_eq!(response.status(), 501);
    let body: Value = response.json().await.expect("json");
    assert!(body["error"].is_string());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn product_create_makes_an_inventory_item_and_rejects_duplicate_skus() {
    let s = sim().await;
    let body = json!({"sku": "NEW-SKU-1", "name": "New thing", "gtin": "012345678905",
        "measurements": {"length": 1, "width": 2, "height": 3, "unit": "in", "weight": 1, "weight_unit": "lb"}});
    let first = s
        .req(Method::POST, "/wms/products")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(first.status(), 200);
    let created: Value = first.json().await.expect("json");
    let inventory_id = created["data"]["inventory_items"][0]["inventory_item_id"]
        .as_str()
        .expect("inventory id")
        .to_owned();
    let (status, _) = s.get_json(&format!("/wms/inventory/{inventory_id}")).await;
    assert_eq!(status, 200);
    let again = s
        .req(Method::POST, "/wms/products")
        .json(&body)
        .send()
        .await
        .expect("response");
    assert_eq!(again.status(), 422);
    s.handle.shutdown().await;
}
