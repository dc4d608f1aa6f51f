//! What a mirrored Trackstar resource declares.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ResourceKind;
use crate::domain::{BrandId, ConnectionId, Sku, TenantId, Timestamp};
use crate::trackstar::{ConversionContext, ConversionError, Listed};

/// Who sees a resource's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A brand's (the WMS's warehouse customer → the brand that claimed it): brand users
    /// see only their brands' objects.
    Brand,
    /// The whole tenant's (warehouses, shipping methods): every role of the tenant sees them.
    Tenant,
}

/// The data part of a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceSpec {
    /// Packr's name: sync jobs, health, `POST /sync/run`, metrics (`orders`).
    pub name: &'static str,
    /// One object, for messages (`order`, `inventory item`).
    pub singular: &'static str,
    /// The key segment of its items (`ORDER`): `T#<tenant>#ORDER#<id>`.
    pub key: &'static str,
    /// Trackstar's sync function for it (`get_orders`): on-demand syncs and
    /// `connection.historical-sync-completed` name resources this way.
    pub function: &'static str,
    /// Other spellings accepted where a resource is named (`order`, `inventory_items`).
    pub aliases: &'static [&'static str],
    /// The webhook event types that carry one of its objects in `data`.
    pub events: &'static [&'static str],
    pub owner: Owner,
    /// The words of its `status` filter (empty: listings have no status filter).
    pub statuses: &'static [&'static str],
    /// Whether listings filter on `warehouse_id`.
    pub warehouse_filter: bool,
    /// One letter naming it in the packed webhook stats (`health::stats`); never reused.
    pub stats_code: char,
}

/// A Trackstar resource Packr mirrors, declared on its domain type.
/// Every resource declares its personal fields ([`Personal`](super::Personal)), none
/// included, so no kind can escape an erasure by being left out.
pub trait Resource:
    super::Personal + Serialize + DeserializeOwned + Clone + PartialEq + Debug + Send + Sync + 'static
{
    const KIND: ResourceKind;
    const SPEC: ResourceSpec;
    /// Trackstar's shape of it (its listing path is the wire type's [`Listed::PATH`]).
    type Wire: Listed + Clone + Debug + Sync;

    /// The wire object's id, when it has one.
    fn wire_id(wire: &Self::Wire) -> Option<&str>;
    /// The WMS's warehouse customer id of the wire object: whose brand it is.
    fn wire_customer(wire: &Self::Wire) -> Option<&str>;
    /// Wire → domain, given the owner the context resolved.
    fn from_wire(wire: Self::Wire, ctx: &ConversionContext) -> Result<Self, ConversionError>;

    fn tenant_id(&self) -> &TenantId;
    fn connection_id(&self) -> &ConnectionId;
    fn object_id(&self) -> &str;
    fn brand_id(&self) -> Option<&BrandId>;
    /// The version only-if-newer compares (Trackstar's `updated_date`).
    fn updated_date(&self) -> Timestamp;
    /// The SKU a kind's objects are looked up by (`find_by_sku`, the lookup index), where a
    /// route looks them up: each object that has one costs an index entry on creation.
    fn sku(&self) -> Option<&Sku> {
        None
    }
    /// The word its `status` filter matches, where the kind has one.
    fn status(&self) -> Option<&str> {
        None
    }
    /// The warehouse its `warehouse_id` filter matches, where the kind has one.
    fn warehouse_id(&self) -> Option<&str> {
        None
    }
    /// A financial record's date, from which its retention counts (`BILL_RETENTION_YEARS`,
    /// the item's TTL); `None`: kept while mirrored.
    fn financial_record_date(&self) -> Option<Timestamp> {
        None
    }
    /// Drops its personal fields as its [`super::Personal`] declaration names them (every
    /// address field but the country; free-text notes emptied): what a tombstone keeps after
    /// `TOMBSTONE_PERSONAL_DATA_DAYS`.
    fn drop_personal_fields(&mut self) {
        let fields = self.personal_fields();
        for address in fields.addresses {
            address.keep_country_only();
        }
        for text in fields.free_text {
            text.clear();
        }
    }
}
