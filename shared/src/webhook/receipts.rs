//! Receipts: one record per event, serving as its receipt for ops and its idempotency
//! record for the processor.
//!
//! Ingest writes nothing: it verifies, routes and enqueues, and a duplicate delivery is
//! queued again. The processor writes the receipt once per event, with its verdict
//! (`applied | stale | ignored | failed`); the first final verdict wins (a conditional
//! `UpdateItem`), so a duplicate finds the verdict of the first and is acknowledged as a
//! duplicate. Objects are only-if-newer on their own, so the upsert that ran before the
//! verdict changed nothing for a duplicate; the one place where re-applying an old event
//! could matter (an object tombstoned since, a connection event) reads the receipt first.
//!
//! A final receipt expires ([`RECEIPT_RETENTION_DAYS`]) only after every path by which its
//! event can come back has closed: the DLQ keeps a message 14 days (and a redrive gives it
//! a fresh queue life), Svix retries a delivery for about a day; `POST /sync/replay`
//! re-enqueues only failed receipts, which do not expire while they can be replayed.
//!
//! A `failed` receipt also keeps the event as it was queued (compressed, see
//! [`super::stored_event`]) and is listed in its tenant's failed-events index, newest
//! first, until the event is applied: that is what `POST /sync/replay` and `packr replay`
//! re-enqueue. A replay moves the receipt to `queued` (out of the index) before it sends,
//! so two replays cannot both enqueue it; a failed send puts it back. After the replay
//! window (`REPLAY_WINDOW_DAYS`, 14 days: the DLQ's retention) the retention sweep
//! (`crate::lifecycle::sweep`) drops the kept event, which may hold personal data: the
//! receipt stays `failed`, says `payload_omitted: expired`, leaves the index and expires
//! [`RECEIPT_RETENTION_DAYS`] later.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::envelope::QueuedEvent;
use crate::domain::{ConnectionId, EventId, TenantId, Timestamp};
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    /// Re-enqueued by a replay, not processed since.
    Queued,
    Applied,
    Stale,
    Ignored,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tenant_id: TenantId,
    pub event_id: EventId,
    pub connection_id: ConnectionId,
    pub event_type: String,
    pub state: ReceiptState,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    /// Why processing failed (the error's description, never payload data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub processing_attempts: u32,
    /// The failure cannot succeed on a retry (malformed payload, unknown object kind,
    /// validation): the event was not retried, only kept for replay after a fix.
    #[serde(default)]
    pub failure_permanent: bool,
}

/// What a receipt said before the processor's verdict replaced it (read back from the same
/// `UpdateItem`, at no extra cost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriorReceipt {
    pub state: Option<ReceiptState>,
    pub processing_attempts: u32,
}

/// What recording a verdict found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Recorded; what the receipt said before (nothing, `failed`, `queued` by a replay).
    Recorded(PriorReceipt),
    /// An earlier attempt already recorded this final verdict: a duplicate.
    AlreadyFinal(ReceiptState),
}

impl ReceiptState {
    /// Applied, stale or ignored: the event is done with.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Applied | Self::Stale | Self::Ignored)
    }
}

/// How long a final receipt is kept: the DLQ's retention (14 days) plus as much again for
/// a redriven message's new queue life and late retries. Failed receipts do not expire
/// until the retention sweep dropped their event (then this long after that).
pub const RECEIPT_RETENTION_DAYS: i64 = 30;

/// A receipt with the event kept for replay (`None` when none is kept: the event never
/// failed, was applied since, or was too large to keep; `payload_omitted` says why).
#[derive(Debug, Clone, PartialEq)]
pub struct FailedEvent {
    pub receipt: Receipt,
    pub event: Option<QueuedEvent>,
    pub payload_omitted: Option<String>,
}

/// The outcome of taking a failed receipt for a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayClaim {
    /// It was `failed`; it is `queued` now and out of the failed-events index.
    Claimed,
    /// It is not `failed` (any more): applied since, or queued by another replay.
    NotFailed(ReceiptState),
    Missing,
}

#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// The processor's verdict on `event` (`applied`, `stale` or `ignored`): one write,
    /// creating the receipt if needed, unless a final verdict is recorded already. Clears
    /// a kept failed event; sets the receipt's expiry.
    async fn record_verdict(
        &self,
        event: &QueuedEvent,
        state: ReceiptState,
        now: Timestamp,
    ) -> Result<Verdict, StoreError>;

    /// The processor's failure verdict: state `failed`, the reason (`permanent` when no
    /// retry can succeed), the event kept for replay and listed in the tenant's
    /// failed-events index; no expiry. Never replaces a final verdict.
    async fn mark_failed(
        &self,
        event: &QueuedEvent,
        reason: &str,
        permanent: bool,
        now: Timestamp,
    ) -> Result<Verdict, StoreError>;

    async fn get(&self, tenant: &TenantId, event: &EventId) -> Result<Option<Receipt>, StoreError>;

    /// A receipt with its kept event, whatever its state.
    async fn get_for_replay(
        &self,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<Option<FailedEvent>, StoreError>;

    /// The tenant's failed events, newest first, received at or after `since`; at most
    /// `limit` (the index is eventually consistent: confirm with [`Self::claim_replay`]).
    async fn list_failed(
        &self,
        tenant: &TenantId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<FailedEvent>, StoreError>;

    /// Takes a `failed` receipt for a replay: `queued`, out of the index.
    async fn claim_replay(
        &self,
        tenant: &TenantId,
        event: &EventId,
        now: Timestamp,
    ) -> Result<ReplayClaim, StoreError>;

    /// Undoes [`Self::claim_replay`] after the send failed: `failed` and listed again.
    async fn restore_failed(&self, event: &QueuedEvent, now: Timestamp) -> Result<(), StoreError>;

    /// A signed delivery whose body could not be understood: kept for ops (the reason and
    /// size, not the body, which may hold personal data).
    async fn record_rejected(
        &self,
        event: &EventId,
        reason: &str,
        body_bytes: usize,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}
