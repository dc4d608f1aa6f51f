//! Bills (financial records), declared.

use super::{Owner, Resource, ResourceKind, ResourceSpec};
use crate::domain::{Bill, BrandId, ConnectionId, TenantId, Timestamp};
use crate::trackstar::wire::TrackstarBill;
use crate::trackstar::{ConversionContext, ConversionError};

impl Resource for Bill {
    const KIND: ResourceKind = ResourceKind::Bills;
    const SPEC: ResourceSpec = ResourceSpec {
        name: "bills",
        singular: "bill",
        key: "BILL",
        function: "get_bills",
        aliases: &["bill", "billing"],
        events: &["bill.created", "bill.updated"],
        owner: Owner::Brand,
        statuses: &[],
        warehouse_filter: false,
        stats_code: 'b',
    };
    type Wire = TrackstarBill;

    fn wire_id(wire: &TrackstarBill) -> Option<&str> {
        wire.id.as_deref()
    }
    fn wire_customer(wire: &TrackstarBill) -> Option<&str> {
        wire.warehouse_customer_id.as_deref()
    }
    fn from_wire(wire: TrackstarBill, ctx: &ConversionContext) -> Result<Self, ConversionError> {
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
    /// A bill is a financial record: kept `BILL_RETENTION_YEARS` after its date.
    fn financial_record_date(&self) -> Option<Timestamp> {
        Some(self.created_date)
    }
}
