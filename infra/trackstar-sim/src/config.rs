//! Configuration of a simulator instance.

use serde::{Deserialize, Serialize};

/// Everything a simulator instance needs to start. Build it with
/// `SimConfig { seed: 7, ..SimConfig::default() }`.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of all generated data: the same seed gives the same objects.
    pub seed: u64,
    pub orders_per_connection: usize,
    pub inventory_per_connection: usize,
    pub products_per_connection: usize,
    /// `None`: a few per connection, a tenth of the orders (1 to 10).
    pub inbound_shipments_per_connection: Option<usize>,
    /// `None`: a few per connection, a tenth of the orders (1 to 10).
    pub returns_per_connection: Option<usize>,
    /// Connections known from the start (more can be made through `POST /link/exchange`).
    pub connections: Vec<SimConnection>,
    /// The organisation key expected in `x-trackstar-api-key`.
    pub api_key: String,
    /// GET requests allowed per second and access token.
    pub get_rate_per_sec: u32,
    /// POST/PUT/PATCH/DELETE requests allowed per second and access token.
    pub write_rate_per_sec: u32,
    /// Where webhooks go; `None` sends none (they are still counted as dropped).
    pub webhook: Option<WebhookTarget>,
    /// Complete every on-demand sync job on its own this many ms after it is made
    /// (`None`: only `POST /_sim/on-demand-syncs/{id}/complete` completes one).
    pub on_demand_auto_complete_ms: Option<u64>,
}

/// One connected WMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConnection {
    pub connection_id: String,
    pub access_token: String,
    /// Trackstar's integration name, e.g. `sandbox`, `shiphero`. The integration
    /// [`UNSUPPORTED_PRODUCT_WRITES`] answers 501 to product writes.
    pub integration_name: String,
    pub warehouse_customer_ids: Vec<String>,
}

/// The integration whose product writes are not implemented (501), as for some real WMSs.
pub const UNSUPPORTED_PRODUCT_WRITES: &str = "fba";

/// A webhook endpoint and its Svix secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    pub url: String,
    /// `whsec_<base64 key>`
    pub secret: String,
}

impl SimConnection {
    /// A connection with one warehouse customer, integration `sandbox`.
    pub fn new(connection_id: &str, access_token: &str) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            access_token: access_token.to_owned(),
            integration_name: "sandbox".to_owned(),
            warehouse_customer_ids: vec![format!("wc_{connection_id}_1")],
        }
    }

    pub fn with_integration(mut self, integration_name: &str) -> Self {
        self.integration_name = integration_name.to_owned();
        self
    }

    /// Whether this connection's integration implements a write action.
    pub fn supports(&self, action: WriteAction) -> bool {
        !(self.integration_name == UNSUPPORTED_PRODUCT_WRITES
            && matches!(
                action,
                WriteAction::CreateProduct | WriteAction::UpdateProduct
            ))
    }

    /// Trackstar's `available_actions` for this connection.
    pub fn available_actions(&self) -> Vec<String> {
        WriteAction::ALL
            .iter()
            .filter(|a| self.supports(**a))
            .map(|a| a.name().to_owned())
            .collect()
    }
}

/// Write endpoints, named as in Trackstar's `available_actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAction {
    CreateOrder,
    UpdateOrder,
    CancelOrder,
    CreateProduct,
    UpdateProduct,
    AdjustInventory,
}

impl WriteAction {
    pub const ALL: [WriteAction; 6] = [
        WriteAction::CreateOrder,
        WriteAction::UpdateOrder,
        WriteAction::CancelOrder,
        WriteAction::CreateProduct,
        WriteAction::UpdateProduct,
        WriteAction::AdjustInventory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WriteAction::CreateOrder => "create_order",
            WriteAction::UpdateOrder => "update_order",
            WriteAction::CancelOrder => "cancel_order",
            WriteAction::CreateProduct => "create_product",
            WriteAction::UpdateProduct => "update_product",
            WriteAction::AdjustInventory => "adjust_inventory",
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            orders_per_connection: 50,
            inventory_per_connection: 20,
            products_per_connection: 20,
            inbound_shipments_per_connection: None,
            returns_per_connection: None,
            connections: vec![SimConnection {
                connection_id: "conn_demo".to_owned(),
                access_token: "tok_demo".to_owned(),
                integration_name: "sandbox".to_owned(),
                warehouse_customer_ids: vec!["wc_demo_1".to_owned(), "wc_demo_2".to_owned()],
            }],
            api_key: "sim_api_key".to_owned(),
            get_rate_per_sec: 10,
            write_rate_per_sec: 50,
            webhook: None,
            on_demand_auto_complete_ms: None,
        }
    }
}
