//! Domain types. Wire data is parsed into these at the boundary; invalid values cannot be
//! constructed.

mod connection;
mod ids;
mod inventory;
mod message;
mod money;
mod order;
mod product;
pub mod schema;
mod tenant;
mod time;

pub use connection::{
    Connection, ConnectionError, ConnectionRoute, ConnectionStatus, ErrorTombstone, EventMarks,
    StuckSchedule,
};
pub use ids::{
    BrandId, ConnectionId, CorrelationId, EventId, IdError, InventoryItemId, MessageId, OrderId,
    ProductId, Sku, TenantId, UserId, WarehouseCustomerId,
};
pub use inventory::{InventoryItem, Quantities};
pub use message::{Message, MessageBody, MessageBodyError};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    Address, LineItem, Order, OrderStatus, OrderTotals, OrderType, Shipment, ShipmentStatus,
};
pub use product::{Product, ProductComponent};
pub use tenant::{Brand, Tenant};
pub use time::{Timestamp, TimestampError};
