//! The copy in DynamoDB against the simulator's truth, object by object, on the fields a
//! change can move: orders' status, shipments and `updated_date`; inventory's on-hand,
//! committed and fulfillable quantities and `updated_date`; products' name, unit price
//! and `updated_date`.

use std::collections::BTreeSet;

use packr::domain::{InventoryItem, Order, Product, TenantId, Timestamp};
use packr::store::dynamo::DynamoStore;
use packr::store::SyncedStore;
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
