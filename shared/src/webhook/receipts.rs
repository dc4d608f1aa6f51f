//! Receipts: what happened to each webhook event, for exactly-once ingest and for ops.
//!
//! A receipt moves `received → queued → applied | stale | ignored | failed`. Ingest
//! *claims* a receipt (state `received`, with a short claim) before it enqueues, and marks
//! it `queued` after SQS accepted the message. A delivery that finds a receipt still
//! `received` whose claim has lapsed (the earlier attempt failed to enqueue or crashed)
//! claims it and enqueues again, so a receipt never stands for an event that was never
//! queued; one that finds it claimed by a running attempt is told to retry.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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

    async fn get(&self, tenant: &TenantId, event: &EventId) -> Result<Option<Receipt>, StoreError>;

    /// An event for a connection no tenant owns: kept for ops under a global key.
    async fn record_unroutable(
        &self,
        connection: &ConnectionId,
        event: &EventId,
        event_type: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

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
