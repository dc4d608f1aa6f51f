//! `/sync`: the sync-admin surface (tenant_admin only), served by the api-sync function.
//! `POST /sync/run` enqueues syncs from Trackstar through the same [`request_sync`] every
//! other trigger uses; the sync-worker does the work.

use std::collections::BTreeSet;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{Connection, ConnectionId};
use crate::idempotency::Scope;
use crate::sync::{request_sync, sync_targets, ResourceKind, SyncMode, TargetError};

pub const RUN_SCOPE: Scope = Scope::new("api.sync.run");

/// The `reason` of the jobs this route enqueues.
pub const RUN_REASON: &str = "admin";

/// `POST /sync/run`: what to sync, and how.
// The fields are read as raw JSON and checked one by one in `validate`, so every error
// names its field (`mode`, `resources[1]`), a mistyped one included.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSyncBody {
    /// Sync this connection only; without it, every active connection of the tenant.
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::ConnectionId>)]
    pub connection_id: Option<Value>,
    /// What to sync (duplicates collapse; must not be empty); every resource when absent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ResourceKind>>, min_items = 1)]
    pub resources: Option<Value>,
    /// `incremental`: what changed since the last sync; `full`: everything.
    #[serde(default)]
    #[schema(value_type = RunSyncMode, required = true)]
    pub mode: Value,
}

/// The modes a caller may ask `POST /sync/run` for (reconciliation is its own trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunSyncMode {
    /// What changed since the last sync.
    Incremental,
    /// Everything.
    Full,
}

/// One enqueued job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuedSyncJob {
    pub connection_id: String,
    pub resource: ResourceKind,
    #[schema(value_type = RunSyncMode)]
    pub mode: SyncMode,
}

/// A connection that was not synced, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkippedConnection {
    pub connection_id: String,
    /// `connection_not_active`.
    pub reason: String,
    /// The connection's status, e.g. `disconnected` or `reauth_required`.
    pub status: String,
}

/// The `202` answer of `POST /sync/run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunSyncAnswer {
    pub jobs: Vec<QueuedSyncJob>,
    pub skipped: Vec<SkippedConnection>,
}

/// A validated `POST /sync/run` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSyncPlan {
    /// The raw id asked for (looked up later: an unknown one is a 404, not a 422).
    pub connection_id: Option<String>,
    /// In [`ResourceKind::ALL`] order, without duplicates.
    pub resources: Vec<ResourceKind>,
    pub mode: SyncMode,
}

/// Every resource's name, for error messages.
pub(super) fn resource_names() -> String {
    ResourceKind::ALL
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn resource_named(value: &Value) -> Option<ResourceKind> {
    let name = value.as_str()?;
    ResourceKind::ALL.into_iter().find(|r| r.as_str() == name)
}

/// Checks every field, naming each failure.
pub fn validate(body: &RunSyncBody) -> Result<RunSyncPlan, ApiError> {
    let mut v = Validator::default();
    let connection_id = match &body.connection_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.trim().is_empty() => {
            v.error("connection_id", "must not be blank");
            None
        }
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            v.error("connection_id", "must be a string");
            None
        }
    };
    let resources = match &body.resources {
        None | Some(Value::Null) => ResourceKind::ALL.to_vec(),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                v.error("resources", "must name at least one resource");
            }
            let mut chosen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                match resource_named(item) {
                    Some(r) => {
                        chosen.insert(r);
                    }
                    None => v.error(
                        format!("resources[{i}]"),
                        format!("must be one of {}", resource_names()),
                    ),
                }
            }
            // BTreeSet order is ResourceKind's (`ResourceKind::ALL`).
            chosen.into_iter().collect()
        }
        Some(_) => {
            v.error(
                "resources",
                format!("must be an array of {}", resource_names()),
            );
            Vec::new()
        }
    };
    let mode = match &body.mode {
        Value::Null => {
            v.error("mode", "is required");
            None
        }
        other => {
            let mode = other.as_str().and_then(SyncMode::parse);
            if mode.is_none() {
                v.error("mode", "must be incremental or full");
            }
            mode
        }
    };
    v.finish()?;
    Ok(RunSyncPlan {
        connection_id,
        resources,
        mode: mode.ok_or_else(ApiError::internal)?,
    })
}

pub(super) fn not_active(connection: &Connection) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "connection_not_active",
        format!(
            "the connection is {}; it cannot sync until it is active again",
            connection.status.as_str()
        ),
    )
    .with_details(json!({
        "connection_id": connection.connection_id,
        "status": connection.status.as_str(),
    }))
}

/// The connections to sync, and the ones skipped: the one named (404 if it is not the
/// caller's tenant's, 409 if it is not active), else every active one of the tenant.
async fn targets(
    deps: &ApiDeps,
    ctx: &Ctx,
    plan: &RunSyncPlan,
) -> Result<(Vec<Connection>, Vec<SkippedConnection>), ApiError> {
    let named = match &plan.connection_id {
        None => None,
        // An id that cannot be one names no connection: a 404 like an unknown one.
        Some(raw) => {
            Some(ConnectionId::parse(raw.clone()).map_err(|_| ApiError::not_found("connection"))?)
        }
    };
    let targets = sync_targets(
        deps.connections.as_ref(),
        &ctx.principal.tenant,
        named.as_ref(),
    )
    .await
    .map_err(|e| match e {
        TargetError::NotFound => ApiError::not_found("connection"),
        TargetError::NotActive(connection) => not_active(&connection),
        TargetError::Store(e) => ApiError::from(e),
    })?;
    let skipped = targets
        .skipped
        .iter()
        .map(|c| SkippedConnection {
            connection_id: c.connection_id.to_string(),
            reason: "connection_not_active".to_owned(),
            status: c.status.as_str().to_owned(),
        })
        .collect();
    Ok((targets.active, skipped))
}

fn audit_target(plan: &RunSyncPlan, synced: &[Connection]) -> String {
    match (&plan.connection_id, synced) {
        (Some(_), [one]) => format!("connection:{}", one.connection_id),
        (_, []) => "connections:none".to_owned(),
        (_, many) => format!(
            "connections:{}",
            many.iter()
                .map(|c| c.connection_id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// `POST /sync/run` — requires `Idempotency-Key`; answers 202 once every job is queued.
pub async fn run(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::RunSync)?;
        let (body, raw) = request::json_body::<RunSyncBody>(deps, &req, None)?;
        let key = request::idempotency_key(&req)?;
        let plan = validate(&body)?;
        let queue = deps.sync_jobs()?;
        idempotent(deps, &ctx, RUN_SCOPE, &key, &raw, || async {
            let (synced, skipped) = targets(deps, &ctx, &plan).await?;
            let now = deps.now();
            let mut jobs = Vec::new();
            for connection in &synced {
                // A failure part-way leaves earlier connections' jobs queued and gives the
                // key up; a retry queues them again, which is harmless: the worker's lease
                // lets one run per (connection, resource) and the upsert is only-if-newer.
                let queued = request_sync(
                    queue,
                    &ctx.principal.tenant,
                    &connection.connection_id,
                    &plan.resources,
                    plan.mode,
                    RUN_REASON,
                    now,
                )
                .await
                .map_err(|e| ApiError::internal_from("enqueue sync jobs", &e))?;
                jobs.extend(queued.into_iter().map(|job| QueuedSyncJob {
                    connection_id: job.connection_id.to_string(),
                    resource: job.resource,
                    mode: job.mode,
                }));
            }
            tracing::info!(
                connections = synced.len(),
                jobs = jobs.len(),
                skipped = skipped.len(),
                mode = plan.mode.as_str(),
                "sync requested"
            );
            let resources: Vec<&str> = plan.resources.iter().map(|r| r.as_str()).collect();
            audit::record_with(
                deps,
                &ctx,
                "sync.run",
                audit_target(&plan, &synced),
                Some(json!({
                    "mode": plan.mode,
                    "resources": resources,
                    "jobs": jobs.len(),
                    "skipped": skipped,
                })),
            )
            .await?;
            Ok(Reply::accepted(writes::to_json(&RunSyncAnswer {
                jobs,
                skipped,
            })?))
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> RunSyncBody {
        serde_json::from_value(value).expect("the body's shape")
    }

    fn fields(err: ApiError) -> Vec<String> {
        let details = err.details.expect("field details");
        details["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn resources_default_to_all_and_duplicates_collapse() {
        let plan = validate(&body(json!({ "mode": "full" }))).unwrap();
        assert_eq!(plan.resources, ResourceKind::ALL.to_vec());
        assert_eq!(plan.mode, SyncMode::Full);
        let plan = validate(&body(json!({
            "mode": "incremental",
            "resources": ["products", "orders", "products"]
        })))
        .unwrap();
        assert_eq!(
            plan.resources,
            vec![ResourceKind::Orders, ResourceKind::Products]
        );
    }

    #[test]
    fn every_invalid_field_is_named() {
        let err = validate(&body(json!({
            "connection_id": 7,
            "resources": ["orders", "labor_activities", 3],
            "mode": "sometimes"
        })))
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            fields(err),
            vec!["connection_id", "mode", "resources[1]", "resources[2]"]
        );
        let err = validate(&body(json!({ "resources": [] }))).unwrap_err();
        assert_eq!(fields(err), vec!["mode", "resources"]);
        let err = validate(&body(json!({ "mode": "full", "resources": "orders" }))).unwrap_err();
        assert_eq!(fields(err), vec!["resources"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(
            serde_json::from_value::<RunSyncBody>(json!({ "mode": "full", "force": true }))
                .is_err()
        );
    }
}
