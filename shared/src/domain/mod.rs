//! Domain types. Wire data is parsed into these at the boundary; invalid values cannot be
//! constructed.

mod bill;
mod connection;
mod ids;
mod inbound;
mod inventory;
mod message;
mod money;
mod order;
mod product;
mod receiving_status;
mod returns;
pub mod schema;
mod shipping_method;
mod tenant;
mod time;
mod warehouse;

pub use bill::Bill;
pub use connection::{
    Connection, ConnectionError, ConnectionRoute, ConnectionStatus, ErrorTombstone, EventMarks,
    StuckSchedule,
};
pub use ids::{is_trackstar_object_id, TRACKSTAR_OBJECT_ID_MAX};
pub use ids::{
    BillId, BrandId, ConnectionId, CorrelationId, EventId, IdError, InboundShipmentId,
    InventoryItemId, MessageId, OrderId, ProductId, ReturnId, ShippingMethodId, Sku, TenantId,
    UserId, WarehouseCustomerId, WarehouseId,
};
pub use inbound::{InboundLineItem, InboundReceipt, InboundReceiptLine, InboundShipment};
pub use inventory::{InventoryItem, Quantities};
pub use message::{Message, MessageBody, MessageBodyError};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    Address, LineItem, Order, OrderStatus, OrderTotals, OrderType, Shipment, ShipmentStatus,
};
pub use product::{Product, ProductComponent};
pub use receiving_status::{InboundShipmentStatus, ReturnStatus};
pub use returns::{
    Return, ReturnLineItem, ReturnReceivingDetail, ReturnShipment, ReturnShipmentLine,
};
pub use shipping_method::ShippingMethod;
pub use tenant::{Brand, Tenant};
pub use time::{Timestamp, TimestampError};
pub use warehouse::Warehouse;
