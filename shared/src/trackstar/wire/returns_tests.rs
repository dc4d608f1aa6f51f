//! Return conversions, on bodies shaped like Trackstar's `ReturnSchema`.

use serde_json::json;

use super::test_support::ctx;
use super::*;
use crate::domain::ReturnStatus;

/// Every field `ReturnSchema` documents, as Trackstar's example shapes them.
fn full_return() -> serde_json::Value {
    json!({
        "id": "ret_1",
        "warehouse_customer_id": "wc_1",
        "created_date": "2024-05-01T08:00:00Z",
        "updated_date": "2024-05-04T12:00:00Z",
        "status": "received",
        "raw_status": "RMA closed",
        "order_id": "ord_1",
        "notes": ["customer Jane Roe says the seam tore"],
        "line_items": [
            {"inventory_item_id": "inv_1", "sku": "TEE-1", "expected_quantity": 2,
             "received_quantity": 2, "restocked_quantity": 1,
             "return_reason": "Jane Roe: too small", "quantity": 2,
             "warehouse_id": "wh_old", "returned_date": "2024-05-03T00:00:00Z"}
        ],
        "shipments": [
            {"tracking_number": "RT123", "shipped_date": "2024-05-02T00:00:00Z",
             "arrived_date": "2024-05-03T00:00:00Z", "warehouse_id": "wh_1",
             "carrier": "ups", "carrier_id": "car_ups", "carrier_name": "UPS", "scac": "UPSN",
             "shipping_cost": 7.25,
             "measurements": {"length": 10, "width": 5, "height": 2, "unit": "in",
                              "weight": 1, "weight_unit": "lb"},
             "line_items": [
                {"inventory_item_id": "inv_1", "sku": "TEE-1", "quantity": 2,
                 "receiving_details": [
                    {"quantity": 1, "condition": "good", "disposition": "restocked"},
                    {"quantity": 1, "condition": "damaged", "disposition": "discarded"}
                 ]}
             ]},
            {"tracking_number": "RT456", "warehouse_id": null, "shipping_cost": null,
             "line_items": null}
        ],
        "external_system_url": "https://wms.example/rma/1",
        "trackstar_tags": ["rma"],
        "additional_fields": null
    })
}

fn convert(
    body: serde_json::Value,
    fallback: &str,
) -> Result<crate::domain::Return, ConversionError> {
    serde_json::from_value::<TrackstarReturn>(body)
        .unwrap()
        .into_domain(&ctx(fallback))
}

#[test]
fn a_full_return_converts_with_lines_shipments_and_tracking() {
    // given a return carrying every documented field
    let wire: TrackstarReturn = serde_json::from_value(full_return()).unwrap();
    assert_eq!(wire.id.as_deref(), Some("ret_1"));
    assert_eq!(wire.warehouse_customer_id.as_deref(), Some("wc_1"));
    // when converted
    let ret = wire.into_domain(&ctx("USD")).unwrap();
    // then
    assert_eq!(ret.id.as_str(), "ret_1");
    assert_eq!(ret.tenant_id.as_str(), "t1");
    assert_eq!(ret.brand_id.as_ref().unwrap().as_str(), "b1");
    assert_eq!(ret.warehouse_customer_id.unwrap().as_str(), "wc_1");
    assert_eq!(ret.order_id.unwrap().as_str(), "ord_1");
    assert_eq!(ret.status, ReturnStatus::Received);
    assert_eq!(ret.raw_status.as_deref(), Some("RMA closed"));
    // the warehouse is the shipment's, not the deprecated line field
    assert_eq!(ret.warehouse_id.unwrap().as_str(), "wh_1");
    assert_eq!(ret.tracking_numbers, vec!["RT123", "RT456"]);
    assert_eq!(ret.line_items.len(), 1);
    let line = &ret.line_items[0];
    assert_eq!(line.sku.as_str(), "TEE-1");
    assert_eq!(
        (
            line.quantity,
            line.expected_quantity,
            line.received_quantity,
            line.restocked_quantity
        ),
        (2, 2, 2, 1)
    );
    assert_eq!(line.return_reason.as_deref(), Some("Jane Roe: too small"));
    assert_eq!(ret.shipments.len(), 2);
    let first = &ret.shipments[0];
    assert_eq!(first.carrier.as_deref(), Some("UPS"));
    assert_eq!(first.carrier_id.as_deref(), Some("car_ups"));
    assert_eq!(first.scac.as_deref(), Some("UPSN"));
    assert_eq!(first.shipping_cost.unwrap().minor(), 725);
    assert_eq!(
        first.arrived_date.unwrap().to_rfc3339(),
        "2024-05-03T00:00:00Z"
    );
    assert_eq!(first.line_items[0].receiving_details.len(), 2);
    assert_eq!(
        first.line_items[0].receiving_details[1]
            .disposition
            .as_deref(),
        Some("discarded")
    );
    assert!(ret.shipments[1].line_items.is_empty());
    assert_eq!(ret.shipments[1].shipping_cost, None);
    assert_eq!(ret.tags, vec!["rma"]);
    assert_eq!(ret.updated_date.to_rfc3339(), "2024-05-04T12:00:00Z");
}

#[test]
fn a_minimal_return_converts_and_without_shipments_the_line_warehouse_is_used() {
    // given a minimal return, then one whose only warehouse is on its line
    let minimal = convert(
        json!({"id": "ret_2", "created_date": "2024-05-01T00:00:00Z",
               "updated_date": "2024-05-01T00:00:00Z"}),
        "USD",
    )
    .unwrap();
    assert_eq!(minimal.status, ReturnStatus::Other);
    assert_eq!(minimal.warehouse_id, None);
    assert_eq!(minimal.order_id, None);
    assert!(minimal.line_items.is_empty() && minimal.shipments.is_empty());
    assert!(minimal.tracking_numbers.is_empty());

    let mut body = full_return();
    body["shipments"] = json!(null);
    let ret = convert(body, "USD").unwrap();
    assert_eq!(ret.warehouse_id.unwrap().as_str(), "wh_old");
    assert!(ret.tracking_numbers.is_empty());
}

#[test]
fn in_transit_in_either_spelling_and_unknown_words_map() {
    let mut body = full_return();
    body["status"] = json!("in-transit");
    assert_eq!(
        convert(body.clone(), "USD").unwrap().status,
        ReturnStatus::InTransit
    );
    body["status"] = json!("in_transit");
    assert_eq!(
        convert(body.clone(), "USD").unwrap().status,
        ReturnStatus::InTransit
    );
    // an unknown word is other, raw status kept
    body["status"] = json!("awaiting_inspection");
    let ret = convert(body.clone(), "USD").unwrap();
    assert_eq!(ret.status, ReturnStatus::Other);
    assert_eq!(ret.raw_status.as_deref(), Some("RMA closed"));
    body["raw_status"] = json!(null);
    let ret = convert(body, "USD").unwrap();
    assert_eq!(ret.raw_status.as_deref(), Some("awaiting_inspection"));
}

#[test]
fn a_missing_or_bad_id_and_a_missing_updated_date_are_typed_errors() {
    let mut body = full_return();
    body["id"] = json!(null);
    assert!(matches!(
        convert(body, "USD"),
        Err(ConversionError::Missing("id"))
    ));
    let mut body = full_return();
    body["id"] = json!("ret/1");
    assert!(matches!(
        convert(body, "USD"),
        Err(ConversionError::Id { field: "id", .. })
    ));
    let mut body = full_return();
    body["updated_date"] = json!(null);
    assert!(matches!(
        convert(body, "USD"),
        Err(ConversionError::Missing("updated_date"))
    ));
    let mut body = full_return();
    body["order_id"] = json!("ord#1");
    assert!(matches!(
        convert(body, "USD"),
        Err(ConversionError::Id {
            field: "order_id",
            ..
        })
    ));
    let mut body = full_return();
    body["shipments"][0]["line_items"][0]["sku"] = json!(null);
    assert!(matches!(
        convert(body, "USD"),
        Err(ConversionError::Missing("shipments.line_items.sku"))
    ));
}

#[test]
fn shipping_costs_are_minor_units_of_the_fallback_currency() {
    let mut body = full_return();
    body["shipments"][0]["shipping_cost"] = json!(700);
    let jpy = convert(body.clone(), "JPY").unwrap();
    assert_eq!(jpy.shipments[0].shipping_cost.unwrap().minor(), 700);
    assert_eq!(
        jpy.shipments[0].shipping_cost.unwrap().currency().code(),
        "JPY"
    );
    body["shipments"][0]["shipping_cost"] = json!("7.005");
    let kwd = convert(body, "KWD").unwrap();
    assert_eq!(kwd.shipments[0].shipping_cost.unwrap().minor(), 7005);
}

#[test]
fn debug_hides_notes_and_return_reasons() {
    let wire: TrackstarReturn = serde_json::from_value(full_return()).unwrap();
    let shown = format!("{wire:?}");
    assert!(!shown.contains("Jane"), "wire Debug leaked personal text");
    assert!(shown.contains("ret_1"));
    let ret = wire.into_domain(&ctx("USD")).unwrap();
    let shown = format!("{ret:?}");
    assert!(!shown.contains("Jane"), "domain Debug leaked personal text");
    assert!(!shown.contains("too small"));
    assert!(shown.contains("TEE-1"));
}
