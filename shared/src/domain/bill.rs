//! Bills (Trackstar's `BillSchema`): one charge a warehouse made a brand, for an object
//! (an order, an inbound shipment, storage…). Tenant- and brand-scoped.

use serde::{Deserialize, Serialize};

use super::{
    BillId, BrandId, ConnectionId, Currency, Money, TenantId, Timestamp, WarehouseCustomerId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bill {
    pub id: BillId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    /// The id of the object that incurred the charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// The kind of object that incurred the charge (e.g. `order`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    /// The reason for the charge (e.g. `pick_fee`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<String>,
    pub currency: Currency,
    /// The amount charged, in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// When the charge was made (Trackstar's `created_date`).
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}
