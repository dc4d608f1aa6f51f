//! Warehouses (tenant-wide), declared.

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use super::{Personal, PersonalFields};
use crate::domain::{BrandId, ConnectionId, TenantId, Timestamp, Warehouse};
use crate::trackstar::wire::TrackstarWarehouse;
use crate::trackstar::{ConversionContext, ConversionError};

/// A warehouse's street address is a business's, but it is an `Address`: declared, so an
/// erased person's address on it would be found too.
impl Personal for Warehouse {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields {
            addresses: self.address.iter_mut().collect(),
            ..PersonalFields::none()
        }
    }
}

impl Resource for Warehouse {
    const KIND: ResourceKind = ResourceKind::Warehouses;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "warehouses",
        singular: "warehouse",
        key: "WAREHOUSE",
        function: "get_warehouses",
        aliases: &["warehouse"],
        events: &["warehouse.created", "warehouse.updated"],
        owner: Owner::Tenant,
        statuses: &[],
        warehouse_filter: false,
        stats_code: 'w',
    };
    type Wire = TrackstarWarehouse;

    fn wire_id(wire: &TrackstarWarehouse) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(_wire: &TrackstarWarehouse) -> Option<&str> {
        // Tenant-wide: no warehouse customer.
        None
    }
    fn from_wire(
        wire: TrackstarWarehouse,
        ctx: &ConversionContext,
    ) -> Result<Self, ConversionError> {
        wire.into_domain(ctx)
    }

    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn connection_id(&self) -> &ConnectionId {
        &self.connection_id
    }
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn brand_id(&self) -> Option<&BrandId> {
        None
    }
    fn updated_date(&self) -> Timestamp {
        self.updated_date
    }
}
