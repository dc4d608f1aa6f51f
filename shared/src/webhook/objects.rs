//! Webhook `data` (Trackstar's object, same schema as the API's) into domain objects,
//! through the Trackstar client's wire types.

use crate::domain::{InventoryItem, Order, Product};
use crate::errors::error_chain;
use crate::trackstar::wire::{TrackstarInventoryItem, TrackstarOrder, TrackstarProduct};
pub use crate::trackstar::ConversionContext as DecodeContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Order,
    Inventory,
    Product,
}

/// A Trackstar object as received (in a webhook, or fetched for a truncated one).
#[derive(Debug, Clone)]
pub enum WireObject {
    Order(Box<TrackstarOrder>),
    Inventory(Box<TrackstarInventoryItem>),
    Product(Box<TrackstarProduct>),
}

/// A domain object ready to be stored.
#[derive(Debug, Clone)]
pub enum DomainObject {
    Order(Box<Order>),
    Inventory(Box<InventoryItem>),
    Product(Box<Product>),
}

impl DomainObject {
    pub fn updated_date(&self) -> crate::domain::Timestamp {
        match self {
            Self::Order(o) => o.updated_date,
            Self::Inventory(i) => i.updated_date,
            Self::Product(p) => p.updated_date,
        }
    }

    pub fn brand_id(&self) -> Option<&crate::domain::BrandId> {
        match self {
            Self::Order(o) => o.brand_id.as_ref(),
            Self::Inventory(i) => i.brand_id.as_ref(),
            Self::Product(p) => p.brand_id.as_ref(),
        }
    }

    /// The same object in the same state.
    pub fn same_as(&self, other: &DomainObject) -> bool {
        match (self, other) {
            (Self::Order(a), Self::Order(b)) => a == b,
            (Self::Inventory(a), Self::Inventory(b)) => a == b,
            (Self::Product(a), Self::Product(b)) => a == b,
            _ => false,
        }
    }

    /// The Trackstar id of the object.
    pub fn id(&self) -> &str {
        match self {
            Self::Order(o) => o.id.as_str(),
            Self::Inventory(i) => i.id.as_str(),
            Self::Product(p) => p.id.as_str(),
        }
    }
}

impl WireObject {
    pub fn from_json(kind: ObjectKind, data: &serde_json::Value) -> Result<Self, String> {
        let parsed = match kind {
            ObjectKind::Order => {
                serde_json::from_value(data.clone()).map(|o| Self::Order(Box::new(o)))
            }
            ObjectKind::Inventory => {
                serde_json::from_value(data.clone()).map(|i| Self::Inventory(Box::new(i)))
            }
            ObjectKind::Product => {
                serde_json::from_value(data.clone()).map(|p| Self::Product(Box::new(p)))
            }
        };
        parsed.map_err(|e| {
            format!(
                "data is not a valid Trackstar object: {}",
                crate::redact::without_input(&e)
            )
        })
    }

    /// Trackstar's id of the object, when it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Order(o) => o.id.as_deref(),
            Self::Inventory(i) => i.id.as_deref(),
            Self::Product(p) => p.id.as_deref(),
        }
    }

    /// The WMS's warehouse customer id: which brand the object belongs to.
    pub fn warehouse_customer_id(&self) -> Option<String> {
        match self {
            Self::Order(o) => o.warehouse_customer_id.clone(),
            Self::Inventory(i) => i.warehouse_customer_id.clone(),
            Self::Product(p) => p.warehouse_customer_id.clone(),
        }
    }

    pub fn into_domain(self, ctx: &DecodeContext) -> Result<DomainObject, String> {
        let converted = match self {
            Self::Order(o) => o.into_domain(ctx).map(|o| DomainObject::Order(Box::new(o))),
            Self::Inventory(i) => i
                .into_domain(ctx)
                .map(|i| DomainObject::Inventory(Box::new(i))),
            Self::Product(p) => p
                .into_domain(ctx)
                .map(|p| DomainObject::Product(Box::new(p))),
        };
        converted.map_err(|e| error_chain(&e))
    }
}
