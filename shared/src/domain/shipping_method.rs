//! Shipping methods of a connection (Trackstar's `ShippingMethodSchema`): tenant-wide
//! reference data, what a frontend offers when an order is created or changed.

use serde::{Deserialize, Serialize};

use super::{ConnectionId, ShippingMethodId, TenantId, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShippingMethod {
    pub id: ShippingMethodId,
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_id: Option<String>,
    /// The carrier's name (Trackstar's `carrier_name`, or its deprecated `carrier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// The carrier's Standard Carrier Alpha Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scac: Option<String>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}
