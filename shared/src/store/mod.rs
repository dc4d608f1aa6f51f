//! The data layer: tenant-scoped repositories over one DynamoDB table.

pub mod audit;
pub mod cache;
pub mod capacity;
mod connection_update;
pub mod cursor;
pub mod dynamo;
mod error;
pub mod keys;
mod page;
mod ports;
pub mod timeline;

pub use audit::{AuditEntry, AuditStore, ChainHead, ChainLink, ChainedEntry, StoredChain};
pub use connection_update::{modify_connection, Change, MAX_CONFLICT_RETRIES};
pub use cursor::{CursorCodec, CursorError};
pub use error::StoreError;
pub use page::{LimitError, Page, PageLimit, PageRequest};
pub use ports::{
    ConnectionStore, ListQuery, MessageStore, ObjectStore, SyncedStore, TenantStore, UpsertOutcome,
};
