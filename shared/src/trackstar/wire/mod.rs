//! Trackstar's JSON shapes as they arrive, tolerant of unknown, missing and `null` fields,
//! with conversions into the domain types given a `ConversionContext`.

mod bill;
mod connection;
mod context;
mod envelope;
mod fields;
mod inbound;
mod inventory;
mod lenient;
mod order;
mod product;
mod returns;
mod warehouse;

pub use bill::TrackstarBill;
pub(crate) use connection::ExchangeResponse;
pub use connection::{
    ExchangedConnection, LinkToken, TrackstarConnection, TrackstarConnectionError,
};
pub use context::{ConversionContext, ConversionError};
pub(crate) use envelope::{decode_page, decode_single, decode_write};
pub use envelope::{Page, WriteResult};
pub use inbound::{
    TrackstarInboundLineItem, TrackstarInboundReceipt, TrackstarInboundReceiptLineItem,
    TrackstarInboundShipment, TrackstarSupplier,
};
pub use inventory::{TrackstarInventoryItem, TrackstarQuantities};
pub use order::{
    TrackstarAddress, TrackstarOrder, TrackstarOrderLineItem, TrackstarPackage, TrackstarShipment,
};
pub use product::{TrackstarProduct, TrackstarProductInventoryItem};
pub use returns::{
    TrackstarReceivingDetails, TrackstarReturn, TrackstarReturnLineItem, TrackstarReturnShipment,
    TrackstarReturnShipmentLineItem,
};
pub use warehouse::{TrackstarShippingMethod, TrackstarWarehouse};

#[cfg(test)]
mod inbound_tests;
#[cfg(test)]
mod returns_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod warehouse_bill_tests;
