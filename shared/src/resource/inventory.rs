//! Inventory items, declared.

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use super::{Personal, PersonalFields};
use crate::domain::{BrandId, ConnectionId, InventoryItem, Sku, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarInventoryItem;
use crate::trackstar::{ConversionContext, ConversionError};

/// No personal fields.
impl Personal for InventoryItem {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields::none()
    }
}

impl Resource for InventoryItem {
    const KIND: ResourceKind = ResourceKind::Inventory;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "inventory",
        singular: "inventory item",
        key: "INVENTORY",
        function: "get_inventory",
        aliases: &["inventory_items", "inventory-items"],
        events: &["inventory.created", "inventory.updated"],
        owner: Owner::Brand,
        statuses: &[],
        warehouse_filter: false,
        stats_code: 'i',
    };
    type Wire = TrackstarInventoryItem;

    fn wire_id(wire: &TrackstarInventoryItem) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarInventoryItem) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(
        wire: TrackstarInventoryItem,
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
        self.brand_id.as_ref()
    }
    fn updated_date(&self) -> Timestamp {
        self.updated_date
    }
    fn sku(&self) -> Option<&Sku> {
        Some(&self.sku)
    }
}
