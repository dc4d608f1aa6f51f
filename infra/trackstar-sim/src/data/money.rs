//! Decimal money as Trackstar sends it: numbers with the currency's exponent.

/// ISO 4217 minor-unit exponent for the currencies the simulator uses.
pub fn exponent(currency: &str) -> i32 {
    match currency {
        "JPY" | "KRW" => 0,
        "KWD" | "BHD" => 3,
        _ => 2,
    }
}

/// `1234` minor units of USD → `12.34`; of JPY → `1234.0`.
pub fn to_decimal(minor: i64, currency: &str) -> f64 {
    minor as f64 / 10f64.powi(exponent(currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_become_decimals_with_the_currency_exponent() {
        assert_eq!(
            serde_json::json!(to_decimal(1234, "USD")).to_string(),
            "12.34"
        );
        assert_eq!(
            serde_json::json!(to_decimal(1234, "JPY")).to_string(),
            "1234.0"
        );
        assert_eq!(to_decimal(5, "EUR"), 0.05);
    }
}
