//! Money as integer minor units plus an ISO 4217 currency.
//!
//! Trackstar sends amounts as JSON decimal numbers in the order's invoice currency. They are
//! converted with the currency's own exponent (USD 2, JPY 0, KWD 3): `12.34 USD` is `1234`
//! minor units, `1500 JPY` is `1500`, `1.234 KWD` is `1234`. Upstream amounts with more
//! precision than the currency has are rounded half away from zero (`from_upstream`); amounts
//! that Packr's own clients send must already fit the currency (`from_decimal_exact`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit and cannot carry an amount")]
    NoMinorUnit(String),
    #[error("amount {amount} has more than {exponent} decimal places allowed for {currency}")]
    TooPrecise {
        amount: String,
        currency: String,
        exponent: u32,
    },
    #[error("amount is not a finite number")]
    NotFinite,
    #[error("amount is out of range")]
    OutOfRange,
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(String, String),
}

/// An ISO 4217 currency that has a minor unit (so amounts in it can be stored exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 3 {
            return Err(MoneyError::UnknownCurrency(code.to_owned()));
        }
        let currency = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
        if currency.exponent().is_none() {
            return Err(MoneyError::NoMinorUnit(upper));
        }
        Ok(Self(currency))
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the minor unit: USD 2, JPY 0, KWD 3.
    pub fn exponent(&self) -> u32 {
        // `parse` only admits currencies that have an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::inline(super::schema::currency())
    }
}

impl utoipa::ToSchema for Currency {}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Exact conversion: fails when the amount has more decimals than the currency.
    pub fn from_decimal_exact(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent();
        let normalized = amount.normalize();
        if normalized.scale() > exponent {
            return Err(MoneyError::TooPrecise {
                amount: normalized.to_string(),
                currency: currency.code().to_owned(),
                exponent,
            });
        }
        Self::scale_to_minor(normalized, currency)
    }

    /// Lenient conversion for upstream data: rounds half away from zero to the currency's
    /// minor unit.
    pub fn from_upstream(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let rounded = amount
            .round_dp_with_strategy(currency.exponent(), RoundingStrategy::MidpointAwayFromZero);
        Self::scale_to_minor(rounded, currency)
    }

    /// Converts a JSON number as Trackstar sends it. The float's shortest round-trip
    /// representation is the decimal that was written on the wire (`12.34`, not
    /// `12.339999…`), so converting through it is exact for every amount a JSON encoder
    /// produced from a decimal.
    pub fn from_upstream_f64(amount: f64, currency: Currency) -> Result<Self, MoneyError> {
        if !amount.is_finite() {
            return Err(MoneyError::NotFinite);
        }
        let text = format!("{amount}");
        let decimal = Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&format!("{amount:e}")))
            .map_err(|_| MoneyError::OutOfRange)?;
        Self::from_upstream(decimal, currency)
    }

    fn scale_to_minor(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let factor = Decimal::from(10_i64.pow(currency.exponent()));
        let minor = amount
            .checked_mul(factor)
            .ok_or(MoneyError::OutOfRange)?
            .trunc()
            .to_i64()
            .ok_or(MoneyError::OutOfRange)?;
        Ok(Self { minor, currency })
    }

    /// The amount as a decimal in major units, e.g. for writes to Trackstar.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// The amount as a JSON number in major units (Trackstar's wire form).
    pub fn to_major_f64(&self) -> f64 {
        self.to_decimal().to_f64().unwrap_or(f64::NAN)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(
                self.currency.code().to_owned(),
                other.currency.code().to_owned(),
            ));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::OutOfRange)?;
        Ok(Money::from_minor(minor, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(cur("USD").exponent(), 2);
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("KWD").exponent(), 3);
        assert_eq!(cur("eur").code(), "EUR");
    }

    #[test]
    fn unknown_or_unitless_currencies_are_rejected() {
        assert!(matches!(
            Currency::parse("ABC"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            Currency::parse("US"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            Currency::parse("XAU"),
            Err(MoneyError::NoMinorUnit(_))
        ));
    }

    #[test]
    fn upstream_floats_convert_with_the_currency_exponent() {
        assert_eq!(
            Money::from_upstream_f64(12.34, cur("USD")).unwrap().minor(),
            1234
        );
        assert_eq!(
            Money::from_upstream_f64(1500.0, cur("JPY"))
                .unwrap()
                .minor(),
            1500
        );
        assert_eq!(
            Money::from_upstream_f64(1.234, cur("KWD")).unwrap().minor(),
            1234
        );
        assert_eq!(
            Money::from_upstream_f64(0.1 + 0.2, cur("USD"))
                .unwrap()
                .minor(),
            30
        );
        assert_eq!(
            Money::from_upstream_f64(-19.99, cur("EUR"))
                .unwrap()
                .minor(),
            -1999
        );
    }

    #[test]
    fn upstream_excess_precision_rounds_half_away_from_zero() {
        assert_eq!(
            Money::from_upstream_f64(2.345, cur("USD")).unwrap().minor(),
            235
        );
        assert_eq!(
            Money::from_upstream_f64(-2.345, cur("USD"))
                .unwrap()
                .minor(),
            -235
        );
        assert_eq!(
            Money::from_upstream_f64(99.5, cur("JPY")).unwrap().minor(),
            100
        );
    }

    #[test]
    fn exact_conversion_refuses_excess_precision() {
        let amount = Decimal::from_str("1.005").unwrap();
        assert!(matches!(
            Money::from_decimal_exact(amount, cur("USD")),
            Err(MoneyError::TooPrecise { exponent: 2, .. })
        ));
        let amount = Decimal::from_str("1.500").unwrap();
        assert_eq!(
            Money::from_decimal_exact(amount, cur("USD"))
                .unwrap()
                .minor(),
            150
        );
    }

    #[test]
    fn non_finite_and_huge_amounts_are_errors_not_panics() {
        assert_eq!(
            Money::from_upstream_f64(f64::NAN, cur("USD")),
            Err(MoneyError::NotFinite)
        );
        assert_eq!(
            Money::from_upstream_f64(f64::INFINITY, cur("USD")),
            Err(MoneyError::NotFinite)
        );
        assert_eq!(
            Money::from_upstream_f64(1e300, cur("USD")),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn adding_different_currencies_fails() {
        let a = Money::from_minor(1, cur("USD"));
        let b = Money::from_minor(1, cur("EUR"));
        assert!(matches!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    #[test]
    fn money_serializes_as_minor_units_and_code() {
        let m = Money::from_minor(1234, cur("USD"));
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            serde_json::json!({"minor": 1234, "currency": "USD"})
        );
    }

    proptest! {
        #[test]
        fn minor_units_round_trip_through_the_wire_float(minor in -1_000_000_000_000i64..1_000_000_000_000i64,
                                                         code in prop::sample::select(vec!["USD", "JPY", "KWD", "EUR", "BHD", "CLP"])) {
            let currency = cur(code);
            let money = Money::from_minor(minor, currency);
            let back = Money::from_upstream_f64(money.to_major_f64(), currency).unwrap();
            prop_assert_eq!(back, money);
        }

        #[test]
        fn exact_decimal_conversion_matches_minor_units(minor in any::<i32>(), code in prop::sample::select(vec!["USD", "JPY", "KWD"])) {
            let currency = cur(code);
            let decimal = Decimal::new(i64::from(minor), currency.exponent());
            let money = Money::from_decimal_exact(decimal, currency).unwrap();
            prop_assert_eq!(money.minor(), i64::from(minor));
            prop_assert_eq!(money.to_decimal(), decimal);
        }

        #[test]
        fn upstream_conversion_never_panics(x in any::<f64>(), code in prop::sample::select(vec!["USD", "JPY", "KWD"])) {
            let _ = Money::from_upstream_f64(x, cur(code));
        }

        #[test]
        fn currency_parse_never_panics(s in "\\PC{0,8}") {
            let _ = Currency::parse(&s);
        }
    }
}
