//! Products (catalogue entries; kits reference several inventory items).

use serde::{Deserialize, Serialize};

use super::{
    BrandId, ConnectionId, InventoryItemId, Money, ProductId, Sku, TenantId, Timestamp,
    WarehouseCustomerId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductComponent {
    pub inventory_item_id: InventoryItemId,
    pub sku: Sku,
    pub unit_quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: ProductId,
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
    pub gtin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    #[serde(default)]
    pub is_kit: bool,
    #[serde(default = "default_true")]
    pub active: bool,
    #[serde(default)]
    pub inventory_items: Vec<ProductComponent>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

fn default_true() -> bool {
    true
}
