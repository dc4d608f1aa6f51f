//! Products, declared. A product is not in the SKU lookup index (no route looks products up
//! by SKU: `GET /inventory/{sku}` reads inventory items), which saves every product write its
//! entry there (issue 22).

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use super::{Personal, PersonalFields};
use crate::domain::{BrandId, ConnectionId, Product, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarProduct;
use crate::trackstar::{ConversionContext, ConversionError};

/// No personal fields.
impl Personal for Product {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields::none()
    }
}

impl Resource for Product {
    const KIND: ResourceKind = ResourceKind::Products;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "products",
        singular: "product",
        key: "PRODUCT",
        function: "get_products",
        aliases: &["product"],
        events: &["product.created", "product.updated"],
        owner: Owner::Brand,
        statuses: &[],
        warehouse_filter: false,
        stats_code: 'p',
    };
    type Wire = TrackstarProduct;

    fn wire_id(wire: &TrackstarProduct) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarProduct) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(wire: TrackstarProduct, ctx: &ConversionContext) -> Result<Self, ConversionError> {
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
}
