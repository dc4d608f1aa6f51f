//! Returns, declared.

use super::{OrderLink, Personal, PersonalFields};
use super::{Owner, Resource, ResourceKind, ResourceSpec};
use crate::domain::{BrandId, ConnectionId, Return, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarReturn;
use crate::trackstar::{ConversionContext, ConversionError};

impl Personal for Return {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields {
            addresses: Vec::new(),
            free_text: self.notes.iter_mut().collect(),
            order: self
                .order_id
                .as_ref()
                .map(|o| OrderLink::RefersTo(o.as_str())),
        }
    }
}

impl Resource for Return {
    const KIND: ResourceKind = ResourceKind::Returns;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "returns",
        singular: "return",
        key: "RETURN",
        function: "get_returns",
        aliases: &["return"],
        events: &["return.created", "return.updated"],
        owner: Owner::Brand,
        statuses: &[
            "open",
            "in_transit",
            "receiving",
            "received",
            "cancelled",
            "other",
        ],
        warehouse_filter: true,
        stats_code: 'r',
    };
    type Wire = TrackstarReturn;

    fn wire_id(wire: &TrackstarReturn) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarReturn) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(wire: TrackstarReturn, ctx: &ConversionContext) -> Result<Self, ConversionError> {
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
    fn status(&self) -> Option<&str> {
        Some(self.status.as_str())
    }
    fn warehouse_id(&self) -> Option<&str> {
        self.warehouse_id.as_ref().map(|w| w.as_str())
    }
}
