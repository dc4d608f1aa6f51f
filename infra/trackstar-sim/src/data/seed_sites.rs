//! Seeded warehouses, shipping methods and bills of one connection. They are generated
//! after the other objects, from the same generator, so adding them changed none of the
//! orders, inventory, products, inbound shipments or returns a seed gives.

use std::collections::BTreeMap;

use rand::Rng;

use super::model::{Bill, ShipFromAddress, ShippingMethod, Warehouse};
use super::money::to_decimal;
use super::seed::{dates, hex_id};
use super::ConnectionData;

/// A warehouse opened after the seeded stock was counted: it exists but holds nothing yet.
pub const EXTRA_WAREHOUSE: &str = "wh_central";

/// `(id, carrier_id, carrier_name, scac, name)`; the `*_ground` ids are the ones seeded
/// orders carry in `shipping_method_id`.
const METHODS: [(&str, &str, &str, &str, &str); 5] = [
    ("sm_ups_ground", "ups", "UPS", "UPSN", "UPS Ground"),
    (
        "sm_usps_ground",
        "usps",
        "USPS",
        "USPS",
        "USPS Priority Mail",
    ),
    (
        "sm_fedex_ground",
        "fedex",
        "FedEx",
        "FDEG",
        "FedEx Home Delivery",
    ),
    ("sm_ups_express", "ups", "UPS", "UPSN", "UPS Next Day Air"),
    (
        "sm_fedex_express",
        "fedex",
        "FedEx",
        "FDEG",
        "FedEx Priority Overnight",
    ),
];

/// `(charge_type, object_type, low, high)` in minor units of USD.
const CHARGES: [(&str, &str, i64, i64); 3] = [
    ("fulfillment", "order", 250, 1_200),
    ("receiving", "inbound_shipment", 2_500, 12_000),
    ("storage", "warehouse", 5_000, 40_000),
];

/// Bills seeded per warehouse customer.
pub const BILLS_PER_CUSTOMER: usize = CHARGES.len();

/// The name, code and address of a warehouse id.
pub fn warehouse_site(warehouse_id: &str) -> (String, String, ShipFromAddress) {
    let (name, code, address1, city, state, postal) = match warehouse_id {
        "wh_east" => (
            "Allentown (PA)",
            "ABE-1",
            "75 Distribution Way",
            "Allentown",
            "PA",
            "18106",
        ),
        "wh_west" => (
            "Reno (NV)",
            "RNO-1",
            "2200 Logistics Pkwy",
            "Reno",
            "NV",
            "89502",
        ),
        EXTRA_WAREHOUSE => (
            "Columbus (OH)",
            "CMH-1",
            "400 Freight Ct",
            "Columbus",
            "OH",
            "43215",
        ),
        other => (other, other, "1 Warehouse Rd", "Memphis", "TN", "38118"),
    };
    (
        name.to_owned(),
        code.to_owned(),
        ShipFromAddress {
            address1: Some(address1.to_owned()),
            address2: None,
            address3: None,
            city: Some(city.to_owned()),
            state: Some(state.to_owned()),
            postal_code: Some(postal.to_owned()),
            country: Some("US".to_owned()),
        },
    )
}

/// A warehouse object for an id.
pub fn warehouse(
    id: &str,
    (created, updated): (super::model::Timestamp, super::model::Timestamp),
) -> Warehouse {
    let (name, code, address) = warehouse_site(id);
    Warehouse {
        id: id.to_owned(),
        created_date: created,
        updated_date: updated,
        name,
        code: Some(code),
        address,
        trackstar_tags: Some(vec![]),
        additional_fields: BTreeMap::new(),
    }
}

/// Adds warehouses (every id in `warehouse_ids` plus [`EXTRA_WAREHOUSE`]), shipping
/// methods and [`BILLS_PER_CUSTOMER`] bills per warehouse customer.
pub fn generate_sites(rng: &mut impl Rng, data: &mut ConnectionData, customers: &[String]) {
    if !data.warehouse_ids.iter().any(|w| w == EXTRA_WAREHOUSE) {
        data.warehouse_ids.push(EXTRA_WAREHOUSE.to_owned());
    }
    for id in data.warehouse_ids.clone() {
        data.warehouses.push(warehouse(&id, dates(rng)));
    }
    for (id, carrier_id, carrier_name, scac, name) in METHODS {
        let (created, updated) = dates(rng);
        data.shipping_methods.push(ShippingMethod {
            id: id.to_owned(),
            created_date: created,
            updated_date: updated,
            name: name.to_owned(),
            carrier: Some(carrier_name.to_owned()),
            carrier_id: Some(carrier_id.to_owned()),
            carrier_name: Some(carrier_name.to_owned()),
            scac: Some(scac.to_owned()),
            additional_fields: BTreeMap::new(),
        });
    }
    for customer in customers {
        for (charge_type, object_type, low, high) in CHARGES {
            let object_id = match object_type {
                "order" => data
                    .orders
                    .iter()
                    .find(|o| o.warehouse_customer_id.as_deref() == Some(customer.as_str()))
                    .map(|o| o.id.clone()),
                "inbound_shipment" => data
                    .inbound_shipments
                    .iter()
                    .find(|s| s.warehouse_customer_id.as_deref() == Some(customer.as_str()))
                    .map(|s| s.id.clone()),
                _ => data.warehouse_ids.first().cloned(),
            };
            let (created, updated) = dates(rng);
            data.bills.push(Bill {
                id: hex_id(rng, "bill"),
                warehouse_customer_id: Some(customer.clone()),
                created_date: created,
                updated_date: updated,
                object_type: object_id.as_ref().map(|_| object_type.to_owned()),
                object_id,
                charge_type: charge_type.to_owned(),
                amount: to_decimal(rng.random_range(low..=high), "USD"),
                currency_code: "USD".to_owned(),
                additional_fields: BTreeMap::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seed::{generate, SeedSizes};

    fn sizes() -> SeedSizes {
        SeedSizes {
            orders: 20,
            inventory: 4,
            products: 4,
            ..Default::default()
        }
    }

    #[test]
    fn every_warehouse_objects_reference_is_a_seeded_warehouse() {
        // given a seeded connection with two warehouse customers
        let customers = vec!["wc_a".to_owned(), "wc_b".to_owned()];
        let data = generate(9, "conn", &customers, sizes());
        // then the warehouses are the connection's warehouse ids, three of them
        let ids: Vec<&str> = data.warehouses.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, vec!["wh_east", "wh_west", EXTRA_WAREHOUSE]);
        assert_eq!(data.warehouse_ids, ids);
        // and every warehouse an order, an inventory item or an inbound shipment names exists
        let referenced = data
            .orders
            .iter()
            .filter_map(|o| o.warehouse_id.as_deref())
            .chain(
                data.inventory
                    .iter()
                    .flat_map(|i| i.inventory_by_warehouse_id.keys().map(String::as_str)),
            )
            .chain(
                data.inbound_shipments
                    .iter()
                    .filter_map(|s| s.warehouse_id.as_deref()),
            );
        for id in referenced {
            assert!(ids.contains(&id), "{id} is not a seeded warehouse");
        }
    }

    #[test]
    fn seeded_orders_name_seeded_shipping_methods_and_each_customer_has_bills() {
        let customers = vec!["wc_a".to_owned(), "wc_b".to_owned()];
        let data = generate(9, "conn", &customers, sizes());
        assert_eq!(data.shipping_methods.len(), METHODS.len());
        for order in &data.orders {
            let method = order.shipping_method_id.as_deref().expect("method id");
            assert!(
                data.shipping_methods.iter().any(|m| m.id == method),
                "{method} is not a seeded shipping method"
            );
        }
        for customer in &customers {
            let bills: Vec<&Bill> = data
                .bills
                .iter()
                .filter(|b| b.warehouse_customer_id.as_ref() == Some(customer))
                .collect();
            assert_eq!(bills.len(), BILLS_PER_CUSTOMER);
            for bill in bills {
                assert!(bill.amount > 0.0 && bill.currency_code == "USD");
                assert_eq!(bill.amount, (bill.amount * 100.0).round() / 100.0);
                assert!(bill.updated_date >= bill.created_date);
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_warehouses_methods_and_bills() {
        let customers = vec!["wc_a".to_owned()];
        let a = generate(3, "conn", &customers, sizes());
        let b = generate(3, "conn", &customers, sizes());
        assert_eq!(a.bills, b.bills);
        assert_eq!(a.warehouses, b.warehouses);
        let other = generate(4, "conn", &customers, sizes());
        assert_ne!(a.bills, other.bills);
    }
}
