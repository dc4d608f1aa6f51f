//! Trackstar's warehouse (`WarehouseSchema`) and shipping method (`ShippingMethodSchema`),
//! tenant-wide reference data, and their conversions into `domain::Warehouse` and
//! `domain::ShippingMethod`.

use serde::Deserialize;

use crate::domain::{ShippingMethod, ShippingMethodId, Warehouse, WarehouseId};

use super::context::{id, timestamp, ConversionContext, ConversionError};
use super::fields::some_address;
use super::lenient::{lenient_opt, opt_string, string_list};
use super::order::TrackstarAddress;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarWarehouse {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub code: Option<String>,
    #[serde(deserialize_with = "lenient_opt")]
    pub address: Option<TrackstarAddress>,
    #[serde(deserialize_with = "string_list")]
    pub trackstar_tags: Vec<String>,
}

impl TrackstarWarehouse {
    /// Warehouses belong to the whole tenant, never to one warehouse customer.
    pub fn warehouse_customer_id(&self) -> Option<String> {
        None
    }

    /// The context's brand is not used: a warehouse is tenant-wide.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<Warehouse, ConversionError> {
        Ok(Warehouse {
            id: id(self.id, "id", WarehouseId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            connection_id: ctx.connection_id.clone(),
            name: self.name,
            code: self.code,
            address: some_address(self.address),
            tags: self.trackstar_tags,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarShippingMethod {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Deprecated by Trackstar in favour of `carrier_id` / `carrier_name`.
    #[serde(deserialize_with = "opt_string")]
    pub carrier: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub carrier_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub carrier_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub scac: Option<String>,
}

impl TrackstarShippingMethod {
    /// Shipping methods belong to the whole tenant, never to one warehouse customer.
    pub fn warehouse_customer_id(&self) -> Option<String> {
        None
    }

    /// The context's brand is not used: a shipping method is tenant-wide.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<ShippingMethod, ConversionError> {
        Ok(ShippingMethod {
            id: id(self.id, "id", ShippingMethodId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            connection_id: ctx.connection_id.clone(),
            name: self.name,
            carrier_id: self.carrier_id,
            carrier: self.carrier_name.or(self.carrier),
            scac: self.scac,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}
