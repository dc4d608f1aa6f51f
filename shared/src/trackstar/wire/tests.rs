//! Wire → domain conversions, on bodies shaped like Trackstar's (and odder ones).

use serde_json::json;

use super::*;
use crate::domain::{ConnectionId, Currency, OrderStatus, OrderType, ShipmentStatus, TenantId};

fn ctx(fallback: &str) -> ConversionContext {
    ConversionContext {
        tenant_id: TenantId::parse("t1").unwrap(),
        brand_id: None,
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        fallback_currency: Currency::parse(fallback).unwrap(),
    }
}

fn order_json(currency: serde_json::Value, price: f64, unit: f64) -> serde_json::Value {
    json!({
        "id": "ord_1",
        "warehouse_customer_id": "wc_1",
        "warehouse_id": null,
        "created_date": "2024-03-01T10:00:00Z",
        "updated_date": "2024-03-02T10:00:00.123456Z",
        "reference_id": "R-1",
        "order_number": "1001",
        "status": "partially_fulfilled",
        "raw_status": "PartShip",
        "type": "d2c",
        "invoice_currency_code": currency,
        "total_price": price,
        "total_tax": null,
        "ship_to_address": {"full_name": "Jane Roe", "country": "JP", "address2": null},
        "line_items": [{"product_id": "p1", "sku": "TEE-1", "quantity": 2, "unit_price": unit,
                        "is_picked": true, "discount_amount": null}],
        "shipments": [{"shipment_id": "s1", "status": "shipped", "shipped_date": "2024-03-02T00:00:00Z",
                       "packages": [{"tracking_number": "1Z999"}, {"tracking_number": null}]}],
        "tags": ["vip", null],
        "brand_new_field": {"nested": [1, 2, 3]},
        "additional_fields": null
    })
}

#[test]
fn a_jpy_order_converts_with_zero_decimal_minor_units() {
    // given
    let wire: TrackstarOrder =
        serde_json::from_value(order_json(json!("JPY"), 15000.0, 7500.0)).unwrap();
    // when
    let order = wire.into_domain(&ctx("USD")).unwrap();
    // then
    assert_eq!(order.currency.unwrap().code(), "JPY");
    assert_eq!(order.totals.price.unwrap().minor(), 15000);
    assert_eq!(order.totals.tax, None);
    assert_eq!(order.line_items[0].unit_price.unwrap().minor(), 7500);
    assert_eq!(order.status, OrderStatus::PartiallyFulfilled);
    assert_eq!(order.order_type, Some(OrderType::D2c));
    assert_eq!(order.raw_status.as_deref(), Some("PartShip"));
    assert_eq!(order.shipments[0].status, ShipmentStatus::Shipped);
    assert_eq!(order.shipments[0].tracking_numbers, vec!["1Z999"]);
    assert_eq!(order.tags, vec!["vip"]);
    assert_eq!(
        order.updated_date.to_rfc3339(),
        "2024-03-02T10:00:00.123456Z"
    );
    assert_eq!(order.tenant_id.as_str(), "t1");
    assert_eq!(order.connection_id.as_str(), "conn_1");
}

#[test]
fn a_kwd_order_converts_with_three_decimal_minor_units() {
    let wire: TrackstarOrder =
        serde_json::from_value(order_json(json!("KWD"), 12.345, 1.234)).unwrap();
    let order = wire.into_domain(&ctx("USD")).unwrap();
    assert_eq!(order.totals.price.unwrap().minor(), 12345);
    assert_eq!(order.line_items[0].unit_price.unwrap().minor(), 1234);
}

#[test]
fn an_order_without_a_currency_uses_the_fallback() {
    let wire: TrackstarOrder =
        serde_json::from_value(order_json(json!(null), 19.99, 9.995)).unwrap();
    let order = wire.into_domain(&ctx("EUR")).unwrap();
    assert_eq!(order.currency.unwrap().code(), "EUR");
    assert_eq!(order.totals.price.unwrap().minor(), 1999);
    // excess precision from upstream rounds half away from zero
    assert_eq!(order.line_items[0].unit_price.unwrap().minor(), 1000);
}

#[test]
fn an_unknown_currency_code_is_an_error_not_a_guess() {
    let wire: TrackstarOrder = serde_json::from_value(order_json(json!("ZZZ"), 1.0, 1.0)).unwrap();
    assert!(matches!(
        wire.into_domain(&ctx("USD")),
        Err(ConversionError::Money {
            field: "invoice_currency_code",
            ..
        })
    ));
}

#[test]
fn unknown_status_words_become_other_and_numbers_as_strings_are_read() {
    let mut body = order_json(json!("USD"), 1.0, 1.0);
    body["status"] = json!("on_hold_by_wms");
    body["total_price"] = json!("12.50");
    body["line_items"][0]["quantity"] = json!("3");
    let order = serde_json::from_value::<TrackstarOrder>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(order.status, OrderStatus::Other);
    assert_eq!(order.totals.price.unwrap().minor(), 1250);
    assert_eq!(order.line_items[0].quantity, 3);
}

#[test]
fn a_minimal_order_decodes_and_a_missing_date_is_a_conversion_error() {
    let wire: TrackstarOrder = serde_json::from_value(json!({"id": "o9"})).unwrap();
    assert!(wire.line_items.is_empty());
    assert!(matches!(
        wire.into_domain(&ctx("USD")),
        Err(ConversionError::Missing("created_date"))
    ));
}

#[test]
fn address_debug_never_shows_personal_data() {
    let wire: TrackstarOrder = serde_json::from_value(order_json(json!("USD"), 1.0, 1.0)).unwrap();
    let shown = format!("{wire:?}");
    assert!(!shown.contains("Jane"));
}

#[test]
fn inventory_quantities_and_per_warehouse_stock_convert() {
    let wire: TrackstarInventoryItem = serde_json::from_value(json!({
        "id": "inv_1", "sku": "TEE-1", "name": "Tee", "unit_cost": 3.5, "active": null,
        "onhand": 10, "committed": 2, "fulfillable": 8, "unfulfillable": 0, "awaiting": null,
        "sellable": 8, "unsellable": 0,
        "inventory_by_warehouse_id": {"wh_1": {"onhand": 10, "committed": null}, "wh_bad": "x"},
        "created_date": "2024-01-01T00:00:00Z", "updated_date": "2024-01-02T00:00:00Z",
        "lots": null
    }))
    .unwrap();
    let item = wire.into_domain(&ctx("KWD")).unwrap();
    assert_eq!(item.quantities.onhand, 10);
    assert_eq!(item.quantities.awaiting, 0);
    assert_eq!(item.by_warehouse["wh_1"].onhand, 10);
    assert!(!item.by_warehouse.contains_key("wh_bad"));
    assert_eq!(item.unit_cost.unwrap().minor(), 3500);
    assert!(item.active);
}

#[test]
fn products_with_kit_components_convert() {
    let wire: TrackstarProduct = serde_json::from_value(json!({
        "id": "prod_1", "sku": "KIT-1", "name": "Kit", "gtin": null, "unit_price": 1500,
        "is_kit": true, "active": false,
        "inventory_items": [{"inventory_item_id": "inv_1", "sku": "TEE-1", "unit_quantity": 2}],
        "created_date": "2024-01-01T00:00:00Z", "updated_date": "2024-01-02T00:00:00Z"
    }))
    .unwrap();
    let product = wire.into_domain(&ctx("JPY")).unwrap();
    assert!(product.is_kit);
    assert!(!product.active);
    assert_eq!(product.unit_price.unwrap().minor(), 1500);
    assert_eq!(product.inventory_items[0].unit_quantity, 2);
    assert_eq!(product.gtin, None);
}

#[test]
fn pages_skip_undecodable_entries_and_read_the_cursor() {
    let body = json!({
        "data": [{"id": "o1"}, "not an order", {"id": "o2"}],
        "next_token": "tok_2",
        "total_count": 3
    });
    let page: Page<TrackstarOrder> = decode_page(body.to_string().as_bytes(), None).unwrap();
    assert_eq!(page.data.len(), 2);
    assert_eq!(page.skipped, 1);
    assert_eq!(page.next_token.as_deref(), Some("tok_2"));
    let last: Page<TrackstarOrder> = decode_page(
        br#"{"data": [], "next_token": null, "total_count": 0}"#,
        None,
    )
    .unwrap();
    assert_eq!(last.next_token, None);
}

#[test]
fn a_single_connection_is_read_from_an_object_or_a_one_element_list() {
    let object: TrackstarConnection =
        decode_single(br#"{"data": {"connection_id": "c1", "integration_name": "sandbox"}}"#)
            .unwrap();
    assert_eq!(object.connection_id.as_deref(), Some("c1"));
    let list: TrackstarConnection = decode_single(
        br#"{"data": [{"connection_id": "c2", "errors": null}], "next_token": null}"#,
    )
    .unwrap();
    assert_eq!(list.connection_id.as_deref(), Some("c2"));
}

#[test]
fn write_results_carry_id_unused_fields_and_replay_flag() {
    let body =
        br#"{"data": {"id": "o1", "status": "open"}, "id": "o1", "unused_fields": ["channel"]}"#;
    let result: WriteResult<TrackstarOrder> = decode_write(body, true, Some("req".into())).unwrap();
    assert_eq!(result.id.as_deref(), Some("o1"));
    assert_eq!(result.unused_fields, vec!["channel"]);
    assert!(result.replayed);
}
