//! Inbound shipment conversions, on bodies shaped like Trackstar's `InboundShipmentSchema`.

use serde_json::json;

use super::test_support::ctx;
use super::*;
use crate::domain::InboundShipmentStatus;

/// Every field `InboundShipmentSchema` documents, as Trackstar's example shapes them.
fn full_inbound() -> serde_json::Value {
    json!({
        "id": "ib_1",
        "warehouse_customer_id": "wc_1",
        "created_date": "2024-04-01T09:00:00Z",
        "updated_date": "2024-04-03T15:30:00.250Z",
        "purchase_order_number": "PO-77",
        "status": "in-transit",
        "raw_status": "Shipped by vendor",
        "supplier": "Old Supplier Field",
        "supplier_object": {"supplier_id": "sup_9", "supplier_name": "Acme Textiles"},
        "expected_arrival_date": "2024-04-10T00:00:00Z",
        "warehouse_id": "wh_1",
        "line_items": [
            {"inventory_item_id": "inv_1", "sku": "TEE-1", "expected_quantity": 100,
             "received_quantity": 40, "unit_cost": 2.5, "external_id": "V-TEE-1"},
            {"inventory_item_id": "inv_2", "sku": "TEE-2", "expected_quantity": "50",
             "received_quantity": null, "unit_cost": null, "external_id": null}
        ],
        "receipts": [
            {"id": "rcpt_1", "arrived_date": "2024-04-03T15:00:00Z",
             "line_items": [{"inventory_item_id": "inv_1", "sku": "TEE-1", "quantity": 40}]}
        ],
        "ship_from_address": {"address1": "1 Mill Road", "address2": "", "address3": null,
                              "city": "Leeds", "state": "WYK", "postal_code": "LS1 1AA",
                              "country": "GB"},
        "tracking_numbers": ["1Z111", "1Z222"],
        "notes": ["call Jane Roe on arrival"],
        "external_system_url": "https://wms.example/asn/1",
        "trackstar_tags": ["spring", {"lane": "b"}],
        "additional_fields": {"dock": 4}
    })
}

#[test]
fn a_full_inbound_shipment_converts_with_lines_receipts_and_supplier() {
    // given a shipment carrying every documented field
    let wire: TrackstarInboundShipment = serde_json::from_value(full_inbound()).unwrap();
    assert_eq!(wire.id.as_deref(), Some("ib_1"));
    assert_eq!(wire.warehouse_customer_id.as_deref(), Some("wc_1"));
    // when converted
    let ib = wire.into_domain(&ctx("GBP")).unwrap();
    // then every field lands, owners come from the context
    assert_eq!(ib.id.as_str(), "ib_1");
    assert_eq!(ib.tenant_id.as_str(), "t1");
    assert_eq!(ib.brand_id.as_ref().unwrap().as_str(), "b1");
    assert_eq!(ib.connection_id.as_str(), "conn_1");
    assert_eq!(ib.warehouse_customer_id.unwrap().as_str(), "wc_1");
    assert_eq!(ib.warehouse_id.unwrap().as_str(), "wh_1");
    assert_eq!(ib.purchase_order_number.as_deref(), Some("PO-77"));
    assert_eq!(ib.supplier.as_deref(), Some("Acme Textiles"));
    assert_eq!(ib.supplier_id.as_deref(), Some("sup_9"));
    assert_eq!(ib.status, InboundShipmentStatus::InTransit);
    assert_eq!(ib.raw_status.as_deref(), Some("Shipped by vendor"));
    assert_eq!(
        ib.expected_arrival_date.unwrap().to_rfc3339(),
        "2024-04-10T00:00:00Z"
    );
    assert_eq!(ib.tracking_numbers, vec!["1Z111", "1Z222"]);
    assert_eq!(ib.line_items.len(), 2);
    let first = &ib.line_items[0];
    assert_eq!(first.sku.as_str(), "TEE-1");
    assert_eq!(first.inventory_item_id.as_ref().unwrap().as_str(), "inv_1");
    assert_eq!(
        (first.expected_quantity, first.received_quantity),
        (100, 40)
    );
    assert_eq!(first.unit_cost.unwrap().minor(), 250);
    assert_eq!(first.unit_cost.unwrap().currency().code(), "GBP");
    assert_eq!(first.external_id.as_deref(), Some("V-TEE-1"));
    let second = &ib.line_items[1];
    assert_eq!(
        (second.expected_quantity, second.received_quantity),
        (50, 0)
    );
    assert_eq!(second.unit_cost, None);
    assert_eq!(ib.receipts.len(), 1);
    assert_eq!(ib.receipts[0].receipt_id, "rcpt_1");
    assert_eq!(
        ib.receipts[0].arrived_date.unwrap().to_rfc3339(),
        "2024-04-03T15:00:00Z"
    );
    assert_eq!(ib.receipts[0].line_items.len(), 1);
    assert_eq!(ib.receipts[0].line_items[0].quantity, 40);
    let from = ib.ship_from_address.as_ref().unwrap();
    assert_eq!(from.city.as_deref(), Some("Leeds"));
    assert_eq!(from.address2, None);
    assert_eq!(ib.notes, vec!["call Jane Roe on arrival"]);
    assert_eq!(
        ib.external_system_url.as_deref(),
        Some("https://wms.example/asn/1")
    );
    assert_eq!(ib.tags, vec!["spring", r#"{"lane":"b"}"#]);
    assert_eq!(ib.updated_date.to_rfc3339(), "2024-04-03T15:30:00.250Z");
}

#[test]
fn a_minimal_inbound_shipment_converts_with_empty_collections() {
    // given only an id and the two dates
    let wire: TrackstarInboundShipment = serde_json::from_value(json!({
        "id": "ib_2", "created_date": "2024-04-01T00:00:00Z",
        "updated_date": "2024-04-01T00:00:00Z"
    }))
    .unwrap();
    // when
    let ib = wire.into_domain(&ctx("USD")).unwrap();
    // then nothing is invented
    assert_eq!(ib.status, InboundShipmentStatus::Other);
    assert_eq!(ib.raw_status, None);
    assert_eq!(ib.warehouse_id, None);
    assert_eq!(ib.supplier, None);
    assert!(ib.line_items.is_empty());
    assert!(ib.receipts.is_empty());
    assert!(ib.tracking_numbers.is_empty());
    assert_eq!(ib.ship_from_address, None);
}

#[test]
fn the_deprecated_supplier_string_is_read_when_no_supplier_object_came() {
    let mut body = full_inbound();
    body["supplier_object"] = json!(null);
    let ib = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(ib.supplier.as_deref(), Some("Old Supplier Field"));
    assert_eq!(ib.supplier_id, None);
}

#[test]
fn snake_case_in_transit_and_every_documented_status_map() {
    for (word, expected) in [
        ("open", InboundShipmentStatus::Open),
        ("in-transit", InboundShipmentStatus::InTransit),
        ("in_transit", InboundShipmentStatus::InTransit),
        ("receiving", InboundShipmentStatus::Receiving),
        ("received", InboundShipmentStatus::Received),
        ("cancelled", InboundShipmentStatus::Cancelled),
        ("other", InboundShipmentStatus::Other),
    ] {
        let mut body = full_inbound();
        body["status"] = json!(word);
        let ib = serde_json::from_value::<TrackstarInboundShipment>(body)
            .unwrap()
            .into_domain(&ctx("USD"))
            .unwrap();
        assert_eq!(ib.status, expected, "status word {word}");
    }
}

#[test]
fn an_unknown_status_becomes_other_and_keeps_the_wms_word() {
    // given an unknown status, with and without a raw status
    let mut body = full_inbound();
    body["status"] = json!("docked");
    let ib = serde_json::from_value::<TrackstarInboundShipment>(body.clone())
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    // then other, with the raw status kept
    assert_eq!(ib.status, InboundShipmentStatus::Other);
    assert_eq!(ib.raw_status.as_deref(), Some("Shipped by vendor"));
    // and when no raw status came, the unknown word is kept in its place
    body["raw_status"] = json!(null);
    let ib = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(ib.raw_status.as_deref(), Some("docked"));
}

#[test]
fn a_missing_or_bad_id_and_a_missing_updated_date_are_typed_errors() {
    let mut body = full_inbound();
    body["id"] = json!(null);
    let missing_id = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"));
    assert!(matches!(missing_id, Err(ConversionError::Missing("id"))));

    let mut body = full_inbound();
    body["id"] = json!("ib#1");
    let bad_id = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"));
    assert!(matches!(
        bad_id,
        Err(ConversionError::Id { field: "id", .. })
    ));

    let mut body = full_inbound();
    body["updated_date"] = json!(null);
    let no_date = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"));
    assert!(matches!(
        no_date,
        Err(ConversionError::Missing("updated_date"))
    ));

    let mut body = full_inbound();
    body["updated_date"] = json!("yesterday");
    let bad_date = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"));
    assert!(matches!(
        bad_date,
        Err(ConversionError::Timestamp {
            field: "updated_date",
            ..
        })
    ));
}

#[test]
fn a_line_without_a_sku_or_a_receipt_without_an_id_names_the_field() {
    let mut body = full_inbound();
    body["line_items"][0]["sku"] = json!(null);
    let err = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("line_items.sku")));

    let mut body = full_inbound();
    body["receipts"][0]["id"] = json!("");
    let err = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("receipts.id")));

    let mut body = full_inbound();
    body["warehouse_id"] = json!("wh 1");
    let err = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(
        err,
        ConversionError::Id {
            field: "warehouse_id",
            ..
        }
    ));
}

#[test]
fn unit_costs_are_minor_units_of_the_fallback_currency() {
    // given the same unit cost read in JPY (no minor unit digits) and KWD (three)
    let mut body = full_inbound();
    body["line_items"][0]["unit_cost"] = json!(1.234);
    let kwd = serde_json::from_value::<TrackstarInboundShipment>(body.clone())
        .unwrap()
        .into_domain(&ctx("KWD"))
        .unwrap();
    assert_eq!(kwd.line_items[0].unit_cost.unwrap().minor(), 1234);
    body["line_items"][0]["unit_cost"] = json!("1500");
    let jpy = serde_json::from_value::<TrackstarInboundShipment>(body)
        .unwrap()
        .into_domain(&ctx("JPY"))
        .unwrap();
    assert_eq!(jpy.line_items[0].unit_cost.unwrap().minor(), 1500);
}

#[test]
fn debug_hides_notes_and_the_ship_from_street() {
    let wire: TrackstarInboundShipment = serde_json::from_value(full_inbound()).unwrap();
    let shown = format!("{wire:?}");
    assert!(!shown.contains("Jane"), "wire Debug leaked a note");
    assert!(!shown.contains("Mill Road"), "wire Debug leaked the street");
    assert!(shown.contains("ib_1"));
    let ib = wire.into_domain(&ctx("USD")).unwrap();
    let shown = format!("{ib:?}");
    assert!(!shown.contains("Jane"), "domain Debug leaked a note");
    assert!(
        !shown.contains("Mill Road"),
        "domain Debug leaked the street"
    );
    assert!(shown.contains("PO-77"));
}

#[test]
fn a_page_of_inbound_shipments_skips_an_undecodable_entry() {
    let body = json!({"data": [full_inbound(), 7, {"id": "ib_3"}], "next_token": null});
    let page: Page<TrackstarInboundShipment> =
        decode_page(body.to_string().as_bytes(), None).unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.skipped, 1);
}
