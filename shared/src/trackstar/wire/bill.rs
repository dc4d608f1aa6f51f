//! Trackstar's bill (`BillSchema`, one charge) and its conversion into `domain::Bill`.

use serde::Deserialize;

use crate::domain::{Bill, BillId, Currency, MoneyError, WarehouseCustomerId};

use super::context::{id, money, opt_id, timestamp, ConversionContext, ConversionError};
use super::lenient::{opt_f64, opt_string};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarBill {
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub warehouse_customer_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub updated_date: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub object_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub object_type: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub charge_type: Option<String>,
    #[serde(deserialize_with = "opt_f64")]
    pub amount: Option<f64>,
    #[serde(deserialize_with = "opt_string")]
    pub currency_code: Option<String>,
}

impl TrackstarBill {
    /// The bill's currency: its `currency_code`, or the context's fallback when absent (as
    /// for an order without `invoice_currency_code`). A present but unknown code is an
    /// error: guessing would misstate the charge.
    pub fn currency(&self, ctx: &ConversionContext) -> Result<Currency, ConversionError> {
        match self.currency_code.as_deref() {
            None => Ok(ctx.fallback_currency),
            Some(code) => {
                Currency::parse(code).map_err(|source: MoneyError| ConversionError::Money {
                    field: "currency_code",
                    source,
                })
            }
        }
    }

    pub fn into_domain(self, ctx: &ConversionContext) -> Result<Bill, ConversionError> {
        let currency = self.currency(ctx)?;
        Ok(Bill {
            id: id(self.id, "id", BillId::parse)?,
            tenant_id: ctx.tenant_id.clone(),
            brand_id: ctx.brand_id.clone(),
            connection_id: ctx.connection_id.clone(),
            warehouse_customer_id: opt_id(
                self.warehouse_customer_id,
                "warehouse_customer_id",
                WarehouseCustomerId::parse,
            )?,
            object_id: self.object_id,
            object_type: self.object_type,
            charge_type: self.charge_type,
            currency,
            amount: money(self.amount, currency, "amount")?,
            created_date: timestamp(self.created_date, "created_date")?,
            updated_date: timestamp(self.updated_date, "updated_date")?,
        })
    }
}
