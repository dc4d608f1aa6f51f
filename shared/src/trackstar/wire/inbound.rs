//! Trackstar's inbound shipment (`InboundShipmentSchema`) and its conversion into
//! `domain::InboundShipment`.

use serde::Deserialize;

use crate::domain::{
    InboundLineItem, InboundReceipt, InboundReceiptLine, InboundShipment, InboundShipmentId,
    InboundShipmentStatus, InventoryItemId, Sku, WarehouseCustomerId, WarehouseId,
};

use super::context::{
    id, money, opt_id, opt_timestamp, required, timestamp, ConversionContext, ConversionError,
};
use super::fields::{raw_or_unknown, some_address};
use super::lenient::{lenient_list, lenient_opt, opt_f64, opt_i64, opt_string, string_list};
use super::order::TrackstarAddress;

#[derive(Clone, Default, Deserialize)]
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
    /// Deprecated by Trackstar in favour of `supplier_object`; read when that is absent.
    #[serde(deserialize_with = "opt_string")]
    pub supplier: Option<String>,
    #[serde(deserialize_with = "lenient_opt")]
    pub supplier_object: Option<TrackstarSupplier>,
    #[serde(deserialize_with = "opt_string")]
    pub expected_arrival_date: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarInboundLineItem>,
    #[serde(deserialize_with = "lenient_list")]
    pub receipts: Vec<TrackstarInboundReceipt>,
    #[serde(deserialize_with = "lenient_opt")]
    pub ship_from_address: Option<TrackstarAddress>,
    #[serde(deserialize_with = "string_list")]
    pub tracking_numbers: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    pub notes: Vec<String>,
    #[serde(deserialize_with = "opt_string")]
    pub external_system_url: Option<String>,
    #[serde(deserialize_with = "string_list")]
    pub trackstar_tags: Vec<String>,
}

crate::redacted_debug!(TrackstarInboundShipment {
    id, warehouse_customer_id, warehouse_id, created_date, updated_date, purchase_order_number,
    status, raw_status, supplier, supplier_object, expected_arrival_date, line_items, receipts,
    ship_from_address, tracking_numbers, external_system_url, trackstar_tags;
    notes
});

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarSupplier {
    #[serde(deserialize_with = "opt_string")]
    pub supplier_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub supplier_name: Option<String>,
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
    #[serde(deserialize_with = "opt_f64")]
    pub unit_cost: Option<f64>,
    #[serde(deserialize_with = "opt_string")]
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarInboundReceipt {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub arrived_date: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarInboundReceiptLineItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarInboundReceiptLineItem {
    #[serde(deserialize_with = "opt_string")]
    pub inventory_item_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub quantity: Option<i64>,
}

impl TrackstarInboundShipment {
    /// Inbound shipments carry no currency: `unit_cost` is taken in the context's fallback.
    pub fn into_domain(self, ctx: &ConversionContext) -> Result<InboundShipment, ConversionError> {
        let status = self.status.as_deref().map_or(
            InboundShipmentStatus::Other,
            InboundShipmentStatus::from_wire,
        );
        let raw_status = raw_or_unknown(
            self.raw_status,
            self.status.as_deref(),
            status == InboundShipmentStatus::Other,
        );
        let line_items = self
            .line_items
            .into_iter()
            .map(|line| {
                Ok(InboundLineItem {
                    inventory_item_id: opt_id(
                        line.inventory_item_id,
                        "line_items.inventory_item_id",
                        InventoryItemId::parse,
                    )?,
                    sku: id(line.sku, "line_items.sku", Sku::parse)?,
                    expected_quantity: line.expected_quantity.unwrap_or(0),
                    received_quantity: line.received_quantity.unwrap_or(0),
                    unit_cost: money(
                        line.unit_cost,
                        ctx.fallback_currency,
                        "line_items.unit_cost",
                    )?,
                    external_id: line.external_id,
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        let receipts = self
            .receipts
            .into_iter()
            .map(TrackstarInboundReceipt::into_domain)
            .collect::<Result<Vec<_>, ConversionError>>()?;
        let (supplier_id, supplier_name) = self
            .supplier_object
            .map(|s| (s.supplier_id, s.supplier_name))
            .unwrap_or_default();
        Ok(InboundShipment {
            id: id(self.id, "id", InboundShipmentId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            brand_id: ctx.brand_id.clone(),
            connection_id: ctx.connection_id.clone(),
            warehouse_customer_id: opt_id(
                self.warehouse_customer_id,
                "warehouse_customer_id",
                WarehouseCustomerId::parse,
            )?,
            warehouse_id: opt_id(self.warehouse_id, "warehouse_id", WarehouseId::parse)?,
            purchase_order_number: self.purchase_order_number,
            supplier: supplier_name.or(self.supplier),
            supplier_id,
            status,
            raw_status,
            expected_arrival_date: opt_timestamp(
                self.expected_arrival_date,
                "expected_arrival_date",
            ),
            tracking_numbers: self.tracking_numbers,
            line_items,
            receipts,
            ship_from_address: some_address(self.ship_from_address),
            notes: self.notes,
            external_system_url: self.external_system_url,
            tags: self.trackstar_tags,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}

impl TrackstarInboundReceipt {
    fn into_domain(self) -> Result<InboundReceipt, ConversionError> {
        let line_items = self
            .line_items
            .into_iter()
            .map(|line| {
                Ok(InboundReceiptLine {
                    inventory_item_id: opt_id(
                        line.inventory_item_id,
                        "receipts.line_items.inventory_item_id",
                        InventoryItemId::parse,
                    )?,
                    sku: id(line.sku, "receipts.line_items.sku", Sku::parse)?,
                    quantity: line.quantity.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, ConversionError>>()?;
        Ok(InboundReceipt {
            receipt_id: required(self.id, "receipts.id")?,
            arrived_date: opt_timestamp(self.arrived_date, "receipts.arrived_date"),
            line_items,
        })
    }
}
