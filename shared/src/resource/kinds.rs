//! The list of mirrored resources — the one place a new resource is added — and what is
//! derived from it: [`ResourceKind`] and each kind's erased operations.

use std::fmt;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DomainObject, Resource, ResourceSpec, WireObject};
use crate::domain::{
    Bill, InboundShipment, InventoryItem, Order, Product, Return, ShippingMethod, Warehouse,
};
use crate::store::dynamo::Item;
use crate::store::StoreError;
use crate::sync::SourcePage;
use crate::trackstar::{ConnectionCredentials, ListFilter, TrackstarClient, TrackstarError};

/// Declares the kinds: `Variant => DomainType`. The variant's serde name (snake_case) is
/// the resource's name in jobs, health and the API; it must equal its `SPEC.name`
/// (checked by a test).
macro_rules! resources {
    ($($variant:ident => $ty:ty),+ $(,)?) => {
        /// A resource Packr mirrors from Trackstar.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum ResourceKind {
            $($variant),+
        }

        const COUNT: usize = [$(stringify!($variant)),+].len();

        impl ResourceKind {
            /// Every kind, in declaration order.
            pub const ALL: [ResourceKind; COUNT] = [$(ResourceKind::$variant),+];

            /// Its declaration's data.
            pub fn spec(self) -> &'static ResourceSpec {
                match self {
                    $(ResourceKind::$variant => &<$ty as Resource>::SPEC),+
                }
            }

            /// The OpenAPI component schema of its objects (`Order`).
            pub fn schema_name(self) -> std::borrow::Cow<'static, str> {
                match self {
                    $(ResourceKind::$variant => <$ty as utoipa::ToSchema>::name()),+
                }
            }

            /// Its operations on erased objects.
            pub fn ops(self) -> ResourceOps {
                match self {
                    $(ResourceKind::$variant => ResourceOps::of::<$ty>()),+
                }
            }
        }
    };
}

resources! {
    Orders => Order,
    Inventory => InventoryItem,
    Products => Product,
    InboundShipments => InboundShipment,
    Returns => Return,
    Warehouses => Warehouse,
    ShippingMethods => ShippingMethod,
    Bills => Bill,
}

/// One page of a Trackstar listing, read as wire objects of one kind.
pub type ListPage = for<'a> fn(
    &'a TrackstarClient,
    &'a ConnectionCredentials,
    &'a ListFilter,
    Option<&'a str>,
) -> BoxFuture<'a, Result<SourcePage, TrackstarError>>;

/// What code holding erased objects needs done per kind, built from the declaration.
#[derive(Clone, Copy)]
pub struct ResourceOps {
    /// A webhook's `data` as this kind's wire object.
    pub wire_from_json: fn(&serde_json::Value) -> Result<WireObject, serde_json::Error>,
    /// A stored item (live or not) as this kind's object.
    pub decode_stored: fn(Item) -> Result<DomainObject, StoreError>,
    /// One page of this kind's Trackstar listing.
    pub list_page: ListPage,
    /// The object without its personal fields ([`Resource::drop_personal_fields`]).
    pub without_personal_fields: fn(DomainObject) -> DomainObject,
}

impl ResourceOps {
    pub fn of<R: Resource>() -> Self {
        Self {
            wire_from_json: wire_from_json::<R>,
            decode_stored: decode_stored::<R>,
            list_page: list_page::<R>,
            without_personal_fields: without_personal_fields::<R>,
        }
    }
}

fn wire_from_json<R: Resource>(data: &serde_json::Value) -> Result<WireObject, serde_json::Error> {
    <R::Wire as serde::Deserialize>::deserialize(data).map(WireObject::new::<R>)
}

fn decode_stored<R: Resource>(item: Item) -> Result<DomainObject, StoreError> {
    crate::store::dynamo::decode_object::<R>(item).map(DomainObject::new)
}

fn without_personal_fields<R: Resource>(object: DomainObject) -> DomainObject {
    match object.downcast::<R>() {
        Ok(mut typed) => {
            typed.drop_personal_fields();
            DomainObject::new(typed)
        }
        // Another kind's object: not this kind's to strip.
        Err(other) => other,
    }
}

fn list_page<'a, R: Resource>(
    client: &'a TrackstarClient,
    credentials: &'a ConnectionCredentials,
    filter: &'a ListFilter,
    page_token: Option<&'a str>,
) -> BoxFuture<'a, Result<SourcePage, TrackstarError>> {
    Box::pin(async move {
        let page = client
            .list_page::<R::Wire>(credentials, filter, page_token)
            .await?;
        Ok(SourcePage {
            objects: page.data.into_iter().map(WireObject::new::<R>).collect(),
            next_token: page.next_token,
        })
    })
}

impl ResourceKind {
    /// Packr's name (`orders`).
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// A resource by its name, its Trackstar function (`get_orders`) or another spelling
    /// its declaration accepts (`order`, `inventory-items`).
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let bare = value.strip_prefix("get_").unwrap_or(value);
        Self::ALL.into_iter().find(|kind| {
            let spec = kind.spec();
            spec.name == bare || spec.function == value || spec.aliases.contains(&bare)
        })
    }

    /// The kind whose objects an event type carries (`order.updated` → orders); the older
    /// underscore spellings (`inbound_shipment.updated`) count too.
    pub fn of_event(event_type: &str) -> Option<Self> {
        let normalized = crate::webhook::envelope::EventKind::normalize(event_type);
        Self::ALL
            .into_iter()
            .find(|kind| kind.spec().events.contains(&normalized.as_str()))
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_named_as_it_serializes_and_its_names_are_unique() {
        let mut keys = std::collections::HashSet::new();
        let mut codes = std::collections::HashSet::new();
        for kind in ResourceKind::ALL {
            let serialized = serde_json::to_value(kind).unwrap();
            assert_eq!(serialized, kind.as_str(), "{kind:?}");
            assert_eq!(ResourceKind::parse(kind.as_str()), Some(kind));
            assert_eq!(ResourceKind::parse(kind.spec().function), Some(kind));
            assert!(keys.insert(kind.spec().key), "{kind:?} key reused");
            assert!(codes.insert(kind.spec().stats_code), "{kind:?} code reused");
            for event in kind.spec().events {
                assert_eq!(ResourceKind::of_event(event), Some(kind), "{event}");
            }
        }
    }

    #[test]
    fn resources_parse_trackstar_spellings() {
        assert_eq!(ResourceKind::parse("orders"), Some(ResourceKind::Orders));
        assert_eq!(
            ResourceKind::parse("get_orders"),
            Some(ResourceKind::Orders)
        );
        assert_eq!(ResourceKind::parse("order"), Some(ResourceKind::Orders));
        assert_eq!(
            ResourceKind::parse("inventory"),
            Some(ResourceKind::Inventory)
        );
        assert_eq!(
            ResourceKind::parse("inventory-items"),
            Some(ResourceKind::Inventory)
        );
        assert_eq!(
            ResourceKind::parse("products"),
            Some(ResourceKind::Products)
        );
        assert_eq!(ResourceKind::parse("labor_activities"), None);
        assert_eq!(ResourceKind::parse(""), None);
    }

    #[test]
    fn events_name_their_kind_in_either_spelling() {
        assert_eq!(
            ResourceKind::of_event("order.shipment.created"),
            Some(ResourceKind::Orders)
        );
        assert_eq!(
            ResourceKind::of_event("order-shipment.created"),
            Some(ResourceKind::Orders)
        );
        assert_eq!(ResourceKind::of_event("connection.created"), None);
        assert_eq!(ResourceKind::of_event("labor-activity.created"), None);
    }
}
