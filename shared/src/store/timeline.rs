//! GCRA timelines kept in DynamoDB items, booked with ONE conditional `UpdateItem`: the
//! shared piece of the Trackstar rate budget (`trackstar::budget`, one item per access
//! token) and the API's per-tenant quotas (`api::quota`, one item per tenant and class).
//!
//! A timeline is one numeric attribute (`#t`): the theoretical arrival time (TAT, epoch ms)
//! of the next free slot. Booking `cost` ms of it at `now`, at most `look_ahead` ms ahead:
//! - timeline busy (TAT ≥ now): `SET #t = #t + :inc`, on condition
//!   `#t BETWEEN :now AND :horizon`. The arithmetic runs inside DynamoDB, so concurrent
//!   callers of every instance all succeed without conflicting; `ALL_NEW` tells each its slot.
//! - timeline idle (TAT < now or none): `SET #t = :next`, on condition `#t < :now` —
//!   optimistic, as only one of several callers that find it idle wins.
//!
//! Which form to send is chosen from the TAT the caller last saw. When the guess is wrong
//! (or the timeline is booked past the horizon) the condition fails and
//! `ReturnValuesOnConditionCheckFailure::AllOld` returns the current item, from which the
//! caller decides — so there are no reads in steady state and one write unit per booking
//! (items are far below 1 KB; a refused conditional write costs its unit too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::keys;

/// An item as DynamoDB returns it.
pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("DynamoDB failed {operation} on a rate timeline")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("DynamoDB did not answer within {0:?}")]
    Timeout(Duration),
}

/// One `UpdateItem`. Placeholders the expressions do not use are left out of the request.
pub struct Update {
    pub expression: String,
    pub condition: Option<String>,
    /// `#placeholder` → attribute name.
    pub names: Vec<(&'static str, &'static str)>,
    /// `:placeholder` → value.
    pub values: Vec<(&'static str, AttributeValue)>,
}

pub enum Outcome {
    /// The update was applied; the item after it.
    Applied(Item),
    /// The condition failed; the item as it is now (empty if there is none).
    Refused(Item),
}

/// One booking of `cost_ms` on the timeline `#t`, chosen from the TAT last seen.
pub struct Booking {
    pub expression: String,
    /// The rate part of the condition (callers may add their own with `AND`).
    pub condition: String,
    /// Whether the busy form was sent (the slot booked is then `new TAT - cost`).
    pub busy: bool,
    pub values: Vec<(&'static str, AttributeValue)>,
}

/// The booking to send: see the module documentation.
pub fn book(seen_tat: Option<i64>, now: i64, cost_ms: i64, look_ahead_ms: i64) -> Booking {
    let busy = seen_tat.is_some_and(|t| t >= now);
    let (expression, condition) = if busy {
        ("SET #t = #t + :inc", "#t BETWEEN :now AND :horizon")
    } else {
        ("SET #t = :next", "(attribute_not_exists(#t) OR #t < :now)")
    };
    Booking {
        expression: expression.to_owned(),
        condition: condition.to_owned(),
        busy,
        values: vec![
            (":inc", n(cost_ms)),
            (":now", n(now)),
            (":horizon", n(now + look_ahead_ms)),
            (":next", n(now + cost_ms)),
        ],
    }
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A numeric attribute of an item.
pub fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
}

/// Whether `expression` uses `placeholder` as a whole token.
pub fn uses(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(at, _)| {
        expression[at + placeholder.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// The table side of timelines: one client, a time limit per call, and counters of what
/// was sent (for metrics and benchmarks).
pub struct TimelineTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    timeout: Duration,
    updates: AtomicU64,
    refused: AtomicU64,
    reads: AtomicU64,
}

/// What a [`TimelineTable`] has sent to DynamoDB since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineStats {
    /// `UpdateItem` calls, refused ones included.
    pub updates: u64,
    /// `UpdateItem` calls whose condition failed.
    pub refused: u64,
    /// `GetItem` calls.
    pub reads: u64,
}

impl TimelineTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, timeout: Duration) -> Self {
        Self {
            client,
            table,
            timeout,
            updates: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        }
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn stats(&self) -> TimelineStats {
        TimelineStats {
            updates: self.updates.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
        }
    }

    /// Sends `update` to the item (`pk`, `sk`), within the time limit. A failed condition
    /// is an answer, not an error: the current item comes with it (read afresh when the
    /// service does not return it, as an emulator may not).
    pub async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
    ) -> Result<Outcome, TimelineError> {
        let text = format!(
            "{} {}",
            update.expression,
            update.condition.as_deref().unwrap_or("")
        );
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(pk.to_owned()))
            .key(keys::SK, AttributeValue::S(sk.to_owned()))
            .update_expression(&update.expression)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(condition) = &update.condition {
            request = request.condition_expression(condition);
        }
        for (placeholder, name) in update.names {
            if uses(&text, placeholder) {
                request = request.expression_attribute_names(placeholder, name);
            }
        }
        for (placeholder, value) in update.values {
            if uses(&text, placeholder) {
                request = request.expression_attribute_values(placeholder, value);
            }
        }
        self.updates.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| TimelineError::Timeout(self.timeout))?;
        match result {
            Ok(output) => Ok(Outcome::Applied(output.attributes.unwrap_or_default())),
            Err(error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    let item = match failed.item {
                        Some(item) => item,
                        None => self.read(pk, sk).await?,
                    };
                    Ok(Outcome::Refused(item))
                }
                other => Err(TimelineError::Dynamo {
                    operation: "UpdateItem",
                    source: Box::new(aws_sdk_dynamodb::Error::from(other)),
                }),
            },
        }
    }

    /// The item (`pk`, `sk`), read consistently; empty if there is none.
    pub async fn read(&self, pk: &str, sk: &str) -> Result<Item, TimelineError> {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(pk.to_owned()))
            .key(keys::SK, AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let output = tokio::time::timeout(self.timeout, request)
            .await
            .map_err(|_| TimelineError::Timeout(self.timeout))?
            .map_err(|e| TimelineError::Dynamo {
                operation: "GetItem",
                source: Box::new(aws_sdk_dynamodb::Error::from(e)),
            })?;
        Ok(output.item.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_whole_tokens_only() {
        assert!(uses("SET #t = :now", ":now"));
        assert!(!uses("SET #t = :next", ":n"));
        assert!(uses("#t BETWEEN :now AND :horizon", ":horizon"));
        assert!(!uses("SET #pk = :x", "#p"));
        assert!(uses("REMOVE #o, #p", "#p"));
    }

    #[test]
    fn a_timeline_seen_ahead_of_now_is_booked_in_place() {
        // given a TAT 40 ms ahead
        let busy = book(Some(1_040), 1_000, 50, 200);
        // then the busy form adds the cost inside DynamoDB, bounded by the horizon
        assert!(busy.busy);
        assert_eq!(busy.expression, "SET #t = #t + :inc");
        assert_eq!(busy.condition, "#t BETWEEN :now AND :horizon");
        let value = |b: &Booking, k: &str| {
            b.values
                .iter()
                .find(|(p, _)| *p == k)
                .and_then(|(_, v)| v.as_n().ok().cloned())
        };
        assert_eq!(value(&busy, ":inc").as_deref(), Some("50"));
        assert_eq!(value(&busy, ":horizon").as_deref(), Some("1200"));
        // and an idle (or unknown) timeline starts again from now
        let idle = book(None, 1_000, 50, 200);
        assert!(!idle.busy);
        assert_eq!(idle.expression, "SET #t = :next");
        assert_eq!(value(&idle, ":next").as_deref(), Some("1050"));
        assert!(!book(Some(999), 1_000, 50, 200).busy);
    }
}
