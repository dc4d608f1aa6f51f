//! Inbound shipments (ASNs): goods a brand sends into a warehouse, what is expected and what
//! was received (Trackstar's `InboundShipmentSchema`, tenant- and brand-scoped).

use serde::{Deserialize, Serialize};

use super::{
    Address, BrandId, ConnectionId, InboundShipmentId, InboundShipmentStatus, InventoryItemId,
    Money, Sku, TenantId, Timestamp, WarehouseCustomerId, WarehouseId,
};

/// One SKU expected on the shipment, and how much of it has been received so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundLineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<InventoryItemId>,
    pub sku: Sku,
    pub expected_quantity: i64,
    #[serde(default)]
    pub received_quantity: i64,
    /// The manufacturer's cost per unit (in the connection's currency: Trackstar sends
    /// none with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<Money>,
    /// The vendor's own reference for the line (vendor SKU, reference number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// One SKU counted in a receiving event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundReceiptLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<InventoryItemId>,
    pub sku: Sku,
    pub quantity: i64,
}

/// A receiving event: goods of the shipment that arrived together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundReceipt {
    pub receipt_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_date: Option<Timestamp>,
    #[serde(default)]
    pub line_items: Vec<InboundReceiptLine>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundShipment {
    pub id: InboundShipmentId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    /// The warehouse that receives the shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_order_number: Option<String>,
    /// The supplier's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_id: Option<String>,
    pub status: InboundShipmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_arrival_date: Option<Timestamp>,
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
    #[serde(default)]
    pub line_items: Vec<InboundLineItem>,
    #[serde(default)]
    pub receipts: Vec<InboundReceipt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_from_address: Option<Address>,
    /// Free text written in the WMS: never shown by `Debug`.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_system_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

crate::redacted_debug!(InboundShipment {
    id, tenant_id, brand_id, connection_id, warehouse_customer_id, warehouse_id,
    purchase_order_number, supplier, supplier_id, status, raw_status, expected_arrival_date,
    tracking_numbers, line_items, receipts, ship_from_address, external_system_url, tags,
    created_date, updated_date;
    notes
});
