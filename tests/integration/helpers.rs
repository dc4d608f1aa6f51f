//! Test fixtures: a fresh table per test, and builders for domain objects.

use aws_config::SdkConfig;
use packr::domain::{
    BrandId, ConnectionId, Currency, InventoryItem, InventoryItemId, LineItem, Money, Order,
    OrderId, OrderStatus, OrderTotals, Quantities, Sku, TenantId, Timestamp,
};
use packr::idempotency::{DynamoIdempotencyStore, IdempotencyPolicy};
use packr::store::dynamo::DynamoStore;
use packr::store::CursorCodec;

pub struct Stack {
    pub sdk: SdkConfig,
    pub table: String,
    pub store: DynamoStore,
}

impl Stack {
    pub fn idempotency(&self, policy: IdempotencyPolicy) -> DynamoIdempotencyStore {
        DynamoIdempotencyStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.table.clone(),
            policy,
        )
    }

    /// The SDK config as `function` (e.g. `webhook-processor`) has it: its requests are
    /// signed as that function, so the IAM check (`infra/iam-check`) holds them against
    /// its role in template.yaml. `sdk` and `store` stay the tests' own (setup and
    /// assertions, not checked).
    pub fn sdk_as(&self, function: &str) -> SdkConfig {
        packr_local::testing::function_config(&self.sdk, function)
    }

    /// [`Stack::store`] as `function` uses it (see [`Stack::sdk_as`]).
    pub fn store_as(&self, function: &str) -> DynamoStore {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk_as(function)),
            self.table.clone(),
            CursorCodec::new(CURSOR_KEY.to_vec()),
        )
    }

    /// [`Stack::idempotency`] as `function` uses it.
    pub fn idempotency_as(
        &self,
        function: &str,
        policy: IdempotencyPolicy,
    ) -> DynamoIdempotencyStore {
        DynamoIdempotencyStore::new(
            aws_sdk_dynamodb::Client::new(&self.sdk_as(function)),
            self.table.clone(),
            policy,
        )
    }
}

pub const CURSOR_KEY: &[u8] = b"integration-test-cursor-key";

/// A table of its own, created from `template.yaml`'s definition.
pub async fn stack() -> Stack {
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    // The tests' own store seeds many objects at once (`join_all`), which the emulator
    // serves one by one: its writes get a window no emulator queue reaches. The functions'
    // stores (`store_as`) keep the production window (`packr::changes::WRITE_WINDOW`).
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table.clone(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    )
    .with_write_window(std::time::Duration::from_secs(120));
    Stack { sdk, table, store }
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

pub fn brand(id: &str) -> BrandId {
    BrandId::parse(id).unwrap()
}

pub fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("USD").unwrap())
}

/// `base + seconds`, a fixed instant so tests are deterministic.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_700_000_000 + seconds).unwrap()
}

pub fn order(tenant_id: &TenantId, id: &str, brand_id: Option<&BrandId>, updated: i64) -> Order {
    Order {
        id: OrderId::parse(id).unwrap(),
        tenant_id: tenant_id.clone(),
        brand_id: brand_id.cloned(),
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        warehouse_customer_id: None,
        warehouse_id: Some("wh_1".into()),
        reference_id: Some(format!("ref-{id}")),
        order_number: Some(format!("#{id}")),
        status: OrderStatus::Open,
        raw_status: None,
        order_type: None,
        channel: Some("shopify".into()),
        service_level: None,
        shipping_method_id: None,
        currency: Some(Currency::parse("USD").unwrap()),
        totals: OrderTotals {
            price: Some(usd(12_34)),
            ..OrderTotals::default()
        },
        ship_to_address: None,
        line_items: vec![LineItem {
            product_id: None,
            sku: Sku::parse("TEE-BLK-L").unwrap(),
            quantity: 2,
            unit_price: Some(usd(6_17)),
            discount_amount: None,
            is_picked: false,
        }],
        shipments: vec![],
        tags: vec![],
        required_ship_date: None,
        created_date: at(0),
        updated_date: at(updated),
    }
}

pub fn connection(t: &TenantId, id: &str) -> packr::domain::Connection {
    packr::domain::Connection {
        tenant_id: t.clone(),
        connection_id: ConnectionId::parse(id).unwrap(),
        brand_id: None,
        integration_name: "shipbob".into(),
        status: packr::domain::ConnectionStatus::Active,
        access_token_secret: format!("packr/test/trackstar/connections/{id}"),
        errors: vec![],
        stuck_schedules: Vec::new(),
        full_sync_requested_at: None,
        created_at: at(0),
        updated_at: at(0),
        version: 0,
        marks: Default::default(),
    }
}

pub fn inventory(
    tenant_id: &TenantId,
    id: &str,
    sku: &str,
    brand_id: Option<&BrandId>,
) -> InventoryItem {
    InventoryItem {
        id: InventoryItemId::parse(id).unwrap(),
        tenant_id: tenant_id.clone(),
        brand_id: brand_id.cloned(),
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        warehouse_customer_id: None,
        sku: Sku::parse(sku).unwrap(),
        name: Some("Tee".into()),
        unit_cost: Some(usd(3_00)),
        active: true,
        quantities: Quantities {
            onhand: 10,
            fulfillable: 8,
            ..Quantities::default()
        },
        by_warehouse: Default::default(),
        created_date: at(0),
        updated_date: at(1),
    }
}

/// webhook-processor's dependencies on `store` (which should sign as webhook-processor, for
/// the IAM check): no Trackstar, full syncs queued in memory, the system clock, defaults
/// otherwise. Tests override fields with struct update syntax.
pub fn processor_deps(
    store: &DynamoStore,
    metrics: &packr::metrics::RecordingSink,
) -> packr::webhook::processor::ProcessorDeps {
    use std::sync::Arc;
    packr::webhook::processor::ProcessorDeps {
        objects: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        receipts: Arc::new(store.clone()),
        fetcher: Arc::new(crate::webhook_processor::NoFetcher),
        capacity: packr::store::capacity::CapacityMeter::new(),
        limits: packr::webhook::processor::ProcessorLimits::default(),
        sync_jobs: Arc::new(packr::sync::MemorySyncJobQueue::new()),
        backfills: Arc::new(store.clone()),
        stats: Arc::new(store.clone()),
        max_receive_count: packr::webhook::processor::DEFAULT_MAX_RECEIVE_COUNT,
        offboarding: None,
        metrics: Arc::new(metrics.clone()),
        clock: Arc::new(Timestamp::now),
    }
}

/// Tenant `acme` (USD) with brand `b1` claiming warehouse customer `customer`, and an active
/// connection `connection` of the tenant (no brand of its own).
pub async fn seed_acme(store: &DynamoStore, customer: &str, connection_id: &str) -> TenantId {
    use packr::store::{ConnectionStore, TenantStore};
    let t = tenant("acme");
    store
        .create_tenant(&packr::domain::Tenant {
            id: t.clone(),
            name: "Acme 3PL".into(),
            default_currency: Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    store
        .create_brand(
            &t,
            &packr::domain::Brand {
                tenant_id: t.clone(),
                id: brand("b1"),
                name: "B1".into(),
                warehouse_customer_ids: vec![
                    packr::domain::WarehouseCustomerId::parse(customer).unwrap()
                ],
                created_at: at(0),
            },
        )
        .await
        .unwrap();
    store
        .create_connection(&t, &connection(&t, connection_id))
        .await
        .unwrap();
    t
}
