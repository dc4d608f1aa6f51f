//! The simulator's objects: their shapes ([`model`]), generation ([`seed`]) and the
//! per-connection store ([`ConnectionData`]).

pub mod clock;
pub mod model;
pub mod money;
pub mod mutate;
pub mod mutate_inbound;
pub mod mutate_sites;
pub mod seed;
pub mod seed_sites;

use std::collections::BTreeMap;

use serde::Serialize;

use model::{
    Bill, InboundShipment, InventoryItem, Order, Product, Return, ShippingMethod, Timestamp,
    Warehouse,
};

/// The listable WMS resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Orders,
    Inventory,
    Products,
    InboundShipments,
    Returns,
    Warehouses,
    ShippingMethods,
    Bills,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 8] = [
        ResourceKind::Orders,
        ResourceKind::Inventory,
        ResourceKind::Products,
        ResourceKind::InboundShipments,
        ResourceKind::Returns,
        ResourceKind::Warehouses,
        ResourceKind::ShippingMethods,
        ResourceKind::Bills,
    ];

    pub fn singular(self) -> &'static str {
        match self {
            ResourceKind::Orders => "Order",
            ResourceKind::Inventory => "Inventory item",
            ResourceKind::Products => "Product",
            ResourceKind::InboundShipments => "Inbound shipment",
            ResourceKind::Returns => "Return",
            ResourceKind::Warehouses => "Warehouse",
            ResourceKind::ShippingMethods => "Shipping method",
            ResourceKind::Bills => "Bill",
        }
    }

    /// Trackstar's sync function for the kind (`get_orders`, `get_shipping_methods`, …).
    pub fn function_name(self) -> &'static str {
        match self {
            ResourceKind::Orders => "get_orders",
            ResourceKind::Inventory => "get_inventory",
            ResourceKind::Products => "get_products",
            ResourceKind::InboundShipments => "get_inbound_shipments",
            ResourceKind::Returns => "get_returns",
            ResourceKind::Warehouses => "get_warehouses",
            ResourceKind::ShippingMethods => "get_shipping_methods",
            ResourceKind::Bills => "get_bills",
        }
    }

    pub fn from_function_name(name: &str) -> Option<ResourceKind> {
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.function_name() == name)
    }

    /// The kind's name in webhooks and `connection.historical-sync-completed` (`orders`, …).
    pub fn resource_name(self) -> &'static str {
        match self {
            ResourceKind::Orders => "orders",
            ResourceKind::Inventory => "inventory",
            ResourceKind::Products => "products",
            ResourceKind::InboundShipments => "inbound_shipments",
            ResourceKind::Returns => "returns",
            ResourceKind::Warehouses => "warehouses",
            ResourceKind::ShippingMethods => "shipping_methods",
            ResourceKind::Bills => "bills",
        }
    }
}

/// Trackstar's own clock of an object: when its copy first appeared and last changed.
/// Not part of the payloads (the schemas carry `created_date`/`updated_date` only), but
/// filterable: `trackstar_created_date[...]`, `trackstar_updated_date[...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TrackstarDates {
    pub trackstar_created_date: Timestamp,
    pub trackstar_updated_date: Timestamp,
}

impl TrackstarDates {
    /// The clock of an object Trackstar saw as the WMS changed it.
    pub fn of<T: Resource>(obj: &T) -> Self {
        Self {
            trackstar_created_date: obj.created(),
            trackstar_updated_date: obj.updated(),
        }
    }
}

/// What lists, gets and filters need of an object.
pub trait Resource: Serialize + Clone + Send + Sync + 'static {
    const KIND: ResourceKind;
    /// Filterable fields besides `id`, `created_date`, `updated_date`.
    const FILTER_FIELDS: &'static [&'static str];
    fn id(&self) -> &str;
    fn created(&self) -> Timestamp;
    fn updated(&self) -> Timestamp;
    /// The value of a filterable field as text (`None` when null or unknown).
    fn field(&self, name: &str) -> Option<String>;
    fn all(data: &ConnectionData) -> &[Self];
    fn all_mut(data: &mut ConnectionData) -> &mut Vec<Self>;
    /// Gives a copy a new identity and WMS dates (a record the WMS made on its own).
    fn restamp(&mut self, id: String, created: Timestamp, updated: Timestamp);
}

/// The parts of [`Resource`] every object has alike.
macro_rules! resource_common {
    ($field:ident) => {
        fn id(&self) -> &str {
            &self.id
        }
        fn created(&self) -> Timestamp {
            self.created_date
        }
        fn updated(&self) -> Timestamp {
            self.updated_date
        }
        fn all(data: &ConnectionData) -> &[Self] {
            &data.$field
        }
        fn all_mut(data: &mut ConnectionData) -> &mut Vec<Self> {
            &mut data.$field
        }
        fn restamp(&mut self, id: String, created: Timestamp, updated: Timestamp) {
            self.id = id;
            self.created_date = created;
            self.updated_date = updated;
        }
    };
}

impl Resource for Order {
    const KIND: ResourceKind = ResourceKind::Orders;
    const FILTER_FIELDS: &'static [&'static str] = &[
        "status",
        "warehouse_customer_id",
        "order_number",
        "reference_id",
        "channel",
        "type",
    ];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "status" => Some(self.status.clone()),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            "order_number" => Some(self.order_number.clone()),
            "reference_id" => Some(self.reference_id.clone()),
            "channel" => self.channel.clone(),
            "type" => self.order_type.clone(),
            _ => None,
        }
    }
    resource_common!(orders);
}

impl Resource for InventoryItem {
    const KIND: ResourceKind = ResourceKind::Inventory;
    const FILTER_FIELDS: &'static [&'static str] = &["sku", "warehouse_customer_id", "active"];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "sku" => self.sku.clone(),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            "active" => Some(self.active.to_string()),
            _ => None,
        }
    }
    resource_common!(inventory);
}

impl Resource for Product {
    const KIND: ResourceKind = ResourceKind::Products;
    const FILTER_FIELDS: &'static [&'static str] = &["sku", "warehouse_customer_id"];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "sku" => self.sku.clone(),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    resource_common!(products);
}

impl Resource for InboundShipment {
    const KIND: ResourceKind = ResourceKind::InboundShipments;
    const FILTER_FIELDS: &'static [&'static str] = &[
        "status",
        "warehouse_customer_id",
        "warehouse_id",
        "purchase_order_number",
    ];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "status" => Some(self.status.clone()),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            "warehouse_id" => self.warehouse_id.clone(),
            "purchase_order_number" => self.purchase_order_number.clone(),
            _ => None,
        }
    }
    resource_common!(inbound_shipments);
}

impl Resource for Return {
    const KIND: ResourceKind = ResourceKind::Returns;
    const FILTER_FIELDS: &'static [&'static str] = &["status", "warehouse_customer_id"];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "status" => Some(self.status.clone()),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    resource_common!(returns);
}

impl Resource for Warehouse {
    const KIND: ResourceKind = ResourceKind::Warehouses;
    const FILTER_FIELDS: &'static [&'static str] = &[];
    fn field(&self, _name: &str) -> Option<String> {
        None
    }
    resource_common!(warehouses);
}

impl Resource for ShippingMethod {
    const KIND: ResourceKind = ResourceKind::ShippingMethods;
    const FILTER_FIELDS: &'static [&'static str] = &[];
    fn field(&self, _name: &str) -> Option<String> {
        None
    }
    resource_common!(shipping_methods);
}

impl Resource for Bill {
    const KIND: ResourceKind = ResourceKind::Bills;
    const FILTER_FIELDS: &'static [&'static str] = &["warehouse_customer_id"];
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    resource_common!(bills);
}

/// All objects of one connection: the simulator's truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConnectionData {
    pub orders: Vec<Order>,
    pub inventory: Vec<InventoryItem>,
    pub products: Vec<Product>,
    pub inbound_shipments: Vec<InboundShipment>,
    pub returns: Vec<Return>,
    pub warehouses: Vec<Warehouse>,
    pub shipping_methods: Vec<ShippingMethod>,
    pub bills: Vec<Bill>,
    /// Trackstar's clock where it differs from the WMS's, by object id (ids are unique
    /// across kinds): records Trackstar saw late or re-read in a backfill.
    pub trackstar_seen: BTreeMap<String, TrackstarDates>,
    /// Warehouses the objects live in (each one also a [`Warehouse`]).
    #[serde(skip)]
    pub warehouse_ids: Vec<String>,
    /// Counter for ids minted by writes and mutations.
    #[serde(skip)]
    pub next_serial: u64,
}

impl ConnectionData {
    /// How many objects of every kind the connection has.
    pub fn object_count(&self) -> usize {
        self.orders.len()
            + self.inventory.len()
            + self.products.len()
            + self.inbound_shipments.len()
            + self.returns.len()
            + self.warehouses.len()
            + self.shipping_methods.len()
            + self.bills.len()
    }

    pub fn find<T: Resource>(&self, id: &str) -> Option<&T> {
        T::all(self).iter().find(|o| o.id() == id)
    }

    /// Trackstar's clock of an object: its WMS dates unless Trackstar saw it later
    /// (`trackstar_updated_date` never precedes `updated_date`).
    pub fn trackstar_dates<T: Resource>(&self, obj: &T) -> TrackstarDates {
        let own = TrackstarDates::of(obj);
        match self.trackstar_seen.get(obj.id()) {
            None => own,
            Some(seen) => TrackstarDates {
                trackstar_created_date: seen.trackstar_created_date,
                trackstar_updated_date: seen.trackstar_updated_date.max(own.trackstar_updated_date),
            },
        }
    }

    /// Records that Trackstar (re-)read an object `at`; the first sighting keeps its
    /// `trackstar_created_date`.
    pub fn mark_seen<T: Resource>(&mut self, obj_id: &str, at: Timestamp) {
        let Some(obj) = self.find::<T>(obj_id) else {
            return;
        };
        let created = self
            .trackstar_seen
            .get(obj_id)
            .map_or(obj.created(), |s| s.trackstar_created_date);
        self.trackstar_seen.insert(
            obj_id.to_owned(),
            TrackstarDates {
                trackstar_created_date: created,
                trackstar_updated_date: at,
            },
        );
    }

    /// A fresh id with a prefix, unique within this connection.
    pub fn mint_id(&mut self, prefix: &str) -> String {
        self.next_serial += 1;
        format!("{prefix}_sim{:06}", self.next_serial)
    }
}

/// The current time in whole seconds, as Trackstar's dates carry no fractions.
pub fn now() -> Timestamp {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}
