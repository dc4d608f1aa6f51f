//! Inventory items: stock of one SKU, overall and per warehouse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    BrandId, ConnectionId, InventoryItemId, Money, Sku, TenantId, Timestamp, WarehouseCustomerId,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quantities {
    #[serde(default)]
    pub onhand: i64,
    #[serde(default)]
    pub committed: i64,
    #[serde(default)]
    pub fulfillable: i64,
    #[serde(default)]
    pub unfulfillable: i64,
    #[serde(default)]
    pub awaiting: i64,
    #[serde(default)]
    pub sellable: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryItem {
    pub id: InventoryItemId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    pub sku: Sku,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<Money>,
    #[serde(default = "default_true")]
    pub active: bool,
    #[serde(default)]
    pub quantities: Quantities,
    #[serde(default)]
    pub by_warehouse: BTreeMap<String, Quantities>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

fn default_true() -> bool {
    true
}
