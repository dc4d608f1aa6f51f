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
}

/// The global lookup from a Trackstar connection id to its owner, used to route webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRoute {
    pub connection_id: ConnectionId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
}
