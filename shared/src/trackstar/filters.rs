//! List filters with Trackstar's bracket operators (`field[gte]=…`, `ids[in]=a,b`), built
//! once and sent unchanged on every page of a listing.

use crate::domain::{OrderStatus, Sku, Timestamp, WarehouseCustomerId};

use super::config::UpdatedField;

/// Trackstar's page size limit.
pub const MAX_LIMIT: u32 = 1000;
/// The most values an `in`/`nin` filter may carry.
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
}

impl Op {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Neq => "neq",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::In => "in",
            Self::Nin => "nin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("limit must be between 1 and {MAX_LIMIT}, got {0}")]
    Limit(u32),
    #[error("`{field}[{op}]` takes 1 to {MAX_IN_VALUES} values, got {count}")]
    ValueCount {
        field: String,
        op: &'static str,
        count: usize,
    },
    #[error("filter values for `{field}` must not be empty or contain commas")]
    BadValue { field: String },
    #[error("filter field `{0}` is not a plain field name")]
    BadField(String),
}

/// A list filter. `updated_since` is kept apart and rendered with the configured field
/// name (`updated_date` or `trackstar_updated_date`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    conditions: Vec<(String, Op, String)>,
    updated_since: Option<Timestamp>,
    updated_before: Option<Timestamp>,
    limit: Option<u32>,
}

fn check_field(field: &str) -> Result<(), FilterError> {
    let ok = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(FilterError::BadField(field.to_owned()))
    }
}

impl ListFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Page size, 1..=1000 (Trackstar's default is 1000).
    pub fn limit(mut self, limit: u32) -> Result<Self, FilterError> {
        if limit == 0 || limit > MAX_LIMIT {
            return Err(FilterError::Limit(limit));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// `field[op]=value` for single-value operators.
    pub fn cmp(mut self, field: &str, op: Op, value: &str) -> Result<Self, FilterError> {
        check_field(field)?;
        if matches!(op, Op::In | Op::Nin) {
            return self.any_of(field, op, [value]);
        }
        if value.is_empty() {
            return Err(FilterError::BadValue {
                field: field.to_owned(),
            });
        }
        self.conditions
            .push((field.to_owned(), op, value.to_owned()));
        Ok(self)
    }

    /// `field[in]=a,b,c` / `field[nin]=…` with 1 to 100 values.
    pub fn any_of<I, S>(mut self, field: &str, op: Op, values: I) -> Result<Self, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_field(field)?;
        let values: Vec<String> = values.into_iter().map(|v| v.as_ref().to_owned()).collect();
        if values.is_empty() || values.len() > MAX_IN_VALUES {
            return Err(FilterError::ValueCount {
                field: field.to_owned(),
                op: op.as_str(),
                count: values.len(),
            });
        }
        if values.iter().any(|v| v.is_empty() || v.contains(',')) {
            return Err(FilterError::BadValue {
                field: field.to_owned(),
            });
        }
        let op = if matches!(op, Op::Nin) {
            Op::Nin
        } else {
            Op::In
        };
        self.conditions
            .push((field.to_owned(), op, values.join(",")));
        Ok(self)
    }

    /// `ids[in]=…` (at most 100 ids).
    pub fn ids<I, S>(self, ids: I) -> Result<Self, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.any_of("ids", Op::In, ids)
    }

    /// Incremental reads: objects updated at or after `since`.
    pub fn updated_since(mut self, since: Timestamp) -> Self {
        self.updated_since = Some(since);
        self
    }

    /// Objects updated strictly before `before` (the exclusive end of a sync window).
    pub fn updated_before(mut self, before: Timestamp) -> Self {
        self.updated_before = Some(before);
        self
    }

    pub fn created_since(self, since: Timestamp) -> Self {
        self.date("created_date", Op::Gte, since)
    }

    pub fn created_before(self, before: Timestamp) -> Self {
        self.date("created_date", Op::Lt, before)
    }

    fn date(mut self, field: &str, op: Op, at: Timestamp) -> Self {
        self.conditions
            .push((field.to_owned(), op, at.to_trackstar_filter()));
        self
    }

    pub fn status(mut self, status: OrderStatus) -> Self {
        self.conditions
            .push(("status".to_owned(), Op::Eq, status.as_str().to_owned()));
        self
    }

    pub fn warehouse_customer(mut self, id: &WarehouseCustomerId) -> Self {
        self.conditions.push((
            "warehouse_customer_id".to_owned(),
            Op::Eq,
            id.as_str().to_owned(),
        ));
        self
    }

    pub fn sku(mut self, sku: &Sku) -> Self {
        self.conditions
            .push(("sku".to_owned(), Op::Eq, sku.as_str().to_owned()));
        self
    }

    pub fn page_limit(&self) -> Option<u32> {
        self.limit
    }

    /// The query pairs for one page (the page token is added by the pager).
    pub fn to_query(&self, updated_field: UpdatedField) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = self
            .conditions
            .iter()
            .map(|(field, op, value)| (format!("{field}[{}]", op.as_str()), value.clone()))
            .collect();
        if let Some(since) = self.updated_since {
            query.push((
                format!("{}[gte]", updated_field.as_str()),
                since.to_trackstar_filter(),
            ));
        }
        if let Some(before) = self.updated_before {
            query.push((
                format!("{}[lt]", updated_field.as_str()),
                before.to_trackstar_filter(),
            ));
        }
        if let Some(limit) = self.limit {
            query.push(("limit".to_owned(), limit.to_string()));
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn filters_render_as_bracket_operators() {
        let filter = ListFilter::new()
            .status(OrderStatus::Open)
            .created_since(ts("2024-01-01T00:00:00.5Z"))
            .cmp("channel", Op::Neq, "amazon")
            .unwrap()
            .limit(100)
            .unwrap();
        assert_eq!(
            filter.to_query(UpdatedField::UpdatedDate),
            vec![
                ("status[eq]".to_owned(), "open".to_owned()),
                (
                    "created_date[gte]".to_owned(),
                    "2024-01-01T00:00:00Z".to_owned()
                ),
                ("channel[neq]".to_owned(), "amazon".to_owned()),
                ("limit".to_owned(), "100".to_owned()),
            ]
        );
    }

    #[test]
    fn the_incremental_field_name_is_configurable() {
        let filter = ListFilter::new().updated_since(ts("2024-05-06T07:08:09Z"));
        assert_eq!(
            filter.to_query(UpdatedField::UpdatedDate),
            vec![(
                "updated_date[gte]".to_owned(),
                "2024-05-06T07:08:09Z".to_owned()
            )]
        );
        assert_eq!(
            filter.to_query(UpdatedField::TrackstarUpdatedDate),
            vec![(
                "trackstar_updated_date[gte]".to_owned(),
                "2024-05-06T07:08:09Z".to_owned()
            )]
        );
    }

    #[test]
    fn a_window_renders_both_bounds_on_the_configured_field() {
        let filter = ListFilter::new()
            .updated_since(ts("2024-05-06T07:08:09Z"))
            .updated_before(ts("2024-05-06T08:00:00Z"));
        assert_eq!(
            filter.to_query(UpdatedField::TrackstarUpdatedDate),
            vec![
                (
                    "trackstar_updated_date[gte]".to_owned(),
                    "2024-05-06T07:08:09Z".to_owned()
                ),
                (
                    "trackstar_updated_date[lt]".to_owned(),
                    "2024-05-06T08:00:00Z".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn ids_in_takes_at_most_100_values() {
        let ids: Vec<String> = (0..100).map(|i| format!("o{i}")).collect();
        let filter = ListFilter::new().ids(&ids).unwrap();
        let query = filter.to_query(UpdatedField::UpdatedDate);
        assert_eq!(query[0].0, "ids[in]");
        assert_eq!(query[0].1.split(',').count(), 100);

        let too_many: Vec<String> = (0..101).map(|i| format!("o{i}")).collect();
        assert!(matches!(
            ListFilter::new().ids(&too_many),
            Err(FilterError::ValueCount { count: 101, .. })
        ));
        assert!(ListFilter::new().ids(Vec::<String>::new()).is_err());
        assert!(ListFilter::new().ids(["a,b"]).is_err());
    }

    #[test]
    fn limit_must_be_between_1_and_1000() {
        assert!(ListFilter::new().limit(1000).is_ok());
        assert_eq!(ListFilter::new().limit(1001), Err(FilterError::Limit(1001)));
        assert_eq!(ListFilter::new().limit(0), Err(FilterError::Limit(0)));
    }

    #[test]
    fn field_names_cannot_smuggle_query_syntax() {
        assert!(ListFilter::new().cmp("status]&x[", Op::Eq, "a").is_err());
        assert!(ListFilter::new().cmp("", Op::Eq, "a").is_err());
        assert!(ListFilter::new().cmp("status", Op::Eq, "").is_err());
    }
}
