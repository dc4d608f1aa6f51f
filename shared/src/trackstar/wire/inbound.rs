//! Inbound shipments (`InboundShipmentSchema`) and returns (`ReturnSchema`). Packr has no
//! domain types for them yet; they are read as Trackstar sends them.

use serde::Deserialize;

use super::lenient::{lenient_list, opt_i64, opt_string, string_list};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarInboundShipment {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_customer_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub purchase_order_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub raw_status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub supplier: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub expected_arrival_date: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarInboundLineItem>,
    #[serde(deserialize_with = "string_list")]
    pub tracking_numbers: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarInboundLineItem {
    #[serde(deserialize_with = "opt_string")]
    pub inventory_item_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub expected_quantity: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub received_quantity: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarReturn {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_customer_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub raw_status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub order_id: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarReturnLineItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarReturnLineItem {
    #[serde(deserialize_with = "opt_string")]
    pub inventory_item_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub quantity: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub expected_quantity: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub received_quantity: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub restocked_quantity: Option<i64>,
    #[serde(deserialize_with = "opt_string")]
    pub return_reason: Option<String>,
}
