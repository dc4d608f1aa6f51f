//! Trackstar's product (`ProductSchema`) and its conversion into `domain::Product`.

use serde::Deserialize;

use crate::domain::{
    InventoryItemId, Product, ProductComponent, ProductId, Sku, WarehouseCustomerId,
};

use super::context::{id, money, opt_id, timestamp, ConversionContext, ConversionError};
use super::lenient::{lenient_list, opt_bool, opt_f64, opt_i64, opt_string, string_list};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarProduct {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_customer_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub gtin: Option<String>,
    #[serde(deserialize_with = "opt_f64")]
    pub unit_price: Option<f64>,
    #[serde(deserialize_with = "lenient_list")]
    pub inventory_items: Vec<TrackstarProductInventoryItem>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_kit: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub active: Option<bool>,
    #[serde(deserialize_with = "string_list")]
    pub trackstar_tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarProductInventoryItem {
    #[serde(deserialize_with = "opt_string")]
    pub inventory_item_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub unit_quantity: Option<i64>,
}

impl TrackstarProduct {
    /// Products carry no currency: `unit_price` is taken in the context's fallback.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<Product, ConversionError> {
        let inventory_items = self
            .inventory_items
            .into_iter()
            .map(|c| {
                Ok(ProductComponent {
                    inventory_item_id: id(
                        c.inventory_item_id,
                        "inventory_items.inventory_item_id",
                        InventoryItemId::parse,
                    )?,
                    sku: id(c.sku, "inventory_items.sku", Sku::parse)?,
                    unit_quantity: c.unit_quantity.unwrap_or(1),
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        Ok(Product {
            id: id(self.id, "id", ProductId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            brand_id: ctx.brand_id.clone(),
            connection_id: ctx.connection_id.clone(),
            warehouse_customer_id: opt_id(
                self.warehouse_customer_id,
                "warehouse_customer_id",
                WarehouseCustomerId::parse,
            )?,
            sku: id(self.sku, "sku", Sku::parse)?,
            name: self.name,
            gtin: self.gtin,
            unit_price: money(self.unit_price, ctx.fallback_currency, "unit_price")?,
            is_kit: self.is_kit.unwrap_or(false),
            active: self.active.unwrap_or(true),
            inventory_items,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}
