//! The simulator's shared state: connections, their objects (the truth), faults, rate
//! limits, idempotency keys, the request log and the webhook dispatcher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::{SimConfig, SimConnection, WebhookTarget};
use crate::data::clock::{self, LateRecord};
use crate::data::model::Timestamp;
use crate::data::mutate::{self, Change, MutateAction, MutationKind};
use crate::data::seed::{self, SeedSizes};
use crate::data::{now, ConnectionData, ResourceKind, TrackstarDates};
use crate::error::ApiError;
use crate::events::{event, WebhookEvent};
use crate::faults::{FaultSpec, Faults};
use crate::idempotency::IdempotencyStore;
use crate::ratelimit::RateLimiter;
use crate::requests::{AppliedWrite, RequestLog, RequestsSnapshot};
use crate::syncs::SyncJobs;
use crate::webhooks::{DeliveryOptions, DeliveryRecord, WebhookDispatcher, WebhookStats};

/// A connection and what Trackstar knows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    pub connection: SimConnection,
    pub customer_id: Option<String>,
    pub created_at: Timestamp,
    pub last_used: Option<Timestamp>,
    pub times_used: i64,
}

/// `POST /_sim/mutate` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutateRequest {
    pub connection_id: String,
    pub kind: MutationKind,
    #[serde(default = "one")]
    pub count: usize,
}

/// How Trackstar answers lists and gets of a kind for a connection
/// (`POST /_sim/resource-policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourcePolicy {
    #[default]
    Allowed,
    /// 403: the endpoint is disabled by policy for the organisation or connection.
    Forbidden,
    /// 501: the integration does not implement the endpoint.
    NotImplemented,
}

/// Most changes one `mutate` call makes.
pub const MAX_MUTATIONS: usize = 10_000;

fn one() -> usize {
    1
}

/// What a mutation changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MutateOutcome {
    /// `(event_type, object_id)` per change, in order.
    pub changes: Vec<(String, String)>,
}

/// Rate limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub get_rate_per_sec: u32,
    pub write_rate_per_sec: u32,
}

#[derive(Debug)]
pub struct SimState {
    pub(crate) api_key: String,
    seed: u64,
    sizes: SeedSizes,
    limits: Mutex<Limits>,
    connections: Mutex<Vec<ConnectionRecord>>,
    data: Mutex<HashMap<String, ConnectionData>>,
    rng: Mutex<StdRng>,
    pub(crate) faults: Faults,
    pub(crate) limiter: RateLimiter,
    pub(crate) idempotency: Arc<IdempotencyStore>,
    pub(crate) requests: RequestLog,
    pub(crate) webhooks: WebhookDispatcher,
    pub(crate) shutdown: watch::Receiver<bool>,
    policies: Mutex<HashMap<(String, ResourceKind), ResourcePolicy>>,
    pub(crate) sync_jobs: SyncJobs,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimState {
    pub(crate) fn new(
        config: &SimConfig,
        webhooks: WebhookDispatcher,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let state = Self {
            api_key: config.api_key.clone(),
            seed: config.seed,
            sizes: SeedSizes {
                orders: config.orders_per_connection,
                inventory: config.inventory_per_connection,
                products: config.products_per_connection,
                inbound_shipments: config.inbound_shipments_per_connection,
                returns: config.returns_per_connection,
            },
            limits: Mutex::new(Limits {
                get_rate_per_sec: config.get_rate_per_sec,
                write_rate_per_sec: config.write_rate_per_sec,
            }),
            connections: Mutex::new(Vec::new()),
            data: Mutex::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed ^ 0x5eed)),
            faults: Faults::new(config.seed),
            limiter: RateLimiter::default(),
            idempotency: Arc::new(IdempotencyStore::default()),
            requests: RequestLog::default(),
            webhooks,
            shutdown,
            policies: Mutex::new(HashMap::new()),
            sync_jobs: SyncJobs::default(),
        };
        state.sync_jobs.set_options(crate::syncs::SyncJobOptions {
            auto_complete_ms: config.on_demand_auto_complete_ms,
        });
        for connection in &config.connections {
            state.add_connection(connection.clone(), None);
        }
        state
    }

    pub fn limits(&self) -> Limits {
        *lock(&self.limits)
    }

    pub fn set_limits(&self, limits: Limits) {
        *lock(&self.limits) = limits;
        self.limiter.reset();
    }

    /// Adds a connection with freshly seeded data; an existing id is returned unchanged.
    pub fn add_connection(
        &self,
        connection: SimConnection,
        customer_id: Option<String>,
    ) -> ConnectionRecord {
        let mut connections = lock(&self.connections);
        if let Some(existing) = connections
            .iter()
            .find(|c| c.connection.connection_id == connection.connection_id)
        {
            return existing.clone();
        }
        let data = seed::generate(
            self.seed,
            &connection.connection_id,
            &connection.warehouse_customer_ids,
            self.sizes,
        );
        lock(&self.data).insert(connection.connection_id.clone(), data);
        let record = ConnectionRecord {
            connection,
            customer_id,
            created_at: now(),
            last_used: None,
            times_used: 0,
        };
        connections.push(record.clone());
        record
    }

    pub fn connections(&self) -> Vec<ConnectionRecord> {
        lock(&self.connections).clone()
    }

    pub fn connection(&self, connection_id: &str) -> Option<ConnectionRecord> {
        lock(&self.connections)
            .iter()
            .find(|c| c.connection.connection_id == connection_id)
            .cloned()
    }

    /// The connection of an access token, counted as used.
    pub(crate) fn use_token(&self, token: &str) -> Option<SimConnection> {
        let mut connections = lock(&self.connections);
        let record = connections
            .iter_mut()
            .find(|c| c.connection.access_token == token)?;
        record.last_used = Some(now());
        record.times_used += 1;
        Some(record.connection.clone())
    }

    /// Removes the connection of an access token and its data (`DELETE /connections`):
    /// its token is refused from then on. `None` for a token no connection has.
    pub fn delete_by_token(&self, token: &str) -> Option<ConnectionRecord> {
        let mut connections = lock(&self.connections);
        let at = connections
            .iter()
            .position(|c| c.connection.access_token == token)?;
        let record = connections.remove(at);
        lock(&self.data).remove(&record.connection.connection_id);
        Some(record)
    }

    /// A copy of every object of a connection.
    pub fn truth(&self, connection_id: &str) -> Option<ConnectionData> {
        lock(&self.data).get(connection_id).cloned()
    }

    /// Runs `f` on a connection's objects under the lock.
    pub fn with_data<R>(
        &self,
        connection_id: &str,
        f: impl FnOnce(&mut ConnectionData) -> R,
    ) -> Option<R> {
        lock(&self.data).get_mut(connection_id).map(f)
    }

    pub fn set_faults(&self, connection_id: &str, spec: FaultSpec) {
        self.faults.set(connection_id, spec);
    }

    pub fn clear_faults(&self, connection_id: &str) {
        self.faults.clear(connection_id);
    }

    pub fn clear_all_faults(&self) {
        self.faults.clear_all();
    }

    /// Changes objects as the WMS would and sends the webhooks.
    pub fn mutate(&self, request: &MutateRequest) -> Result<MutateOutcome, ApiError> {
        self.mutate_with(request, None)
    }

    /// [`SimState::mutate`], creating or updating objects as `action` says.
    pub fn mutate_with(
        &self,
        request: &MutateRequest,
        action: Option<MutateAction>,
    ) -> Result<MutateOutcome, ApiError> {
        let record = self
            .connection(&request.connection_id)
            .ok_or_else(|| ApiError::NotFound {
                what: "Connection",
                id: request.connection_id.clone(),
            })?;
        if request.count > MAX_MUTATIONS {
            return Err(ApiError::validation(
                "body",
                "count",
                "At most 10000 changes at once.",
            ));
        }
        let changes = {
            let mut rng = lock(&self.rng);
            self.with_data(&request.connection_id, |data| {
                mutate::mutate_as(data, request.kind, action, request.count, &mut *rng, now())
            })
            .unwrap_or_default()
        };
        let outcome = MutateOutcome {
            changes: changes
                .iter()
                .map(|c| (c.event_type.to_owned(), c.object_id.clone()))
                .collect(),
        };
        self.emit_changes(&record.connection, changes);
        Ok(outcome)
    }

    /// Inserts a record the WMS last changed `age` ago that Trackstar reads only now
    /// (fresh `trackstar_*_date`), sending no webhook.
    pub fn late_record(
        &self,
        connection_id: &str,
        kind: ResourceKind,
        age: chrono::Duration,
    ) -> Result<LateRecord, ApiError> {
        let mut rng = lock(&self.rng);
        self.with_data(connection_id, |data| {
            clock::late_record(data, kind, &mut *rng, now(), age)
        })
        .ok_or_else(|| ApiError::NotFound {
            what: "Connection",
            id: connection_id.to_owned(),
        })?
        .ok_or_else(|| {
            ApiError::validation(
                "body",
                "kind",
                "The connection has no object of this kind to copy.",
            )
        })
    }

    /// Trackstar's clock of one object.
    pub fn trackstar_dates(
        &self,
        connection_id: &str,
        kind: ResourceKind,
        id: &str,
    ) -> Option<TrackstarDates> {
        lock(&self.data)
            .get(connection_id)
            .and_then(|data| clock::trackstar_dates_of(data, kind, id))
    }

    /// How on-demand sync jobs complete (`PUT /_sim/on-demand-syncs/options`).
    pub fn set_sync_job_options(&self, options: crate::syncs::SyncJobOptions) {
        self.sync_jobs.set_options(options);
    }

    pub fn set_resource_policy(
        &self,
        connection_id: &str,
        kind: ResourceKind,
        policy: ResourcePolicy,
    ) {
        let key = (connection_id.to_owned(), kind);
        let mut policies = lock(&self.policies);
        if policy == ResourcePolicy::Allowed {
            policies.remove(&key);
        } else {
            policies.insert(key, policy);
        }
    }

    pub fn resource_policy(&self, connection_id: &str, kind: ResourceKind) -> ResourcePolicy {
        lock(&self.policies)
            .get(&(connection_id.to_owned(), kind))
            .copied()
            .unwrap_or_default()
    }

    /// The refusal Trackstar answers a list or get of `kind` with, if any.
    pub(crate) fn check_resource(
        &self,
        connection: &SimConnection,
        kind: ResourceKind,
    ) -> Result<(), ApiError> {
        match self.resource_policy(&connection.connection_id, kind) {
            ResourcePolicy::Allowed => Ok(()),
            ResourcePolicy::Forbidden => Err(ApiError::Status {
                status: axum::http::StatusCode::FORBIDDEN,
                message: format!(
                    "Access to {} is disabled by policy for this connection",
                    kind.function_name()
                ),
                origin: crate::error::Origin::Trackstar,
            }),
            ResourcePolicy::NotImplemented => Err(ApiError::NotImplemented(format!(
                "{} is not implemented for integration {}",
                kind.function_name(),
                connection.integration_name
            ))),
        }
    }

    pub(crate) fn emit_changes(&self, connection: &SimConnection, changes: Vec<Change>) {
        for change in changes {
            self.webhooks.enqueue(event(
                &connection.connection_id,
                &connection.integration_name,
                change.event_type,
                &change.data,
                change.previous_attributes,
            ));
        }
    }

    /// Sends any webhook body (e.g. `connection.historical-sync-completed`).
    pub fn emit(&self, event: WebhookEvent) {
        self.webhooks.enqueue(event);
    }

    pub(crate) fn record_write(&self, connection_id: &str, method: &str, path: &str, id: &str) {
        self.requests.applied(AppliedWrite {
            connection_id: connection_id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            object_id: id.to_owned(),
        });
    }

    pub fn requests(&self) -> RequestsSnapshot {
        self.requests.snapshot()
    }

    pub fn reset_requests(&self) {
        self.requests.reset();
    }

    pub fn webhook_stats(&self) -> WebhookStats {
        self.webhooks.stats()
    }

    pub fn webhook_records(&self) -> Vec<DeliveryRecord> {
        self.webhooks.records()
    }

    pub fn set_webhook_options(&self, options: DeliveryOptions) {
        self.webhooks.set_options(options);
    }

    pub fn webhook_options(&self) -> DeliveryOptions {
        self.webhooks.options()
    }

    pub fn set_webhook_target(&self, target: Option<WebhookTarget>) {
        self.webhooks.set_target(target);
    }

    /// Waits until every webhook is delivered, given up or dropped; false on timeout.
    pub async fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        self.webhooks.wait_idle(timeout).await
    }
}
