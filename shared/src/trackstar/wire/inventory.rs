//! Trackstar's inventory item (`InventorySchema`) and its conversion into
//! `domain::InventoryItem`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::domain::{InventoryItem, InventoryItemId, Quantities, Sku, WarehouseCustomerId};

use super::context::{id, money, opt_id, timestamp, ConversionContext, ConversionError};
use super::lenient::{opt_bool, opt_f64, opt_i64, opt_string};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarInventoryItem {
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
    #[serde(deserialize_with = "opt_f64")]
    pub unit_cost: Option<f64>,
    #[serde(deserialize_with = "opt_bool")]
    pub active: Option<bool>,
    #[serde(flatten)]
    pub quantities: TrackstarQuantities,
    #[serde(deserialize_with = "warehouse_map")]
    pub inventory_by_warehouse_id: HashMap<String, TrackstarQuantities>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarQuantities {
    #[serde(deserialize_with = "opt_i64")]
    pub onhand: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub committed: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub fulfillable: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub unfulfillable: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub awaiting: Option<i64>,
    #[serde(deserialize_with = "opt_i64")]
    pub sellable: Option<i64>,
}

fn warehouse_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<HashMap<String, TrackstarQuantities>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    let serde_json::Value::Object(map) = value else {
        return Ok(HashMap::new());
    };
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|q| (k, q)))
        .collect())
}

impl From<TrackstarQuantities> for Quantities {
    fn from(q: TrackstarQuantities) -> Self {
        Quantities {
            onhand: q.onhand.unwrap_or(0),
            committed: q.committed.unwrap_or(0),
            fulfillable: q.fulfillable.unwrap_or(0),
            unfulfillable: q.unfulfillable.unwrap_or(0),
            awaiting: q.awaiting.unwrap_or(0),
            sellable: q.sellable.unwrap_or(0),
        }
    }
}

impl TrackstarInventoryItem {
    /// Inventory carries no currency: `unit_cost` is taken in the context's fallback.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<InventoryItem, ConversionError> {
        Ok(InventoryItem {
            id: id(self.id, "id", InventoryItemId::parse)?,
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
            unit_cost: money(self.unit_cost, ctx.fallback_currency, "unit_cost")?,
            active: self.active.unwrap_or(true),
            quantities: self.quantities.into(),
            by_warehouse: self
                .inventory_by_warehouse_id
                .into_iter()
                .map(|(k, v)| (k, Quantities::from(v)))
                .collect::<BTreeMap<_, _>>(),
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}
