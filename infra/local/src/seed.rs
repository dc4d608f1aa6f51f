//! The demo tenant of the local stack: a 3PL with two brands and the simulator's demo
//! connection routed to it, written through the library's ports (`TenantStore`,
//! `ConnectionStore` on `DynamoStore`). Idempotent: what exists already is left as it is.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use packr::domain::{
    Brand, BrandId, Connection, ConnectionId, ConnectionStatus, Currency, IdError, MoneyError,
    Tenant, TenantId, Timestamp, WarehouseCustomerId,
};
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, CursorCodec, StoreError, TenantStore};

use crate::stack::LocalStack;

pub const DEMO_TENANT: &str = "demo-3pl";
pub const DEMO_CURRENCY: &str = "USD";
/// The simulator's demo connection and its access token.
pub const DEMO_CONNECTION: &str = "conn_demo";
pub const DEMO_ACCESS_TOKEN: &str = "tok_demo";
pub const DEMO_INTEGRATION: &str = "sandbox";
/// Brands and the WMS warehouse customer id each owns on the demo connection.
pub const DEMO_BRANDS: [(&str, &str, &str); 2] = [
    ("brand-acme", "Acme", "wc_demo_1"),
    ("brand-globex", "Globex", "wc_demo_2"),
];
/// Where connection tokens live when the template does not say (`Stage` = `dev`).
const DEFAULT_CONNECTION_SECRET_PREFIX: &str = "packr/dev/trackstar/connections/";

/// What [`seed_demo`] made sure exists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Demo {
    pub tenant_id: String,
    pub connection_id: String,
    /// `(brand id, warehouse customer id)`.
    pub brands: Vec<(String, String)>,
    /// The Secrets Manager name holding the connection's access token.
    pub access_token_secret: String,
}

impl Demo {
    pub fn warehouse_customer_ids(&self) -> Vec<String> {
        self.brands.iter().map(|(_, wc)| wc.clone()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("a demo id is invalid")]
    Id(#[from] IdError),
    #[error("the demo currency is invalid")]
    Currency(#[from] MoneyError),
    #[error("writing the demo {what} failed")]
    Store {
        what: &'static str,
        #[source]
        source: StoreError,
    },
    #[error("creating the connection's token secret {name} failed")]
    Secret {
        name: String,
        #[source]
        source: Box<aws_sdk_secretsmanager::Error>,
    },
}

/// The name of a connection's token secret: the processor's
/// `TRACKSTAR_CONNECTION_SECRET_PREFIX` (from the template) and the connection id.
pub fn connection_secret_name(stack: &LocalStack, connection_id: &str) -> String {
    let prefix = stack
        .function_environment
        .get("WebhookProcessorFunction")
        .and_then(|env| env.get("TRACKSTAR_CONNECTION_SECRET_PREFIX"))
        .cloned()
        .unwrap_or_else(|| DEFAULT_CONNECTION_SECRET_PREFIX.to_owned());
    format!("{prefix}{connection_id}")
}

/// A tenant with brands and one Trackstar connection, as [`seed_tenant`] writes it.
#[derive(Debug, Clone)]
pub struct TenantSeed<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub currency: &'a str,
    /// `(brand id, name, warehouse customer id)`.
    pub brands: &'a [(&'a str, &'a str, &'a str)],
    pub connection_id: &'a str,
    pub access_token: &'a str,
    pub integration_name: &'a str,
}

/// Creates the demo tenant, its brands, the connection's token secret and the connection.
pub async fn seed_demo(sdk: &SdkConfig, stack: &LocalStack) -> Result<Demo, SeedError> {
    seed_tenant(
        sdk,
        stack,
        &TenantSeed {
            tenant_id: DEMO_TENANT,
            name: "Demo 3PL",
            currency: DEMO_CURRENCY,
            brands: &DEMO_BRANDS,
            connection_id: DEMO_CONNECTION,
            access_token: DEMO_ACCESS_TOKEN,
            integration_name: DEMO_INTEGRATION,
        },
    )
    .await
}

/// Creates a tenant, its brands, the connection's token secret (under the template's
/// `TRACKSTAR_CONNECTION_SECRET_PREFIX`) and the active connection. Idempotent.
pub async fn seed_tenant(
    sdk: &SdkConfig,
    stack: &LocalStack,
    seed: &TenantSeed<'_>,
) -> Result<Demo, SeedError> {
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.resources.table_name.clone(),
        CursorCodec::new(rand::random::<[u8; 32]>().to_vec()),
    );
    let now = Timestamp::now();
    let tenant_id = TenantId::parse(seed.tenant_id)?;
    let tenant = Tenant {
        id: tenant_id.clone(),
        name: seed.name.to_owned(),
        default_currency: Currency::parse(seed.currency)?,
        created_at: now,
    };
    existing_is_fine(store.create_tenant(&tenant).await, "tenant")?;

    for (id, name, warehouse_customer) in seed.brands {
        let brand = Brand {
            tenant_id: tenant_id.clone(),
            id: BrandId::parse(*id)?,
            name: (*name).to_owned(),
            warehouse_customer_ids: vec![WarehouseCustomerId::parse(*warehouse_customer)?],
            created_at: now,
        };
        existing_is_fine(store.create_brand(&tenant_id, &brand).await, "brand")?;
    }

    let secret_name = connection_secret_name(stack, seed.connection_id);
    ensure_secret(sdk, &secret_name, seed.access_token).await?;
    let connection = Connection {
        tenant_id: tenant_id.clone(),
        connection_id: ConnectionId::parse(seed.connection_id)?,
        brand_id: None,
        integration_name: seed.integration_name.to_owned(),
        status: ConnectionStatus::Active,
        access_token_secret: secret_name.clone(),
        errors: Vec::new(),
        stuck_schedules: Vec::new(),
        full_sync_requested_at: None,
        created_at: now,
        updated_at: now,
        version: 0,
        marks: Default::default(),
    };
    existing_is_fine(
        store.create_connection(&tenant_id, &connection).await,
        "connection",
    )?;

    Ok(Demo {
        tenant_id: seed.tenant_id.to_owned(),
        connection_id: seed.connection_id.to_owned(),
        brands: seed
            .brands
            .iter()
            .map(|(id, _, wc)| ((*id).to_owned(), (*wc).to_owned()))
            .collect(),
        access_token_secret: secret_name,
    })
}

fn existing_is_fine(result: Result<(), StoreError>, what: &'static str) -> Result<(), SeedError> {
    match result {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(source) => Err(SeedError::Store { what, source }),
    }
}

/// Creates the secret unless a secret of that name exists (its value is then kept).
async fn ensure_secret(sdk: &SdkConfig, name: &str, value: &str) -> Result<(), SeedError> {
    let result = aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .description("Local demo: a Trackstar connection's access token")
        .secret_string(value)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error) => match error.into_service_error() {
            CreateSecretError::ResourceExistsException(_) => Ok(()),
            other => Err(SeedError::Secret {
                name: name.to_owned(),
                source: Box::new(other.into()),
            }),
        },
    }
}
