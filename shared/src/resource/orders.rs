//! Orders, declared.

use super::{OrderLink, Personal, PersonalFields};
use super::{Owner, Resource, ResourceKind, ResourceSpec};
use crate::domain::{BrandId, ConnectionId, Order, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarOrder;
use crate::trackstar::{ConversionContext, ConversionError};

impl Personal for Order {
    fn personal_fields(&mut self) -> PersonalFields<'_> {
        PersonalFields {
            addresses: self.ship_to_address.iter_mut().collect(),
            free_text: Vec::new(),
            order: Some(OrderLink::Is(self.id.as_str())),
        }
    }
}

impl Resource for Order {
    const KIND: ResourceKind = ResourceKind::Orders;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "orders",
        singular: "order",
        key: "ORDER",
        function: "get_orders",
        aliases: &["order"],
        events: &[
            "order.created",
            "order.updated",
            "order.shipment.created",
            "order-shipment.created",
        ],
        owner: Owner::Brand,
        statuses: &[
            "open",
            "confirmed",
            "processing",
            "picked",
            "packed",
            "partially_fulfilled",
            "fulfilled",
            "backordered",
            "exception",
            "cancelled",
            "other",
        ],
        warehouse_filter: false,
        stats_code: 'o',
    };
    type Wire = TrackstarOrder;

    fn wire_id(wire: &TrackstarOrder) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarOrder) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(wire: TrackstarOrder, ctx: &ConversionContext) -> Result<Self, ConversionError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderStatus;

    #[test]
    fn the_status_filter_knows_every_order_status() {
        let words: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(words, Order::SPEC.statuses);
    }
}
