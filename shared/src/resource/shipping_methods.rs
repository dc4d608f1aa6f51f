//! Shipping methods (tenant-wide), declared.

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use super::{Personal, PersonalFields};
use crate::domain::{BrandId, ConnectionId, ShippingMethod, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarShippingMethod;
use crate::trackstar::{ConversionContext, ConversionError};

/// No personal fields.
impl Personal for ShippingMethod {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields::none()
    }
}

impl Resource for ShippingMethod {
    const KIND: ResourceKind = ResourceKind::ShippingMethods;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "shipping_methods",
        singular: "shipping method",
        key: "SHIPMETHOD",
        function: "get_shipping_methods",
        aliases: &["shipping_method", "shipping-methods"],
        events: &["shipping-method.created", "shipping-method.updated"],
        owner: Owner::Tenant,
        statuses: &[],
        warehouse_filter: false,
        stats_code: 's',
    };
    type Wire = TrackstarShippingMethod;

    fn wire_id(wire: &TrackstarShippingMethod) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(_wire: &TrackstarShippingMethod) -> Option<&str> {
        // Tenant-wide: no warehouse customer.
        None
    }
    fn from_wire(
        wire: TrackstarShippingMethod,
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
