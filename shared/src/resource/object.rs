//! Objects of any kind, erased: [`WireObject`] as Trackstar sent it, [`DomainObject`] ready
//! to be stored. Each carries its kind; what differs per kind is reached through the
//! declaration ([`Resource`]), never by matching on the kind.

use std::any::Any;
use std::fmt;

use super::{Resource, ResourceKind};
use crate::domain::{BrandId, ConnectionId, Sku, TenantId, Timestamp};
use crate::trackstar::{ConversionContext, ConversionError};

/// A domain object of some kind, as code that handles every kind sees it.
pub trait AnyObject: Send + Sync + fmt::Debug + 'static {
    fn kind(&self) -> ResourceKind;
    fn tenant(&self) -> &TenantId;
    fn connection(&self) -> &ConnectionId;
    fn id(&self) -> &str;
    fn version(&self) -> Timestamp;
    fn brand(&self) -> Option<&BrandId>;
    fn sku_value(&self) -> Option<&Sku>;
    fn status_word(&self) -> Option<&str>;
    fn warehouse(&self) -> Option<&str>;
    /// A financial record's date (its retention counts from it).
    fn financial_date(&self) -> Option<Timestamp>;
    /// The object as Trackstar-independent JSON (what is stored and served).
    fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error>;
    /// The same kind, the same state.
    fn same_as(&self, other: &dyn AnyObject) -> bool;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    fn clone_box(&self) -> Box<dyn AnyObject>;
}

/// A resource's object held erased (a wrapper, so the erased accessors never shadow the
/// typed ones).
#[derive(Debug, Clone)]
struct Held<R>(R);

impl<R: Resource> AnyObject for Held<R> {
    fn kind(&self) -> ResourceKind {
        R::KIND
    }
    fn tenant(&self) -> &TenantId {
        self.0.tenant_id()
    }
    fn connection(&self) -> &ConnectionId {
        self.0.connection_id()
    }
    fn id(&self) -> &str {
        self.0.object_id()
    }
    fn version(&self) -> Timestamp {
        self.0.updated_date()
    }
    fn brand(&self) -> Option<&BrandId> {
        self.0.brand_id()
    }
    fn sku_value(&self) -> Option<&Sku> {
        self.0.sku()
    }
    fn status_word(&self) -> Option<&str> {
        self.0.status()
    }
    fn warehouse(&self) -> Option<&str> {
        self.0.warehouse_id()
    }
    fn financial_date(&self) -> Option<Timestamp> {
        self.0.financial_record_date()
    }
    fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.0)
    }
    fn same_as(&self, other: &dyn AnyObject) -> bool {
        other
            .as_any()
            .downcast_ref::<Held<R>>()
            .is_some_and(|o| o.0 == self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
    fn clone_box(&self) -> Box<dyn AnyObject> {
        Box::new(self.clone())
    }
}

/// A domain object ready to be stored, of any kind.
#[derive(Debug)]
pub struct DomainObject(Box<dyn AnyObject>);

impl Clone for DomainObject {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl DomainObject {
    pub fn new<R: Resource>(object: R) -> Self {
        Self(Box::new(Held(object)))
    }

    pub fn kind(&self) -> ResourceKind {
        self.0.kind()
    }

    /// The Trackstar id of the object.
    pub fn id(&self) -> &str {
        self.0.id()
    }

    pub fn updated_date(&self) -> Timestamp {
        self.0.version()
    }

    pub fn brand_id(&self) -> Option<&BrandId> {
        self.0.brand()
    }

    /// The same object in the same state.
    pub fn same_as(&self, other: &DomainObject) -> bool {
        self.0.same_as(other.0.as_ref())
    }

    /// The erased accessors (the store's view).
    pub fn erased(&self) -> &dyn AnyObject {
        self.0.as_ref()
    }

    /// The object, if it is an `R` (else itself back).
    pub fn downcast<R: Resource>(self) -> Result<R, Self> {
        if self.kind() != R::KIND {
            return Err(self);
        }
        match self.0.into_any().downcast::<Held<R>>() {
            Ok(held) => Ok(held.0),
            Err(_) => unreachable!("an object of kind {:?} is held as its type", R::KIND),
        }
    }
}

/// A Trackstar object of some kind, as received (in a webhook, a listing, or fetched for a
/// truncated event).
trait AnyWire: Send + Sync + fmt::Debug {
    fn kind(&self) -> ResourceKind;
    fn id(&self) -> Option<&str>;
    fn customer(&self) -> Option<&str>;
    fn into_domain(
        self: Box<Self>,
        ctx: &ConversionContext,
    ) -> Result<DomainObject, ConversionError>;
    fn clone_box(&self) -> Box<dyn AnyWire>;
}

struct Wired<R: Resource>(R::Wire);

impl<R: Resource> fmt::Debug for Wired<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<R: Resource> AnyWire for Wired<R> {
    fn kind(&self) -> ResourceKind {
        R::KIND
    }
    fn id(&self) -> Option<&str> {
        R::wire_id(&self.0)
    }
    fn customer(&self) -> Option<&str> {
        R::wire_customer(&self.0)
    }
    fn into_domain(
        self: Box<Self>,
        ctx: &ConversionContext,
    ) -> Result<DomainObject, ConversionError> {
        R::from_wire(self.0, ctx).map(DomainObject::new)
    }
    fn clone_box(&self) -> Box<dyn AnyWire> {
        Box::new(Wired::<R>(self.0.clone()))
    }
}

/// A Trackstar object as received.
#[derive(Debug)]
pub struct WireObject(Box<dyn AnyWire>);

impl Clone for WireObject {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

/// Why a webhook's `data` is not an object Packr can store.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("the event is not a valid webhook")]
    Envelope(#[source] serde_json::Error),
    #[error("data is not a valid Trackstar {kind}")]
    Data {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the {kind} cannot be converted")]
    Conversion {
        kind: &'static str,
        #[source]
        source: ConversionError,
    },
    #[error("a truncated event without data.id")]
    TruncatedWithoutId,
}

impl WireObject {
    pub fn new<R: Resource>(wire: R::Wire) -> Self {
        Self(Box::new(Wired::<R>(wire)))
    }

    /// A webhook's `data` as an object of `kind`.
    pub fn from_json(kind: ResourceKind, data: &serde_json::Value) -> Result<Self, PayloadError> {
        (kind.ops().wire_from_json)(data).map_err(|source| PayloadError::Data {
            kind: kind.spec().singular,
            source,
        })
    }

    pub fn kind(&self) -> ResourceKind {
        self.0.kind()
    }

    /// Trackstar's id of the object, when it has one.
    pub fn id(&self) -> Option<&str> {
        self.0.id()
    }

    /// The WMS's warehouse customer id: which brand the object belongs to.
    pub fn warehouse_customer_id(&self) -> Option<&str> {
        self.0.customer()
    }

    pub fn into_domain(self, ctx: &ConversionContext) -> Result<DomainObject, PayloadError> {
        let kind = self.kind().spec().singular;
        self.0
            .into_domain(ctx)
            .map_err(|source| PayloadError::Conversion { kind, source })
    }
}
