//! The simulator's objects: their shapes ([`model`]), generation ([`seed`]) and the
//! per-connection store ([`ConnectionData`]).

pub mod model;
pub mod money;
pub mod mutate;
pub mod seed;

use serde::Serialize;

use model::{InboundShipment, InventoryItem, Order, Product, Return, Timestamp};

/// The five listable WMS resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Orders,
    Inventory,
    Products,
    InboundShipments,
    Returns,
}

impl ResourceKind {
    pub fn singular(self) -> &'static str {
        match self {
            ResourceKind::Orders => "Order",
            ResourceKind::Inventory => "Inventory item",
            ResourceKind::Products => "Product",
            ResourceKind::InboundShipments => "Inbound shipment",
            ResourceKind::Returns => "Return",
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
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> Timestamp {
        self.created_date
    }
    fn updated(&self) -> Timestamp {
        self.updated_date
    }
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
    fn all(data: &ConnectionData) -> &[Self] {
        &data.orders
    }
}

impl Resource for InventoryItem {
    const KIND: ResourceKind = ResourceKind::Inventory;
    const FILTER_FIELDS: &'static [&'static str] = &["sku", "warehouse_customer_id", "active"];
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> Timestamp {
        self.created_date
    }
    fn updated(&self) -> Timestamp {
        self.updated_date
    }
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "sku" => self.sku.clone(),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            "active" => Some(self.active.to_string()),
            _ => None,
        }
    }
    fn all(data: &ConnectionData) -> &[Self] {
        &data.inventory
    }
}

impl Resource for Product {
    const KIND: ResourceKind = ResourceKind::Products;
    const FILTER_FIELDS: &'static [&'static str] = &["sku", "warehouse_customer_id"];
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> Timestamp {
        self.created_date
    }
    fn updated(&self) -> Timestamp {
        self.updated_date
    }
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "sku" => self.sku.clone(),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    fn all(data: &ConnectionData) -> &[Self] {
        &data.products
    }
}

impl Resource for InboundShipment {
    const KIND: ResourceKind = ResourceKind::InboundShipments;
    const FILTER_FIELDS: &'static [&'static str] = &["status", "warehouse_customer_id"];
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> Timestamp {
        self.created_date
    }
    fn updated(&self) -> Timestamp {
        self.updated_date
    }
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "status" => Some(self.status.clone()),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    fn all(data: &ConnectionData) -> &[Self] {
        &data.inbound_shipments
    }
}

impl Resource for Return {
    const KIND: ResourceKind = ResourceKind::Returns;
    const FILTER_FIELDS: &'static [&'static str] = &["status", "warehouse_customer_id"];
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> Timestamp {
        self.created_date
    }
    fn updated(&self) -> Timestamp {
        self.updated_date
    }
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "status" => Some(self.status.clone()),
            "warehouse_customer_id" => self.warehouse_customer_id.clone(),
            _ => None,
        }
    }
    fn all(data: &ConnectionData) -> &[Self] {
        &data.returns
    }
}

/// All objects of one connection: the simulator's truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConnectionData {
    pub orders: Vec<Order>,
    pub inventory: Vec<InventoryItem>,
    pub products: Vec<Product>,
    pub inbound_shipments: Vec<InboundShipment>,
    pub returns: Vec<Return>,
    /// Warehouses the objects live in.
    #[serde(skip)]
    pub warehouse_ids: Vec<String>,
    /// Counter for ids minted by writes and mutations.
    #[serde(skip)]
    pub next_serial: u64,
}

impl ConnectionData {
    pub fn find<T: Resource>(&self, id: &str) -> Option<&T> {
        T::all(self).iter().find(|o| o.id() == id)
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
