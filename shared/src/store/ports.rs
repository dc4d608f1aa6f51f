//! Narrow port traits of the data layer. Every call acts for one tenant, a required
//! argument; nothing here can address another tenant's data.

use async_trait::async_trait;

use crate::domain::{
    Brand, BrandId, Connection, ConnectionId, ConnectionRoute, Message, Sku, Tenant, TenantId,
    Timestamp,
};
use crate::resource::{DomainObject, Resource, ResourceKind};

use super::page::{Page, PageRequest};
use super::StoreError;

/// What an only-if-newer upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// The object was new or newer than the stored copy, and was written.
    Applied,
    /// The stored copy is newer: nothing was written.
    Stale,
    /// The stored copy has the same `updated_date` and the same content: nothing was written.
    Duplicate,
    /// The stored copy has the same `updated_date` but other content: nothing was written.
    /// Trackstar's dates have whole seconds, so two changes in one second look alike; only
    /// Trackstar can say which is current (the webhook processor asks it).
    SameVersionDiffers,
    /// Trackstar's current state was not written: the stored copy has the same
    /// `updated_date`, other content, and was written at or after the moment this copy was
    /// asked of Trackstar, so it may be the later of two same-second changes (a webhook
    /// applied while the read was under way). Ask Trackstar again to settle it.
    ChangedSinceRead,
    /// The stored copy is a tombstone (Trackstar no longer had the object) no older than
    /// this copy: nothing was written. An event's copy never revives it (a late redelivery
    /// of an old event would); Trackstar's current state does (see `apply`).
    Tombstoned,
}

/// Filters for listings of synced objects. Newest first by `updated_date`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this brand's objects (uses the per-brand index).
    pub brand_id: Option<BrandId>,
    /// Only objects updated at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only objects in this status (kinds that declare statuses; the caller checked the
    /// word against them).
    pub status: Option<String>,
    /// Only objects in this warehouse (kinds that declare a warehouse filter).
    pub warehouse_id: Option<String>,
}

/// The objects synced from Trackstar, of every kind, erased: the store of the one
/// only-if-newer upsert path (`crate::apply`) that webhooks, sync and reconciliation share.
/// Each call names the kind (or the object carries it).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// See [`SyncedStore::upsert_if_newer`].
    async fn upsert_object(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
    ) -> Result<UpsertOutcome, StoreError>;

    /// See [`SyncedStore::upsert_written`].
    async fn upsert_object_written(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
        read_at: Timestamp,
    ) -> Result<UpsertOutcome, StoreError>;

    /// The live object `id` of `kind`.
    async fn get_object(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<DomainObject>, StoreError>;

    /// The live stored copies of these ids of `kind` (absent and tombstoned ones left out).
    async fn get_objects(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<DomainObject>, StoreError>;

    /// A page of `kind`'s listing, newest first.
    async fn list_objects(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<Page<DomainObject>, StoreError>;

    /// See [`SyncedStore::tombstone`].
    async fn tombstone_object(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// See [`SyncedStore::connection_ids`].
    async fn connection_object_ids(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        connection: &ConnectionId,
        before: Timestamp,
        start: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
}

/// The objects of one resource, typed (the API's view; the same items as [`ObjectStore`]).
#[async_trait]
pub trait SyncedStore<T: Resource>: Send + Sync {
    /// Writes `object` only if it is newer (by `updated_date`) than the stored copy.
    async fn upsert_if_newer(
        &self,
        tenant: &TenantId,
        object: &T,
    ) -> Result<UpsertOutcome, StoreError>;

    /// Stores Trackstar's current state — the answer to a read or to Packr's own write,
    /// asked at `read_at` (taken before the request was sent): written unless the stored
    /// copy is strictly newer. A stored copy with the same `updated_date` (upstream dates
    /// have whole seconds, so two changes in one second look alike) is replaced only if it
    /// was written before `read_at`: Trackstar had that copy before it was stored, so the
    /// answer is at least as new. One written at or after `read_at` may be the later change
    /// (a webhook applied while the request was under way) and is left alone:
    /// [`UpsertOutcome::ChangedSinceRead`].
    async fn upsert_written(
        &self,
        tenant: &TenantId,
        object: &T,
        read_at: Timestamp,
    ) -> Result<UpsertOutcome, StoreError>;

    async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<T>, StoreError>;

    async fn list(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<Page<T>, StoreError>;

    /// Objects with this SKU: inventory items (the kinds whose `Resource::sku` names one;
    /// products do not, so a product lookup finds nothing).
    async fn find_by_sku(&self, tenant: &TenantId, sku: &Sku) -> Result<Vec<T>, StoreError>;

    /// The stored copies of these ids (absent and tombstoned ones are left out).
    async fn get_many(&self, tenant: &TenantId, ids: &[String]) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(object) = self.get(tenant, id).await? {
                found.push(object);
            }
        }
        Ok(found)
    }

    /// Marks an object deleted upstream: hidden from reads and listings, kept for audit.
    /// Any later copy from Trackstar (event, sync) replaces the tombstone. `false` when
    /// there was nothing (live) to tombstone.
    async fn tombstone(
        &self,
        tenant: &TenantId,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// One page of the ids of a connection's live objects last updated before `before`,
    /// oldest first; `start` is the previous page's continuation token.
    async fn connection_ids(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        before: Timestamp,
        start: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the tenant; fails with `AlreadyExists` if it exists.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn get_tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Creates a brand and claims its warehouse customer ids; fails with `AlreadyExists`
    /// if the brand exists or another brand claimed one of the ids.
    async fn create_brand(&self, tenant: &TenantId, brand: &Brand) -> Result<(), StoreError>;
    async fn get_brand(
        &self,
        tenant: &TenantId,
        brand: &BrandId,
    ) -> Result<Option<Brand>, StoreError>;
    async fn list_brands(&self, tenant: &TenantId) -> Result<Vec<Brand>, StoreError>;
    /// The brand that owns a WMS warehouse customer id, if any.
    async fn brand_for_warehouse_customer(
        &self,
        tenant: &TenantId,
        warehouse_customer_id: &str,
    ) -> Result<Option<BrandId>, StoreError>;
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Stores a new connection and its global route atomically; `AlreadyExists` if the
    /// Trackstar connection id is already routed (to this or any tenant).
    async fn create_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError>;
    /// Replaces an existing connection of this tenant if it is still at the version it was
    /// read at (`connection.version`); the stored version becomes one more. `NotFound` if
    /// it does not exist, `Conflict` if another write came first (read it again and retry:
    /// [`crate::store::modify_connection`]). The one write path of a connection after its
    /// creation.
    async fn update_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError>;
    async fn get_connection(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Connection>, StoreError>;
    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>, StoreError>;
    /// Every tenant's active connections (the sync scheduler's index; ops use only).
    async fn list_active(&self) -> Result<Vec<Connection>, StoreError>;
    /// The one global lookup: which tenant (and brand) a Trackstar connection belongs to.
    async fn route(&self, connection: &ConnectionId)
        -> Result<Option<ConnectionRoute>, StoreError>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn append(&self, tenant: &TenantId, message: &Message) -> Result<(), StoreError>;
    /// A brand thread, newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        brand: &BrandId,
        page: &PageRequest,
    ) -> Result<Page<Message>, StoreError>;
}
