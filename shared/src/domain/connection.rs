//! Trackstar connections: one connected WMS, owned by a tenant (optionally one brand).
//! The access token is a secret: only a reference to where it is kept lives here.

use serde::{Deserialize, Serialize};

use super::{BrandId, ConnectionId, TenantId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    Disconnected,
    /// Trackstar rejects the access token: the connection must be reinstalled.
    ReauthRequired,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Disconnected => "disconnected",
            ConnectionStatus::ReauthRequired => "reauth_required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionError {
    pub error_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub recorded_at: Timestamp,
    /// The time of the event that last set it (see `webhook::connection_events`); an older
    /// event for the same error is stale. Absent on errors recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_at: Option<Timestamp>,
}

/// A deleted connection error, kept for a while so a late `connection-error.created` /
/// `.updated` older than the deletion cannot bring it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorTombstone {
    pub error_id: String,
    /// The deletion event's time.
    pub deleted_at: Timestamp,
}

/// What connection events have been applied, by their event time: the guards that keep an
/// older event from undoing a newer one (see `webhook::connection_events`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMarks {
    /// The newest lifecycle event applied (`connection.created` / `connection.deleted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_at: Option<Timestamp>,
    /// Set by `connection.deleted`: no later webhook revives the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_tombstones: Vec<ErrorTombstone>,
    /// Set when the connection is offboarded (`connection.deleted`, `DELETE
    /// /connections/{id}`): its data is erased once this passes, unless it is linked again
    /// before (which clears it). See `lifecycle::offboard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erase_after: Option<Timestamp>,
    /// When the erasure of the connection's data finished (the connection record and its
    /// route stay, marked deleted, so its webhooks are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<Timestamp>,
    /// The lifecycle job that erases the data (one per offboarding, recorded before the job
    /// is created so two sweeps agree on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_job: Option<String>,
}

impl EventMarks {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A Trackstar sync schedule reported stuck (`connection.schedule-stuck`), until a later
/// completed sync of the same function clears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckSchedule {
    /// Trackstar's function (`get_orders`, …) or resource, as the event names it.
    pub function: String,
    /// How fresh Trackstar's own copy of that data is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_data: Option<Timestamp>,
    pub recorded_at: Timestamp,
    /// The reporting event's time: only a completion at or after it clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub integration_name: String,
    pub status: ConnectionStatus,
    /// Where the access token is kept (a Secrets Manager name or ARN), never the token.
    pub access_token_secret: String,
    #[serde(default)]
    pub errors: Vec<ConnectionError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stuck_schedules: Vec<StuckSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_sync_requested_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Optimistic concurrency: the store replaces a connection only at the version it was
    /// read at, and bumps it (`ConnectionStore::update_connection`).
    #[serde(default)]
    pub version: u64,
    /// The connection events applied so far, by event time.
    #[serde(default, skip_serializing_if = "EventMarks::is_empty")]
    pub marks: EventMarks,
}

impl Connection {
    /// Offboarded (deleted at Trackstar or by an admin) and not linked again since: its
    /// webhooks are refused, it is not synced, its data waits for (or went through) erasure.
    pub fn is_offboarded(&self) -> bool {
        self.marks.erase_after.is_some() || self.marks.erased_at.is_some()
    }
}

/// The global lookup from a Trackstar connection id to its owner, used to route webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRoute {
    pub connection_id: ConnectionId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    /// Set while the connection is offboarded: ingest refuses its webhooks (rather than
    /// park them, as it would for a connection no tenant knows). Cleared by a relink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}
