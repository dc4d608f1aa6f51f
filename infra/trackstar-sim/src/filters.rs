//! List query parsing: `limit`, `page_token` and bracket-operator filters such as
//! `updated_date[gte]=2025-01-01T00:00:00Z`, `status[in]=open,picked`, `sku=ABC`.
//! `trackstar_created_date` / `trackstar_updated_date` filter on Trackstar's own clock
//! ([`TrackstarDates`]), which differs from the WMS's for records Trackstar saw late.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::data::model::{INBOUND_STATUSES, ORDER_STATUSES};
use crate::data::{Resource, ResourceKind, TrackstarDates};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 1000;
pub const MAX_IN_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Contains,
    NotContains,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            "contains" => Op::Contains,
            "not_contains" => Op::NotContains,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::Nin => "nin",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
        }
    }

    fn is_list(self) -> bool {
        matches!(self, Op::In | Op::Nin)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    Text(Vec<String>),
    Dates(Vec<DateTime<Utc>>),
}

/// One parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Canonical field: `id`, `created_date`, `updated_date`, `trackstar_created_date`,
    /// `trackstar_updated_date` or a resource field.
    pub field: String,
    pub op: Op,
    values: Values,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: usize,
    pub page_token: Option<String>,
    pub filters: Vec<Filter>,
}

fn invalid(key: &str, message: &str) -> ApiError {
    ApiError::validation("query", key, message)
}

/// Parses query pairs for a list of `T`. Unknown parameters, unknown operators, bad
/// dates, bad enum values and out-of-range limits are 422s.
pub fn parse<T: Resource>(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        limit: DEFAULT_LIMIT,
        page_token: None,
        filters: Vec::new(),
    };
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| invalid(key, &format!("Must be between 1 and {MAX_LIMIT}.")))?;
            }
            "page_token" => {
                if !value.is_empty() {
                    query.page_token = Some(value.clone());
                }
            }
            _ => query.filters.push(parse_filter::<T>(key, value)?),
        }
    }
    Ok(query)
}

fn parse_filter<T: Resource>(key: &str, value: &str) -> Result<Filter, ApiError> {
    let (name, op) = match key.split_once('[') {
        Some((name, rest)) => {
            let op_text = rest
                .strip_suffix(']')
                .ok_or_else(|| invalid(key, "Malformed filter."))?;
            let op = Op::parse(op_text).ok_or_else(|| invalid(key, "Unknown operator."))?;
            (name, op)
        }
        None => (key, Op::Eq),
    };
    let field = match name {
        "ids" | "id" => "id",
        other => other,
    };
    let is_date = DATE_FIELDS.contains(&field);
    if !is_date && field != "id" && !T::FILTER_FIELDS.contains(&field) {
        return Err(invalid(key, "Unknown field."));
    }
    if value.is_empty() {
        return Err(invalid(key, "Field may not be empty."));
    }
    let raw: Vec<String> = if op.is_list() {
        value.split(',').map(|v| v.trim().to_owned()).collect()
    } else {
        vec![value.to_owned()]
    };
    if raw.len() > MAX_IN_VALUES {
        return Err(invalid(key, "At most 100 values."));
    }
    if raw.iter().any(String::is_empty) {
        return Err(invalid(key, "Field may not be empty."));
    }
    let values = if is_date {
        let dates = raw
            .iter()
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| invalid(key, "Not a valid datetime."))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Values::Dates(dates)
    } else {
        check_enum::<T>(key, field, &raw)?;
        Values::Text(raw)
    };
    Ok(Filter {
        field: field.to_owned(),
        op,
        values,
    })
}

/// The date fields every list filters on.
pub const DATE_FIELDS: [&str; 4] = [
    "created_date",
    "updated_date",
    "trackstar_created_date",
    "trackstar_updated_date",
];

fn check_enum<T: Resource>(key: &str, field: &str, values: &[String]) -> Result<(), ApiError> {
    let allowed: &[&str] = match (T::KIND, field) {
        (ResourceKind::Orders, "status") => &ORDER_STATUSES,
        (ResourceKind::Orders, "type") => &["d2c", "b2b", "dropship", "transfer"],
        (ResourceKind::InboundShipments | ResourceKind::Returns, "status") => &INBOUND_STATUSES,
        (_, "active") => &["true", "false"],
        _ => return Ok(()),
    };
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(_) => Err(invalid(
            key,
            "Must be one of: {}."
                .replace("{}", &allowed.join(", "))
                .as_str(),
        )),
        None => Ok(()),
    }
}

impl Filter {
    /// Whether an object Trackstar saw as the WMS changed it matches.
    pub fn matches<T: Resource>(&self, obj: &T) -> bool {
        self.matches_dated(obj, &TrackstarDates::of(obj))
    }

    /// Whether an object with Trackstar's clock `clock` matches.
    pub fn matches_dated<T: Resource>(&self, obj: &T, clock: &TrackstarDates) -> bool {
        match &self.values {
            Values::Dates(dates) => {
                let actual = match self.field.as_str() {
                    "created_date" => obj.created(),
                    "trackstar_created_date" => clock.trackstar_created_date,
                    "trackstar_updated_date" => clock.trackstar_updated_date,
                    _ => obj.updated(),
                };
                compare(self.op, &actual, dates)
            }
            Values::Text(values) => {
                let actual = if self.field == "id" {
                    Some(obj.id().to_owned())
                } else {
                    obj.field(&self.field)
                };
                match actual {
                    None => matches!(self.op, Op::Neq | Op::Nin | Op::NotContains),
                    Some(actual) => match self.op {
                        Op::Contains => values.iter().any(|v| actual.contains(v.as_str())),
                        Op::NotContains => !values.iter().any(|v| actual.contains(v.as_str())),
                        op => compare(op, &actual, values),
                    },
                }
            }
        }
    }

    fn canonical(&self) -> String {
        let values: Vec<String> = match &self.values {
            Values::Text(v) => v.clone(),
            Values::Dates(d) => d.iter().map(|d| d.timestamp().to_string()).collect(),
        };
        format!("{}[{}]={}", self.field, self.op.name(), values.join(","))
    }
}

fn compare<V: PartialOrd>(op: Op, actual: &V, values: &[V]) -> bool {
    let Some(first) = values.first() else {
        return true;
    };
    match op {
        Op::Eq | Op::Contains => actual == first,
        Op::Neq | Op::NotContains => actual != first,
        Op::Gt => actual > first,
        Op::Gte => actual >= first,
        Op::Lt => actual < first,
        Op::Lte => actual <= first,
        Op::In => values.contains(actual),
        Op::Nin => !values.contains(actual),
    }
}

impl ListQuery {
    /// A digest of the resource and its filters (not `limit`): page tokens are bound to it.
    pub fn fingerprint(&self, kind: ResourceKind) -> String {
        let mut parts: Vec<String> = self.filters.iter().map(Filter::canonical).collect();
        parts.sort();
        let text = format!("{kind:?}?{}", parts.join("&"));
        let digest = Sha256::digest(text.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn matches<T: Resource>(&self, obj: &T) -> bool {
        self.matches_dated(obj, &TrackstarDates::of(obj))
    }

    pub fn matches_dated<T: Resource>(&self, obj: &T, clock: &TrackstarDates) -> bool {
        self.filters.iter().all(|f| f.matches_dated(obj, clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::model::Order;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bracket_operators_and_bare_fields_parse() {
        let q = parse::<Order>(&pairs(&[
            ("status", "open"),
            ("updated_date[gte]", "2025-01-01T00:00:00Z"),
            ("ids[in]", "a,b"),
            ("trackstar_updated_date[lt]", "2025-02-01T00:00:00Z"),
            ("limit", "10"),
        ]))
        .expect("valid query");
        assert_eq!(q.limit, 10);
        assert_eq!(q.filters.len(), 4);
        assert_eq!(q.filters[0].op, Op::Eq);
        assert_eq!(q.filters[3].field, "trackstar_updated_date");
    }

    #[test]
    fn bad_values_are_422() {
        for bad in [
            ("limit", "0"),
            ("limit", "1001"),
            ("limit", "x"),
            ("status", "shipped"),
            ("updated_date[gte]", "yesterday"),
            ("colour", "red"),
            ("status[like]", "open"),
            ("sku", ""),
        ] {
            let err = parse::<Order>(&pairs(&[bad])).expect_err("should fail");
            assert_eq!(err.status().as_u16(), 422, "{bad:?}");
        }
    }

    #[test]
    fn trackstar_dates_filter_on_trackstar_clock_not_the_wms_clock() {
        // given an order the WMS last changed on Jan 1st that Trackstar first saw on Mar 1st
        let data = crate::data::seed::generate(
            1,
            "c",
            &["wc".to_owned()],
            crate::data::seed::SeedSizes {
                orders: 1,
                inventory: 1,
                products: 1,
                ..Default::default()
            },
        );
        let mut order = data.orders[0].clone();
        let jan = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").expect("date");
        let mar = DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z").expect("date");
        order.created_date = jan.with_timezone(&Utc);
        order.updated_date = jan.with_timezone(&Utc);
        let clock = TrackstarDates {
            trackstar_created_date: mar.with_timezone(&Utc),
            trackstar_updated_date: mar.with_timezone(&Utc),
        };
        let since_feb = |field: &str| {
            parse::<Order>(&pairs(&[(field, "2025-02-01T00:00:00Z")])).expect("valid")
        };
        // then a window on updated_date misses it and one on trackstar_updated_date reads it
        assert!(!since_feb("updated_date[gte]").matches_dated(&order, &clock));
        assert!(since_feb("trackstar_updated_date[gte]").matches_dated(&order, &clock));
        assert!(since_feb("trackstar_created_date[gt]").matches_dated(&order, &clock));
        assert!(!since_feb("trackstar_created_date[lt]").matches_dated(&order, &clock));
        // and without a later sighting both clocks agree
        assert!(!since_feb("trackstar_updated_date[gte]").matches(&order));
    }

    #[test]
    fn fingerprint_ignores_limit_and_order_of_filters() {
        let a = parse::<Order>(&pairs(&[
            ("status", "open"),
            ("channel", "x"),
            ("limit", "5"),
        ]))
        .expect("valid");
        let b = parse::<Order>(&pairs(&[("channel[eq]", "x"), ("status", "open")])).expect("valid");
        let c = parse::<Order>(&pairs(&[("channel", "y"), ("status", "open")])).expect("valid");
        assert_eq!(
            a.fingerprint(ResourceKind::Orders),
            b.fingerprint(ResourceKind::Orders)
        );
        assert_ne!(
            a.fingerprint(ResourceKind::Orders),
            c.fingerprint(ResourceKind::Orders)
        );
        assert_ne!(
            a.fingerprint(ResourceKind::Orders),
            a.fingerprint(ResourceKind::Products)
        );
    }
}
