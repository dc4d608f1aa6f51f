//! What a conversion from Trackstar's wire shape into a domain type needs to know, and how
//! it can fail.

use crate::domain::{
    BrandId, ConnectionId, Currency, IdError, Money, MoneyError, TenantId, Timestamp,
    TimestampError,
};

/// Who owns the converted object, and the currency for amounts that arrive without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionContext {
    pub tenant_id: TenantId,
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    /// For amounts without a currency of their own (inventory unit cost, product price, an
    /// order without `invoice_currency_code`).
    pub fallback_currency: Currency,
}

#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error("required field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` is not a valid id")]
    Id {
        field: &'static str,
        #[source]
        source: IdError,
    },
    #[error("field `{field}` is not a valid timestamp")]
    Timestamp {
        field: &'static str,
        #[source]
        source: TimestampError,
    },
    #[error("field `{field}` is not a valid amount")]
    Money {
        field: &'static str,
        #[source]
        source: MoneyError,
    },
}

pub(crate) fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ConversionError> {
    value.ok_or(ConversionError::Missing(field))
}

pub(crate) fn id<T, F>(
    value: Option<String>,
    field: &'static str,
    parse: F,
) -> Result<T, ConversionError>
where
    F: FnOnce(String) -> Result<T, IdError>,
{
    parse(required(value, field)?).map_err(|source| ConversionError::Id { field, source })
}

pub(crate) fn opt_id<T, F>(
    value: Option<String>,
    field: &'static str,
    parse: F,
) -> Result<Option<T>, ConversionError>
where
    F: FnOnce(String) -> Result<T, IdError>,
{
    value
        .map(|v| parse(v).map_err(|source| ConversionError::Id { field, source }))
        .transpose()
}

pub(crate) fn timestamp(
    value: Option<String>,
    field: &'static str,
) -> Result<Timestamp, ConversionError> {
    Timestamp::parse(&required(value, field)?)
        .map_err(|source| ConversionError::Timestamp { field, source })
}

/// Optional dates are secondary: an unparsable one is dropped rather than failing the object.
pub(crate) fn opt_timestamp(value: Option<String>, field: &'static str) -> Option<Timestamp> {
    let raw = value?;
    match Timestamp::parse(&raw) {
        Ok(t) => Some(t),
        Err(_) => {
            tracing::warn!(field, "dropping an unparsable optional timestamp");
            None
        }
    }
}

pub(crate) fn money(
    value: Option<f64>,
    currency: Currency,
    field: &'static str,
) -> Result<Option<Money>, ConversionError> {
    value
        .map(|v| {
            Money::from_upstream_f64(v, currency)
                .map_err(|source| ConversionError::Money { field, source })
        })
        .transpose()
}
