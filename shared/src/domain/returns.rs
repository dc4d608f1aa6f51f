//! Returns: goods coming back from a brand's customers (Trackstar's `ReturnSchema`,
//! tenant- and brand-scoped).

use serde::{Deserialize, Serialize};

use super::{
    BrandId, ConnectionId, InventoryItemId, Money, OrderId, ReturnId, ReturnStatus, Sku, TenantId,
    Timestamp, WarehouseCustomerId, WarehouseId,
};

/// One SKU on the return. `return_reason` is the customer's free text: `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnLineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<InventoryItemId>,
    pub sku: Sku,
    /// Trackstar's deprecated overall quantity (kept: some WMSes send only this).
    #[serde(default)]
    pub quantity: i64,
    #[serde(default)]
    pub expected_quantity: i64,
    #[serde(default)]
    pub received_quantity: i64,
    #[serde(default)]
    pub restocked_quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_reason: Option<String>,
}

crate::redacted_debug!(ReturnLineItem {
    inventory_item_id, sku, quantity, expected_quantity, received_quantity, restocked_quantity;
    return_reason
});

/// How many units of a shipment's line arrived in which condition, and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnReceivingDetail {
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// e.g. restocked or discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnShipmentLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<InventoryItemId>,
    pub sku: Sku,
    pub quantity: i64,
    #[serde(default)]
    pub receiving_details: Vec<ReturnReceivingDetail>,
}

/// A parcel of the return on its way to (or arrived at) a warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReturnShipment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_id: Option<String>,
    /// The carrier's name (Trackstar's `carrier_name`, or its deprecated `carrier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_cost: Option<Money>,
    #[serde(default)]
    pub line_items: Vec<ReturnShipmentLine>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Return {
    pub id: ReturnId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    /// The warehouse receiving the return: its first shipment's, else its lines' (deprecated
    /// in Trackstar, but the only one some WMSes send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    /// The order the goods were shipped on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub status: ReturnStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    /// Every shipment's tracking number, in shipment order.
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
    #[serde(default)]
    pub line_items: Vec<ReturnLineItem>,
    #[serde(default)]
    pub shipments: Vec<ReturnShipment>,
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

crate::redacted_debug!(Return {
    id, tenant_id, brand_id, connection_id, warehouse_customer_id, warehouse_id, order_id,
    status, raw_status, tracking_numbers, line_items, shipments, external_system_url, tags,
    created_date, updated_date;
    notes
});
