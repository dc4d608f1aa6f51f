//! What the per-resource tests of the five kinds added beside orders, inventory and products
//! share: one row per kind ([`Case`]), the macro that instantiates a test body once per
//! kind ([`per_new_kind!`]), the simulator's truth of a kind as JSON, that truth converted
//! the way Packr converts it, and edits of the truth that need the simulator's type.

use packr::apply::ContextResolver;
use packr::domain::{ConnectionId, TenantId};
use packr::resource::{DomainObject, Owner, ResourceKind, WireObject};
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, ObjectStore};
use serde_json::Value;
use trackstar_sim::data::model;
use trackstar_sim::data::{ConnectionData, Resource as SimResource};
use trackstar_sim::{MutateAction, MutateRequest, MutationKind, SimHandle};

/// A kind, and how the simulator names and changes it.
#[derive(Debug)]
pub(crate) struct Case {
    pub kind: ResourceKind,
    pub sim: trackstar_sim::ResourceKind,
    pub mutation: MutationKind,
    /// Trackstar's listing path (the contract's, not read from the declaration under test).
    pub path: &'static str,
}

pub(crate) const NEW_KINDS: [Case; 5] = [
    Case {
        kind: ResourceKind::InboundShipments,
        sim: trackstar_sim::ResourceKind::InboundShipments,
        mutation: MutationKind::InboundShipment,
        path: "/wms/inbound-shipments",
    },
    Case {
        kind: ResourceKind::Returns,
        sim: trackstar_sim::ResourceKind::Returns,
        mutation: MutationKind::Return,
        path: "/wms/returns",
    },
    Case {
        kind: ResourceKind::Warehouses,
        sim: trackstar_sim::ResourceKind::Warehouses,
        mutation: MutationKind::Warehouse,
        path: "/wms/warehouses",
    },
    Case {
        kind: ResourceKind::ShippingMethods,
        sim: trackstar_sim::ResourceKind::ShippingMethods,
        mutation: MutationKind::ShippingMethod,
        path: "/wms/shipping-methods",
    },
    Case {
        kind: ResourceKind::Bills,
        sim: trackstar_sim::ResourceKind::Bills,
        mutation: MutationKind::Bill,
        path: "/wms/billing",
    },
];

/// The kinds mirrored before the resource model (tested in their own files).
const FIRST_KINDS: [ResourceKind; 3] = [
    ResourceKind::Orders,
    ResourceKind::Inventory,
    ResourceKind::Products,
];

pub(crate) fn case(kind: ResourceKind) -> &'static Case {
    NEW_KINDS
        .iter()
        .find(|c| c.kind == kind)
        .unwrap_or_else(|| panic!("{kind} has no per-resource case"))
}

/// Instantiates `$body(case)` as one test per new kind, in a module named for the
/// behaviour: `resources_webhooks::a_redelivered_event_is_a_duplicate::bills`.
macro_rules! per_new_kind {
    ($name:ident => $body:ident) => {
        mod $name {
            use crate::resources_support::case;
            use packr::resource::ResourceKind;

            #[tokio::test]
            async fn inbound_shipments() {
                super::$body(case(ResourceKind::InboundShipments)).await
            }
            #[tokio::test]
            async fn returns() {
                super::$body(case(ResourceKind::Returns)).await
            }
            #[tokio::test]
            async fn warehouses() {
                super::$body(case(ResourceKind::Warehouses)).await
            }
            #[tokio::test]
            async fn shipping_methods() {
                super::$body(case(ResourceKind::ShippingMethods)).await
            }
            #[tokio::test]
            async fn bills() {
                super::$body(case(ResourceKind::Bills)).await
            }
        }
    };
}
pub(crate) use per_new_kind;

#[test]
fn every_kind_is_either_one_of_the_first_three_or_has_a_case() {
    // then a kind added to the resource list without a row here fails
    for kind in ResourceKind::ALL {
        let cased = NEW_KINDS.iter().filter(|c| c.kind == kind).count();
        let first = FIRST_KINDS.contains(&kind);
        assert_eq!(cased + usize::from(first), 1, "{kind}");
    }
    for c in &NEW_KINDS {
        assert_eq!(c.sim.resource_name(), c.kind.as_str(), "{c:?}");
    }
}

impl Case {
    pub(crate) fn brand_owned(&self) -> bool {
        self.kind.spec().owner == Owner::Brand
    }

    /// The simulator's objects of this kind, as Trackstar serves them.
    pub(crate) fn truth(&self, sim: &SimHandle, connection: &str) -> Vec<Value> {
        let data = serde_json::to_value(sim.truth(connection).expect("a simulated connection"))
            .expect("the truth serializes");
        data[self.sim.resource_name()]
            .as_array()
            .unwrap_or_else(|| panic!("no {} in the truth", self.sim.resource_name()))
            .clone()
    }

    /// One object of the simulator's truth.
    pub(crate) fn truth_of(&self, sim: &SimHandle, connection: &str, id: &str) -> Value {
        self.truth(sim, connection)
            .into_iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("{} {id} not in the truth", self.kind))
    }

    /// The ids of the simulator's objects of this kind.
    pub(crate) fn truth_ids(&self, sim: &SimHandle, connection: &str) -> Vec<String> {
        self.truth(sim, connection)
            .iter()
            .map(|o| o["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    /// Changes `count` objects of this kind upstream as `action` says; the ids changed, in
    /// order (with repeats, if one changed twice).
    pub(crate) fn mutate(
        &self,
        sim: &SimHandle,
        connection: &str,
        action: MutateAction,
        count: usize,
    ) -> Vec<(String, String)> {
        sim.mutate_with(
            &MutateRequest {
                connection_id: connection.into(),
                kind: self.mutation,
                count,
            },
            action,
        )
        .expect("the simulator mutates")
        .changes
    }

    /// Creates objects upstream until the connection has at least `n` of this kind; the
    /// ids created.
    pub(crate) fn ensure_at_least(
        &self,
        sim: &SimHandle,
        connection: &str,
        n: usize,
    ) -> Vec<String> {
        let have = self.truth(sim, connection).len();
        let created = if have < n {
            self.mutate(sim, connection, MutateAction::Create, n - have)
        } else {
            Vec::new()
        };
        assert!(self.truth(sim, connection).len() >= n);
        created.into_iter().map(|(_, id)| id).collect()
    }

    /// Edits the simulator's objects of this kind.
    pub(crate) fn edit(&self, sim: &SimHandle, connection: &str, edit: SimEdit) {
        sim.state()
            .with_data(connection, |data| match self.sim {
                trackstar_sim::ResourceKind::InboundShipments => {
                    edit.apply::<model::InboundShipment>(data)
                }
                trackstar_sim::ResourceKind::Returns => edit.apply::<model::Return>(data),
                trackstar_sim::ResourceKind::Warehouses => edit.apply::<model::Warehouse>(data),
                trackstar_sim::ResourceKind::ShippingMethods => {
                    edit.apply::<model::ShippingMethod>(data)
                }
                trackstar_sim::ResourceKind::Bills => edit.apply::<model::Bill>(data),
                other => panic!("{other:?} is not a new kind"),
            })
            .expect("a simulated connection");
    }
}

/// An edit of the simulator's truth of one kind.
#[derive(Debug, Clone)]
pub(crate) enum SimEdit {
    /// Only this object is left (so the next update mutation changes it).
    KeepOnly(String),
    /// Trackstar no longer has it (deleted upstream).
    Remove(String),
    /// The WMS changed it: its `updated_date` moves on by this many seconds.
    Touch(String, i64),
}

impl SimEdit {
    fn apply<T: SimResource>(&self, data: &mut ConnectionData) {
        let objects = T::all_mut(data);
        match self {
            SimEdit::KeepOnly(id) => objects.retain(|o| o.id() == id),
            SimEdit::Remove(id) => objects.retain(|o| o.id() != id),
            SimEdit::Touch(id, seconds) => {
                let o = objects
                    .iter_mut()
                    .find(|o| o.id() == id)
                    .expect("the object to touch");
                let (created, updated) = (o.created(), o.updated());
                o.restamp(
                    id.clone(),
                    created,
                    updated + chrono::Duration::seconds(*seconds),
                );
            }
        }
    }
}

/// A Trackstar object of `kind` as Packr converts it for `connection` of `tenant` (brand
/// from its warehouse customer, the tenant's currency).
pub(crate) async fn converted(
    store: &DynamoStore,
    tenant: &TenantId,
    connection: &str,
    kind: ResourceKind,
    json: &Value,
) -> DomainObject {
    let connection = store
        .get_connection(tenant, &ConnectionId::parse(connection).unwrap())
        .await
        .unwrap()
        .expect("a stored connection");
    let wire = WireObject::from_json(kind, json).expect("Trackstar's object parses");
    let ctx = ContextResolver::new(store, &connection)
        .context(&wire)
        .await
        .unwrap();
    wire.into_domain(&ctx).expect("Trackstar's object converts")
}

/// The stored copy of every object of the simulator's truth of `case`'s kind equals the
/// truth converted.
pub(crate) async fn assert_stored_equals_truth(
    store: &DynamoStore,
    tenant: &TenantId,
    sim: &SimHandle,
    connection: &str,
    case: &Case,
) {
    for json in case.truth(sim, connection) {
        assert_stored_equals(store, tenant, connection, case.kind, &json).await;
    }
}

/// The stored copy of `json`'s object equals it converted.
pub(crate) async fn assert_stored_equals(
    store: &DynamoStore,
    tenant: &TenantId,
    connection: &str,
    kind: ResourceKind,
    json: &Value,
) {
    let id = json["id"].as_str().expect("an id");
    let expected = converted(store, tenant, connection, kind, json).await;
    let stored = store
        .get_object(tenant, kind, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{kind} {id} is not stored"));
    assert!(
        stored.same_as(&expected),
        "{kind} {id}: stored {stored:?}, Trackstar's {expected:?}"
    );
}

/// Waits until the wall clock is in its next second: the simulator stamps whole seconds,
/// so a change made after this is newer than one made before.
pub(crate) async fn next_second() {
    let start = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == start {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
