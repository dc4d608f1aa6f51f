//! The tenant-facing HTTP API: handlers for API Gateway HTTP API (v2) events behind a JWT
//! authorizer. Every handler is `handle(&ApiDeps, lambda_http::Request) -> Response<Body>`;
//! [`router::dispatch`] picks one by method and path template, as API Gateway does by
//! `routeKey`.

pub mod audit;
pub mod backfill;
pub mod changes;
pub mod claims;
pub mod connections;
pub mod docs;
pub mod error;
pub mod health;
pub mod inbound;
pub mod inventory;
pub mod messages;
pub mod offboarding;
pub mod openapi;
pub mod orders;
pub mod privacy;
pub mod products;
pub mod quota;
pub mod reconciliations;
pub mod replay;
pub mod request;
pub mod resources;
pub mod returns;
pub mod router;
pub mod routes;
pub mod schema;
pub mod sync;
mod visible;
pub mod wiring;
mod writes;

use std::sync::Arc;

use crate::domain::Timestamp;
use crate::idempotency::IdempotencyStore;
use crate::metrics::MetricsSink;
use crate::secrets::SecretWriter;
use crate::store::dynamo::DynamoStore;
use crate::store::{AuditStore, ConnectionStore, MessageStore, TenantStore};
use crate::sync::reconcile::ReportStore;
use crate::sync::{BackfillStore, SyncJobQueue};
use crate::trackstar::TrackstarClient;
use crate::webhook::parked::ParkedEventStore;
use crate::webhook::queue::EventQueue;
use crate::webhook::receipts::ReceiptStore;

pub use claims::{ClaimNames, Principal, Role};
pub use error::ApiError;
pub use router::dispatch;

/// Default largest request body accepted (bytes); larger is a 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Settings of the API functions.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub claims: ClaimNames,
    pub max_body_bytes: usize,
    /// Secrets Manager name prefix of connection access tokens
    /// (`packr/<stage>/trackstar/connections/`).
    pub connection_secret_prefix: String,
    /// The changes feed's horizon and retention (`GET /changes`).
    pub changes: crate::changes::ChangeFeedConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            claims: ClaimNames::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connection_secret_prefix: "packr/local/trackstar/connections/".into(),
            changes: crate::changes::ChangeFeedConfig::default(),
        }
    }
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Everything the handlers use, built once per cold start (see [`wiring::from_env`]).
#[derive(Clone)]
pub struct ApiDeps {
    /// The synced objects of every kind; handlers take the typed view of their kind
    /// (`SyncedStore<T>`, which the one store implements for every declared resource).
    pub objects: Arc<DynamoStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub messages: Arc<dyn MessageStore>,
    pub audit: Arc<dyn AuditStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Webhook receipts (failed events kept for replay).
    pub receipts: Arc<dyn ReceiptStore>,
    /// Reconciliation reports.
    pub reports: Arc<dyn ReportStore>,
    /// Backfill records (`POST /sync/backfill`).
    pub backfills: Arc<dyn BackfillStore>,
    /// Absent in functions that never write through (their role has no Trackstar secret).
    pub trackstar: Option<TrackstarClient>,
    /// Absent in functions that never store access tokens.
    pub secret_writer: Option<Arc<dyn SecretWriter>>,
    /// The sync-jobs queue; absent in functions that never enqueue syncs (only api-sync and
    /// api-connections have `SYNC_JOBS_QUEUE_URL`).
    pub sync_jobs: Option<Arc<dyn SyncJobQueue>>,
    /// Sync states, webhook stats and breakers; absent in functions that serve no health
    /// routes (only api-sync has them).
    pub health: Option<crate::health::HealthSources>,
    /// The webhook queue, for replays and for the events parked for a connection until
    /// its exchange; absent in functions that never queue webhooks (only api-sync and
    /// api-connections have `WEBHOOK_QUEUE_URL`).
    pub webhook_queue: Option<Arc<dyn EventQueue>>,
    /// The lifecycle-jobs queue (erasures of a person); absent in functions that queue no
    /// lifecycle jobs (`LIFECYCLE_JOBS_QUEUE_URL`).
    pub lifecycle_queue: Option<Arc<dyn crate::lifecycle::LifecycleQueue>>,
    /// Events parked for connections not linked yet (drained by the exchange).
    pub parked: Arc<dyn ParkedEventStore>,
    pub metrics: Arc<dyn MetricsSink>,
    /// Connection, brand and tenant offboarding (`offboarding`); api-connections only.
    pub offboarding: Option<offboarding::OffboardApi>,
    /// The tenants' request quotas (`quota`); absent where none are configured.
    pub quota: Option<Arc<quota::TenantQuotas>>,
    pub config: ApiConfig,
    pub clock: Clock,
}

impl ApiDeps {
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub(crate) fn trackstar(&self) -> Result<&TrackstarClient, ApiError> {
        self.trackstar.as_ref().ok_or_else(|| {
            tracing::error!("this function has no Trackstar client configured");
            ApiError::internal()
        })
    }

    pub(crate) fn health(&self) -> Result<&crate::health::HealthSources, ApiError> {
        self.health.as_ref().ok_or_else(|| {
            tracing::error!("this function has no health sources configured");
            ApiError::internal()
        })
    }

    pub(crate) fn webhook_queue(&self) -> Result<&dyn EventQueue, ApiError> {
        self.webhook_queue.as_deref().ok_or_else(|| {
            tracing::error!("this function has no webhook queue configured");
            ApiError::internal()
        })
    }

    pub(crate) fn sync_jobs(&self) -> Result<&dyn SyncJobQueue, ApiError> {
        self.sync_jobs.as_deref().ok_or_else(|| {
            tracing::error!("this function has no sync-jobs queue configured");
            ApiError::internal()
        })
    }
}
