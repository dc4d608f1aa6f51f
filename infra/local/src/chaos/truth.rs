//! The copy in DynamoDB against the simulator's truth, object by object, on the fields a
//! change can move: orders' status, shipments and `updated_date`; inventory's on-hand,
//! committed and fulfillable quantities and `updated_date`; products' name, unit price
//! and `updated_date`. [`compare_every_kind`]: every object of every resource (the sync
//! phase's check) by version.

use std::collections::{BTreeSet, HashMap};

use packr::domain::{InventoryItem, Order, Product, TenantId, Timestamp};
use packr::resource::ResourceKind;
use packr::store::dynamo::DynamoStore;
use packr::store::{ObjectStore, SyncedStore};
use trackstar_sim::data::ConnectionData;

/// One kind's comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindTally {
    /// Objects of the simulator.
    pub in_simulator: usize,
    /// Of those, changed by an event of the run (so they must be stored).
    pub changed: usize,
    /// Stored and compared.
    pub compared: usize,
    /// Stored with a field that differs from the simulator's.
    pub mismatched: usize,
    /// Changed by an event but absent from DynamoDB.
    pub missing: usize,
}

impl KindTally {
    pub fn ok(&self) -> bool {
        self.mismatched == 0 && self.missing == 0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TruthReport {
    pub orders: KindTally,
    pub inventory: KindTally,
    pub products: KindTally,
    /// A few `kind id: field` of the mismatches, for the log.
    pub samples: Vec<String>,
}

impl TruthReport {
    pub fn ok(&self) -> bool {
        self.orders.ok() && self.inventory.ok() && self.products.ok()
    }
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from_datetime(t)
}

/// Compares every object of `truth` with its copy; `changed` holds the ids an event of
/// the run changed.
pub async fn compare(
    store: &DynamoStore,
    tenant: &TenantId,
    truth: &ConnectionData,
    changed: &BTreeSet<String>,
) -> anyhow::Result<TruthReport> {
    let mut report = TruthReport::default();
    let sample = |report: &mut TruthReport, what: String| {
        if report.samples.len() < 10 {
            report.samples.push(what);
        }
    };

    for order in &truth.orders {
        let tally = &mut report.orders;
        tally.in_simulator += 1;
        let was_changed = changed.contains(&order.id);
        tally.changed += usize::from(was_changed);
        let stored: Option<Order> = SyncedStore::get(store, tenant, &order.id).await?;
        let Some(stored) = stored else {
            tally.missing += usize::from(was_changed);
            continue;
        };
        tally.compared += 1;
        let mut differs = Vec::new();
        if stored.status.as_str() != order.status {
            differs.push("status");
        }
        if stored.updated_date != ts(order.updated_date) {
            differs.push("updated_date");
        }
        if stored.shipments.len() != order.shipments.len() {
            differs.push("shipments");
        }
        if !differs.is_empty() {
            report.orders.mismatched += 1;
            sample(
                &mut report,
                format!("order {}: {}", order.id, differs.join(", ")),
            );
        }
    }

    for item in &truth.inventory {
        let tally = &mut report.inventory;
        tally.in_simulator += 1;
        let was_changed = changed.contains(&item.id);
        tally.changed += usize::from(was_changed);
        let stored: Option<InventoryItem> = SyncedStore::get(store, tenant, &item.id).await?;
        let Some(stored) = stored else {
            tally.missing += usize::from(was_changed);
            continue;
        };
        tally.compared += 1;
        let mut differs = Vec::new();
        let q = &stored.quantities;
        if q.onhand != item.onhand {
            differs.push("onhand");
        }
        if q.committed != item.committed {
            differs.push("committed");
        }
        if q.fulfillable != item.fulfillable {
            differs.push("fulfillable");
        }
        if stored.updated_date != ts(item.updated_date) {
            differs.push("updated_date");
        }
        if !differs.is_empty() {
            report.inventory.mismatched += 1;
            sample(
                &mut report,
                format!("inventory {}: {}", item.id, differs.join(", ")),
            );
        }
    }

    for product in &truth.products {
        let tally = &mut report.products;
        tally.in_simulator += 1;
        let was_changed = changed.contains(&product.id);
        tally.changed += usize::from(was_changed);
        let stored: Option<Product> = SyncedStore::get(store, tenant, &product.id).await?;
        let Some(stored) = stored else {
            tally.missing += usize::from(was_changed);
            continue;
        };
        tally.compared += 1;
        let mut differs = Vec::new();
        if stored.name.as_deref() != Some(product.name.as_str()) {
            differs.push("name");
        }
        // The simulator's prices are USD decimals: cents, rounded.
        let price = product.unit_price.map(|p| (p * 100.0).round() as i64);
        if stored.unit_price.map(|m| m.minor()) != price {
            differs.push("unit_price");
        }
        if stored.updated_date != ts(product.updated_date) {
            differs.push("updated_date");
        }
        if !differs.is_empty() {
            report.products.mismatched += 1;
            sample(
                &mut report,
                format!("product {}: {}", product.id, differs.join(", ")),
            );
        }
    }
    Ok(report)
}

/// Every object of every resource (the whole resource model) against its stored copy: it
/// must be stored, with the simulator's version (`updated_date`, which the simulator moves
/// on every change and the only-if-newer upsert compares).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EveryKind {
    pub kinds: Vec<(ResourceKind, KindTally)>,
    /// A few `kind id: what` of the mismatches, for the log.
    pub samples: Vec<String>,
}

impl EveryKind {
    pub fn ok(&self) -> bool {
        !self.kinds.is_empty() && self.kinds.iter().all(|(_, t)| t.ok())
    }
}

/// One kind's objects by version: `simulator` (id, version) against `stored` (id →
/// version of the live copy). Every object must be stored: `changed` counts them all.
pub fn tally_versions(
    kind: ResourceKind,
    simulator: &[(String, Timestamp)],
    stored: &HashMap<String, Timestamp>,
    samples: &mut Vec<String>,
) -> KindTally {
    let mut tally = KindTally {
        in_simulator: simulator.len(),
        changed: simulator.len(),
        ..KindTally::default()
    };
    for (id, version) in simulator {
        match stored.get(id) {
            None => {
                tally.missing += 1;
                if samples.len() < 10 {
                    samples.push(format!("{kind} {id}: missing"));
                }
            }
            Some(stored) => {
                tally.compared += 1;
                if stored != version {
                    tally.mismatched += 1;
                    if samples.len() < 10 {
                        samples.push(format!(
                            "{kind} {id}: version {stored} stored, {version} in the simulator"
                        ));
                    }
                }
            }
        }
    }
    tally
}

/// (id, version) of every object of `kind` in the simulator.
pub fn simulator_versions(truth: &ConnectionData, kind: ResourceKind) -> Vec<(String, Timestamp)> {
    fn of<T>(
        items: &[T],
        f: impl Fn(&T) -> (&String, chrono::DateTime<chrono::Utc>),
    ) -> Vec<(String, Timestamp)> {
        items
            .iter()
            .map(|item| {
                let (id, updated) = f(item);
                (id.clone(), ts(updated))
            })
            .collect()
    }
    match kind {
        ResourceKind::Orders => of(&truth.orders, |o| (&o.id, o.updated_date)),
        ResourceKind::Inventory => of(&truth.inventory, |o| (&o.id, o.updated_date)),
        ResourceKind::Products => of(&truth.products, |o| (&o.id, o.updated_date)),
        ResourceKind::InboundShipments => of(&truth.inbound_shipments, |o| (&o.id, o.updated_date)),
        ResourceKind::Returns => of(&truth.returns, |o| (&o.id, o.updated_date)),
        ResourceKind::Warehouses => of(&truth.warehouses, |o| (&o.id, o.updated_date)),
        ResourceKind::ShippingMethods => of(&truth.shipping_methods, |o| (&o.id, o.updated_date)),
        ResourceKind::Bills => of(&truth.bills, |o| (&o.id, o.updated_date)),
    }
}

/// [`tally_versions`] of every kind, reading the stored copies 100 ids at a time.
pub async fn compare_every_kind(
    store: &DynamoStore,
    tenant: &TenantId,
    truth: &ConnectionData,
) -> anyhow::Result<EveryKind> {
    let mut every = EveryKind::default();
    for kind in ResourceKind::ALL {
        let simulator = simulator_versions(truth, kind);
        let ids: Vec<String> = simulator.iter().map(|(id, _)| id.clone()).collect();
        let mut stored = HashMap::new();
        for chunk in ids.chunks(100) {
            for object in ObjectStore::get_objects(store, tenant, kind, chunk).await? {
                stored.insert(object.id().to_owned(), object.updated_date());
            }
        }
        let tally = tally_versions(kind, &simulator, &stored, &mut every.samples);
        every.kinds.push((kind, tally));
    }
    Ok(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_missing_or_stored_at_another_version_fails_its_kind() {
        let t = |s: i64| {
            Timestamp::from_datetime(
                chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap(),
            )
        };
        let simulator = vec![
            ("a".to_owned(), t(1)),
            ("b".to_owned(), t(2)),
            ("c".to_owned(), t(3)),
        ];
        let mut samples = Vec::new();
        // given every object stored at its version
        let stored: HashMap<String, Timestamp> = simulator.iter().cloned().collect();
        let tally = tally_versions(ResourceKind::Bills, &simulator, &stored, &mut samples);
        assert!(tally.ok());
        assert_eq!((tally.compared, tally.changed), (3, 3));
        // when one is behind and one absent
        let stored = HashMap::from([("a".to_owned(), t(1)), ("b".to_owned(), t(1))]);
        let tally = tally_versions(ResourceKind::Bills, &simulator, &stored, &mut samples);
        // then the kind fails, with both named
        assert_eq!((tally.mismatched, tally.missing), (1, 1));
        assert!(!tally.ok());
        assert_eq!(samples.len(), 2);
        assert!(!EveryKind::default().ok());
    }
}
