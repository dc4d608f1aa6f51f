//! Trackstar's JSON shapes as they arrive, tolerant of unknown, missing and `null` fields,
//! with conversions into the domain types given a `ConversionContext`.

mod connection;
mod context;
mod envelope;
mod inbound;
mod inventory;
mod lenient;
mod order;
mod product;

pub(crate) use connection::ExchangeResponse;
pub use connection::{
    ExchangedConnection, LinkToken, TrackstarConnection, TrackstarConnectionError,
};
pub use context::{ConversionContext, ConversionError};
pub(crate) use envelope::{decode_page, decode_single, decode_write};
pub use envelope::{Page, WriteResult};
pub use inbound::{
    TrackstarInboundLineItem, TrackstarInboundShipment, TrackstarReturn, TrackstarReturnLineItem,
};
pub use inventory::{TrackstarInventoryItem, TrackstarQuantities};
pub use order::{
    TrackstarAddress, TrackstarOrder, TrackstarOrderLineItem, TrackstarPackage, TrackstarShipment,
};
pub use product::{TrackstarProduct, TrackstarProductInventoryItem};

#[cfg(test)]
mod tests;
