//! Warehouse, shipping method and bill conversions, on bodies shaped like Trackstar's
//! `WarehouseSchema`, `ShippingMethodSchema` and `BillSchema`.

use serde_json::json;

use super::test_support::ctx;
use super::*;

fn full_warehouse() -> serde_json::Value {
    json!({
        "id": "wh_1",
        "created_date": "2023-01-01T00:00:00Z",
        "updated_date": "2024-01-01T00:00:00Z",
        "name": "Reno DC",
        "code": "RNO",
        "address": {"address1": "100 Dock St", "address2": "", "address3": "",
                    "city": "Reno", "state": "NV", "postal_code": "89501", "country": "US"},
        "trackstar_tags": ["west"],
        "additional_fields": {}
    })
}

fn full_shipping_method() -> serde_json::Value {
    json!({
        "id": "sm_1",
        "created_date": "2023-01-01T00:00:00Z",
        "updated_date": "2024-01-01T00:00:00Z",
        "name": "UPS Ground",
        "carrier": "ups",
        "carrier_id": "car_ups",
        "carrier_name": "UPS",
        "scac": "UPSN",
        "additional_fields": null
    })
}

fn full_bill() -> serde_json::Value {
    json!({
        "id": "bill_1",
        "warehouse_customer_id": "wc_1",
        "created_date": "2024-06-01T00:00:00Z",
        "updated_date": "2024-06-02T00:00:00Z",
        "object_id": "ord_1",
        "object_type": "order",
        "charge_type": "pick_fee",
        "amount": 12.5,
        "currency_code": "EUR",
        "additional_fields": {}
    })
}

#[test]
fn a_full_warehouse_converts_tenant_wide_with_its_address() {
    // given
    let wire: TrackstarWarehouse = serde_json::from_value(full_warehouse()).unwrap();
    assert_eq!(wire.id.as_deref(), Some("wh_1"));
    assert_eq!(wire.warehouse_customer_id(), None);
    // when converted with a brand in the context
    let wh = wire.into_domain(&ctx("USD")).unwrap();
    // then it is the tenant's, not the brand's
    assert_eq!(wh.id.as_str(), "wh_1");
    assert_eq!(wh.tenant_id.as_str(), "t1");
    assert_eq!(wh.connection_id.as_str(), "conn_1");
    assert_eq!(wh.name.as_deref(), Some("Reno DC"));
    assert_eq!(wh.code.as_deref(), Some("RNO"));
    let address = wh.address.as_ref().unwrap();
    assert_eq!(address.address1.as_deref(), Some("100 Dock St"));
    assert_eq!(address.address2, None);
    assert_eq!(address.city.as_deref(), Some("Reno"));
    assert_eq!(address.country.as_deref(), Some("US"));
    assert_eq!(address.full_name, None);
    assert_eq!(wh.tags, vec!["west"]);
    let json = serde_json::to_value(&wh).unwrap();
    assert!(json.get("brand_id").is_none());
}

#[test]
fn a_minimal_warehouse_has_no_address_and_bad_ids_or_dates_fail_typed() {
    let wh = serde_json::from_value::<TrackstarWarehouse>(json!({
        "id": "wh_2", "address": {"address1": null, "city": ""},
        "created_date": "2023-01-01T00:00:00Z", "updated_date": "2023-01-01T00:00:00Z"
    }))
    .unwrap()
    .into_domain(&ctx("USD"))
    .unwrap();
    assert_eq!(wh.address, None);
    assert_eq!(wh.name, None);

    let mut body = full_warehouse();
    body["id"] = json!("wh#2");
    let err = serde_json::from_value::<TrackstarWarehouse>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Id { field: "id", .. }));
    let mut body = full_warehouse();
    body["updated_date"] = json!(null);
    let err = serde_json::from_value::<TrackstarWarehouse>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("updated_date")));
}

#[test]
fn a_shipping_method_converts_with_the_carrier_name_before_the_deprecated_carrier() {
    let wire: TrackstarShippingMethod = serde_json::from_value(full_shipping_method()).unwrap();
    assert_eq!(wire.id.as_deref(), Some("sm_1"));
    assert_eq!(wire.warehouse_customer_id(), None);
    let sm = wire.into_domain(&ctx("USD")).unwrap();
    assert_eq!(sm.id.as_str(), "sm_1");
    assert_eq!(sm.name.as_deref(), Some("UPS Ground"));
    assert_eq!(sm.carrier.as_deref(), Some("UPS"));
    assert_eq!(sm.carrier_id.as_deref(), Some("car_ups"));
    assert_eq!(sm.scac.as_deref(), Some("UPSN"));
    // with only the deprecated field, that is the carrier
    let mut body = full_shipping_method();
    body["carrier_name"] = json!(null);
    let sm = serde_json::from_value::<TrackstarShippingMethod>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(sm.carrier.as_deref(), Some("ups"));
}

#[test]
fn a_minimal_shipping_method_converts_and_a_missing_id_or_date_fails_typed() {
    let sm = serde_json::from_value::<TrackstarShippingMethod>(json!({
        "id": "sm_2", "created_date": "2023-01-01T00:00:00Z",
        "updated_date": "2023-01-01T00:00:00Z"
    }))
    .unwrap()
    .into_domain(&ctx("USD"))
    .unwrap();
    assert_eq!((sm.name, sm.carrier, sm.scac), (None, None, None));
    let err = serde_json::from_value::<TrackstarShippingMethod>(json!({
        "created_date": "2023-01-01T00:00:00Z", "updated_date": "2023-01-01T00:00:00Z"
    }))
    .unwrap()
    .into_domain(&ctx("USD"))
    .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("id")));
    let mut body = full_shipping_method();
    body["updated_date"] = json!("");
    let err = serde_json::from_value::<TrackstarShippingMethod>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("updated_date")));
}

#[test]
fn a_bill_converts_its_amount_to_minor_units_of_its_own_currency() {
    // given a EUR bill read with a USD fallback
    let wire: TrackstarBill = serde_json::from_value(full_bill()).unwrap();
    assert_eq!(wire.id.as_deref(), Some("bill_1"));
    assert_eq!(wire.warehouse_customer_id.as_deref(), Some("wc_1"));
    // when
    let bill = wire.into_domain(&ctx("USD")).unwrap();
    // then the bill's own currency wins
    assert_eq!(bill.id.as_str(), "bill_1");
    assert_eq!(bill.brand_id.as_ref().unwrap().as_str(), "b1");
    assert_eq!(bill.warehouse_customer_id.unwrap().as_str(), "wc_1");
    assert_eq!(bill.currency.code(), "EUR");
    assert_eq!(bill.amount.unwrap().minor(), 1250);
    assert_eq!(bill.amount.unwrap().currency().code(), "EUR");
    assert_eq!(bill.object_id.as_deref(), Some("ord_1"));
    assert_eq!(bill.object_type.as_deref(), Some("order"));
    assert_eq!(bill.charge_type.as_deref(), Some("pick_fee"));
    assert_eq!(bill.created_date.to_rfc3339(), "2024-06-01T00:00:00Z");
}

#[test]
fn bills_in_zero_and_three_decimal_currencies_and_without_one() {
    let mut body = full_bill();
    body["currency_code"] = json!("JPY");
    body["amount"] = json!(1500);
    let jpy = serde_json::from_value::<TrackstarBill>(body.clone())
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(jpy.amount.unwrap().minor(), 1500);
    body["currency_code"] = json!("KWD");
    body["amount"] = json!("2.345");
    let kwd = serde_json::from_value::<TrackstarBill>(body.clone())
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap();
    assert_eq!(kwd.amount.unwrap().minor(), 2345);
    // without a currency the context's fallback is used, as for orders
    body["currency_code"] = json!(null);
    body["amount"] = json!(19.99);
    let fallback = serde_json::from_value::<TrackstarBill>(body)
        .unwrap()
        .into_domain(&ctx("GBP"))
        .unwrap();
    assert_eq!(fallback.currency.code(), "GBP");
    assert_eq!(fallback.amount.unwrap().minor(), 1999);
}

#[test]
fn a_bill_with_an_unknown_currency_or_no_id_or_date_fails_typed() {
    let mut body = full_bill();
    body["currency_code"] = json!("ZZZ");
    let err = serde_json::from_value::<TrackstarBill>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(
        err,
        ConversionError::Money {
            field: "currency_code",
            ..
        }
    ));
    let mut body = full_bill();
    body["id"] = json!(null);
    let err = serde_json::from_value::<TrackstarBill>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("id")));
    let mut body = full_bill();
    body["updated_date"] = json!(null);
    let err = serde_json::from_value::<TrackstarBill>(body)
        .unwrap()
        .into_domain(&ctx("USD"))
        .unwrap_err();
    assert!(matches!(err, ConversionError::Missing("updated_date")));
    // a minimal bill without an amount converts
    let bill = serde_json::from_value::<TrackstarBill>(json!({
        "id": "bill_2", "created_date": "2024-06-01T00:00:00Z",
        "updated_date": "2024-06-01T00:00:00Z"
    }))
    .unwrap()
    .into_domain(&ctx("USD"))
    .unwrap();
    assert_eq!(bill.amount, None);
    assert_eq!(bill.warehouse_customer_id, None);
}
