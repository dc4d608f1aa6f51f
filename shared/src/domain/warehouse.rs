//! Warehouses of a connection (Trackstar's `WarehouseSchema`): tenant-wide reference data,
//! every role of the tenant sees them.

use serde::{Deserialize, Serialize};

use super::{Address, ConnectionId, TenantId, Timestamp, WarehouseId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Warehouse {
    pub id: WarehouseId,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The WMS's short code for the warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The warehouse's street address (no name, phone or email: Trackstar sends none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}
