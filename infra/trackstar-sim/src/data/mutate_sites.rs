//! Warehouses, shipping methods and bills as a WMS changes them: a warehouse opens or
//! gets a new dock, a shipping method is added or renamed, a charge is billed or adjusted.

use std::collections::BTreeMap;

use rand::seq::IndexedRandom;
use rand::Rng;

use super::model::{Bill, ShippingMethod, Timestamp};
use super::money::{exponent, to_decimal};
use super::mutate::{created, updated, Change};
use super::seed_sites::warehouse;
use super::ConnectionData;

/// A new warehouse, also one the connection's objects may name (`warehouse.created`).
pub fn new_warehouse(data: &mut ConnectionData, now: Timestamp) -> Option<Change> {
    let id = data.mint_id("wh");
    let site = warehouse(&id, (now, now));
    data.warehouse_ids.push(id);
    let change = created("warehouse.created", &site);
    data.warehouses.push(site);
    Some(change)
}

/// A warehouse gets a new dock in its address (`warehouse.updated`).
pub fn update_warehouse(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let index = rng.random_range(0..data.warehouses.len().max(1));
    let dock = rng.random_range(1..40);
    let site = data.warehouses.get_mut(index)?;
    let before = site.clone();
    site.address.address2 = Some(format!("Dock {dock}"));
    site.updated_date = now.max(before.updated_date);
    Some(updated("warehouse.updated", &before, &*site))
}

/// A new shipping method of a known carrier (`shipping-method.created`).
pub fn new_shipping_method(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let template = data.shipping_methods.choose(rng)?.clone();
    let id = data.mint_id("sm");
    let method = ShippingMethod {
        name: format!(
            "{} Saver {}",
            template.carrier_name.as_deref().unwrap_or("Carrier"),
            id.trim_start_matches("sm_")
        ),
        id,
        created_date: now,
        updated_date: now,
        ..template
    };
    let change = created("shipping-method.created", &method);
    data.shipping_methods.push(method);
    Some(change)
}

/// A shipping method renamed by the WMS (`shipping-method.updated`).
pub fn update_shipping_method(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let index = rng.random_range(0..data.shipping_methods.len().max(1));
    let version = rng.random_range(2..9);
    let method = data.shipping_methods.get_mut(index)?;
    let before = method.clone();
    let base = before.name.split(" (v").next().unwrap_or("").to_owned();
    method.name = format!("{base} (v{version})");
    method.updated_date = now.max(before.updated_date);
    Some(updated("shipping-method.updated", &before, &*method))
}

/// A fulfilment charge on a random order, billed to its warehouse customer (`bill.created`).
pub fn new_bill(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let order = data.orders.choose(rng)?;
    let (customer, order_id) = (order.warehouse_customer_id.clone(), order.id.clone());
    let bill = Bill {
        id: data.mint_id("bill"),
        warehouse_customer_id: customer,
        created_date: now,
        updated_date: now,
        object_id: Some(order_id),
        object_type: Some("order".to_owned()),
        charge_type: "fulfillment".to_owned(),
        amount: to_decimal(rng.random_range(250..=1_200), "USD"),
        currency_code: "USD".to_owned(),
        additional_fields: BTreeMap::new(),
    };
    let change = created("bill.created", &bill);
    data.bills.push(bill);
    Some(change)
}

/// A bill adjusted by a few cents or units of its currency (`bill.updated`).
pub fn update_bill(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let index = rng.random_range(0..data.bills.len().max(1));
    let delta = rng.random_range(1..=500);
    let bill = data.bills.get_mut(index)?;
    let before = bill.clone();
    let scale = 10f64.powi(exponent(&bill.currency_code));
    let minor = (bill.amount * scale).round() as i64;
    bill.amount = to_decimal(minor + delta, &bill.currency_code);
    bill.updated_date = now.max(before.updated_date);
    Some(updated("bill.updated", &before, &*bill))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mutate::{mutate_as, MutateAction, MutationKind};
    use crate::data::seed::{generate, rng_for, SeedSizes};

    fn data() -> ConnectionData {
        generate(
            6,
            "c",
            &["wc".to_owned()],
            SeedSizes {
                orders: 10,
                inventory: 3,
                products: 3,
                ..Default::default()
            },
        )
    }

    #[test]
    fn each_kind_creates_and_updates_with_the_event_trackstar_names() {
        let cases = [
            (MutationKind::Warehouse, "warehouse"),
            (MutationKind::ShippingMethod, "shipping-method"),
            (MutationKind::Bill, "bill"),
            (MutationKind::InboundShipment, "inbound-shipment"),
            (MutationKind::Return, "return"),
            (MutationKind::Order, "order"),
            (MutationKind::Inventory, "inventory"),
            (MutationKind::Product, "product"),
        ];
        for (kind, prefix) in cases {
            let mut data = data();
            let mut rng = rng_for(6, "sites");
            let now = crate::data::now();
            let made = mutate_as(
                &mut data,
                kind,
                Some(MutateAction::Create),
                2,
                &mut rng,
                now,
            );
            assert_eq!(made.len(), 2, "{kind:?}");
            for change in &made {
                assert_eq!(change.event_type, format!("{prefix}.created"));
                assert!(change.previous_attributes.is_none());
                assert_eq!(change.data["updated_date"], serde_json::json!(now));
            }
            let changed = mutate_as(
                &mut data,
                kind,
                Some(MutateAction::Update),
                1,
                &mut rng,
                now,
            );
            let change = changed.first().expect("a change");
            assert_eq!(change.event_type, format!("{prefix}.updated"), "{kind:?}");
            let previous = change
                .previous_attributes
                .as_ref()
                .expect("previous attributes");
            assert!(
                previous.get("updated_date").is_some(),
                "{kind:?}: {previous}"
            );
        }
    }

    #[test]
    fn a_new_warehouse_becomes_one_objects_may_name_and_a_bill_update_keeps_minor_units() {
        let mut data = data();
        let mut rng = rng_for(6, "wh");
        let change = new_warehouse(&mut data, crate::data::now()).expect("created");
        assert!(data.warehouse_ids.contains(&change.object_id));
        assert_eq!(data.warehouses.len(), data.warehouse_ids.len());
        let before: Vec<f64> = data.bills.iter().map(|b| b.amount).collect();
        let change = update_bill(&mut data, &mut rng, crate::data::now()).expect("updated");
        let bill = data
            .bills
            .iter()
            .find(|b| b.id == change.object_id)
            .expect("bill");
        assert_eq!(bill.amount, (bill.amount * 100.0).round() / 100.0);
        assert!(before.iter().all(|a| (a * 100.0).round() / 100.0 == *a));
    }
}
