//! Trackstar's WMS objects, field for field as in the official schemas (`OrderSchema`,
//! `InventorySchema`, `ProductSchema`, `InboundShipmentSchema`, `ReturnSchema`). Those
//! schemas forbid unknown properties, so only fields named there appear here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Timestamp = DateTime<Utc>;

pub const ORDER_STATUSES: [&str; 11] = [
    "open",
    "confirmed",
    "processing",
    "picked",
    "packed",
    "partially_fulfilled",
    "fulfilled",
    "backordered",
    "exception",
    "cancelled",
    "other",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub warehouse_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub reference_id: String,
    pub order_number: String,
    pub status: String,
    pub raw_status: Option<String>,
    pub channel: Option<String>,
    pub channel_object: Option<OrderChannel>,
    #[serde(rename = "type")]
    pub order_type: Option<String>,
    pub trading_partner: Option<String>,
    pub shipping_method: Option<String>,
    pub service_level: Option<String>,
    pub shipping_method_id: Option<String>,
    pub shipping_method_name: Option<String>,
    pub carrier_id: Option<String>,
    pub carrier_name: Option<String>,
    pub scac: Option<String>,
    pub invoice_currency_code: String,
    pub total_price: Option<f64>,
    pub total_tax: Option<f64>,
    pub total_discount: Option<f64>,
    pub total_shipping: Option<f64>,
    pub ship_to_address: Address,
    pub line_items: Vec<OrderLineItem>,
    pub tags: Vec<String>,
    pub required_ship_date: Option<Timestamp>,
    pub saturday_delivery: Option<bool>,
    pub signature_required: Option<bool>,
    pub shipments: Vec<OrderShipment>,
    pub external_system_url: Option<String>,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderChannel {
    pub channel_id: String,
    pub channel_name: Option<String>,
}

/// `ShipToAddress`: every key present, unset ones `null`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Address {
    pub full_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub phone_number: Option<String>,
    pub email_address: Option<String>,
}

/// `ShipFromAddress`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShipFromAddress {
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineItem {
    pub product_id: String,
    pub sku: Option<String>,
    pub quantity: i64,
    pub unit_price: Option<f64>,
    pub is_picked: bool,
    pub discount_amount: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderShipment {
    pub shipment_id: String,
    pub warehouse_id: String,
    pub raw_status: Option<String>,
    /// open | shipped | cancelled | other
    pub status: String,
    pub shipped_date: Option<Timestamp>,
    pub shipping_method: Option<String>,
    pub line_items: Vec<ShipmentLineItem>,
    pub ship_to_address: Address,
    pub ship_from_address: ShipFromAddress,
    pub packages: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub quantity: i64,
    pub parent_product_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub package_id: String,
    pub package_name: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub shipping_method: Option<String>,
    pub carrier: Option<String>,
    pub shipping_method_id: Option<String>,
    pub shipping_method_name: Option<String>,
    pub carrier_id: Option<String>,
    pub carrier_name: Option<String>,
    pub scac: Option<String>,
    pub shipping_cost: Option<f64>,
    pub measurements: Measurements,
    pub line_items: Vec<PackageLineItem>,
}

/// `PackageMeasurements`, `InventoryItemMeasurements`, `ProductMeasurements`, `ShipmentMeasurements`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measurements {
    pub length: Option<f64>,
    pub width: Option<f64>,
    pub height: Option<f64>,
    /// cm | in
    pub unit: Option<String>,
    pub weight: Option<f64>,
    /// kg | oz | lb
    pub weight_unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub quantity: i64,
    pub lot_id: Option<String>,
    pub expiration_date: Option<Timestamp>,
    pub parent_product_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryItem {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub name: String,
    pub sku: Option<String>,
    pub unit_cost: Option<f64>,
    pub active: bool,
    pub awaiting: i64,
    pub onhand: i64,
    pub committed: i64,
    pub unfulfillable: i64,
    pub fulfillable: i64,
    pub unsellable: i64,
    pub sellable: i64,
    pub substitute_skus: Vec<String>,
    pub inventory_by_warehouse_id: BTreeMap<String, WarehouseQuantities>,
    pub lots: Vec<serde_json::Value>,
    pub measurements: Measurements,
    pub locations: Vec<Location>,
    pub external_system_url: Option<String>,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

/// `InventoryInWarehouse`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WarehouseQuantities {
    pub awaiting: i64,
    pub onhand: i64,
    pub committed: i64,
    pub unfulfillable: i64,
    pub fulfillable: i64,
    pub unsellable: i64,
    pub sellable: i64,
}

impl WarehouseQuantities {
    /// Quantities where `onhand = fulfillable + unfulfillable` and `fulfillable = sellable + committed`.
    pub fn from_counts(onhand: i64, committed: i64, unfulfillable: i64, awaiting: i64) -> Self {
        let unfulfillable = unfulfillable.clamp(0, onhand.max(0));
        let fulfillable = (onhand - unfulfillable).max(0);
        let committed = committed.clamp(0, fulfillable);
        Self {
            awaiting: awaiting.max(0),
            onhand: onhand.max(0),
            committed,
            unfulfillable,
            fulfillable,
            unsellable: unfulfillable,
            sellable: fulfillable - committed,
        }
    }
}

impl InventoryItem {
    /// Recomputes the totals from `inventory_by_warehouse_id`.
    pub fn recompute_totals(&mut self) {
        let mut t = WarehouseQuantities::default();
        for q in self.inventory_by_warehouse_id.values() {
            t.awaiting += q.awaiting;
            t.onhand += q.onhand;
            t.committed += q.committed;
            t.unfulfillable += q.unfulfillable;
            t.fulfillable += q.fulfillable;
            t.unsellable += q.unsellable;
            t.sellable += q.sellable;
        }
        self.awaiting = t.awaiting;
        self.onhand = t.onhand;
        self.committed = t.committed;
        self.unfulfillable = t.unfulfillable;
        self.fulfillable = t.fulfillable;
        self.unsellable = t.unsellable;
        self.sellable = t.sellable;
        self.locations = self
            .inventory_by_warehouse_id
            .iter()
            .map(|(warehouse_id, q)| Location {
                location_id: format!("{warehouse_id}-A01"),
                quantity: q.onhand,
                warehouse_id: warehouse_id.clone(),
            })
            .collect();
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub location_id: String,
    pub quantity: i64,
    pub warehouse_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub name: String,
    pub sku: Option<String>,
    pub gtin: Option<String>,
    pub unit_price: Option<f64>,
    pub inventory_items: Vec<ProductInventoryItem>,
    pub is_kit: bool,
    pub active: bool,
    pub supplier: Option<String>,
    pub country_of_origin: Option<String>,
    pub harmonized_code: Option<String>,
    pub external_system_url: Option<String>,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductInventoryItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub unit_quantity: i64,
}

/// open | in-transit | receiving | received | cancelled | other
pub const INBOUND_STATUSES: [&str; 6] = [
    "open",
    "in-transit",
    "receiving",
    "received",
    "cancelled",
    "other",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundShipment {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub purchase_order_number: Option<String>,
    pub status: String,
    pub raw_status: Option<String>,
    pub supplier: Option<String>,
    pub expected_arrival_date: Option<Timestamp>,
    pub warehouse_id: Option<String>,
    pub line_items: Vec<InboundLineItem>,
    pub receipts: Vec<InboundReceipt>,
    pub ship_from_address: ShipFromAddress,
    pub tracking_numbers: Vec<String>,
    pub notes: Vec<String>,
    pub external_system_url: Option<String>,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub expected_quantity: i64,
    pub received_quantity: i64,
    pub unit_cost: Option<f64>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundReceipt {
    pub id: String,
    pub arrived_date: Timestamp,
    pub line_items: Vec<InboundReceiptLineItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundReceiptLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Return {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub status: String,
    pub raw_status: Option<String>,
    pub order_id: Option<String>,
    pub notes: Vec<String>,
    pub line_items: Vec<ReturnLineItem>,
    pub shipments: Vec<ReturnShipment>,
    pub external_system_url: Option<String>,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub expected_quantity: i64,
    pub received_quantity: i64,
    pub restocked_quantity: Option<i64>,
    pub return_reason: Option<String>,
    pub quantity: i64,
    pub warehouse_id: Option<String>,
    pub returned_date: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnShipment {
    pub tracking_number: Option<String>,
    pub shipped_date: Option<Timestamp>,
    pub arrived_date: Option<Timestamp>,
    pub warehouse_id: Option<String>,
    pub carrier: Option<String>,
    pub carrier_id: Option<String>,
    pub carrier_name: Option<String>,
    pub scac: Option<String>,
    pub shipping_cost: Option<f64>,
    pub measurements: Measurements,
    pub line_items: Vec<ReturnShipmentLineItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnShipmentLineItem {
    pub inventory_item_id: String,
    pub sku: Option<String>,
    pub quantity: i64,
    pub receiving_details: Vec<ReceivingDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivingDetails {
    pub quantity: i64,
    pub condition: Option<String>,
    pub disposition: Option<String>,
}

/// `WarehouseSchema`: tenant-wide (no warehouse customer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warehouse {
    pub id: String,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub name: String,
    pub code: Option<String>,
    pub address: ShipFromAddress,
    pub trackstar_tags: Option<Vec<serde_json::Value>>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

/// `ShippingMethodSchema`: tenant-wide (no warehouse customer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingMethod {
    pub id: String,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub name: String,
    /// Deprecated by Trackstar in favour of `carrier_id`, still sent.
    pub carrier: Option<String>,
    pub carrier_id: Option<String>,
    pub carrier_name: Option<String>,
    pub scac: Option<String>,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}

/// `BillSchema`: one charge to a warehouse customer. `amount` is a decimal number in
/// `currency_code` (Trackstar's money shape; see [`super::money`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bill {
    pub id: String,
    pub warehouse_customer_id: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    pub object_id: Option<String>,
    pub object_type: Option<String>,
    pub charge_type: String,
    pub amount: f64,
    pub currency_code: String,
    pub additional_fields: BTreeMap<String, serde_json::Value>,
}
