//! Trackstar's return (`ReturnSchema`) and its conversion into `domain::Return`.

use serde::Deserialize;

use crate::domain::{
    InventoryItemId, OrderId, Return, ReturnId, ReturnLineItem, ReturnReceivingDetail,
    ReturnShipment, ReturnShipmentLine, ReturnStatus, Sku, WarehouseCustomerId, WarehouseId,
};

use super::context::{
    id, money, opt_id, opt_timestamp, timestamp, ConversionContext, ConversionError,
};
use super::fields::raw_or_unknown;
use super::lenient::{lenient_list, opt_f64, opt_i64, opt_string, string_list};

#[derive(Clone, Default, Deserialize)]
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
    #[serde(deserialize_with = "lenient_list")]
    pub shipments: Vec<TrackstarReturnShipment>,
    #[serde(deserialize_with = "string_list")]
    pub notes: Vec<String>,
    #[serde(deserialize_with = "opt_string")]
    pub external_system_url: Option<String>,
    #[serde(deserialize_with = "string_list")]
    pub trackstar_tags: Vec<String>,
}

crate::redacted_debug!(TrackstarReturn {
    id, warehouse_customer_id, created_date, updated_date, status, raw_status, order_id,
    line_items, shipments, external_system_url, trackstar_tags;
    notes
});

#[derive(Clone, Default, Deserialize)]
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
    /// Deprecated by Trackstar in favour of the shipments' `warehouse_id`.
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_id: Option<String>,
}

crate::redacted_debug!(TrackstarReturnLineItem {
    inventory_item_id, sku, quantity, expected_quantity, received_quantity, restocked_quantity,
    warehouse_id;
    return_reason
});

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarReturnShipment {
    #[serde(deserialize_with = "opt_string")]
    pub tracking_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub shipped_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub arrived_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_id: Option<String>,
    /// Deprecated by Trackstar in favour of `carrier_id` / `carrier_name`.
    #[serde(deserialize_with = "opt_string")]
    pub carrier: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub carrier_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub carrier_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub scac: Option<String>,
    #[serde(deserialize_with = "opt_f64")]
    pub shipping_cost: Option<f64>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarReturnShipmentLineItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarReturnShipmentLineItem {
    #[serde(deserialize_with = "opt_string")]
    pub inventory_item_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub quantity: Option<i64>,
    #[serde(deserialize_with = "lenient_list")]
    pub receiving_details: Vec<TrackstarReceivingDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarReceivingDetails {
    #[serde(deserialize_with = "opt_i64")]
    pub quantity: Option<i64>,
    #[serde(deserialize_with = "opt_string")]
    pub condition: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub disposition: Option<String>,
}

impl TrackstarReturn {
    /// Returns carry no currency: shipping costs are taken in the context's fallback.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<Return, ConversionError> {
        let status = self
            .status
            .as_deref()
            .map_or(ReturnStatus::Other, ReturnStatus::from_wire);
        let raw_status = raw_or_unknown(
            self.raw_status,
            self.status.as_deref(),
            status == ReturnStatus::Other,
        );
        // the warehouse: the first shipment's, else the first line's (deprecated field)
        let warehouse = self
            .shipments
            .iter()
            .find_map(|s| s.warehouse_id.clone())
            .or_else(|| self.line_items.iter().find_map(|l| l.warehouse_id.clone()));
        let tracking_numbers = self
            .shipments
            .iter()
            .filter_map(|s| s.tracking_number.clone())
            .collect();
        let line_items = self
            .line_items
            .into_iter()
            .map(|line| {
                Ok(ReturnLineItem {
                    inventory_item_id: opt_id(
                        line.inventory_item_id,
                        "line_items.inventory_item_id",
                        InventoryItemId::parse,
                    )?,
                    sku: id(line.sku, "line_items.sku", Sku::parse)?,
                    quantity: line.quantity.unwrap_or(0),
                    expected_quantity: line.expected_quantity.unwrap_or(0),
                    received_quantity: line.received_quantity.unwrap_or(0),
                    restocked_quantity: line.restocked_quantity.unwrap_or(0),
                    return_reason: line.return_reason,
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        let shipments = self
            .shipments
            .into_iter()
            .map(|s| s.into_domain(ctx))
            .collect::<Result<Vec<_>, ConversionError>>()?;
        Ok(Return {
            id: id(self.id, "id", ReturnId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            brand_id: ctx.brand_id.clone(),
            connection_id: ctx.connection_id.clone(),
            warehouse_customer_id: opt_id(
                self.warehouse_customer_id,
                "warehouse_customer_id",
                WarehouseCustomerId::parse,
            )?,
            warehouse_id: opt_id(warehouse, "warehouse_id", WarehouseId::parse)?,
            order_id: opt_id(self.order_id, "order_id", OrderId::parse)?,
            status,
            raw_status,
            tracking_numbers,
            line_items,
            shipments,
            notes: self.notes,
            external_system_url: self.external_system_url,
            tags: self.trackstar_tags,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}

impl TrackstarReturnShipment {
    fn into_domain(self, ctx: &ConversionContext) -> Result<ReturnShipment, ConversionError> {
        let line_items = self
            .line_items
            .into_iter()
            .map(|line| {
                Ok(ReturnShipmentLine {
                    inventory_item_id: opt_id(
                        line.inventory_item_id,
                        "shipments.line_items.inventory_item_id",
                        InventoryItemId::parse,
                    )?,
                    sku: id(line.sku, "shipments.line_items.sku", Sku::parse)?,
                    quantity: line.quantity.unwrap_or(0),
                    receiving_details: line
                        .receiving_details
                        .into_iter()
                        .map(|d| ReturnReceivingDetail {
                            quantity: d.quantity.unwrap_or(0),
                            condition: d.condition,
                            disposition: d.disposition,
                        })
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        Ok(ReturnShipment {
            tracking_number: self.tracking_number,
            warehouse_id: opt_id(
                self.warehouse_id,
                "shipments.warehouse_id",
                WarehouseId::parse,
            )?,
            carrier_id: self.carrier_id,
            carrier: self.carrier_name.or(self.carrier),
            scac: self.scac,
            shipped_date: opt_timestamp(self.shipped_date, "shipments.shipped_date"),
            arrived_date: opt_timestamp(self.arrived_date, "shipments.arrived_date"),
            shipping_cost: money(
                self.shipping_cost,
                ctx.fallback_currency,
                "shipments.shipping_cost",
            )?,
            line_items,
        })
    }
}
