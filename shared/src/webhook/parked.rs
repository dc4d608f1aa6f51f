//! Parked events: webhooks for a connection no tenant has linked yet.
//!
//! Trackstar can send a connection's first events (`connection.created`, even orders)
//! before `POST /connections/exchange` has stored the connection and its route. Ingest
//! cannot queue those (the tenant is unknown), so it *parks* them: the whole event as it
//! would be queued, gzip-compressed, under the global key `PARKED#<connection id>` /
//! `<event id>`, and answers 200 (Svix would otherwise retry for a day and then give up).
//!
//! - **Release.** The exchange that creates the route drains the connection's parked
//!   events onto the webhook queue through ingest's own [`queue_event`]; a record is
//!   deleted only after its event is known queued. A crash in between re-sends at worst,
//!   and the processor's record of the event acknowledges the second copy as a duplicate. Ingest re-reads the route after
//!   parking: an exchange that finished between its lookup and its write found nothing
//!   to drain, so ingest releases that event itself.
//! - **Expiry.** A parked event waits at most the retention (`PARKED_RETENTION_HOURS`,
//!   7 days by default). The sweep ([`sweep`], on its own schedule in sync-scheduler)
//!   reads the expired ones from the sparse `gsi2` partition `PARKED` (oldest first, no
//!   scan), deletes them, emits `webhook.parked_expired` and logs connection id and count
//!   (never payload data). An expired event whose connection is linked by now (its
//!   release was interrupted) is released instead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use super::envelope::QueuedEvent;
use super::ingest::queue_event;
use super::queue::EventQueue;
use crate::domain::{ConnectionId, ConnectionRoute, CorrelationId, EventId, Timestamp};
use crate::metrics::{Metric, MetricsSink};
use crate::store::{ConnectionStore, StoreError};

/// How long a parked event waits for its connection by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Expired parked events one sweep handles at most (the next sweep takes the rest).
pub const SWEEP_LIMIT: usize = 1000;

/// A webhook as ingest would queue it, minus the tenant (unknown until the route exists).
/// `Debug`: the payload redacted.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedEvent {
    pub event_id: EventId,
    pub connection_id: ConnectionId,
    pub event_type: String,
    pub received_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    pub correlation_id: CorrelationId,
    /// The webhook body as received (already verified).
    pub payload: serde_json::Value,
}

crate::redacted_debug!(ParkedEvent {
    event_id, connection_id, event_type, received_at, delivered_at, correlation_id;
    payload,
});

impl ParkedEvent {
    /// The event as ingest would have queued it, had the route existed.
    pub fn queued_for(self, route: &ConnectionRoute) -> QueuedEvent {
        QueuedEvent {
            event_id: self.event_id,
            tenant_id: route.tenant_id.clone(),
            brand_id: route.brand_id.clone(),
            connection_id: self.connection_id,
            event_type: self.event_type,
            received_at: self.received_at,
            delivered_at: self.delivered_at,
            correlation_id: self.correlation_id,
            payload: self.payload,
        }
    }
}

/// A parked record as read back: `event` is `None` when it cannot be read (kept until it
/// expires, so the sweep reports it).
#[derive(Debug, Clone, PartialEq)]
pub struct ParkedEntry {
    pub event_id: EventId,
    pub parked_at: Timestamp,
    pub event: Option<ParkedEvent>,
}

/// A parked record's key, as the expiry index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedKey {
    pub connection_id: ConnectionId,
    pub event_id: EventId,
    pub parked_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Park {
    Parked,
    /// A redelivery of an event already parked (the first one is kept).
    AlreadyParked,
}

#[async_trait]
pub trait ParkedEventStore: Send + Sync {
    /// Parks `event` unless it is parked already.
    async fn park(&self, event: &ParkedEvent, now: Timestamp) -> Result<Park, StoreError>;
    /// Every event parked for `connection` (strongly consistent).
    async fn parked(&self, connection: &ConnectionId) -> Result<Vec<ParkedEntry>, StoreError>;
    /// Parked events of every connection parked before `before`, oldest first, at most
    /// `limit` (the index is eventually consistent: a listed one may be gone already).
    async fn parked_before(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ParkedKey>, StoreError>;
    /// Deletes a parked record; whether it was there.
    async fn remove(&self, connection: &ConnectionId, event: &EventId) -> Result<bool, StoreError>;
}

/// What a release of parked events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Released {
    /// Queued now.
    pub queued: usize,
    /// Left parked: the queue failed, or the record is unreadable. Released by a later attempt or reported when it expires.
    pub pending: usize,
}

impl Released {
    fn add(&mut self, other: Released) {
        self.queued += other.queued;
        self.pending += other.pending;
    }
}

/// What releasing parked events needs: the ingest path's queue and metrics.
#[derive(Clone, Copy)]
pub struct ReleaseDeps<'a> {
    pub parked: &'a dyn ParkedEventStore,
    pub queue: &'a dyn EventQueue,
    pub metrics: &'a dyn MetricsSink,
}

/// Queues one parked event for `route` and deletes its record once it is known queued.
pub async fn release_one(
    deps: ReleaseDeps<'_>,
    route: &ConnectionRoute,
    event: ParkedEvent,
) -> Released {
    let event_id = event.event_id.clone();
    let queued = event.queued_for(route);
    let mut released = Released::default();
    match queue_event(deps.queue, deps.metrics, &queued).await {
        Ok(()) => released.queued = 1,
        Err(e) => {
            warn!(event_id = %event_id, error = %crate::api::error::error_chain(&e), "parked event not released; left parked");
            released.pending = 1;
            return released;
        }
    }
    if let Err(e) = deps.parked.remove(&route.connection_id, &event_id).await {
        // Queued: a later release queues it again, and the processor's record of the
        // event acknowledges that copy as a duplicate.
        warn!(event_id = %event_id, error = %e, "released, but the parked record could not be deleted");
    }
    released
}

/// Drains every event parked for the connection of `route` onto the webhook queue, oldest
/// first (`POST /connections/exchange`, once it stored the route).
pub async fn release_parked(
    deps: ReleaseDeps<'_>,
    route: &ConnectionRoute,
) -> Result<Released, StoreError> {
    let mut entries = deps.parked.parked(&route.connection_id).await?;
    entries.sort_by(|a, b| (a.parked_at, &a.event_id).cmp(&(b.parked_at, &b.event_id)));
    let mut released = Released::default();
    for entry in entries {
        match entry.event {
            Some(event) => released.add(release_one(deps, route, event).await),
            None => {
                error!(connection_id = %route.connection_id, event_id = %entry.event_id, "a parked event is unreadable; it is reported when it expires");
                released.pending += 1;
            }
        }
    }
    if released != Released::default() {
        deps.metrics.emit(Metric {
            value: released.queued as f64,
            ..Metric::count("webhook.parked_released")
        });
        info!(
            connection_id = %route.connection_id,
            queued = released.queued,
            pending = released.pending,
            "parked webhook events released"
        );
    }
    Ok(released)
}

/// What the expiry sweep needs.
pub struct SweepDeps<'a> {
    pub release: ReleaseDeps<'a>,
    pub connections: &'a dyn ConnectionStore,
    pub retention: Duration,
}

/// The expiry sweep as a schedule target holds it (sync-scheduler, `{"kind":
/// "parked-sweep"}`).
pub struct ParkedSweeper {
    pub parked: Arc<dyn ParkedEventStore>,
    pub queue: Arc<dyn EventQueue>,
    /// `PARKED_RETENTION_HOURS` ([`DEFAULT_RETENTION`]).
    pub retention: Duration,
}

impl ParkedSweeper {
    pub async fn sweep(
        &self,
        connections: &dyn ConnectionStore,
        metrics: &dyn MetricsSink,
        now: Timestamp,
    ) -> Result<SweepReport, StoreError> {
        let deps = SweepDeps {
            release: ReleaseDeps {
                parked: self.parked.as_ref(),
                queue: self.queue.as_ref(),
                metrics,
            },
            connections,
            retention: self.retention,
        };
        sweep(&deps, now).await
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Expired events deleted unapplied (their connection was never linked).
    pub expired: usize,
    /// Connections whose expired events were deleted.
    pub connections: usize,
    /// Expired events of a connection linked meanwhile, released instead.
    pub released: Released,
}

/// Deletes the parked events older than the retention, reporting each connection's count
/// (`webhook.parked_expired`, a warning with the connection id; no payload data).
pub async fn sweep(deps: &SweepDeps<'_>, now: Timestamp) -> Result<SweepReport, StoreError> {
    let retention = i64::try_from(deps.retention.as_secs()).unwrap_or(i64::MAX);
    let cutoff = now.plus_seconds(-retention);
    let mut by_connection: BTreeMap<ConnectionId, Vec<ParkedKey>> = BTreeMap::new();
    for key in deps
        .release
        .parked
        .parked_before(cutoff, SWEEP_LIMIT)
        .await?
    {
        by_connection
            .entry(key.connection_id.clone())
            .or_default()
            .push(key);
    }
    let mut report = SweepReport::default();
    for (connection, keys) in by_connection {
        if let Some(route) = deps.connections.route(&connection).await? {
            warn!(connection_id = %connection, "expired parked events of a linked connection: releasing them");
            report
                .released
                .add(release_parked(deps.release, &route).await?);
            continue;
        }
        let mut expired = 0;
        for key in &keys {
            if deps
                .release
                .parked
                .remove(&connection, &key.event_id)
                .await?
            {
                expired += 1;
            }
        }
        if expired == 0 {
            continue;
        }
        deps.release.metrics.emit(Metric {
            value: expired as f64,
            ..Metric::count("webhook.parked_expired")
        });
        warn!(
            connection_id = %connection,
            expired,
            retention_hours = deps.retention.as_secs() / 3600,
            "parked webhook events expired: their connection was never linked"
        );
        report.expired += expired;
        report.connections += 1;
    }
    Ok(report)
}
