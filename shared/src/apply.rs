//! The one way a Trackstar object reaches the table: webhooks, sync and reconciliation all
//! store through [`ObjectStores::upsert`], so the three converge and none can overwrite a
//! newer state with an older one (only-if-newer on `updated_date`).
//!
//! Also the one way a wire object becomes a domain object with its owner: the tenant's
//! fallback currency and the brand (the connection's own brand, else the brand that claimed
//! the object's warehouse customer id), cached per resolver so a sync page of 1,000 objects
//! costs one tenant read and one read per distinct warehouse customer, not 2,000 reads.

use std::collections::HashMap;

use crate::domain::{BrandId, Connection, Currency, TenantId, Timestamp};
use crate::resource::{DomainObject, Owner, ResourceKind, WireObject};
use crate::store::{ObjectStore, StoreError, TenantStore, UpsertOutcome};
use crate::trackstar::ConversionContext as DecodeContext;

/// How current the copy being stored is known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A copy carried by an event: stored only if strictly newer than the stored one; a
    /// same-`updated_date` copy with other content is reported
    /// ([`UpsertOutcome::SameVersionDiffers`]) for the caller to settle with Trackstar.
    Event,
    /// Trackstar's current state (a poll, a fetch, the answer to a write), asked at
    /// `read_at` (taken before the request went out): also replaces a stored copy with the
    /// same `updated_date` that was written before `read_at` (whole-second dates: two
    /// changes in one second look alike, and Trackstar had that copy before we asked).
    /// Never replaces a newer one, nor a same-second copy written since `read_at` (see
    /// [`UpsertOutcome::ChangedSinceRead`]).
    Current { read_at: Timestamp },
}

/// The store of the synced objects, borrowed: the one upsert path.
#[derive(Clone, Copy)]
pub struct ObjectStores<'a> {
    pub objects: &'a dyn ObjectStore,
}

impl ObjectStores<'_> {
    /// Stores `object` for `tenant`, only if newer (see [`Freshness`]).
    pub async fn upsert(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
        freshness: Freshness,
    ) -> Result<UpsertOutcome, StoreError> {
        let outcome = self.objects.upsert_object(tenant, object).await?;
        let settle = matches!(
            outcome,
            UpsertOutcome::SameVersionDiffers | UpsertOutcome::Tombstoned
        );
        let read_at = match freshness {
            Freshness::Current { read_at } if settle => read_at,
            _ => return Ok(outcome),
        };
        // Trackstar's current state with the same `updated_date` but other content: it
        // replaces the stored copy if that was stored before Trackstar was asked (else
        // `ChangedSinceRead`). Over a tombstone:
        // Trackstar has the object again. (An identical copy is
        // left alone above: a full sync of unchanged data rewrites nothing.)
        self.store_fetched(tenant, object, read_at).await
    }

    /// Stores Trackstar's current state, asked at `read_at`, fetched to settle a
    /// same-second difference (or a truncated event): one conditional write, unless the
    /// stored copy is strictly newer or a same-second copy written since `read_at`
    /// ([`SyncedStore::upsert_written`](crate::store::SyncedStore::upsert_written)). (The
    /// stored copy is known to differ from the event's, so the identical-copy check of
    /// [`Self::upsert`] would only cost a refused write.)
    pub async fn store_fetched(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
        read_at: Timestamp,
    ) -> Result<UpsertOutcome, StoreError> {
        self.objects
            .upsert_object_written(tenant, object, read_at)
            .await
    }

    /// The stored (live) copies of `ids` of one resource, by id.
    pub async fn get_many(
        &self,
        tenant: &TenantId,
        resource: ResourceKind,
        ids: &[String],
    ) -> Result<HashMap<String, DomainObject>, StoreError> {
        Ok(self
            .objects
            .get_objects(tenant, resource, ids)
            .await?
            .into_iter()
            .map(|o| (o.id().to_owned(), o))
            .collect())
    }

    /// Tombstones one object of `resource` (reconciliation's `missing_remote`).
    pub async fn tombstone(
        &self,
        tenant: &TenantId,
        resource: ResourceKind,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.objects
            .tombstone_object(tenant, resource, id, at)
            .await
    }

    /// One page of a connection's live object ids of `resource` updated before `before`.
    pub async fn connection_ids(
        &self,
        tenant: &TenantId,
        resource: ResourceKind,
        connection: &crate::domain::ConnectionId,
        before: Timestamp,
        start: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        self.objects
            .connection_object_ids(tenant, resource, connection, before, start)
            .await
    }
}

/// Builds the conversion context of objects of one connection, caching what it read.
pub struct ContextResolver<'a> {
    tenants: &'a dyn TenantStore,
    connection: &'a Connection,
    currency: Option<Currency>,
    brands: HashMap<String, Option<BrandId>>,
}

impl<'a> ContextResolver<'a> {
    pub fn new(tenants: &'a dyn TenantStore, connection: &'a Connection) -> Self {
        Self {
            tenants,
            connection,
            currency: None,
            brands: HashMap::new(),
        }
    }

    /// The context for `wire`: owner tenant, brand and fallback currency.
    pub async fn context(&mut self, wire: &WireObject) -> Result<DecodeContext, StoreError> {
        let tenant = &self.connection.tenant_id;
        let fallback_currency = match &self.currency {
            Some(currency) => *currency,
            None => {
                let currency = self
                    .tenants
                    .get_tenant(tenant)
                    .await?
                    .map(|t| t.default_currency)
                    .unwrap_or_else(|| Currency::parse("USD").expect("USD is ISO 4217"));
                self.currency = Some(currency);
                currency
            }
        };
        let brand_id = match (&self.connection.brand_id, wire.warehouse_customer_id()) {
            // Tenant-wide resources (warehouses, shipping methods) belong to no brand.
            _ if wire.kind().spec().owner == Owner::Tenant => None,
            (Some(brand), _) => Some(brand.clone()),
            (None, Some(customer)) => match self.brands.get(customer) {
                Some(brand) => brand.clone(),
                None => {
                    let brand = self
                        .tenants
                        .brand_for_warehouse_customer(tenant, customer)
                        .await?;
                    self.brands.insert(customer.to_owned(), brand.clone());
                    brand
                }
            },
            (None, None) => None,
        };
        Ok(DecodeContext {
            tenant_id: tenant.clone(),
            brand_id,
            connection_id: self.connection.connection_id.clone(),
            fallback_currency,
        })
    }
}
