//! UTC timestamps. Everything Packr stores or serves is UTC, RFC 3339 with a `Z`.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp")]
pub struct TimestampError(pub String);

/// A point in time in UTC, with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::inline(super::schema::timestamp())
    }
}

impl utoipa::ToSchema for Timestamp {}

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates to microseconds, the precision stored and compared everywhere.
    pub fn from_datetime(value: DateTime<Utc>) -> Self {
        let micros = value.timestamp_micros();
        Self(Utc.timestamp_micros(micros).single().unwrap_or(value))
    }

    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        Utc.timestamp_micros(micros).single().map(Self)
    }

    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        Utc.timestamp_opt(seconds, 0).single().map(Self)
    }

    /// Parses RFC 3339 with any offset (converted to UTC). A timestamp with no offset at
    /// all (`2024-01-02T03:04:05`), as some WMSes send through Trackstar, is taken as UTC.
    pub fn parse(value: &str) -> Result<Self, TimestampError> {
        let trimmed = value.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(trimmed) {
            return Ok(Self::from_datetime(dt.with_timezone(&Utc)));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
                return Ok(Self::from_datetime(naive.and_utc()));
            }
        }
        Err(TimestampError(value.chars().take(64).collect()))
    }

    /// RFC 3339 exactly (with an offset, nothing around it), what the API's documented
    /// `date-time` parameters take; [`Timestamp::parse`] is lenient for upstream data.
    pub fn parse_rfc3339(value: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(value)
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampError(value.chars().take(64).collect()))
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }

    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// RFC 3339 in UTC with a `Z` (fraction only where there is one).
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Trackstar's filter format: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn to_trackstar_filter(&self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// A fixed-width, lexicographically sortable rendering used inside sort keys.
    pub fn sort_key(&self) -> String {
        // Microseconds since the epoch, zero-padded: sorts like the instant itself for all
        // dates from 1970 to year 5138.
        format!("{:017}", self.unix_micros().max(0))
    }

    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self(self.0 + chrono::Duration::seconds(seconds))
    }

    pub fn plus_millis(&self, millis: i64) -> Self {
        Self(self.0 + chrono::Duration::milliseconds(millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offsets_are_converted_to_utc() {
        let t = Timestamp::parse("2024-03-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T08:00:00Z");
    }

    #[test]
    fn naive_timestamps_are_taken_as_utc() {
        let t = Timestamp::parse("2024-03-01T10:00:00.250").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T10:00:00.250Z");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("").is_err());
    }

    #[test]
    fn trackstar_filter_format_has_whole_seconds() {
        let t = Timestamp::parse("2024-03-01T10:00:00.999Z").unwrap();
        assert_eq!(t.to_trackstar_filter(), "2024-03-01T10:00:00Z");
    }

    proptest! {
        #[test]
        fn sort_keys_order_like_instants(a in 0i64..100_000_000_000_000_000, b in 0i64..100_000_000_000_000_000) {
            let (ta, tb) = (Timestamp::from_unix_micros(a).unwrap(), Timestamp::from_unix_micros(b).unwrap());
            prop_assert_eq!(ta.cmp(&tb), ta.sort_key().cmp(&tb.sort_key()));
        }

        #[test]
        fn rfc3339_round_trips(micros in 0i64..4_000_000_000_000_000) {
            let t = Timestamp::from_unix_micros(micros).unwrap();
            prop_assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Timestamp::parse(&s);
        }
    }
}
