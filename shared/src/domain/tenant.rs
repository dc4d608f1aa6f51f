//! Tenants (3PLs) and their brands.

use serde::{Deserialize, Serialize};

use super::{BrandId, Currency, TenantId, Timestamp, WarehouseCustomerId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// Currency for upstream amounts that arrive without one (e.g. inventory unit cost).
    pub default_currency: Currency,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub tenant_id: TenantId,
    pub id: BrandId,
    pub name: String,
    /// The WMS's names for this brand: objects with these warehouse customer ids belong to it.
    #[serde(default)]
    pub warehouse_customer_ids: Vec<WarehouseCustomerId>,
    pub created_at: Timestamp,
}
