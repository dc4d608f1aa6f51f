//! Retention per data class: one knob each, read from the environment (each is a template
//! parameter handed to the functions that need it), with the defaults of the README's
//! retention table.
//!
//! | data class                          | kept                                   | enforced by |
//! |-------------------------------------|----------------------------------------|-------------|
//! | objects of a deleted connection     | `ConnectionErasureGraceDays` (30)      | offboarding job started by the sweep |
//! | tombstones' personal fields         | `TombstonePersonalDataDays` (7)        | [`super::sweep`] |
//! | failed receipts' kept payload       | `ReplayWindowDays` (14, the DLQ's)     | [`super::sweep`] |
//! | `REJECTED#` delivery records        | `RejectedDeliveryRetentionDays` (30)   | TTL `expires_at` |
//! | bills (financial records)           | `BillRetentionYears` (7) after the bill's date | TTL `expires_at` |
//! | messages                            | until offboarded; `MessageRetentionDays` (0 = keep) | TTL `expires_at` / offboarding |
//! | audit entries                       | `AuditRetentionDays` (365, `AUDIT_RETENTION_DAYS`, read by `audit::log_from_env`) | TTL |
//!
//! What DynamoDB's TTL enforces is stamped on the item when it is written ([`ItemExpiry`],
//! held by the store); what TTL cannot do (drop some fields of an item that stays) is the
//! sweep's.

use crate::domain::Timestamp;
use crate::runtime::{optional_number, ConfigError, Env};

pub const DEFAULT_CONNECTION_ERASURE_GRACE_DAYS: u32 = 30;
pub const DEFAULT_TOMBSTONE_PERSONAL_DATA_DAYS: u32 = 7;
/// Today's replay window: the webhook DLQ keeps a message 14 days, and `POST /sync/replay`
/// takes events at most that old (`api::replay::MAX_AGE_HOURS`).
pub const DEFAULT_REPLAY_WINDOW_DAYS: u32 = 14;
pub const DEFAULT_REJECTED_DELIVERY_DAYS: u32 = 30;
pub const DEFAULT_BILL_RETENTION_YEARS: u32 = 7;
/// 0: messages are kept until their brand or tenant is offboarded.
pub const DEFAULT_MESSAGE_RETENTION_DAYS: u32 = 0;

const DAY: i64 = 86_400;

/// Every retention knob (`from_env`; `Default` is the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `CONNECTION_ERASURE_GRACE_DAYS`: a deleted connection's objects are erased this long
    /// after the deletion unless it is linked again meanwhile (the offboarding's knob).
    pub connection_erasure_grace_days: u32,
    /// `TOMBSTONE_PERSONAL_DATA_DAYS`: a tombstone's personal fields are dropped this long
    /// after the deletion (id, kind and dates stay).
    pub tombstone_personal_data_days: u32,
    /// `REPLAY_WINDOW_DAYS`: a failed receipt's kept event is dropped this long after it
    /// was received (it cannot be replayed after that).
    pub replay_window_days: u32,
    /// The TTL stamps of the items that expire as a whole.
    pub expiry: ItemExpiry,
}

/// The expiries stamped on items as they are written (DynamoDB TTL, `expires_at`): what
/// the store needs of the retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemExpiry {
    /// `REJECTED_DELIVERY_RETENTION_DAYS`: an ops record of a rejected delivery.
    pub rejected_delivery_days: u32,
    /// `BILL_RETENTION_YEARS`: a bill, after its date (Trackstar's `created_date`).
    pub bill_retention_years: u32,
    /// `MESSAGE_RETENTION_DAYS`: a message after it was posted; 0 keeps it.
    pub message_retention_days: u32,
}

impl Default for ItemExpiry {
    fn default() -> Self {
        Self {
            rejected_delivery_days: DEFAULT_REJECTED_DELIVERY_DAYS,
            bill_retention_years: DEFAULT_BILL_RETENTION_YEARS,
            message_retention_days: DEFAULT_MESSAGE_RETENTION_DAYS,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            connection_erasure_grace_days: DEFAULT_CONNECTION_ERASURE_GRACE_DAYS,
            tombstone_personal_data_days: DEFAULT_TOMBSTONE_PERSONAL_DATA_DAYS,
            replay_window_days: DEFAULT_REPLAY_WINDOW_DAYS,
            expiry: ItemExpiry::default(),
        }
    }
}

/// A number of days (or years) from the environment within `range`, else `default`; a
/// value outside it is an error naming the variable (a typo must not silently keep data
/// forever or erase it at once).
fn within(
    env: &dyn Env,
    name: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let value = optional_number::<u32>(env, name)?.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!("must be from {} to {}", range.start(), range.end()),
        })
    }
}

impl RetentionConfig {
    /// `CONNECTION_ERASURE_GRACE_DAYS` (30), `TOMBSTONE_PERSONAL_DATA_DAYS` (7),
    /// `REPLAY_WINDOW_DAYS` (14) and the [`ItemExpiry`] variables.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connection_erasure_grace_days: within(
                env,
                "CONNECTION_ERASURE_GRACE_DAYS",
                DEFAULT_CONNECTION_ERASURE_GRACE_DAYS,
                0..=3650,
            )?,
            tombstone_personal_data_days: within(
                env,
                "TOMBSTONE_PERSONAL_DATA_DAYS",
                DEFAULT_TOMBSTONE_PERSONAL_DATA_DAYS,
                0..=3650,
            )?,
            replay_window_days: within(
                env,
                "REPLAY_WINDOW_DAYS",
                DEFAULT_REPLAY_WINDOW_DAYS,
                1..=3650,
            )?,
            expiry: ItemExpiry::from_env(env)?,
        })
    }

    /// Tombstones deleted before this have their personal fields dropped.
    pub fn tombstone_cutoff(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(-i64::from(self.tombstone_personal_data_days) * DAY)
    }

    /// Failed receipts received before this have their kept event dropped.
    pub fn replay_cutoff(&self, now: Timestamp) -> Timestamp {
        now.plus_seconds(-i64::from(self.replay_window_days) * DAY)
    }

    /// When the objects of a connection deleted at `deleted_at` are to be erased.
    pub fn connection_erasure_due(&self, deleted_at: Timestamp) -> Timestamp {
        deleted_at.plus_seconds(i64::from(self.connection_erasure_grace_days) * DAY)
    }
}

impl ItemExpiry {
    /// `REJECTED_DELIVERY_RETENTION_DAYS` (30, 1–3650), `BILL_RETENTION_YEARS` (7, 1–100),
    /// `MESSAGE_RETENTION_DAYS` (0 = keep, 0–36500).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            rejected_delivery_days: within(
                env,
                "REJECTED_DELIVERY_RETENTION_DAYS",
                DEFAULT_REJECTED_DELIVERY_DAYS,
                1..=3650,
            )?,
            bill_retention_years: within(
                env,
                "BILL_RETENTION_YEARS",
                DEFAULT_BILL_RETENTION_YEARS,
                1..=100,
            )?,
            message_retention_days: within(
                env,
                "MESSAGE_RETENTION_DAYS",
                DEFAULT_MESSAGE_RETENTION_DAYS,
                0..=36_500,
            )?,
        })
    }

    /// The expiry (unix seconds) of a rejected delivery recorded at `at`.
    pub fn rejected_expires_at(&self, at: Timestamp) -> i64 {
        at.unix_seconds() + i64::from(self.rejected_delivery_days) * DAY
    }

    /// The expiry of a bill dated `date`: the same calendar day `BILL_RETENTION_YEARS`
    /// later (29 February → 28 February of a common year).
    pub fn bill_expires_at(&self, date: Timestamp) -> i64 {
        let years = chrono::Months::new(self.bill_retention_years.saturating_mul(12));
        date.as_datetime()
            .checked_add_months(years)
            .map_or(i64::MAX, |at| at.timestamp())
    }

    /// The expiry of a message posted at `created`, `None` when messages are kept.
    pub fn message_expires_at(&self, created: Timestamp) -> Option<i64> {
        (self.message_retention_days > 0)
            .then(|| created.unix_seconds() + i64::from(self.message_retention_days) * DAY)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn without_variables_the_readme_defaults_hold() {
        // given no variable; when read; then the defaults of the retention table
        let config = RetentionConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config, RetentionConfig::default());
        assert_eq!(config.connection_erasure_grace_days, 30);
        assert_eq!(config.tombstone_personal_data_days, 7);
        assert_eq!(config.replay_window_days, 14);
        assert_eq!(config.expiry.rejected_delivery_days, 30);
        assert_eq!(config.expiry.bill_retention_years, 7);
        assert_eq!(config.expiry.message_retention_days, 0);
    }

    #[test]
    fn each_variable_sets_its_knob() {
        let config = RetentionConfig::from_env(&env(&[
            ("CONNECTION_ERASURE_GRACE_DAYS", "10"),
            ("TOMBSTONE_PERSONAL_DATA_DAYS", "3"),
            ("REPLAY_WINDOW_DAYS", "5"),
            ("REJECTED_DELIVERY_RETENTION_DAYS", "2"),
            ("BILL_RETENTION_YEARS", "10"),
            ("MESSAGE_RETENTION_DAYS", "90"),
        ]))
        .unwrap();
        assert_eq!(
            config,
            RetentionConfig {
                connection_erasure_grace_days: 10,
                tombstone_personal_data_days: 3,
                replay_window_days: 5,
                expiry: ItemExpiry {
                    rejected_delivery_days: 2,
                    bill_retention_years: 10,
                    message_retention_days: 90,
                },
            }
        );
    }

    #[test]
    fn a_value_out_of_range_or_not_a_number_is_refused_naming_the_variable() {
        for (name, value) in [
            ("BILL_RETENTION_YEARS", "0"),
            ("REPLAY_WINDOW_DAYS", "0"),
            ("TOMBSTONE_PERSONAL_DATA_DAYS", "seven"),
            ("MESSAGE_RETENTION_DAYS", "-1"),
        ] {
            let error = RetentionConfig::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(error.to_string().contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn a_bill_expires_on_the_same_day_seven_years_after_its_date() {
        let expiry = ItemExpiry::default();
        let date = Timestamp::parse("2024-02-29T10:00:00Z").unwrap();
        let expected = Timestamp::parse("2031-02-28T10:00:00Z").unwrap();
        assert_eq!(expiry.bill_expires_at(date), expected.unix_seconds());
        let date = Timestamp::parse("2025-06-30T00:00:00Z").unwrap();
        let expected = Timestamp::parse("2032-06-30T00:00:00Z").unwrap();
        assert_eq!(expiry.bill_expires_at(date), expected.unix_seconds());
    }

    #[test]
    fn messages_expire_only_when_a_retention_is_set() {
        let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(ItemExpiry::default().message_expires_at(at), None);
        let expiry = ItemExpiry {
            message_retention_days: 2,
            ..ItemExpiry::default()
        };
        assert_eq!(
            expiry.message_expires_at(at),
            Some(at.unix_seconds() + 2 * 86_400)
        );
    }

    #[test]
    fn cutoffs_lie_the_configured_days_before_now() {
        let now = Timestamp::parse("2026-03-15T12:00:00Z").unwrap();
        let config = RetentionConfig::default();
        assert_eq!(
            config.tombstone_cutoff(now),
            Timestamp::parse("2026-03-08T12:00:00Z").unwrap()
        );
        assert_eq!(
            config.replay_cutoff(now),
            Timestamp::parse("2026-03-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            config.connection_erasure_due(now),
            Timestamp::parse("2026-04-14T12:00:00Z").unwrap()
        );
    }
}
