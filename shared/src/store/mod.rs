//! The data layer: tenant-scoped repositories over one DynamoDB table.

pub mod audit;
pub mod cache;
pub mod capacity;
pub mod cursor;
pub mod dynamo;
mod error;
pub mod keys;
mod page;
mod ports;
mod synced;

pub use audit::{AuditEntry, AuditStore};
pub use cursor::{CursorCodec, CursorError};
pub use error::StoreError;
pub use page::{LimitError, Page, PageLimit, PageRequest};
pub use ports::{
    ConnectionStore, ListQuery, MessageStore, SyncedStore, TenantStore, UpsertOutcome,
};
pub use synced::SyncedObject;
