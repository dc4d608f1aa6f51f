//! Deterministic, realistic data for one connection: the same seed and connection id
//! always give the same objects.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::model::*;
use super::money::to_decimal;
use super::ConnectionData;

/// Sizes of the generated data.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedSizes {
    pub orders: usize,
    pub inventory: usize,
    pub products: usize,
    /// `None`: a few, a tenth of the orders (1 to 10).
    pub inbound_shipments: Option<usize>,
    /// `None`: a few, a tenth of the orders (1 to 10).
    pub returns: Option<usize>,
}

/// Seeded objects end at this instant (2025-09-30T00:00:00Z) and spread over the 90 days
/// before it; writes and mutations stamp the real time, so they always sort after.
pub fn anchor() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 9, 30, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

const FIRST: [&str; 12] = [
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Isla", "Omar", "Lena", "Kai", "Priya", "Diego",
];
const LAST: [&str; 10] = [
    "Nguyen",
    "Smith",
    "Garcia",
    "Kowalski",
    "Okafor",
    "Johansson",
    "Rossi",
    "Kim",
    "Patel",
    "Murphy",
];
const US_CITIES: [(&str, &str, &str); 6] = [
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Columbus", "OH", "43215"),
    ("Portland", "OR", "97205"),
    ("Raleigh", "NC", "27601"),
    ("Brooklyn", "NY", "11201"),
];
const STREETS: [&str; 6] = [
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Harbor Blvd",
];
const ADJECTIVES: [&str; 8] = [
    "Classic", "Organic", "Everyday", "Premium", "Travel", "Recycled", "Midnight", "Alpine",
];
const NOUNS: [(&str, &str); 8] = [
    ("Tee", "TEE"),
    ("Hoodie", "HOD"),
    ("Water Bottle", "BTL"),
    ("Candle", "CND"),
    ("Tote Bag", "TOT"),
    ("Coffee Beans 1kg", "COF"),
    ("Yoga Mat", "YGM"),
    ("Face Serum", "SER"),
];
const CHANNELS: [(&str, &str); 4] = [
    ("shopify", "Shopify"),
    ("amazon", "Amazon"),
    ("tiktok", "TikTok Shop"),
    ("wholesale", "Wholesale Portal"),
];
const CARRIERS: [(&str, &str, &str, &str); 3] = [
    ("ups", "UPS", "UPSN", "UPS Ground"),
    ("usps", "USPS", "USPS", "USPS Priority Mail"),
    ("fedex", "FedEx", "FDEG", "FedEx Home Delivery"),
];

/// Generates all objects of one connection.
pub fn generate(
    seed: u64,
    connection_id: &str,
    warehouse_customer_ids: &[String],
    sizes: SeedSizes,
) -> ConnectionData {
    let mut rng = rng_for(seed, connection_id);
    let customers: Vec<String> = if warehouse_customer_ids.is_empty() {
        vec![format!("wc_{connection_id}")]
    } else {
        warehouse_customer_ids.to_vec()
    };
    let warehouses = vec!["wh_east".to_owned(), "wh_west".to_owned()];
    let mut data = ConnectionData {
        warehouse_ids: warehouses.clone(),
        ..ConnectionData::default()
    };
    let items = sizes.inventory.max(sizes.products).max(1);
    let mut skus = Vec::with_capacity(items);
    for i in 0..items {
        let customer = customers[i % customers.len()].clone();
        let (noun, code) = NOUNS[i % NOUNS.len()];
        let adjective = ADJECTIVES[(i / NOUNS.len()) % ADJECTIVES.len()];
        let sku = format!("{code}-{:02}{:04}", i / NOUNS.len() % 100, i);
        let name = format!("{adjective} {noun}");
        let unit_price_minor: i64 = rng.random_range(499..=8999);
        let inventory_id = hex_id(&mut rng, "inv");
        let product_id = hex_id(&mut rng, "prd");
        let (created, updated) = dates(&mut rng);
        skus.push((
            sku.clone(),
            product_id.clone(),
            inventory_id.clone(),
            unit_price_minor,
        ));
        if i < sizes.inventory {
            data.inventory.push(inventory_item(
                &mut rng,
                &inventory_id,
                &customer,
                &sku,
                &name,
                unit_price_minor,
                &warehouses,
                (created, updated),
            ));
        }
        if i < sizes.products {
            let (p_created, p_updated) = dates(&mut rng);
            data.products.push(Product {
                id: product_id,
                warehouse_customer_id: Some(customer),
                created_date: p_created,
                updated_date: p_updated,
                name,
                sku: Some(sku.clone()),
                gtin: Some(gtin(&mut rng)),
                unit_price: Some(to_decimal(unit_price_minor, "USD")),
                inventory_items: vec![ProductInventoryItem {
                    inventory_item_id: inventory_id,
                    sku: Some(sku),
                    unit_quantity: 1,
                }],
                is_kit: false,
                active: rng.random_bool(0.95),
                supplier: Some("Acme Goods Co.".to_owned()),
                country_of_origin: Some(["US", "CN", "VN", "PT"][i % 4].to_owned()),
                harmonized_code: Some("6109.10".to_owned()),
                external_system_url: None,
                trackstar_tags: Some(vec![]),
                additional_fields: BTreeMap::new(),
            });
        }
    }
    for n in 0..sizes.orders {
        let customer = customers[n % customers.len()].clone();
        let order = order(&mut rng, n, &customer, &warehouses, &skus);
        data.orders.push(order);
    }
    let small = (sizes.orders / 10).clamp(1, 10);
    let inbound_count = sizes.inbound_shipments.unwrap_or(small);
    let return_count = sizes.returns.unwrap_or(small);
    for n in 0..inbound_count.max(return_count) {
        let customer = customers[n % customers.len()].clone();
        if n < inbound_count {
            data.inbound_shipments
                .push(inbound(&mut rng, n, &customer, &warehouses, &skus));
        }
        if n < return_count {
            // Returns beyond the orders return the orders again, from the first.
            let order_id = data
                .orders
                .get(n % data.orders.len().max(1))
                .map(|o| o.id.clone());
            data.returns
                .push(return_(&mut rng, &customer, order_id, &warehouses, &skus));
        }
    }
    super::seed_sites::generate_sites(&mut rng, &mut data, &customers);
    data
}

/// A random generator seeded from the simulator seed and the connection id.
pub fn rng_for(seed: u64, connection_id: &str) -> StdRng {
    let digest = Sha256::digest(format!("{seed}:{connection_id}").as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&digest);
    StdRng::from_seed(bytes)
}

/// A 24-hex-digit id like Trackstar's, with a readable prefix.
pub fn hex_id(rng: &mut impl Rng, prefix: &str) -> String {
    let n: u128 = rng.random();
    format!("{prefix}_{:024x}", n & ((1u128 << 96) - 1))
}

fn gtin(rng: &mut impl Rng) -> String {
    (0..12)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

pub(crate) fn dates(rng: &mut impl Rng) -> (Timestamp, Timestamp) {
    let anchor = anchor();
    let created = anchor - Duration::seconds(rng.random_range(86_400..90 * 86_400));
    let span = (anchor - created).num_seconds().max(1);
    let updated = created + Duration::seconds(rng.random_range(0..span));
    (created, updated)
}

#[allow(clippy::too_many_arguments)]
fn inventory_item(
    rng: &mut impl Rng,
    id: &str,
    customer: &str,
    sku: &str,
    name: &str,
    unit_price_minor: i64,
    warehouses: &[String],
    (created, updated): (Timestamp, Timestamp),
) -> InventoryItem {
    let by_wh: BTreeMap<String, WarehouseQuantities> = warehouses
        .iter()
        .map(|w| {
            let onhand = rng.random_range(0..500);
            let q = WarehouseQuantities::from_counts(
                onhand,
                rng.random_range(0..=onhand / 3 + 1),
                rng.random_range(0..4),
                rng.random_range(0..50),
            );
            (w.clone(), q)
        })
        .collect();
    let mut item = InventoryItem {
        id: id.to_owned(),
        warehouse_customer_id: Some(customer.to_owned()),
        created_date: created,
        updated_date: updated,
        name: name.to_owned(),
        sku: Some(sku.to_owned()),
        unit_cost: Some(to_decimal(unit_price_minor * 2 / 5, "USD")),
        active: true,
        awaiting: 0,
        onhand: 0,
        committed: 0,
        unfulfillable: 0,
        fulfillable: 0,
        unsellable: 0,
        sellable: 0,
        substitute_skus: vec![],
        inventory_by_warehouse_id: by_wh,
        lots: vec![],
        measurements: Measurements {
            length: Some(30.0),
            width: Some(20.0),
            height: Some(5.0),
            unit: Some("cm".to_owned()),
            weight: Some(0.4),
            weight_unit: Some("kg".to_owned()),
        },
        locations: vec![],
        external_system_url: None,
        trackstar_tags: Some(vec![]),
        additional_fields: BTreeMap::new(),
    };
    item.recompute_totals();
    item
}

/// A plausible address for a currency's country.
fn address(rng: &mut impl Rng, currency: &str) -> Address {
    let first = FIRST.choose(rng).copied().unwrap_or("Ava");
    let last = LAST.choose(rng).copied().unwrap_or("Kim");
    let number = rng.random_range(1..9999);
    let street = STREETS.choose(rng).copied().unwrap_or("Main St");
    let (city, state, postal, country, phone) = match currency {
        "JPY" => ("Shibuya-ku", "Tokyo", "150-0002", "JP", "+81 3-5555-0100"),
        "EUR" => ("Berlin", "BE", "10115", "DE", "+49 30 5555 0100"),
        _ => {
            let (c, s, p) = US_CITIES.choose(rng).copied().unwrap_or(US_CITIES[0]);
            (c, s, p, "US", "+1 555-0100")
        }
    };
    Address {
        full_name: Some(format!("{first} {last}")),
        company: None,
        address1: Some(format!("{number} {street}")),
        address2: rng
            .random_bool(0.3)
            .then(|| format!("Apt {}", rng.random_range(1..40))),
        address3: None,
        city: Some(city.to_owned()),
        state: Some(state.to_owned()),
        postal_code: Some(postal.to_owned()),
        country: Some(country.to_owned()),
        phone_number: Some(phone.to_owned()),
        email_address: Some(format!(
            "{}.{}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        )),
    }
}

pub(crate) fn warehouse_address(warehouse_id: &str) -> ShipFromAddress {
    let (address1, city, state, postal) = if warehouse_id == "wh_west" {
        ("2200 Logistics Pkwy", "Reno", "NV", "89502")
    } else {
        ("75 Distribution Way", "Allentown", "PA", "18106")
    };
    ShipFromAddress {
        address1: Some(address1.to_owned()),
        address2: None,
        address3: None,
        city: Some(city.to_owned()),
        state: Some(state.to_owned()),
        postal_code: Some(postal.to_owned()),
        country: Some("US".to_owned()),
    }
}

type CatalogueEntry = (String, String, String, i64);

fn order(
    rng: &mut impl Rng,
    n: usize,
    customer: &str,
    warehouses: &[String],
    skus: &[CatalogueEntry],
) -> Order {
    let currency = match rng.random_range(0..10) {
        0 => "JPY",
        1 => "EUR",
        _ => "USD",
    };
    // JPY prices are whole yen, roughly 150 yen a dollar.
    let price_factor = if currency == "JPY" { 150 } else { 100 };
    let (created, updated) = dates(rng);
    let status = *[
        "open",
        "open",
        "confirmed",
        "processing",
        "picked",
        "packed",
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "partially_fulfilled",
        "backordered",
        "exception",
        "cancelled",
        "other",
    ]
    .choose(rng)
    .unwrap_or(&"open");
    let (channel_id, channel_name) = CHANNELS.choose(rng).copied().unwrap_or(CHANNELS[0]);
    let order_type = if channel_id == "wholesale" {
        "b2b"
    } else {
        "d2c"
    };
    let warehouse_id = warehouses.choose(rng).cloned();
    let mut line_items = Vec::new();
    let mut subtotal = 0i64;
    let mut discount = 0i64;
    for _ in 0..rng.random_range(1..=4) {
        let Some((sku, product_id, _, usd_cents)) = skus.choose(rng) else {
            break;
        };
        let quantity = rng.random_range(1..=5i64);
        let unit_minor = usd_cents * price_factor / 100;
        let line_discount = if rng.random_bool(0.2) {
            unit_minor / 10
        } else {
            0
        };
        subtotal += unit_minor * quantity;
        discount += line_discount;
        line_items.push(OrderLineItem {
            product_id: product_id.clone(),
            sku: Some(sku.clone()),
            quantity,
            unit_price: Some(to_decimal(unit_minor, currency)),
            is_picked: matches!(
                status,
                "picked" | "packed" | "fulfilled" | "partially_fulfilled"
            ),
            discount_amount: Some(to_decimal(line_discount, currency)),
        });
    }
    let tax = (subtotal - discount) * 8 / 100;
    let shipping = if subtotal > 5000 * price_factor / 100 {
        0
    } else {
        599 * price_factor / 100
    };
    let total = subtotal - discount + tax + shipping;
    let (carrier_id, carrier_name, scac, method) =
        CARRIERS.choose(rng).copied().unwrap_or(CARRIERS[0]);
    let ship_to = address(rng, currency);
    let order_id = hex_id(rng, "ord");
    let mut order = Order {
        id: order_id,
        warehouse_customer_id: Some(customer.to_owned()),
        warehouse_id: warehouse_id.clone(),
        created_date: created,
        updated_date: updated,
        reference_id: format!("#{}", 1001 + n),
        order_number: format!("SO-{:06}", 100_000 + n),
        status: status.to_owned(),
        raw_status: Some(status.to_uppercase()),
        channel: Some(channel_id.to_owned()),
        channel_object: Some(OrderChannel {
            channel_id: format!("ch_{channel_id}"),
            channel_name: Some(channel_name.to_owned()),
        }),
        order_type: Some(order_type.to_owned()),
        trading_partner: None,
        shipping_method: Some(method.to_owned()),
        service_level: Some(if shipping == 0 { "ground" } else { "standard" }.to_owned()),
        shipping_method_id: Some(format!("sm_{carrier_id}_ground")),
        shipping_method_name: Some(method.to_owned()),
        carrier_id: Some(carrier_id.to_owned()),
        carrier_name: Some(carrier_name.to_owned()),
        scac: Some(scac.to_owned()),
        invoice_currency_code: currency.to_owned(),
        total_price: Some(to_decimal(total, currency)),
        total_tax: Some(to_decimal(tax, currency)),
        total_discount: Some(to_decimal(discount, currency)),
        total_shipping: Some(to_decimal(shipping, currency)),
        ship_to_address: ship_to,
        line_items,
        tags: if rng.random_bool(0.2) {
            vec!["vip".to_owned()]
        } else {
            vec![]
        },
        required_ship_date: Some(created + Duration::days(2)),
        saturday_delivery: Some(false),
        signature_required: Some(rng.random_bool(0.1)),
        shipments: vec![],
        external_system_url: None,
        trackstar_tags: Some(vec![]),
        additional_fields: BTreeMap::new(),
    };
    if matches!(status, "fulfilled" | "partially_fulfilled") {
        let shipped = (created + Duration::hours(rng.random_range(4..48))).min(updated);
        let inventory_of = |product_id: &str| {
            skus.iter()
                .find(|(_, p, _, _)| p == product_id)
                .map(|(_, _, inv, _)| inv.clone())
        };
        let partial = status == "partially_fulfilled";
        let shipment = shipment_for(rng, &order, shipped, partial, &inventory_of);
        order.shipments.push(shipment);
    }
    order
}

/// A shipped shipment of an order's lines (of its first line only when `partial`).
pub(crate) fn shipment_for(
    rng: &mut impl Rng,
    order: &Order,
    shipped: Timestamp,
    partial: bool,
    inventory_of: &dyn Fn(&str) -> Option<String>,
) -> OrderShipment {
    let inventory_id = |product_id: &str| {
        inventory_of(product_id).unwrap_or_else(|| format!("inv_of_{product_id}"))
    };
    let warehouse_id = order
        .warehouse_id
        .clone()
        .unwrap_or_else(|| "wh_east".to_owned());
    let lines: Vec<&OrderLineItem> = if partial {
        order.line_items.iter().take(1).collect()
    } else {
        order.line_items.iter().collect()
    };
    let tracking: String = format!("1Z{:016}", rng.random_range(0..10_000_000_000_000_000u64));
    let package_lines = lines
        .iter()
        .map(|l| PackageLineItem {
            inventory_item_id: inventory_id(&l.product_id),
            sku: l.sku.clone(),
            quantity: l.quantity,
            lot_id: None,
            expiration_date: None,
            parent_product_id: None,
        })
        .collect();
    OrderShipment {
        shipment_id: hex_id(rng, "shp"),
        warehouse_id: warehouse_id.clone(),
        raw_status: Some("SHIPPED".to_owned()),
        status: "shipped".to_owned(),
        shipped_date: Some(shipped),
        shipping_method: order.shipping_method.clone(),
        line_items: lines
            .iter()
            .map(|l| ShipmentLineItem {
                inventory_item_id: inventory_id(&l.product_id),
                sku: l.sku.clone(),
                quantity: l.quantity,
                parent_product_id: None,
            })
            .collect(),
        ship_to_address: order.ship_to_address.clone(),
        ship_from_address: warehouse_address(&warehouse_id),
        packages: vec![Package {
            package_id: hex_id(rng, "pkg"),
            package_name: Some("Box M".to_owned()),
            tracking_url: Some(format!("https://www.ups.com/track?tracknum={tracking}")),
            tracking_number: Some(tracking),
            shipping_method: order.shipping_method.clone(),
            carrier: order.carrier_name.clone(),
            shipping_method_id: order.shipping_method_id.clone(),
            shipping_method_name: order.shipping_method_name.clone(),
            carrier_id: order.carrier_id.clone(),
            carrier_name: order.carrier_name.clone(),
            scac: order.scac.clone(),
            shipping_cost: Some(7.85),
            measurements: Measurements {
                length: Some(12.0),
                width: Some(9.0),
                height: Some(4.0),
                unit: Some("in".to_owned()),
                weight: Some(1.5),
                weight_unit: Some("lb".to_owned()),
            },
            line_items: package_lines,
        }],
    }
}

fn inbound(
    rng: &mut impl Rng,
    n: usize,
    customer: &str,
    warehouses: &[String],
    skus: &[CatalogueEntry],
) -> InboundShipment {
    let (created, updated) = dates(rng);
    let status = INBOUND_STATUSES.choose(rng).copied().unwrap_or("open");
    let warehouse_id = warehouses.choose(rng).cloned();
    let line_items: Vec<InboundLineItem> = skus
        .choose_multiple(rng, 2)
        .map(|(sku, _, inv, cents)| {
            let expected = rng.random_range(50..500);
            InboundLineItem {
                inventory_item_id: inv.clone(),
                sku: Some(sku.clone()),
                expected_quantity: expected,
                received_quantity: if status == "received" { expected } else { 0 },
                unit_cost: Some(to_decimal(cents * 2 / 5, "USD")),
                external_id: None,
            }
        })
        .collect();
    let receipts = if status == "received" {
        vec![InboundReceipt {
            id: hex_id(rng, "rcp"),
            arrived_date: updated,
            line_items: line_items
                .iter()
                .map(|l| InboundReceiptLineItem {
                    inventory_item_id: l.inventory_item_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.received_quantity,
                })
                .collect(),
        }]
    } else {
        vec![]
    };
    InboundShipment {
        id: hex_id(rng, "ibs"),
        warehouse_customer_id: Some(customer.to_owned()),
        created_date: created,
        updated_date: updated,
        purchase_order_number: Some(format!("PO-{:05}", 20_000 + n)),
        status: status.to_owned(),
        raw_status: Some(status.to_uppercase()),
        supplier: Some("Acme Goods Co.".to_owned()),
        expected_arrival_date: Some(created + Duration::days(14)),
        warehouse_id,
        line_items,
        receipts,
        ship_from_address: ShipFromAddress {
            address1: Some("1 Factory Rd".to_owned()),
            address2: None,
            address3: None,
            city: Some("Long Beach".to_owned()),
            state: Some("CA".to_owned()),
            postal_code: Some("90802".to_owned()),
            country: Some("US".to_owned()),
        },
        tracking_numbers: vec![format!("MSKU{:07}", rng.random_range(0..10_000_000))],
        notes: vec![],
        external_system_url: None,
        trackstar_tags: Some(vec![]),
        additional_fields: BTreeMap::new(),
    }
}

fn return_(
    rng: &mut impl Rng,
    customer: &str,
    order_id: Option<String>,
    warehouses: &[String],
    skus: &[CatalogueEntry],
) -> Return {
    let (created, updated) = dates(rng);
    let status = INBOUND_STATUSES.choose(rng).copied().unwrap_or("open");
    let warehouse_id = warehouses.choose(rng).cloned();
    let (sku, _, inv, _) = skus.choose(rng).cloned().unwrap_or_default();
    let received = if status == "received" { 1 } else { 0 };
    Return {
        id: hex_id(rng, "ret"),
        warehouse_customer_id: Some(customer.to_owned()),
        created_date: created,
        updated_date: updated,
        status: status.to_owned(),
        raw_status: Some(status.to_uppercase()),
        order_id,
        notes: vec!["Customer changed their mind".to_owned()],
        line_items: vec![ReturnLineItem {
            inventory_item_id: inv.clone(),
            sku: Some(sku.clone()),
            expected_quantity: 1,
            received_quantity: received,
            restocked_quantity: Some(received),
            return_reason: Some("no_longer_needed".to_owned()),
            quantity: 1,
            warehouse_id: warehouse_id.clone(),
            returned_date: Some(created),
        }],
        shipments: vec![ReturnShipment {
            tracking_number: Some(format!(
                "9400{:018}",
                rng.random_range(0..1_000_000_000_000u64)
            )),
            shipped_date: Some(created),
            arrived_date: (received > 0).then_some(updated),
            warehouse_id,
            carrier: Some("USPS".to_owned()),
            carrier_id: Some("usps".to_owned()),
            carrier_name: Some("USPS".to_owned()),
            scac: Some("USPS".to_owned()),
            shipping_cost: Some(4.5),
            measurements: Measurements::default(),
            line_items: vec![ReturnShipmentLineItem {
                inventory_item_id: inv,
                sku: Some(sku),
                quantity: 1,
                receiving_details: if received > 0 {
                    vec![ReceivingDetails {
                        quantity: 1,
                        condition: Some("good".to_owned()),
                        disposition: Some("restock".to_owned()),
                    }]
                } else {
                    vec![]
                },
            }],
        }],
        external_system_url: None,
        trackstar_tags: Some(vec![]),
        additional_fields: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes() -> SeedSizes {
        SeedSizes {
            orders: 40,
            inventory: 10,
            products: 12,
            ..Default::default()
        }
    }

    #[test]
    fn same_seed_gives_the_same_data_and_another_seed_differs() {
        let wc = vec!["wc_1".to_owned()];
        let a = generate(1, "conn", &wc, sizes());
        let b = generate(1, "conn", &wc, sizes());
        let c = generate(2, "conn", &wc, sizes());
        assert_eq!(a, b);
        assert_ne!(a.orders, c.orders);
    }

    #[test]
    fn seeded_orders_are_realistic() {
        let data = generate(7, "conn", &["wc_1".to_owned()], sizes());
        assert_eq!(data.orders.len(), 40);
        assert_eq!(data.inventory.len(), 10);
        assert_eq!(data.products.len(), 12);
        assert!(!data.inbound_shipments.is_empty() && !data.returns.is_empty());
        for o in &data.orders {
            assert!(!o.line_items.is_empty());
            assert!(ORDER_STATUSES.contains(&o.status.as_str()));
            assert!(o.updated_date >= o.created_date && o.updated_date <= anchor());
            if o.status == "fulfilled" {
                assert_eq!(o.shipments.len(), 1);
            }
            if o.invoice_currency_code == "JPY" {
                assert!(o.total_price.is_some_and(|p| p.fract() == 0.0));
            }
        }
        for i in &data.inventory {
            assert_eq!(i.onhand, i.fulfillable + i.unfulfillable);
            assert_eq!(i.fulfillable, i.sellable + i.committed);
        }
    }

    #[test]
    fn inbound_shipments_and_returns_are_seeded_at_the_sizes_asked_for() {
        // Given sizes that ask for more inbound shipments and returns than orders
        let asked = SeedSizes {
            inbound_shipments: Some(25),
            returns: Some(60),
            ..sizes()
        };
        // When the data is generated
        let data = generate(7, "conn", &["wc_1".to_owned()], asked);
        // Then there are as many as asked, with distinct ids, and every return names an order
        assert_eq!(data.inbound_shipments.len(), 25);
        assert_eq!(data.returns.len(), 60);
        let ids: std::collections::BTreeSet<&str> = data
            .inbound_shipments
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids.len(), 25);
        let ids: std::collections::BTreeSet<&str> =
            data.returns.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 60);
        assert!(data.returns.iter().all(|r| r.order_id.is_some()));
        // And without sizes, a tenth of the orders as before, the rest of the data unchanged
        let default = generate(7, "conn", &["wc_1".to_owned()], sizes());
        assert_eq!(default.inbound_shipments.len(), 4);
        assert_eq!(default.returns.len(), 4);
        assert_eq!(default.orders, data.orders);
    }
}
