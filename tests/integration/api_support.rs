//! API test support: a stack (fresh table, the Trackstar simulator, `ApiDeps` as the
//! functions build them), and API Gateway HTTP API v2 events with verified JWT claims, fed
//! through the same `lambda_http` conversion Lambda uses.

#![allow(dead_code)] // shared by the api_* test modules; each uses a part

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use packr::api::{dispatch, ApiConfig, ApiDeps};
use packr::domain::{Brand, Currency, Tenant, WarehouseCustomerId};
use packr::secrets::InMemorySecretSource;
use packr::store::{ConnectionStore, TenantStore};
use packr::sync::MemorySyncJobQueue;
use packr::trackstar::{BreakerPolicy, RetryPolicy, TrackstarClient, TrackstarConfig};
use secrecy::SecretString;
use serde_json::{json, Value};
use trackstar_sim::{SimConfig, SimConnection, SimHandle};

use crate::helpers::*;

pub const ACME: &str = "acme";
pub const GLOBEX: &str = "globex";
pub const CONN_ACME: &str = "conn_acme";
pub const CONN_GLOBEX: &str = "conn_globex";
pub const SECRET_PREFIX: &str = "packr/test/trackstar/connections/";

pub struct ApiStack {
    pub deps: ApiDeps,
    pub stack: Stack,
    pub sim: SimHandle,
    pub secrets: Arc<InMemorySecretSource>,
    /// What the handlers enqueued on the sync-jobs queue.
    pub sync_jobs: Arc<MemorySyncJobQueue>,
    /// What the handlers enqueued on the lifecycle-jobs queue (erasures, offboardings).
    pub lifecycle_jobs: Arc<packr::lifecycle::MemoryLifecycleQueue>,
    /// The erasure guard of every function's store (key [`TEST_PRIVACY_KEY`]).
    pub erasures: Arc<packr::privacy::ErasureGuard>,
}

/// The response, parsed.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A caller: verified claims as the HTTP API authorizer passes them (arrays flattened).
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: HashMap<String, String>,
}

impl Caller {
    pub fn new(tenant: &str, role: &str, brands: &[&str]) -> Self {
        let mut claims = HashMap::from([
            ("sub".to_owned(), format!("user-{role}")),
            ("custom:tenant_id".to_owned(), tenant.to_owned()),
            ("custom:role".to_owned(), role.to_owned()),
            ("iss".to_owned(), "https://auth.test/".to_owned()),
        ]);
        if !brands.is_empty() {
            claims.insert(
                "custom:brand_ids".to_owned(),
                format!("[{}]", brands.join(" ")),
            );
        }
        Self { claims }
    }

    pub fn admin(tenant: &str) -> Self {
        Self::new(tenant, "tenant_admin", &[])
    }

    pub fn without_claims() -> Self {
        Self {
            claims: HashMap::new(),
        }
    }
}

/// An API Gateway HTTP API v2 event, as the JSON API Gateway sends.
pub fn event(
    method: &str,
    path_and_query: &str,
    caller: &Caller,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> lambda_http::Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut h = serde_json::Map::new();
    h.insert("host".into(), json!("api.packr.test"));
    if body.is_some() {
        h.insert("content-type".into(), json!("application/json"));
    }
    for (k, v) in headers {
        h.insert(k.to_ascii_lowercase(), json!(v));
    }
    let authorizer = if caller.claims.is_empty() {
        Value::Null
    } else {
        json!({ "jwt": { "claims": caller.claims, "scopes": null } })
    };
    let mut ctx = json!({
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.packr.test",
        "domainPrefix": "api",
        "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test" },
        "requestId": format!("req-{}", uuid_like()),
        "routeKey": "$default",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": 1767225600000u64
    });
    if !authorizer.is_null() {
        ctx["authorizer"] = authorizer;
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": h,
        "requestContext": ctx,
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{:012}", N.fetch_add(1, Ordering::SeqCst))
}

pub async fn call(deps: &ApiDeps, request: lambda_http::Request) -> Answer {
    let response = dispatch(deps, request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes: &[u8] = response.body().as_ref();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).expect("every response is JSON")
    };
    if status >= 400 {
        // Every error path answers with the envelope.
        assert!(body["error"]["code"].is_string(), "{status}: {body}");
        assert!(body["error"]["message"].is_string(), "{status}: {body}");
        assert!(body["error"]["request_id"].is_string(), "{status}: {body}");
    }
    Answer {
        status,
        headers,
        body,
    }
}

impl ApiStack {
    /// `deps` as `function` (e.g. `api-orders`) has them: every DynamoDB-backed dependency
    /// signs as that function, so the IAM check (`infra/iam-check`) holds the requests to
    /// its role in template.yaml. The rest (Trackstar, queues, config) is `deps`' own, so a
    /// test that changes `deps` changes what every function sees.
    pub fn deps_as(&self, function: &str) -> ApiDeps {
        let store = self
            .stack
            .store_as(function)
            .with_erasure_guard(self.erasures.clone());
        let mut deps = self.deps.clone();
        deps.objects = Arc::new(store.clone());
        deps.tenants = Arc::new(store.clone());
        deps.connections = Arc::new(store.clone());
        deps.messages = Arc::new(store.clone());
        deps.audit = Arc::new(packr::store::dynamo::DynamoAuditLog::new(
            store.clone(),
            packr::audit::ChainKeys::Given(packr::audit::ChainKey::new(TEST_AUDIT_KEY.to_vec())),
        ));
        deps.receipts = Arc::new(store.clone());
        deps.reports = Arc::new(store.clone());
        deps.backfills = Arc::new(store.clone());
        deps.parked = Arc::new(store.clone());
        deps.idempotency = Arc::new(
            self.stack
                .idempotency_as(function, packr::idempotency::IdempotencyPolicy::default()),
        );
        if let Some(offboarding) = deps.offboarding.as_mut() {
            offboarding.connections.store = store.clone();
            offboarding.jobs = packr::lifecycle::LifecycleJobStore::new(store.clone());
        }
        if let Some(health) = deps.health.as_mut() {
            health.connections = Arc::new(store.clone());
            health.sync_states = Arc::new(packr::sync::DynamoSyncStateStore::new(store.clone()));
            health.stats = Arc::new(store.clone());
            health.backfills = Arc::new(store);
            health.breakers = Arc::new(packr::trackstar::DynamoBudget::new(
                aws_sdk_dynamodb::Client::new(&self.stack.sdk_as(function)),
                self.stack.table.clone(),
            ));
        }
        deps
    }

    /// Calls the function that serves the request's route, as API Gateway would.
    pub async fn call(&self, request: lambda_http::Request) -> Answer {
        let function = packr::api::router::find(request.method().as_str(), request.uri().path())
            .ok()
            .map(|route| route.function)
            .filter(|function| *function != "api-docs");
        match function {
            Some(function) => call(&self.deps_as(function), request).await,
            None => call(&self.deps, request).await,
        }
    }

    pub async fn get(&self, caller: &Caller, path: &str) -> Answer {
        self.call(event("GET", path, caller, None, &[])).await
    }

    pub async fn send(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let text = body.to_string();
        self.call(event(method, path, caller, Some(&text), headers))
            .await
    }

    /// Every item of the table, sorted: to prove a failed write changed nothing.
    pub async fn snapshot(&self) -> Vec<String> {
        let client = aws_sdk_dynamodb::Client::new(&self.stack.sdk);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&self.stack.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items.unwrap_or_default() {
                let mut pairs: Vec<(String, String)> =
                    item.iter().map(|(k, v)| (k.clone(), render(v))).collect();
                pairs.sort();
                out.push(format!("{pairs:?}"));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort();
        out
    }
}

/// A canonical rendering (maps sorted), so snapshots compare by content.
fn render(v: &AttributeValue) -> String {
    match v {
        AttributeValue::M(m) => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect();
            pairs.sort();
            format!("{{{}}}", pairs.join(","))
        }
        AttributeValue::L(l) => format!("[{}]", l.iter().map(render).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}

pub fn trackstar_config(base_url: &str) -> TrackstarConfig {
    TrackstarConfig {
        base_url: base_url.to_owned(),
        request_timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_rate_limit_wait: Duration::from_millis(200),
        },
        breaker: BreakerPolicy {
            failure_threshold: 4,
            window: Duration::from_secs(30),
            reset_timeout: Duration::from_secs(30),
        },
        ..TrackstarConfig::default()
    }
}

/// Two tenants: `acme` (brands b1, b2; one tenant-wide connection) and `globex` (brand g1;
/// its own connection), both known to the simulator.
pub async fn api_stack() -> ApiStack {
    api_stack_on(stack().await).await
}

/// [`api_stack`] on a given table (e.g. one of a stack with queues).
pub async fn api_stack_on(s: Stack) -> ApiStack {
    let sim = trackstar_sim::spawn(SimConfig {
        connections: vec![
            SimConnection::new(CONN_ACME, "tok_acme"),
            SimConnection::new(CONN_GLOBEX, "tok_globex"),
        ],
        orders_per_connection: 3,
        inventory_per_connection: 3,
        products_per_connection: 3,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let secrets = Arc::new(InMemorySecretSource::new());
    secrets.set(&format!("{SECRET_PREFIX}{CONN_ACME}"), "tok_acme");
    secrets.set(&format!("{SECRET_PREFIX}{CONN_GLOBEX}"), "tok_globex");
    for (t, brands, conn) in [
        (ACME, vec!["b1", "b2"], CONN_ACME),
        (GLOBEX, vec!["g1"], CONN_GLOBEX),
    ] {
        let tid = tenant(t);
        s.store
            .create_tenant(&Tenant {
                id: tid.clone(),
                name: t.to_owned(),
                default_currency: Currency::parse("USD").unwrap(),
                created_at: at(0),
            })
            .await
            .unwrap();
        for (i, b) in brands.iter().enumerate() {
            let whc = vec![WarehouseCustomerId::parse(format!("wc_{conn}_{}", i + 1)).unwrap()];
            s.store
                .create_brand(&tid, &brand_record(t, b, whc))
                .await
                .unwrap();
        }
        let mut c = connection(&tid, conn);
        c.access_token_secret = format!("{SECRET_PREFIX}{conn}");
        s.store.create_connection(&tid, &c).await.unwrap();
    }
    let client = TrackstarClient::new(
        trackstar_config(&sim.base_url),
        SecretString::from(sim_api_key()),
        secrets.clone(),
    )
    .unwrap();
    let sync_jobs = Arc::new(MemorySyncJobQueue::new());
    let lifecycle_jobs = Arc::new(packr::lifecycle::MemoryLifecycleQueue::new());
    secrets.set(
        TEST_PRIVACY_SECRET,
        std::str::from_utf8(TEST_PRIVACY_KEY).unwrap(),
    );
    let erasures = Arc::new(packr::privacy::ErasureGuard::new(
        packr::privacy::PrivacyKey::from_secret(secrets.clone(), TEST_PRIVACY_SECRET),
    ));
    let metrics = packr::metrics::RecordingSink::new();
    let deps = ApiDeps {
        offboarding: Some(packr::api::offboarding::OffboardApi {
            connections: packr::lifecycle::offboard::ConnectionOffboarder {
                store: s.store.clone(),
                secrets: secrets.clone(),
                grace: Duration::from_secs(30 * 24 * 3600),
                metrics: Arc::new(metrics.clone()),
            },
            jobs: packr::lifecycle::LifecycleJobStore::new(s.store.clone()),
            queue: Some(lifecycle_jobs.clone()),
            presign: None,
        }),
        objects: Arc::new(s.store.clone()),
        tenants: Arc::new(s.store.clone()),
        connections: Arc::new(s.store.clone()),
        messages: Arc::new(s.store.clone()),
        audit: Arc::new(audit_log(&s)),
        receipts: Arc::new(s.store.clone()),
        reports: Arc::new(s.store.clone()),
        backfills: Arc::new(s.store.clone()),
        idempotency: Arc::new(s.idempotency(packr::idempotency::IdempotencyPolicy::default())),
        trackstar: Some(client),
        secret_writer: Some(secrets.clone()),
        sync_jobs: Some(sync_jobs.clone()),
        health: Some(packr::health::HealthSources {
            connections: Arc::new(s.store.clone()),
            sync_states: Arc::new(packr::sync::DynamoSyncStateStore::new(s.store.clone())),
            stats: Arc::new(s.store.clone()),
            backfills: Arc::new(s.store.clone()),
            breakers: Arc::new(packr::trackstar::DynamoBudget::new(
                aws_sdk_dynamodb::Client::new(&s.sdk),
                s.table.clone(),
            )),
            thresholds: packr::health::Thresholds::default(),
        }),
        webhook_queue: None,
        lifecycle_queue: Some(lifecycle_jobs.clone()),
        parked: Arc::new(s.store.clone()),
        metrics: Arc::new(metrics),
        // No quotas unless a test sets them (`api_quota`): the other tests call freely.
        quota: None,
        config: ApiConfig {
            connection_secret_prefix: SECRET_PREFIX.to_owned(),
            ..ApiConfig::default()
        },
        clock: Arc::new(packr::domain::Timestamp::now),
    };
    ApiStack {
        deps,
        stack: s,
        sim,
        secrets,
        sync_jobs,
        lifecycle_jobs,
        erasures,
    }
}

/// The erasures' hash key of the test stacks, and its secret's name.
pub const TEST_PRIVACY_KEY: &[u8] = b"test-privacy-hash-key-0123456789abcdef";
pub const TEST_PRIVACY_SECRET: &str = "packr/test/privacy-hash-key";

/// The audit chain key of the test stacks.
pub const TEST_AUDIT_KEY: &[u8] = b"test-audit-chain-key-0123456789abcdef";

/// The audit log of a stack's table, under [`TEST_AUDIT_KEY`].
pub fn audit_log(s: &Stack) -> packr::store::dynamo::DynamoAuditLog {
    packr::store::dynamo::DynamoAuditLog::new(
        s.store.clone(),
        packr::audit::ChainKeys::Given(packr::audit::ChainKey::new(TEST_AUDIT_KEY.to_vec())),
    )
}

/// A fresh Secrets Manager secret holding [`TEST_AUDIT_KEY`] (for the CLI); its name.
pub async fn audit_secret(sdk: &aws_config::SdkConfig) -> String {
    let name = format!("audit-key-{}", packr::store::AuditEntry::new_id());
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(&name)
        .secret_string(std::str::from_utf8(TEST_AUDIT_KEY).expect("an ASCII key"))
        .send()
        .await
        .expect("the secret is created");
    name
}

pub fn sim_api_key() -> String {
    SimConfig::default().api_key
}

/// A valid `POST /orders` body for a brand.
pub fn order_body(brand: &str, reference: &str) -> Value {
    json!({
        "brand_id": brand,
        "reference_id": reference,
        "order_number": format!("#{reference}"),
        "channel": "shopify",
        "shipping_method_id": "ground",
        "service_level": "standard",
        "currency": "USD",
        "totals": { "price": 2468, "tax": 200, "discount": 0, "shipping": 500 },
        "ship_to_address": {
            "full_name": "Jane Roe",
            "address1": "1 Main St",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "country": "US"
        },
        "line_items": [ { "sku": "TEE-BLK-L", "quantity": 2, "unit_price": 1234 } ]
    })
}

/// Brand `b` of tenant `t`, claiming these warehouse customers.
pub fn brand_record(t: &str, b: &str, customers: Vec<WarehouseCustomerId>) -> Brand {
    Brand {
        tenant_id: tenant(t),
        id: brand(b),
        name: b.to_uppercase(),
        warehouse_customer_ids: customers,
        created_at: at(0),
    }
}

/// A warehouse and a SKU every simulated connection has (its seed's first inventory item):
/// the simulator refuses inbound shipments and returns naming others.
pub const SIM_WAREHOUSE: &str = "wh_east";
pub const SIM_SKU: &str = "TEE-000000";

/// A valid `POST /inbound-shipments` body for a brand.
pub fn inbound_body(brand: &str, po: &str) -> Value {
    json!({
        "brand_id": brand,
        "warehouse_id": SIM_WAREHOUSE,
        "purchase_order_number": po,
        "supplier": "Acme Textiles",
        "expected_arrival_date": "2026-04-10T00:00:00Z",
        "tracking_number": "1Z999AA10123456784",
        "line_items": [ { "sku": SIM_SKU, "expected_quantity": 120 } ]
    })
}

/// A valid `POST /returns` body for a brand.
pub fn return_body(brand: &str) -> Value {
    json!({
        "brand_id": brand,
        "warehouse_id": SIM_WAREHOUSE,
        "line_items": [ { "sku": SIM_SKU, "quantity": 1 } ]
    })
}

/// A valid `POST /products` body.
pub fn product_body(brand: &str, sku: &str) -> Value {
    json!({
        "brand_id": brand,
        "sku": sku,
        "name": format!("Product {sku}"),
        "gtin": "00012345678905",
        "measurements": { "length": 10.0, "width": 5.0, "height": 2.0, "unit": "cm", "weight": 0.5, "weight_unit": "kg" }
    })
}

/// A reconciliation report of `conn` concerning `brands`, finished at `at(finished)`.
pub fn report(
    t: &str,
    id: &str,
    conn: &str,
    brands: &[&str],
    finished: i64,
) -> packr::sync::reconcile::ReconcileReport {
    let mut tally = packr::sync::reconcile::DriftTally::default();
    let owner = brands.first().map(|b| brand(b));
    tally.record(
        packr::sync::reconcile::DriftClass::MissingLocal,
        "ord_missing",
        owner.as_ref(),
    );
    tally.record(
        packr::sync::reconcile::DriftClass::InSync,
        "ord_ok",
        owner.as_ref(),
    );
    packr::sync::reconcile::ReconcileReport {
        id: id.to_owned(),
        tenant_id: tenant(t),
        connection_id: packr::domain::ConnectionId::parse(conn).unwrap(),
        brand_ids: brands.iter().map(|b| brand(b)).collect(),
        resource: packr::sync::ResourceKind::Orders,
        dry_run: false,
        started_at: at(finished - 5),
        finished_at: at(finished),
        complete: true,
        incomplete_reason: None,
        tally,
        trackstar_gets: 2,
        duration_ms: 5_000,
    }
}
