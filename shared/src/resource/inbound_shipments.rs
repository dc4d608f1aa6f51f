//! Inbound shipments (ASNs), declared.

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use super::{Personal, PersonalFields};
use crate::domain::{BrandId, ConnectionId, InboundShipment, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarInboundShipment;
use crate::trackstar::{ConversionContext, ConversionError};

impl Personal for InboundShipment {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields {
            addresses: self.ship_from_address.iter_mut().collect(),
            free_text: self.notes.iter_mut().collect(),
            order: None,
        }
    }
}

impl Resource for InboundShipment {
    const KIND: ResourceKind = ResourceKind::InboundShipments;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "inbound_shipments",
        singular: "inbound shipment",
        key: "INBOUND",
        function: "get_inbound_shipments",
        aliases: &["inbound_shipment", "inbound-shipments", "asns"],
        events: &[
            "inbound-shipment.created",
            "inbound-shipment.updated",
            "inbound-shipment.receipt.created",
        ],
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
        stats_code: 'a',
    };
    type Wire = TrackstarInboundShipment;

    fn wire_id(wire: &TrackstarInboundShipment) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarInboundShipment) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(
        wire: TrackstarInboundShipment,
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
    fn status(&self) -> Option<&str> {
        Some(self.status.as_str())
    }
    fn warehouse_id(&self) -> Option<&str> {
        self.warehouse_id.as_ref().map(|w| w.as_str())
    }
}
