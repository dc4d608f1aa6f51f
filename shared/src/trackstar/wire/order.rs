//! Trackstar's order (`OrderSchema`) as it arrives, and its conversion into `domain::Order`.

use serde::Deserialize;

use crate::domain::{
    Address, Currency, LineItem, Order, OrderId, OrderStatus, OrderTotals, OrderType, ProductId,
    Shipment, ShipmentStatus, Sku, WarehouseCustomerId,
};

use super::context::{
    id, money, opt_id, opt_timestamp, timestamp, ConversionContext, ConversionError,
};
use super::lenient::{
    lenient_list, lenient_opt, opt_bool, opt_f64, opt_i64, opt_string, string_list,
};
use crate::domain::MoneyError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarOrder {
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
    pub reference_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub order_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub raw_status: Option<String>,
    #[serde(rename = "type", deserialize_with = "opt_string")]
    pub order_type: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub channel: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub service_level: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub shipping_method_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub invoice_currency_code: Option<String>,
    #[serde(deserialize_with = "opt_f64")]
    pub total_price: Option<f64>,
    #[serde(deserialize_with = "opt_f64")]
    pub total_tax: Option<f64>,
    #[serde(deserialize_with = "opt_f64")]
    pub total_discount: Option<f64>,
    #[serde(deserialize_with = "opt_f64")]
    pub total_shipping: Option<f64>,
    #[serde(deserialize_with = "lenient_opt")]
    pub ship_to_address: Option<TrackstarAddress>,
    #[serde(deserialize_with = "lenient_list")]
    pub line_items: Vec<TrackstarOrderLineItem>,
    #[serde(deserialize_with = "lenient_list")]
    pub shipments: Vec<TrackstarShipment>,
    #[serde(deserialize_with = "string_list")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    pub trackstar_tags: Vec<String>,
    #[serde(deserialize_with = "opt_string")]
    pub required_ship_date: Option<String>,
}

/// An address as Trackstar sends it. Personal data: `Debug` shows only the country
/// (`redacted_debug!`).
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarAddress {
    #[serde(deserialize_with = "opt_string")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub company: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub address1: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub address2: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub address3: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub city: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub state: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub postal_code: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub country: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub phone_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub email_address: Option<String>,
}

crate::redacted_debug!(TrackstarAddress {
    country;
    full_name, company, address1, address2, address3, city, state, postal_code, phone_number, email_address
});

impl From<TrackstarAddress> for Address {
    fn from(a: TrackstarAddress) -> Self {
        Address {
            full_name: a.full_name,
            company: a.company,
            address1: a.address1,
            address2: a.address2,
            address3: a.address3,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
            phone_number: a.phone_number,
            email_address: a.email_address,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarOrderLineItem {
    #[serde(deserialize_with = "opt_string")]
    pub product_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub sku: Option<String>,
    #[serde(deserialize_with = "opt_i64")]
    pub quantity: Option<i64>,
    #[serde(deserialize_with = "opt_f64")]
    pub unit_price: Option<f64>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_picked: Option<bool>,
    #[serde(deserialize_with = "opt_f64")]
    pub discount_amount: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarShipment {
    #[serde(deserialize_with = "opt_string")]
    pub shipment_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub raw_status: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub shipped_date: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub packages: Vec<TrackstarPackage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarPackage {
    #[serde(deserialize_with = "opt_string")]
    pub package_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub tracking_number: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub tracking_url: Option<String>,
}

fn parse_word<T: serde::de::DeserializeOwned>(word: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(word.to_owned())).ok()
}

impl TrackstarOrder {
    /// The order's currency: its `invoice_currency_code`, or the context's fallback when
    /// absent. A present but unknown code is an error (guessing would misprice the order).
    pub fn currency(&self, ctx: &ConversionContext) -> Result<Currency, ConversionError> {
        match self.invoice_currency_code.as_deref() {
            None => Ok(ctx.fallback_currency),
            Some(code) => {
                Currency::parse(code).map_err(|source: MoneyError| ConversionError::Money {
                    field: "invoice_currency_code",
                    source,
                })
            }
        }
    }

    pub fn into_domain(self, ctx: &ConversionContext) -> Result<Order, ConversionError> {
        let currency = self.currency(ctx)?;
        let status = self
            .status
            .as_deref()
            .and_then(parse_word::<OrderStatus>)
            .unwrap_or(OrderStatus::Other);
        let order_type = self.order_type.as_deref().and_then(parse_word::<OrderType>);
        let line_items = self
            .line_items
            .into_iter()
            .map(|item| item.into_domain(currency))
            .collect::<Result<Vec<_>, _>>()?;
        let shipments = self
            .shipments
            .into_iter()
            .filter_map(TrackstarShipment::into_domain)
            .collect();
        Ok(Order {
            id: id(self.id, "id", OrderId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            brand_id: ctx.brand_id.clone(),
            connection_id: ctx.connection_id.clone(),
            warehouse_customer_id: opt_id(
                self.warehouse_customer_id,
                "warehouse_customer_id",
                WarehouseCustomerId::parse,
            )?,
            warehouse_id: self.warehouse_id,
            reference_id: self.reference_id,
            order_number: self.order_number,
            status,
            raw_status: self.raw_status,
            order_type,
            channel: self.channel,
            service_level: self.service_level,
            shipping_method_id: self.shipping_method_id,
            currency: Some(currency),
            totals: OrderTotals {
                price: money(self.total_price, currency, "total_price")?,
                tax: money(self.total_tax, currency, "total_tax")?,
                discount: money(self.total_discount, currency, "total_discount")?,
                shipping: money(self.total_shipping, currency, "total_shipping")?,
            },
            ship_to_address: self.ship_to_address.map(Address::from),
            line_items,
            shipments,
            tags: self.tags,
            required_ship_date: opt_timestamp(self.required_ship_date, "required_ship_date"),
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}

impl TrackstarOrderLineItem {
    fn into_domain(self, currency: Currency) -> Result<LineItem, ConversionError> {
        Ok(LineItem {
            product_id: opt_id(self.product_id, "line_items.product_id", ProductId::parse)?,
            sku: id(self.sku, "line_items.sku", Sku::parse)?,
            quantity: self.quantity.unwrap_or(0),
            unit_price: money(self.unit_price, currency, "line_items.unit_price")?,
            discount_amount: money(self.discount_amount, currency, "line_items.discount_amount")?,
            is_picked: self.is_picked.unwrap_or(false),
        })
    }
}

impl TrackstarShipment {
    /// A shipment without an id cannot be tracked and is dropped.
    fn into_domain(self) -> Option<Shipment> {
        let shipment_id = self.shipment_id?;
        Some(Shipment {
            shipment_id,
            warehouse_id: self.warehouse_id,
            status: self
                .status
                .as_deref()
                .and_then(parse_word::<ShipmentStatus>)
                .unwrap_or(ShipmentStatus::Other),
            shipped_date: opt_timestamp(self.shipped_date, "shipments.shipped_date"),
            tracking_numbers: self
                .packages
                .into_iter()
                .filter_map(|p| p.tracking_number)
                .collect(),
        })
    }
}
