//! Write request bodies. Trackstar rejects `null` and `""` in writes (422), so every unset
//! or blank field is left out of the JSON entirely. Amounts go out as decimal numbers in
//! major units and must all be in the order's invoice currency.

use serde::{Serialize, Serializer};

use crate::domain::{Address, Currency, Money, OrderStatus, ProductId, Sku, WarehouseCustomerId};

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn major<S: Serializer>(value: &Option<Money>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(money) => serializer.serialize_f64(money.to_major_f64()),
        None => serializer.serialize_none(),
    }
}

/// An address for a write: blank lines are omitted.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteAddress {
    #[serde(skip_serializing_if = "blank")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub address1: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub address2: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub address3: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub email_address: Option<String>,
}

crate::redacted_debug!(WriteAddress {
    country;
    full_name, company, address1, address2, address3, city, state, postal_code, phone_number, email_address
});

impl From<Address> for WriteAddress {
    fn from(a: Address) -> Self {
        Self {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteLineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    pub sku: Sku,
    pub quantity: i64,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub unit_price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub discount_amount: Option<Money>,
}

impl WriteLineItem {
    pub fn new(sku: Sku, quantity: i64) -> Self {
        Self {
            product_id: None,
            sku,
            quantity,
            unit_price: None,
            discount_amount: None,
        }
    }
}

/// The order fields shared by create and update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderFields {
    #[serde(skip_serializing_if = "blank")]
    pub reference_id: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub order_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    #[serde(skip_serializing_if = "blank")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub shipping_method_id: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub service_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_currency_code: Option<Currency>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub total_price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub total_tax: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub total_discount: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "major")]
    pub total_shipping: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_to_address: Option<WriteAddress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<WriteLineItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

impl OrderFields {
    /// Every amount must be in one currency, and it must be the invoice currency when one
    /// is given; the invoice currency is filled in from the amounts otherwise.
    pub fn check_currency(&mut self) -> Result<(), String> {
        let amounts = [
            self.total_price,
            self.total_tax,
            self.total_discount,
            self.total_shipping,
        ]
        .into_iter()
        .chain(
            self.line_items
                .iter()
                .flat_map(|l| [l.unit_price, l.discount_amount]),
        )
        .flatten();
        let mut currency = self.invoice_currency_code;
        for amount in amounts {
            match currency {
                None => currency = Some(amount.currency()),
                Some(c) if c != amount.currency() => {
                    return Err(format!(
                        "amount in {} does not match the order currency {c}",
                        amount.currency()
                    ));
                }
                Some(_) => {}
            }
        }
        self.invoice_currency_code = currency;
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateOrderRequest {
    #[serde(flatten)]
    pub fields: OrderFields,
}

/// `PUT /wms/orders/{order_id}`. A change of address is `fields.ship_to_address`; a change
/// of shipping method is `fields.shipping_method_id` (an id from `/wms/shipping-methods`)
/// or `shipping_method` (the method's name, as the WMS knows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateOrderRequest {
    #[serde(flatten)]
    pub fields: OrderFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    #[serde(skip_serializing_if = "blank")]
    pub shipping_method: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProductMeasurements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    /// `cm` or `in`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// `kg`, `oz` or `lb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_unit: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateProductRequest {
    pub sku: Sku,
    #[serde(skip_serializing_if = "blank")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub gtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurements: Option<ProductMeasurements>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

impl CreateProductRequest {
    pub fn new(sku: Sku) -> Self {
        Self {
            sku,
            name: None,
            gtin: None,
            measurements: None,
            trackstar_tags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateProductRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(skip_serializing_if = "blank")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub gtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurements: Option<ProductMeasurements>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("USD").unwrap())
    }

    #[test]
    fn unset_and_blank_fields_are_omitted_from_writes() {
        // given an order with blank and unset fields
        let mut request = CreateOrderRequest {
            fields: OrderFields {
                reference_id: Some("ref-1".into()),
                order_number: Some("".into()),
                channel: Some("   ".into()),
                total_price: Some(usd(1234)),
                ship_to_address: Some(WriteAddress {
                    city: Some("Austin".into()),
                    address2: Some("".into()),
                    ..WriteAddress::default()
                }),
                line_items: vec![WriteLineItem::new(Sku::parse("TEE").unwrap(), 2)],
                ..OrderFields::default()
            },
        };
        request.fields.check_currency().unwrap();
        // when
        let body = serde_json::to_value(&request).unwrap();
        // then
        assert_eq!(
            body,
            json!({
                "reference_id": "ref-1",
                "invoice_currency_code": "USD",
                "total_price": 12.34,
                "ship_to_address": {"city": "Austin"},
                "line_items": [{"sku": "TEE", "quantity": 2}],
            })
        );
        assert!(!body.to_string().contains("null"));
        assert!(!body.to_string().contains("\"\""));
    }

    #[test]
    fn amounts_go_out_in_major_units_of_their_currency() {
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        let item = WriteLineItem {
            unit_price: Some(Money::from_minor(1500, jpy)),
            ..WriteLineItem::new(Sku::parse("A").unwrap(), 1)
        };
        assert_eq!(
            serde_json::to_value(&item).unwrap()["unit_price"],
            json!(1500.0)
        );
        let item = WriteLineItem {
            unit_price: Some(Money::from_minor(1234, kwd)),
            ..WriteLineItem::new(Sku::parse("A").unwrap(), 1)
        };
        assert_eq!(
            serde_json::to_value(&item).unwrap()["unit_price"],
            json!(1.234)
        );
    }

    #[test]
    fn mixed_currencies_are_refused_before_sending() {
        let mut fields = OrderFields {
            invoice_currency_code: Some(Currency::parse("EUR").unwrap()),
            total_price: Some(usd(100)),
            ..OrderFields::default()
        };
        assert!(fields.check_currency().is_err());
    }

    #[test]
    fn an_update_carries_only_what_changes() {
        let request = UpdateOrderRequest {
            status: Some(OrderStatus::Cancelled),
            ..UpdateOrderRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"status": "cancelled"})
        );
    }

    #[test]
    fn an_update_can_change_the_address_and_the_shipping_method_alone() {
        // given an update of the ship-to address and the shipping method only
        let request = UpdateOrderRequest {
            fields: OrderFields {
                shipping_method_id: Some("sm_2".into()),
                ship_to_address: Some(WriteAddress {
                    full_name: Some("Jane Roe".into()),
                    address1: Some("2 New St".into()),
                    city: Some("Austin".into()),
                    country: Some("US".into()),
                    ..WriteAddress::default()
                }),
                ..OrderFields::default()
            },
            shipping_method: Some("UPS Ground".into()),
            ..UpdateOrderRequest::default()
        };
        // then only those go out
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "shipping_method_id": "sm_2",
                "shipping_method": "UPS Ground",
                "ship_to_address": {"full_name": "Jane Roe", "address1": "2 New St",
                                    "city": "Austin", "country": "US"},
            })
        );
        // and the address stays out of Debug
        assert!(!format!("{request:?}").contains("Jane"));
        // a blank method name is left out
        let blank = UpdateOrderRequest {
            shipping_method: Some(" ".into()),
            ..UpdateOrderRequest::default()
        };
        assert_eq!(serde_json::to_value(&blank).unwrap(), json!({}));
    }
}
