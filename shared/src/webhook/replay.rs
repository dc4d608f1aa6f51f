//! Replaying a tenant's failed webhook events (`POST /sync/replay`, `packr replay`): each
//! is re-enqueued from the event kept on its receipt, unchanged (same event id, so the
//! processor's idempotency record makes a replay of an applied event a no-op), with an SQS
//! delay spread so a large replay cannot stampede the processor or Trackstar.
//!
//! Only the caller's tenant's receipts are read (its own key space, `T#<tenant>#…`), so
//! another tenant's events are never touched — even though every tenant's dead letters
//! share one DLQ: what is replayed comes from the receipts, not from the DLQ.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::QueuedEvent;
use super::queue::{EventQueue, MAX_DELAY};
use super::receipts::{FailedEvent, ReceiptState, ReceiptStore, ReplayClaim};
use crate::domain::{BrandId, ConnectionId, EventId, TenantId, Timestamp};
use crate::store::{ConnectionStore, StoreError};

/// At most this many events are replayed per call.
pub const MAX_REPLAY: usize = 1_000;
/// At most this many explicit event ids per call.
pub const MAX_EVENT_IDS: usize = 100;
/// The pace of a replay: events become visible at this rate (the delay spread), so 1,000
/// events take 500 s, within SQS's 900 s longest delay.
pub const REPLAY_PER_SECOND: u64 = 2;
/// With a brand filter, at most this many failed events are read to find the matches.
const MAX_SCAN: usize = 5 * MAX_REPLAY;

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    pub tenant: TenantId,
    /// Only events of this brand (the event's brand, else its connection's).
    pub brand: Option<BrandId>,
    /// Only these events; empty: every failed event matching the other filters.
    pub event_ids: Vec<EventId>,
    /// Only events received at most this long ago.
    pub max_age: Option<Duration>,
    /// At most this many (capped at [`MAX_REPLAY`]).
    pub max: usize,
    /// Count and list, enqueue nothing.
    pub dry_run: bool,
}

/// Why an event was not replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No receipt of this id in the tenant (unknown, or another tenant's).
    NotFound,
    /// Applied since it failed: nothing to replay.
    AlreadyApplied,
    /// Processed since as stale or ignored: nothing to replay.
    AlreadyProcessed,
    /// Not failed: queued (e.g. by an earlier replay) or still being ingested.
    NotFailed,
    /// Outside the brand or age filter.
    FilteredOut,
    /// No event is kept for it (too large to keep, or unreadable).
    PayloadMissing,
    /// SQS refused it; it stays failed and listed.
    EnqueueFailed,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotFound => "not_found",
            SkipReason::AlreadyApplied => "already_applied",
            SkipReason::AlreadyProcessed => "already_processed",
            SkipReason::NotFailed => "not_failed",
            SkipReason::FilteredOut => "filtered_out",
            SkipReason::PayloadMissing => "payload_missing",
            SkipReason::EnqueueFailed => "enqueue_failed",
        }
    }

    fn of_state(state: ReceiptState) -> Self {
        match state {
            ReceiptState::Applied => SkipReason::AlreadyApplied,
            ReceiptState::Stale | ReceiptState::Ignored => SkipReason::AlreadyProcessed,
            ReceiptState::Queued | ReceiptState::Failed => SkipReason::NotFailed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkippedEvent {
    pub event_id: String,
    pub reason: SkipReason,
}

/// What a replay did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplayReport {
    /// Failed events that matched the filter (at most the cap).
    pub matched: usize,
    /// Re-enqueued (0 in a dry run).
    pub enqueued: usize,
    pub skipped: Vec<SkippedEvent>,
    /// More failed events match than the cap let through.
    pub truncated: bool,
    pub dry_run: bool,
    /// The delay of the last event enqueued, in seconds (the spread).
    pub spread_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading the receipts failed ({enqueued} events were enqueued before)")]
    Store {
        enqueued: usize,
        #[source]
        source: StoreError,
    },
    #[error("no webhook queue is configured")]
    NoQueue,
}

/// The delay of the `i`-th event of a replay.
pub fn delay_of(i: usize) -> Duration {
    Duration::from_secs(i as u64 / REPLAY_PER_SECOND).min(MAX_DELAY)
}

/// The brand of each of the tenant's connections, for the brand filter.
async fn connection_brands(
    connections: &dyn ConnectionStore,
    tenant: &TenantId,
) -> Result<HashMap<ConnectionId, Option<BrandId>>, StoreError> {
    Ok(connections
        .list_connections(tenant)
        .await?
        .into_iter()
        .map(|c| (c.connection_id, c.brand_id))
        .collect())
}

struct Filter<'a> {
    brand: Option<&'a BrandId>,
    brands: HashMap<ConnectionId, Option<BrandId>>,
    since: Option<Timestamp>,
}

impl Filter<'_> {
    fn keeps(&self, found: &FailedEvent) -> bool {
        if let Some(since) = self.since {
            let received = found
                .event
                .as_ref()
                .map_or(found.receipt.received_at, |e| e.received_at);
            if received < since {
                return false;
            }
        }
        let Some(brand) = self.brand else {
            return true;
        };
        let event_brand = found.event.as_ref().and_then(|e| e.brand_id.as_ref());
        match event_brand {
            Some(b) => b == brand,
            None => self
                .brands
                .get(&found.receipt.connection_id)
                .is_some_and(|b| b.as_ref() == Some(brand)),
        }
    }
}

/// Selects the tenant's failed events by the request's filters and (unless a dry run)
/// re-enqueues each, spread over time. `queue` may be `None` for a dry run.
pub async fn replay(
    receipts: &dyn ReceiptStore,
    connections: &dyn ConnectionStore,
    queue: Option<&dyn EventQueue>,
    request: &ReplayRequest,
    now: Timestamp,
) -> Result<ReplayReport, ReplayError> {
    let store = |source| ReplayError::Store {
        enqueued: 0,
        source,
    };
    let tenant = &request.tenant;
    let cap = request.max.clamp(1, MAX_REPLAY);
    let filter = Filter {
        brand: request.brand.as_ref(),
        brands: match &request.brand {
            Some(_) => connection_brands(connections, tenant)
                .await
                .map_err(store)?,
            None => HashMap::new(),
        },
        since: request
            .max_age
            .map(|age| now.plus_seconds(-i64::try_from(age.as_secs()).unwrap_or(i64::MAX / 2))),
    };
    let mut report = ReplayReport {
        dry_run: request.dry_run,
        ..ReplayReport::default()
    };
    let skip = |report: &mut ReplayReport, id: &EventId, reason| {
        report.skipped.push(SkippedEvent {
            event_id: id.to_string(),
            reason,
        })
    };

    // The candidates: the ids asked for, or the failed-events index (newest first).
    let mut chosen: Vec<FailedEvent> = Vec::new();
    if request.event_ids.is_empty() {
        // The brand filter drops some of what is read: read further (bounded).
        let read = if filter.brand.is_some() {
            MAX_SCAN
        } else {
            cap + 1
        };
        let page = receipts
            .list_failed(tenant, filter.since, read)
            .await
            .map_err(store)?;
        let scanned = page.len();
        for found in page {
            if found.receipt.state == ReceiptState::Failed && filter.keeps(&found) {
                chosen.push(found);
                if chosen.len() > cap {
                    break;
                }
            }
        }
        report.truncated = scanned >= read && chosen.len() <= cap;
    } else {
        let mut asked = BTreeSet::new();
        for id in request.event_ids.iter().take(MAX_EVENT_IDS) {
            if !asked.insert(id.clone()) {
                continue;
            }
            match receipts.get_for_replay(tenant, id).await.map_err(store)? {
                None => skip(&mut report, id, SkipReason::NotFound),
                Some(found) if found.receipt.state != ReceiptState::Failed => {
                    skip(&mut report, id, SkipReason::of_state(found.receipt.state))
                }
                Some(found) if !filter.keeps(&found) => {
                    skip(&mut report, id, SkipReason::FilteredOut)
                }
                Some(found) => chosen.push(found),
            }
        }
    }
    if chosen.len() > cap {
        chosen.truncate(cap);
        report.truncated = true;
    }
    report.matched = chosen.len();

    let mut events: Vec<QueuedEvent> = Vec::with_capacity(chosen.len());
    for found in chosen {
        match found.event {
            // A kept event is the tenant's own; check anyway before it is sent.
            Some(event) if &event.tenant_id == tenant => events.push(event),
            _ => skip(
                &mut report,
                &found.receipt.event_id,
                SkipReason::PayloadMissing,
            ),
        }
    }
    if request.dry_run {
        return Ok(report);
    }
    let Some(queue) = queue else {
        return Err(ReplayError::NoQueue);
    };

    for chunk in events.chunks(10) {
        // Take each receipt first (failed → queued), so two replays cannot both send it.
        let claims = join_all(
            chunk
                .iter()
                .map(|e| receipts.claim_replay(tenant, &e.event_id, now)),
        )
        .await;
        let mut sending = Vec::with_capacity(chunk.len());
        for (event, claim) in chunk.iter().zip(claims) {
            match claim {
                Ok(ReplayClaim::Claimed) => {
                    let delay = delay_of(report.enqueued + sending.len());
                    sending.push((event.clone(), delay));
                }
                Ok(ReplayClaim::NotFailed(state)) => {
                    skip(&mut report, &event.event_id, SkipReason::of_state(state))
                }
                Ok(ReplayClaim::Missing) => {
                    skip(&mut report, &event.event_id, SkipReason::NotFound)
                }
                Err(source) => {
                    return Err(ReplayError::Store {
                        enqueued: report.enqueued,
                        source,
                    })
                }
            }
        }
        if sending.is_empty() {
            continue;
        }
        let results = queue.enqueue_delayed(&sending).await;
        for ((event, delay), result) in sending.iter().zip(results) {
            match result {
                Ok(()) => {
                    report.enqueued += 1;
                    report.spread_seconds = delay.as_secs();
                }
                Err(e) => {
                    tracing::warn!(event_id = %event.event_id, error = %e, "replay enqueue failed");
                    if let Err(e) = receipts.restore_failed(event, now).await {
                        tracing::error!(event_id = %event.event_id, error = %e,
                            "could not list the event as failed again");
                    }
                    skip(&mut report, &event.event_id, SkipReason::EnqueueFailed);
                }
            }
        }
    }
    tracing::info!(
        matched = report.matched,
        enqueued = report.enqueued,
        skipped = report.skipped.len(),
        spread_seconds = report.spread_seconds,
        "failed events replayed"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_spread_at_the_replay_pace_and_stop_at_the_sqs_limit() {
        assert_eq!(delay_of(0), Duration::ZERO);
        assert_eq!(delay_of(1), Duration::ZERO);
        assert_eq!(delay_of(2), Duration::from_secs(1));
        assert_eq!(delay_of(MAX_REPLAY - 1), Duration::from_secs(499));
        assert_eq!(delay_of(10_000), MAX_DELAY);
    }
}
