//! Trackstar's sync controls for a connection: force syncs (`POST /connections/sync`) and
//! on-demand syncs, i.e. backfills (`POST /connections/on-demand-syncs`, `GET …/{id}`,
//! `POST …/{id}/cancel`), as the contract describes them.
//!
//! A job is `open` until completed (`POST /_sim/on-demand-syncs/{id}/complete`, or on its
//! own after `auto_complete_ms` set with `PUT /_sim/on-demand-syncs/options`), cancelled,
//! or declared stuck (`POST /_sim/on-demand-syncs/{id}/stuck`). Completing re-reads the
//! window: every object of the job's kind whose `updated_date` lies in `[start_time,
//! end_time]` gets a fresh `trackstar_updated_date`, and `connection.sync-job-completed`
//! is sent with `{sync_job_id, function_name, resource, start_time, end_time, status}`.
//! No resource webhooks are sent for what a backfill reads.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::SimConnection;
use crate::data::clock::reread_window;
use crate::data::model::Timestamp;
use crate::data::{now, ResourceKind};
use crate::error::ApiError;
use crate::events::event;
use crate::state::{ResourcePolicy, SimState};
use crate::validation::Fields;

/// Every function Trackstar names in `functions_to_sync` (the spec's enum).
pub const SYNC_FUNCTIONS: [&str; 12] = [
    "get_inventory",
    "get_products",
    "get_inbound_shipments",
    "get_orders",
    "get_warehouses",
    "get_shipping_methods",
    "get_returns",
    "get_bills",
    "get_warehouse_customers",
    "get_warehouse_locations",
    "get_inventory_ledger",
    "get_shipments",
];

/// Functions the simulator runs on demand (Trackstar's WMS list, less the inventory
/// ledger the simulator does not serve).
pub const ON_DEMAND_FUNCTIONS: [&str; 5] = [
    "get_orders",
    "get_products",
    "get_inbound_shipments",
    "get_returns",
    "get_bills",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncJobStatus {
    Open,
    Completed,
    Cancelled,
    Stuck,
}

/// One on-demand sync job, as `GET /connections/on-demand-syncs/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncJob {
    pub id: String,
    pub connection_id: String,
    pub function_name: String,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub status: SyncJobStatus,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    /// Objects the completed job re-read.
    pub objects_synced: usize,
}

impl SyncJob {
    fn kind(&self) -> Option<ResourceKind> {
        ResourceKind::from_function_name(&self.function_name)
    }

    /// The `data` of `connection.sync-job-completed` / `connection.sync-job-stuck`.
    pub fn event_data(&self) -> Value {
        json!({
            "sync_job_id": self.id,
            "function_name": self.function_name,
            "resource": self.kind().map(ResourceKind::resource_name),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "status": self.status,
        })
    }
}

/// `PUT /_sim/on-demand-syncs/options`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJobOptions {
    /// Complete every new job on its own after this many ms (`None`: only by control).
    #[serde(default)]
    pub auto_complete_ms: Option<u64>,
}

/// The jobs of every connection.
#[derive(Debug, Default)]
pub struct SyncJobs {
    jobs: Mutex<Vec<SyncJob>>,
    options: Mutex<SyncJobOptions>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn parse_time(f: &mut Fields<'_>, name: &str) -> Option<DateTime<Utc>> {
    let text = f.string(name)?;
    match DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            f.error(name, "Not a valid datetime.");
            None
        }
    }
}

/// Reads `{start_time, end_time, function_name}`: 422 naming the field for a missing or
/// malformed one, an unknown function or an end before the start; 400 for a function
/// Trackstar knows but does not run on demand here.
pub fn read_request(
    obj: &Map<String, Value>,
    connection: &SimConnection,
    policy: impl Fn(ResourceKind) -> ResourcePolicy,
) -> Result<(String, Timestamp, Timestamp), ApiError> {
    let mut f = Fields::new(obj);
    f.require(&["start_time", "end_time", "function_name"]);
    let start = parse_time(&mut f, "start_time");
    let end = parse_time(&mut f, "end_time");
    let function = f.one_of("function_name", &SYNC_FUNCTIONS);
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            f.error("end_time", "Must not be before start_time.");
        }
    }
    f.finish()?;
    let (function, start, end) = (
        function.unwrap_or_default(),
        start.unwrap_or_default(),
        end.unwrap_or_default(),
    );
    if function == "get_inventory" {
        return Err(ApiError::BadRequest(
            "On-demand sync is not supported for get_inventory: inventory syncs always fetch a full snapshot".to_owned(),
        ));
    }
    let allowed = ResourceKind::from_function_name(&function)
        .is_some_and(|k| policy(k) == ResourcePolicy::Allowed);
    if !ON_DEMAND_FUNCTIONS.contains(&function.as_str()) || !allowed {
        return Err(ApiError::BadRequest(format!(
            "On-demand sync is not enabled for {function} on integration {}",
            connection.integration_name
        )));
    }
    Ok((function, start, end))
}

impl SyncJobs {
    pub fn options(&self) -> SyncJobOptions {
        *lock(&self.options)
    }

    pub fn set_options(&self, options: SyncJobOptions) {
        *lock(&self.options) = options;
    }

    pub fn add(
        &self,
        connection_id: &str,
        function: String,
        start: Timestamp,
        end: Timestamp,
    ) -> SyncJob {
        let at = now();
        let job = SyncJob {
            id: format!("sync_job_{}", uuid::Uuid::new_v4().simple()),
            connection_id: connection_id.to_owned(),
            function_name: function,
            start_time: start,
            end_time: end,
            status: SyncJobStatus::Open,
            created_date: at,
            updated_date: at,
            objects_synced: 0,
        };
        lock(&self.jobs).push(job.clone());
        job
    }

    /// A job by id, of one connection when `connection_id` is given.
    pub fn get(&self, id: &str, connection_id: Option<&str>) -> Option<SyncJob> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id == id && connection_id.is_none_or(|c| c == j.connection_id))
            .cloned()
    }

    /// Moves an open job to `to`; 404 for an unknown job, 409 for one no longer open.
    fn close(
        &self,
        id: &str,
        connection_id: Option<&str>,
        to: SyncJobStatus,
        synced: usize,
    ) -> Result<SyncJob, ApiError> {
        let mut jobs = lock(&self.jobs);
        let job = jobs
            .iter_mut()
            .find(|j| j.id == id && connection_id.is_none_or(|c| c == j.connection_id))
            .ok_or_else(|| ApiError::NotFound {
                what: "Sync job",
                id: id.to_owned(),
            })?;
        if job.status != SyncJobStatus::Open {
            return Err(ApiError::Conflict(format!(
                "Sync job {id} is {:?}, not open",
                job.status
            )));
        }
        job.status = to;
        job.updated_date = now();
        job.objects_synced = synced;
        Ok(job.clone())
    }
}

impl SimState {
    /// `POST /connections/on-demand-syncs`
    pub fn create_sync_job(
        &self,
        connection: &SimConnection,
        obj: &Map<String, Value>,
    ) -> Result<SyncJob, ApiError> {
        let (function, start, end) = read_request(obj, connection, |kind| {
            self.resource_policy(&connection.connection_id, kind)
        })?;
        Ok(self
            .sync_jobs
            .add(&connection.connection_id, function, start, end))
    }

    pub fn sync_job(&self, id: &str, connection_id: Option<&str>) -> Option<SyncJob> {
        self.sync_jobs.get(id, connection_id)
    }

    /// `POST /connections/on-demand-syncs/{id}/cancel`: no webhook, nothing re-read.
    pub fn cancel_sync_job(&self, id: &str, connection_id: &str) -> Result<SyncJob, ApiError> {
        self.sync_jobs
            .close(id, Some(connection_id), SyncJobStatus::Cancelled, 0)
    }

    /// Completes an open job: re-reads its window and sends `connection.sync-job-completed`.
    /// Returns the job and the ids re-read.
    pub fn complete_sync_job(&self, id: &str) -> Result<(SyncJob, Vec<String>), ApiError> {
        let job = self
            .sync_jobs
            .get(id, None)
            .ok_or_else(|| ApiError::NotFound {
                what: "Sync job",
                id: id.to_owned(),
            })?;
        if job.status != SyncJobStatus::Open {
            return Err(ApiError::Conflict(format!(
                "Sync job {id} is {:?}, not open",
                job.status
            )));
        }
        let ids = match job.kind() {
            Some(kind) => self
                .with_data(&job.connection_id, |data| {
                    reread_window(data, kind, job.start_time, job.end_time, now())
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let job = self
            .sync_jobs
            .close(id, None, SyncJobStatus::Completed, ids.len())?;
        self.emit_admin(
            &job.connection_id,
            "connection.sync-job-completed",
            &job.event_data(),
        );
        Ok((job, ids))
    }

    /// Declares an open job stuck and sends `connection.sync-job-stuck`.
    pub fn stick_sync_job(&self, id: &str) -> Result<SyncJob, ApiError> {
        let job = self.sync_jobs.close(id, None, SyncJobStatus::Stuck, 0)?;
        self.emit_admin(
            &job.connection_id,
            "connection.sync-job-stuck",
            &job.event_data(),
        );
        Ok(job)
    }

    /// `POST /connections/sync`: Trackstar's copy is current in the simulator, so each
    /// function completes at once with `connection.force-sync-completed`
    /// (`data: {function_name, resource, completed_date}`); without `functions_to_sync`,
    /// every resource served and not refused for the connection. Returns the functions
    /// named (empty: all were synced).
    pub fn force_sync(
        &self,
        connection: &SimConnection,
        obj: &Map<String, Value>,
    ) -> Result<Vec<String>, ApiError> {
        let mut f = Fields::new(obj);
        let named: Vec<String> = match f.array("functions_to_sync") {
            None => Vec::new(),
            Some(items) => {
                let mut named = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().filter(|s| SYNC_FUNCTIONS.contains(s)) {
                        Some(s) => named.push(s.to_owned()),
                        None => f.error(
                            &format!("functions_to_sync.{i}"),
                            &format!("Must be one of: {}.", SYNC_FUNCTIONS.join(", ")),
                        ),
                    }
                }
                named
            }
        };
        f.finish()?;
        let synced: Vec<String> = if named.is_empty() {
            ResourceKind::ALL
                .iter()
                .filter(|k| {
                    self.resource_policy(&connection.connection_id, **k) == ResourcePolicy::Allowed
                })
                .map(|k| k.function_name().to_owned())
                .collect()
        } else {
            named.clone()
        };
        for function in &synced {
            let resource = function.trim_start_matches("get_");
            self.emit_admin(
                &connection.connection_id,
                "connection.force-sync-completed",
                &json!({ "function_name": function, "resource": resource, "completed_date": now() }),
            );
        }
        Ok(named)
    }

    fn emit_admin(&self, connection_id: &str, event_type: &str, data: &Value) {
        if let Some(record) = self.connection(connection_id) {
            self.emit(event(
                connection_id,
                &record.connection.integration_name,
                event_type,
                data,
                None,
            ));
        }
    }
}
