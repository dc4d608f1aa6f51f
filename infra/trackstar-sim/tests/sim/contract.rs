//! The simulator against Trackstar's official OpenAPI document (`../shared/` beside the
//! repository): responses, error bodies and webhook fixtures must validate against it.

use std::path::PathBuf;
use std::sync::OnceLock;

use reqwest::Method;
use serde_json::{json, Map, Value};
use trackstar_sim::fixtures::{fixture_events, fixture_file_name, fixture_text};
use trackstar_sim::{MutateAction, MutateRequest, MutationKind, SimConfig};

use crate::support::{sim, sim_with, Receiver, API_KEY, CONN};

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/trackstar-openapi.json"
);

fn events_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
}

/// The spec, with OpenAPI 3.0 `nullable` turned into JSON Schema.
fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC)
            .unwrap_or_else(|e| panic!("the official spec must be at {SPEC}: {e}"));
        let mut spec: Value = serde_json::from_str(&text).expect("spec is JSON");
        if let Some(schemas) = spec.pointer_mut("/components/schemas") {
            translate_nullable(schemas);
        }
        spec
    })
}

/// `nullable: true` → `type: [T, "null"]` (and `null` in an `enum`); on a `$ref` or a
/// schema without `type`, an `anyOf` with `{"type": "null"}`.
fn translate_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                translate_nullable(child);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".to_owned(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                } else if map.contains_key("$ref")
                    || map.contains_key("allOf")
                    || map.contains_key("anyOf")
                    || map.contains_key("oneOf")
                {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".to_owned(), json!([inner, {"type": "null"}]));
                }
            } else if map.get("nullable") == Some(&Value::Bool(false)) {
                map.remove("nullable");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(translate_nullable),
        _ => {}
    }
}

/// Validates `instance` against a `#/components/schemas/...` reference.
fn assert_valid(reference: &str, instance: &Value, what: &str) {
    let components = spec().get("components").cloned().unwrap_or(Value::Null);
    let schema = json!({ "$ref": reference, "components": components });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {reference} builds: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match {reference}:\n{}",
        errors.join("\n")
    );
}

/// The `$ref` of a path's response schema.
fn response_ref(path: &str, method: &str, status: &str) -> String {
    let pointer = format!(
        "/paths/{}/{method}/responses/{status}/content/application~1json/schema/$ref",
        path.replace('~', "~0").replace('/', "~1")
    );
    spec()
        .pointer(&pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("spec has a schema at {pointer}"))
        .to_owned()
}

/// The spec path of a single item under a list path, e.g. `/wms/orders/{order_id}`.
fn item_path(list_path: &str) -> String {
    spec()["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .find(|p| {
            p.strip_prefix(list_path)
                .and_then(|rest| rest.strip_prefix("/{"))
                .is_some_and(|rest| rest.ends_with('}') && !rest.contains('/'))
        })
        .unwrap_or_else(|| panic!("spec has an item path under {list_path}"))
        .clone()
}

fn webhook_ref(event_type: &str) -> String {
    let pointer =
        format!("/webhooks/{event_type}/post/requestBody/content/application~1json/schema/$ref");
    spec()
        .pointer(&pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("spec has a webhook schema for {event_type}"))
        .to_owned()
}

#[tokio::test]
async fn list_and_get_responses_match_the_official_schemas() {
    let s = sim_with(SimConfig {
        orders_per_connection: 120,
        get_rate_per_sec: 1000,
        ..SimConfig::default()
    })
    .await;
    for list_path in [
        "/wms/orders",
        "/wms/inventory",
        "/wms/products",
        "/wms/inbound-shipments",
        "/wms/returns",
        "/wms/warehouses",
        "/wms/shipping-methods",
        "/wms/billing",
    ] {
        let (status, page) = s.get_json(list_path).await;
        assert_eq!(status, 200);
        assert_valid(&response_ref(list_path, "get", "200"), &page, list_path);
        let id = page["data"][0]["id"]
            .as_str()
            .expect("an object")
            .to_owned();
        let item = item_path(list_path);
        let (status, one) = s.get_json(&format!("{list_path}/{id}")).await;
        assert_eq!(status, 200);
        assert_valid(&response_ref(&item, "get", "200"), &one, &item);
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn error_bodies_match_the_official_schemas() {
    let s = sim().await;
    let (status, not_found) = s.get_json("/wms/orders/ord_nope").await;
    assert_eq!(status, 404);
    assert_valid(
        &response_ref("/wms/orders/{order_id}", "get", "404"),
        &not_found,
        "404",
    );
    let (status, invalid) = s.get_json("/wms/orders?limit=0").await;
    assert_eq!(status, 422);
    assert_valid(&response_ref("/wms/orders", "get", "422"), &invalid, "422");
    let unauthorized: Value = s
        .http
        .get(s.handle.url("/wms/orders"))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid("#/components/schemas/HTTPError", &unauthorized, "401");
    let write_invalid: Value = s
        .req(Method::POST, "/wms/orders")
        .json(&json!({"order_number": null}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/wms/orders", "post", "422"),
        &write_invalid,
        "write 422",
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn write_and_connection_responses_match_the_official_schemas() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let open = truth
        .orders
        .iter()
        .find(|o| o.status == "open")
        .expect("open order")
        .id
        .clone();
    let product = truth.products[0].id.clone();
    let item = truth.inventory[0].id.clone();
    let product_body = json!({"sku": "CONTRACT-1", "name": "Contract", "gtin": "1234",
        "measurements": {"length": 1, "width": 1, "height": 1, "unit": "cm", "weight": 1, "weight_unit": "kg"}});
    let cases: Vec<(Method, String, Option<Value>, &str, &str)> = vec![
        (
            Method::POST,
            "/wms/orders".into(),
            Some(crate::writes::order_body()),
            "/wms/orders",
            "post",
        ),
        (
            Method::PUT,
            format!("/wms/orders/{open}"),
            Some(json!({"status": "confirmed"})),
            "/wms/orders/{order_id}",
            "put",
        ),
        (
            Method::PUT,
            format!("/wms/orders/{open}/cancel"),
            None,
            "/wms/orders/{order_id}/cancel",
            "put",
        ),
        (
            Method::POST,
            "/wms/products".into(),
            Some(product_body),
            "/wms/products",
            "post",
        ),
        (
            Method::PUT,
            format!("/wms/products/{product}"),
            Some(json!({"name": "Renamed"})),
            "/wms/products/{product_id}",
            "put",
        ),
        (
            Method::PUT,
            format!("/wms/inventory/{item}/adjust"),
            Some(json!({"quantity": 2, "adjustment_type": "increase"})),
            "/wms/inventory/{inventory_id}/adjust",
            "put",
        ),
    ];
    for (method, path, body, spec_path, spec_method) in cases {
        let mut request = s.req(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("response");
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_valid(&response_ref(spec_path, spec_method, "200"), &body, &path);
    }

    let (_, connections) = s.get_json("/connections").await;
    assert_valid(
        &response_ref("/connections", "get", "200"),
        &connections,
        "/connections",
    );
    let (_, one) = s.get_json(&format!("/connections/{CONN}")).await;
    assert_valid(
        &response_ref("/connections/{connection_id}", "get", "200"),
        &one,
        "/connections/{id}",
    );
    let post = |path: &str, body: Value| {
        s.http
            .post(s.handle.url(path))
            .header("x-trackstar-api-key", API_KEY)
            .json(&body)
            .send()
    };
    let token: Value = post("/link/token", json!({}))
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/link/token", "post", "200"),
        &token,
        "/link/token",
    );
    let exchange: Value = post("/link/exchange", json!({"auth_code": "auth_conn_contract"}))
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/link/exchange", "post", "200"),
        &exchange,
        "/link/exchange",
    );
    s.handle.shutdown().await;
}

#[test]
fn committed_fixtures_match_what_the_simulator_produces() {
    // Regenerate with UPDATE_FIXTURES=1 (or `trackstar-sim --write-fixtures events`).
    let dir = events_dir();
    let update = std::env::var("UPDATE_FIXTURES").is_ok_and(|v| v == "1");
    if update {
        trackstar_sim::fixtures::write_fixtures(&dir).expect("fixtures written");
    }
    let events = fixture_events();
    assert_eq!(
        events.len(),
        trackstar_sim::fixtures::FIXTURE_EVENT_TYPES.len()
    );
    for (event_type, body) in events {
        let path = dir.join(fixture_file_name(&event_type));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} missing ({e}); run with UPDATE_FIXTURES=1",
                path.display()
            )
        });
        assert_eq!(text, fixture_text(&body), "{} drifted", path.display());
    }
}

#[test]
fn every_webhook_fixture_matches_the_official_schema() {
    let mut checked = 0;
    for entry in std::fs::read_dir(events_dir()).expect("events/ exists") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.starts_with("trackstar-webhook-") || !name.ends_with(".json") {
            continue;
        }
        let body: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let event_type = body["event_type"].as_str().expect("event_type").to_owned();
        assert_eq!(
            name,
            fixture_file_name(&event_type),
            "file named for its event"
        );
        assert_valid(&webhook_ref(&event_type), &body, name);
        checked += 1;
    }
    assert!(checked >= 14, "all fixtures checked ({checked})");
}

#[tokio::test]
async fn live_webhooks_match_the_official_schemas() {
    let receiver = Receiver::start(0).await;
    let s = sim_with(SimConfig {
        webhook: Some(receiver.target.clone()),
        ..SimConfig::default()
    })
    .await;
    for kind in [
        MutationKind::Order,
        MutationKind::Inventory,
        MutationKind::Product,
    ] {
        s.handle
            .mutate(&MutateRequest {
                connection_id: CONN.to_owned(),
                kind,
                count: 8,
            })
            .expect("mutated");
    }
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(10))
            .await
    );
    let received = receiver.received();
    assert!(received.len() >= 24);
    let mut types = Map::new();
    for hook in received {
        let body = hook.json();
        let event_type = body["event_type"].as_str().expect("type").to_owned();
        assert_valid(&webhook_ref(&event_type), &body, &event_type);
        types.insert(event_type, Value::Bool(true));
    }
    assert!(types.contains_key("order.updated") && types.contains_key("inventory.updated"));
    s.handle.shutdown().await;
}

#[tokio::test]
async fn live_webhooks_of_every_kind_created_and_updated_match_the_official_schemas() {
    // given a simulator delivering to a receiver
    let receiver = Receiver::start(0).await;
    let s = sim_with(SimConfig {
        webhook: Some(receiver.target.clone()),
        ..SimConfig::default()
    })
    .await;
    // when every kind is created and updated twice
    for kind in MutationKind::ALL {
        for action in [MutateAction::Create, MutateAction::Update] {
            let request = MutateRequest {
                connection_id: CONN.to_owned(),
                kind,
                count: 2,
            };
            s.handle.mutate_with(&request, action).expect("mutated");
        }
    }
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(10))
            .await
    );
    // then every body matches its event's schema, and every event type of the WMS is among them
    let mut types = Map::new();
    for hook in receiver.received() {
        let body = hook.json();
        let event_type = body["event_type"].as_str().expect("type").to_owned();
        assert_valid(&webhook_ref(&event_type), &body, &event_type);
        types.insert(event_type, Value::Bool(true));
    }
    for expected in [
        "inbound-shipment.created",
        "inbound-shipment.updated",
        "inbound-shipment.receipt.created",
        "return.created",
        "return.updated",
        "warehouse.created",
        "warehouse.updated",
        "shipping-method.created",
        "shipping-method.updated",
        "bill.created",
        "bill.updated",
        "order.created",
        "inventory.created",
        "product.created",
    ] {
        assert!(
            types.contains_key(expected),
            "no {expected} among {types:?}"
        );
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn inbound_shipment_and_return_writes_match_the_official_schemas() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let sku = truth.inventory[0].sku.clone().expect("sku");
    let created: Value = s
        .req(Method::POST, "/wms/inbound-shipments")
        .json(&json!({
            "purchase_order_number": "PO-1", "supplier": "Acme", "tracking_number": "T1",
            "expected_arrival_date": "2030-01-01T00:00:00Z", "warehouse_id": "wh_east",
            "line_items": [{"sku": sku, "expected_quantity": 5}],
        }))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/wms/inbound-shipments", "post", "200"),
        &created,
        "inbound create",
    );
    let id = created["id"].as_str().expect("id");
    let changed: Value = s
        .req(Method::PUT, &format!("/wms/inbound-shipments/{id}"))
        .json(&json!({"tracking_number": "T2"}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/wms/inbound-shipments/{inbound_shipment_id}", "put", "200"),
        &changed,
        "inbound update",
    );
    let received: Value = s
        .req(Method::PUT, &format!("/wms/inbound-shipments/{id}/receive"))
        .json(
            &json!({"warehouse_location_id": "A-01", "line_items": [{"sku": sku, "quantity": 2}]}),
        )
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref(
            "/wms/inbound-shipments/{inbound_shipment_id}/receive",
            "put",
            "200",
        ),
        &received,
        "inbound receive",
    );
    let ret: Value = s
        .req(Method::POST, "/wms/returns")
        .json(&json!({"line_items": [{"sku": sku, "quantity": 1}]}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/wms/returns", "post", "200"),
        &ret,
        "return create",
    );
    let invalid: Value = s
        .req(Method::POST, "/wms/returns")
        .json(&json!({}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_valid(
        &response_ref("/wms/returns", "post", "422"),
        &invalid,
        "return 422",
    );
    s.handle.shutdown().await;
}

#[test]
fn the_schema_check_rejects_what_the_spec_forbids_and_accepts_nullables() {
    let schema = "#/components/schemas/OrderSchema";
    let ok = json!({"id": "o1", "status": "open", "warehouse_customer_id": null, "type": null});
    assert_valid(schema, &ok, "nullable fields");
    for bad in [
        json!({"id": "o1", "status": "shipped"}),
        json!({"id": "o1", "colour": "red"}),
        json!({"id": "o1", "updated_date": "yesterday"}),
        json!({"id": null}),
    ] {
        let result = std::panic::catch_unwind(|| assert_valid(schema, &bad, "bad order"));
        assert!(result.is_err(), "{bad} should be rejected");
    }
}

#[tokio::test]
async fn samples_of_the_new_kinds_events_match_the_official_schemas() {
    let s = sim().await;
    for event_type in [
        "inbound-shipment.created",
        "inbound-shipment.updated",
        "inbound-shipment.receipt.created",
        "return.created",
        "return.updated",
        "warehouse.created",
        "warehouse.updated",
        "shipping-method.created",
        "shipping-method.updated",
        "bill.created",
        "bill.updated",
    ] {
        let body = s
            .handle
            .emit_sample(CONN, event_type)
            .unwrap_or_else(|| panic!("a sample of {event_type}"));
        assert_eq!(body["event_type"], event_type);
        assert_valid(&webhook_ref(event_type), &body, event_type);
        if event_type.ends_with(".updated") || event_type.ends_with("receipt.created") {
            let previous = body["previous_attributes"].as_object().expect("previous");
            assert!(!previous.is_empty(), "{event_type} names what changed");
        }
    }
    s.handle.shutdown().await;
}
