//! Orders as Packr stores and serves them (Trackstar's order, tenant- and brand-scoped).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    BrandId, ConnectionId, Currency, Money, OrderId, ProductId, Sku, TenantId, Timestamp,
    WarehouseCustomerId,
};

/// Trackstar's normalized order status. Unknown values map to `Other` (the WMS's own
/// word is kept in `raw_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Confirmed,
    Processing,
    Picked,
    Packed,
    PartiallyFulfilled,
    Fulfilled,
    Backordered,
    Exception,
    Cancelled,
    #[serde(other)]
    Other,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        Self::Open,
        Self::Confirmed,
        Self::Processing,
        Self::Picked,
        Self::Packed,
        Self::PartiallyFulfilled,
        Self::Fulfilled,
        Self::Backordered,
        Self::Exception,
        Self::Cancelled,
        Self::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Confirmed => "confirmed",
            Self::Processing => "processing",
            Self::Picked => "picked",
            Self::Packed => "packed",
            Self::PartiallyFulfilled => "partially_fulfilled",
            Self::Fulfilled => "fulfilled",
            Self::Backordered => "backordered",
            Self::Exception => "exception",
            Self::Cancelled => "cancelled",
            Self::Other => "other",
        }
    }

    /// Strict parse for client input (query filters): unknown words are an error.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    D2c,
    B2b,
    Dropship,
    Transfer,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Open,
    Shipped,
    Cancelled,
    #[serde(other)]
    Other,
}

/// A postal address. Personal data: its `Debug` shows only the country, so an address can
/// never reach a log by accident.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
}

crate::redacted_debug!(Address {
    country;
    full_name, company, address1, address2, address3, city, state, postal_code, phone_number, email_address
});

impl Address {
    /// Every field but the country dropped: what a tombstone keeps of an address.
    pub fn keep_country_only(&mut self) {
        *self = Address {
            country: self.country.take(),
            ..Address::default()
        };
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    pub sku: Sku,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<Money>,
    #[serde(default)]
    pub is_picked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shipment {
    pub shipment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    pub status: ShipmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_date: Option<Timestamp>,
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderTotals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub totals: OrderTotals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to_address: Option<Address>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_ship_date: Option<Timestamp>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_words_become_other() {
        let s: OrderStatus = serde_json::from_str("\"on_hold_by_wms\"").unwrap();
        assert_eq!(s, OrderStatus::Other);
        let s: OrderStatus = serde_json::from_str("\"partially_fulfilled\"").unwrap();
        assert_eq!(s, OrderStatus::PartiallyFulfilled);
    }

    #[test]
    fn strict_status_parse_rejects_unknown_words() {
        assert_eq!(OrderStatus::parse("packed"), Some(OrderStatus::Packed));
        assert_eq!(OrderStatus::parse("Packed"), None);
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn address_debug_hides_personal_data() {
        let a = Address {
            full_name: Some("Jane Roe".into()),
            email_address: Some("jane@example.com".into()),
            country: Some("US".into()),
            ..Address::default()
        };
        let shown = format!("{a:?}");
        assert!(!shown.contains("Jane"));
        assert!(!shown.contains("example.com"));
        assert!(shown.contains("US"));
    }

    #[test]
    fn an_address_keeping_its_country_only_has_no_other_field() {
        // given a full address
        let mut a = Address {
            full_name: Some("Jane Roe".into()),
            company: Some("Roe Inc".into()),
            address1: Some("1 Main St".into()),
            address2: Some("Apt 2".into()),
            address3: Some("c/o".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            postal_code: Some("62701".into()),
            country: Some("US".into()),
            phone_number: Some("+1 555 0100".into()),
            email_address: Some("jane@example.com".into()),
        };
        // when it keeps its country only
        a.keep_country_only();
        // then only the country is left
        assert_eq!(
            a,
            Address {
                country: Some("US".into()),
                ..Address::default()
            }
        );
    }
}
