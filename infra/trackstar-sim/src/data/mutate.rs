//! Changes to the truth made by `POST /_sim/mutate`, as a WMS would make them: orders move
//! through their lifecycle (and ship), stock levels move, products get renamed or repriced;
//! inbound shipments, receipts and returns ([`super::mutate_inbound`]); warehouses,
//! shipping methods and bills ([`super::mutate_sites`]). Every kind can be asked to create
//! a new object or update one ([`MutateAction`]). Every change bumps `updated_date` and
//! yields the webhook it would raise.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::{Timestamp, WarehouseQuantities};
use super::money::{exponent, to_decimal};
use super::seed::shipment_for;
use super::{mutate_inbound, mutate_sites, ConnectionData, Resource};
use crate::events::previous_attributes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutationKind {
    Order,
    Inventory,
    Product,
    /// `inbound-shipment.created` / `inbound-shipment.updated`
    InboundShipment,
    /// A receipt on an inbound shipment: `inbound-shipment.receipt.created`.
    InboundReceipt,
    /// `return.created` / `return.updated`
    Return,
    Warehouse,
    ShippingMethod,
    Bill,
}

impl MutationKind {
    pub const ALL: [MutationKind; 9] = [
        MutationKind::Order,
        MutationKind::Inventory,
        MutationKind::Product,
        MutationKind::InboundShipment,
        MutationKind::InboundReceipt,
        MutationKind::Return,
        MutationKind::Warehouse,
        MutationKind::ShippingMethod,
        MutationKind::Bill,
    ];
}

/// Whether a mutation makes a new object or changes an existing one. Without one, each
/// kind does what its WMS does most: orders advance (a new one when none can), stock and
/// products change, receipts are received, the rest are updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutateAction {
    Create,
    Update,
}

/// A change and the webhook it raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: &'static str,
    pub object_id: String,
    pub data: Value,
    pub previous_attributes: Option<Value>,
}

/// The next status of an order in a WMS lifecycle, `None` when it is final.
pub fn next_status(status: &str) -> Option<&'static str> {
    Some(match status {
        "open" | "backordered" | "exception" | "other" => "confirmed",
        "confirmed" => "processing",
        "processing" => "picked",
        "picked" => "packed",
        "packed" | "partially_fulfilled" => "fulfilled",
        _ => return None,
    })
}

/// Applies `count` changes of a kind; returns them in the order they happened.
pub fn mutate(
    data: &mut ConnectionData,
    kind: MutationKind,
    count: usize,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Vec<Change> {
    mutate_as(data, kind, None, count, rng, now)
}

/// Applies `count` changes of a kind, creating or updating as `action` says.
pub fn mutate_as(
    data: &mut ConnectionData,
    kind: MutationKind,
    action: Option<MutateAction>,
    count: usize,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Vec<Change> {
    use MutateAction::{Create, Update};
    use MutationKind as K;
    let mut changes = Vec::new();
    for _ in 0..count {
        match (kind, action) {
            (K::Order, Some(Create)) => changes.extend(new_order(data, rng, now)),
            (K::Order, _) => changes.extend(advance_order(data, rng, now)),
            (K::Inventory, Some(Create)) => changes.extend(new_inventory(data, rng, now)),
            (K::Inventory, _) => changes.extend(move_stock(data, rng, now)),
            (K::Product, Some(Create)) => changes.extend(new_product(data, rng, now)),
            (K::Product, _) => changes.extend(touch_product(data, rng, now)),
            (K::InboundShipment, Some(Create)) => {
                changes.extend(mutate_inbound::new_inbound(data, rng, now))
            }
            (K::InboundShipment, _) => {
                changes.extend(mutate_inbound::update_inbound(data, rng, now))
            }
            (K::InboundReceipt, Some(Create)) => {
                changes.extend(mutate_inbound::new_inbound(data, rng, now));
                changes.extend(mutate_inbound::receive_inbound(data, rng, now));
            }
            (K::InboundReceipt, _) => {
                changes.extend(mutate_inbound::receive_inbound(data, rng, now))
            }
            (K::Return, Some(Create)) => changes.extend(mutate_inbound::new_return(data, rng, now)),
            (K::Return, _) => changes.extend(mutate_inbound::advance_return(data, rng, now)),
            (K::Warehouse, Some(Create)) => changes.extend(mutate_sites::new_warehouse(data, now)),
            (K::Warehouse, _) => changes.extend(mutate_sites::update_warehouse(data, rng, now)),
            (K::ShippingMethod, Some(Create)) => {
                changes.extend(mutate_sites::new_shipping_method(data, rng, now))
            }
            (K::ShippingMethod, _) => {
                changes.extend(mutate_sites::update_shipping_method(data, rng, now))
            }
            (K::Bill, Some(Update)) => changes.extend(mutate_sites::update_bill(data, rng, now)),
            (K::Bill, _) => changes.extend(mutate_sites::new_bill(data, rng, now)),
        }
    }
    changes
}

/// A new inventory item like a random one, with its own id and SKU (`inventory.created`).
fn new_inventory(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let mut item = data.inventory.choose(rng)?.clone();
    let id = data.mint_id("inv");
    item.sku = Some(format!("NEW-{}", id.trim_start_matches("inv_")));
    item.restamp(id, now, now);
    let change = created("inventory.created", &item);
    data.inventory.push(item);
    Some(change)
}

/// A new product like a random one, with its own id and SKU (`product.created`).
fn new_product(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let mut product = data.products.choose(rng)?.clone();
    let id = data.mint_id("prd");
    let sku = format!("NEW-{}", id.trim_start_matches("prd_"));
    product.sku = Some(sku.clone());
    for line in &mut product.inventory_items {
        line.sku = Some(sku.clone());
    }
    product.restamp(id, now, now);
    let change = created("product.created", &product);
    data.products.push(product);
    Some(change)
}

fn advance_order(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Vec<Change> {
    let open: Vec<usize> = data
        .orders
        .iter()
        .enumerate()
        .filter(|(_, o)| next_status(&o.status).is_some())
        .map(|(i, _)| i)
        .collect();
    let Some(&index) = open.choose(rng) else {
        return new_order(data, rng, now).into_iter().collect();
    };
    let products = data.products.clone();
    let inventory_of = move |product_id: &str| {
        products
            .iter()
            .find(|p| p.id == product_id)
            .and_then(|p| p.inventory_items.first())
            .map(|i| i.inventory_item_id.clone())
    };
    let Some(order) = data.orders.get_mut(index) else {
        return Vec::new();
    };
    let before = order.clone();
    let status = next_status(&order.status).unwrap_or("fulfilled");
    order.status = status.to_owned();
    order.raw_status = Some(status.to_uppercase());
    order.updated_date = now.max(order.updated_date);
    if matches!(status, "picked" | "packed" | "fulfilled") {
        for line in &mut order.line_items {
            line.is_picked = true;
        }
    }
    let mut changes = vec![updated("order.updated", &before, &*order)];
    if status == "fulfilled" && order.shipments.is_empty() {
        let before_ship = order.clone();
        let shipment = shipment_for(rng, order, now, false, &inventory_of);
        order.shipments.push(shipment);
        changes.push(Change {
            event_type: "order.shipment.created",
            object_id: order.id.clone(),
            data: to_value(&*order),
            previous_attributes: Some(json!({ "shipments": to_value(&before_ship.shipments) })),
        });
    }
    changes
}

pub(crate) fn new_order(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let template = data.orders.choose(rng)?.clone();
    let serial = data.orders.len();
    let mut order = template;
    order.id = data.mint_id("ord");
    order.order_number = format!("SO-{:06}", 200_000 + serial);
    order.reference_id = format!("#{}", 5001 + serial);
    order.status = "open".to_owned();
    order.raw_status = Some("OPEN".to_owned());
    order.created_date = now;
    order.updated_date = now;
    order.shipments.clear();
    for line in &mut order.line_items {
        line.is_picked = false;
    }
    let change = created("order.created", &order);
    data.orders.push(order);
    Some(change)
}

fn move_stock(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let index = rng.random_range(0..data.inventory.len().max(1));
    let item = data.inventory.get_mut(index)?;
    let before = item.clone();
    let warehouses: Vec<String> = item.inventory_by_warehouse_id.keys().cloned().collect();
    let warehouse = warehouses.choose(rng)?.clone();
    let q = item
        .inventory_by_warehouse_id
        .get(&warehouse)
        .copied()
        .unwrap_or_default();
    let delta = loop {
        let d: i64 = rng.random_range(-20..=40);
        if d != 0 {
            break d;
        }
    };
    let onhand = (q.onhand + delta).max(0);
    let committed = (q.committed + rng.random_range(-3..=3)).max(0);
    item.inventory_by_warehouse_id.insert(
        warehouse,
        WarehouseQuantities::from_counts(onhand, committed, q.unfulfillable, q.awaiting),
    );
    item.recompute_totals();
    item.updated_date = now.max(item.updated_date);
    Some(updated("inventory.updated", &before, &*item))
}

fn touch_product(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let index = rng.random_range(0..data.products.len().max(1));
    let product = data.products.get_mut(index)?;
    let before = product.clone();
    let cents = (product.unit_price.unwrap_or(10.0) * 10f64.powi(exponent("USD"))).round() as i64;
    product.unit_price = Some(to_decimal(cents + rng.random_range(1..=500), "USD"));
    if rng.random_bool(0.3) {
        product.name = format!(
            "{} (v{})",
            before.name.split(" (v").next().unwrap_or(""),
            rng.random_range(2..9)
        );
    }
    product.updated_date = now.max(product.updated_date);
    Some(updated("product.updated", &before, &*product))
}

pub(crate) fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A `*.created` change.
pub fn created<T: Serialize + HasId>(event_type: &'static str, obj: &T) -> Change {
    Change {
        event_type,
        object_id: obj.object_id().to_owned(),
        data: to_value(obj),
        previous_attributes: None,
    }
}

/// A `*.updated` change with the old values of what changed.
pub fn updated<T: Serialize + HasId>(event_type: &'static str, before: &T, after: &T) -> Change {
    Change {
        event_type,
        object_id: after.object_id().to_owned(),
        data: to_value(after),
        previous_attributes: Some(previous_attributes(before, after)),
    }
}

pub trait HasId {
    fn object_id(&self) -> &str;
}

impl<T: Resource> HasId for T {
    fn object_id(&self) -> &str {
        self.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seed::{generate, rng_for, SeedSizes};

    #[test]
    fn order_mutation_moves_status_forward_and_bumps_updated_date() {
        let mut data = generate(
            3,
            "c",
            &["wc".to_owned()],
            SeedSizes {
                orders: 20,
                inventory: 5,
                products: 5,
                ..Default::default()
            },
        );
        let now = crate::data::now();
        let mut rng = rng_for(3, "mutations");
        let changes = mutate(&mut data, MutationKind::Order, 3, &mut rng, now);
        assert!(changes.len() >= 3);
        for change in changes.iter().filter(|c| c.event_type == "order.updated") {
            let order = data
                .orders
                .iter()
                .find(|o| o.id == change.object_id)
                .expect("order exists");
            assert_eq!(order.updated_date, now);
            let previous = change.previous_attributes.as_ref().expect("previous");
            assert!(previous.get("status").is_some());
        }
    }

    #[test]
    fn inventory_mutation_keeps_quantities_consistent() {
        let mut data = generate(
            4,
            "c",
            &["wc".to_owned()],
            SeedSizes {
                orders: 1,
                inventory: 5,
                products: 1,
                ..Default::default()
            },
        );
        let mut rng = rng_for(4, "m");
        let changes = mutate(
            &mut data,
            MutationKind::Inventory,
            5,
            &mut rng,
            crate::data::now(),
        );
        assert_eq!(changes.len(), 5);
        for i in &data.inventory {
            assert_eq!(i.onhand, i.fulfillable + i.unfulfillable);
        }
    }
}
