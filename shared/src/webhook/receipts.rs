//! Receipts: what happened to each webhook event, for exactly-once ingest and for ops.
//!
//! A receipt moves `received → queued → applied | stale | ignored | failed`. Ingest
//! *claims* a receipt (state `received`, with a short claim) before it enqueues, and marks
//! it `queued` after SQS accepted the message. A delivery that finds a receipt still
//! `received` whose claim has lapsed (the earlier attempt failed to enqueue or crashed)
//! claims it and enqueues again, so a receipt never stands for an event that was never
//! queued; one that finds it claimed by a running attempt is told to retry.
//!
//! A `failed` receipt also keeps the event as it was queued (compressed, see
//! [`super::stored_event`]) and is listed in its tenant's failed-events index, newest
//! first, until the event is applied: that is what `POST /sync/replay` and `packr replay`
//! re-enqueue. A replay moves the receipt back to `queued` (out of the index) before it
//! sends, so two replays cannot both enqueue it; a failed send puts it back.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::envelope::QueuedEvent;
use crate::domain::{ConnectionId, EventId, TenantId, Timestamp};
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptState {
    Received,
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
    /// How many deliveries of this event reached ingest.
    #[serde(default)]
    pub deliveries: u32,
    /// Why processing failed (the error's description, never payload data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub processing_attempts: u32,
}

/// What a receipt said before the processor's verdict replaced it (read back from the same
/// `UpdateItem`, at no extra cost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriorReceipt {
    pub state: Option<ReceiptState>,
    pub processing_attempts: u32,
}

/// The outcome of trying to claim a receipt for enqueueing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// New, or an earlier attempt never got it queued: enqueue it now.
    Claimed,
    /// Another delivery of the same event is enqueueing it right now.
    Busy,
    /// Already queued (or further along): a duplicate delivery.
    AlreadyQueued(ReceiptState),
}

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
    /// Claims the receipt of `event` for enqueueing, creating it if new.
    async fn claim(
        &self,
        tenant: &TenantId,
        event: &EventId,
        connection: &ConnectionId,
        event_type: &str,
        now: Timestamp,
    ) -> Result<Claim, StoreError>;

    /// After SQS accepted the message. A receipt already past `queued` stays as it is.
    async fn mark_queued(
        &self,
        tenant: &TenantId,
        event: &EventId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Gives up a claim after enqueueing failed, so the next delivery can claim at once.
    async fn release(&self, tenant: &TenantId, event: &EventId) -> Result<(), StoreError>;

    /// The processor's verdict; answers what the receipt said before.
    async fn mark_processed(
        &self,
        tenant: &TenantId,
        event: &EventId,
        state: ReceiptState,
        failure_reason: Option<&str>,
        now: Timestamp,
    ) -> Result<PriorReceipt, StoreError>;

    /// The processor's failure verdict: state `failed`, the reason, and the event kept
    /// for replay and listed in the tenant's failed-events index.
    async fn mark_failed(
        &self,
        event: &QueuedEvent,
        reason: &str,
        now: Timestamp,
    ) -> Result<PriorReceipt, StoreError>;

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
