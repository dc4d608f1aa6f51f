//! `POST /sync/backfill` (tenant_admin, `Idempotency-Key`): asks Trackstar for an on-demand
//! sync of one resource of one connection over a window, records the job
//! (`sync::backfill`) and answers 202 with it. Trackstar is asked first; the record and the
//! audit entry follow only once it accepted. When the job completes,
//! `connection.sync-job-completed` queues an incremental of the resource, which reads what
//! the backfill re-read (windows run on Trackstar's change clock).
//!
//! An unsupported combination is a 422 that says so and changes nothing: inventory (always
//! a full snapshot at Trackstar), a resource whose on-demand sync Trackstar refuses for the
//! connection (400 "not enabled", 403, 501), an end not after the start, a window reaching
//! into the future.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{Connection, ConnectionId, ConnectionStatus, Timestamp};
use crate::idempotency::{IdempotencyKey, Scope};
use crate::sync::{Backfill, BackfillStatus, BackfillView, ResourceKind};
use crate::trackstar::{OnDemandSyncRequest, TrackstarError};

pub const BACKFILL_SCOPE: Scope = Scope::new("api.sync.backfill");

/// `POST /sync/backfill`: what to re-read from the warehouse system.
// Raw JSON values, checked one by one in `validate`, so every error names its field.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillBody {
    /// The tenant's connection to backfill.
    #[serde(default)]
    #[schema(value_type = crate::domain::ConnectionId, required = true)]
    pub connection_id: Value,
    /// The resource to re-read (`inventory` cannot be: it is always a full snapshot).
    #[serde(default)]
    #[schema(value_type = ResourceKind, required = true)]
    pub resource: Value,
    /// Start of the window, on the warehouse system's clock (`updated_date`).
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    pub start_time: Value,
    /// End of the window: after `start_time`, not in the future.
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    pub end_time: Value,
}

/// A validated `POST /sync/backfill` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillPlan {
    /// The raw id asked for (looked up later: an unknown one is a 404, not a 422).
    pub connection_id: String,
    pub resource: ResourceKind,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
}

/// 422 `backfill_unsupported`, naming the field that makes it so.
fn unsupported(field: &str, message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "backfill_unsupported",
        message.clone(),
    )
    .with_details(json!({ "fields": { field: [message] } }))
}

fn time(v: &mut Validator, field: &str, value: &Value) -> Option<Timestamp> {
    match value {
        Value::Null => {
            v.error(field, "is required");
            None
        }
        Value::String(text) => {
            let parsed = Timestamp::parse(text).ok();
            if parsed.is_none() {
                v.error(field, "must be an RFC 3339 date-time");
            }
            parsed
        }
        _ => {
            v.error(field, "must be an RFC 3339 date-time string");
            None
        }
    }
}

/// Checks every field, naming each failure; then whether Packr can ask Trackstar for it.
/// A valid body: each field checked on its own (every error names its field), then the
/// rules between them ([`rules`]).
pub fn validate(body: &BackfillBody, now: Timestamp) -> Result<BackfillPlan, ApiError> {
    rules(fields(body)?, now)
}

/// Each field of the body on its own.
fn fields(body: &BackfillBody) -> Result<BackfillPlan, ApiError> {
    let mut v = Validator::default();
    let connection_id = match &body.connection_id {
        Value::Null => {
            v.error("connection_id", "is required");
            None
        }
        Value::String(id) if id.trim().is_empty() => {
            v.error("connection_id", "must not be blank");
            None
        }
        Value::String(id) => Some(id.clone()),
        _ => {
            v.error("connection_id", "must be a string");
            None
        }
    };
    let resource = match &body.resource {
        Value::Null => {
            v.error("resource", "is required");
            None
        }
        other => {
            let resource = other.as_str().and_then(ResourceKind::parse);
            if resource.is_none() {
                v.error(
                    "resource",
                    format!("must be one of {}", super::sync::resource_names()),
                );
            }
            resource
        }
    };
    let start = time(&mut v, "start_time", &body.start_time);
    let end = time(&mut v, "end_time", &body.end_time);
    v.finish()?;
    let (Some(connection_id), Some(resource), Some(start_time), Some(end_time)) =
        (connection_id, resource, start, end)
    else {
        return Err(ApiError::internal());
    };
    Ok(BackfillPlan {
        connection_id,
        resource,
        start_time,
        end_time,
    })
}

/// The rules between the fields, checked once the connection is known to be the caller's
/// (an unknown one is a 404 first): a window that ends after it starts and not in the
/// future, a resource Trackstar can backfill.
fn rules(plan: BackfillPlan, now: Timestamp) -> Result<BackfillPlan, ApiError> {
    let mut v = Validator::default();
    let (start, end) = (plan.start_time, plan.end_time);
    if end <= start {
        v.error("end_time", "must be after start_time");
    } else if end > now {
        v.error(
            "end_time",
            "must not be in the future: a backfill re-reads what the warehouse system already has",
        );
    }
    v.finish()?;
    let resource = plan.resource;
    if resource == ResourceKind::Inventory {
        return Err(unsupported(
            "resource",
            "inventory cannot be backfilled: Trackstar always syncs inventory as a full snapshot; queue a full sync (POST /sync/run) instead".to_owned(),
        ));
    }
    Ok(plan)
}

/// The named connection of the caller's tenant: 404 when it is not one (another tenant's
/// included), 409 when it is not active.
async fn connection(deps: &ApiDeps, ctx: &Ctx, raw: &str) -> Result<Connection, ApiError> {
    let id = ConnectionId::parse(raw.to_owned()).map_err(|_| ApiError::not_found("connection"))?;
    let connection = deps
        .connections
        .get_connection(&ctx.principal.tenant, &id)
        .await?
        .filter(|c| c.tenant_id == ctx.principal.tenant)
        .ok_or_else(|| ApiError::not_found("connection"))?;
    if connection.status != ConnectionStatus::Active {
        return Err(super::sync::not_active(&connection));
    }
    Ok(connection)
}

/// Trackstar's refusal of the on-demand sync, for the client: refusals of the combination
/// (400 "not enabled"/"not supported", 403, 501) are a 422 that says so; its own 422 is a
/// 422 naming the fields it names; anything else is mapped as every Trackstar failure is.
fn refused(err: TrackstarError, plan: &BackfillPlan) -> ApiError {
    match err {
        TrackstarError::BadRequest { .. }
        | TrackstarError::Forbidden { .. }
        | TrackstarError::NotImplemented { .. } => {
            tracing::warn!(
                kind = err.kind(),
                upstream_request_id = err.request_id(),
                resource = plan.resource.as_str(),
                "trackstar refused the on-demand sync"
            );
            unsupported(
                "resource",
                format!(
                    "the warehouse system does not offer a backfill of {} on this connection (Trackstar refused the on-demand sync)",
                    plan.resource.as_str()
                ),
            )
        }
        // Its own validation (dates, function), with the fields it names if any.
        TrackstarError::Validation { details, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "upstream_validation_failed",
            "the warehouse system rejected the backfill",
        )
        .with_details(json!({ "fields": details })),
        other => ApiError::from(other),
    }
}

/// Asks Trackstar, records the job; the answer's view.
async fn start(
    deps: &ApiDeps,
    ctx: &Ctx,
    key: &IdempotencyKey,
    plan: &BackfillPlan,
    connection: &Connection,
) -> Result<BackfillView, ApiError> {
    let request = OnDemandSyncRequest::new(
        plan.resource.spec().function,
        plan.start_time,
        plan.end_time,
    );
    let job = deps
        .trackstar()?
        .create_on_demand_sync(&writes::credentials(connection), &request, key)
        .await
        .map_err(|e| refused(e, plan))?;
    let now = deps.now();
    let backfill = Backfill {
        tenant_id: ctx.principal.tenant.clone(),
        connection_id: connection.connection_id.clone(),
        job_id: job.id,
        resource: plan.resource,
        start_time: plan.start_time,
        end_time: plan.end_time,
        status: BackfillStatus::Open,
        requested_at: now,
        updated_at: now,
    };
    // A failure here gives the key up: the retry sends Trackstar the same key.
    deps.backfills.record_backfill(&backfill).await?;
    tracing::info!(
        connection_id = %connection.connection_id,
        resource = plan.resource.as_str(),
        job_id = %backfill.job_id,
        "backfill requested"
    );
    Ok(BackfillView::from(&backfill))
}

/// `POST /sync/backfill` — requires `Idempotency-Key`; answers 202 with the job.
pub async fn backfill(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::RunSync)?;
        let (body, raw) = request::json_body::<BackfillBody>(deps, &req, None)?;
        let key = request::idempotency_key(&req)?;
        let fields = fields(&body)?;
        let connection = connection(deps, &ctx, &fields.connection_id).await?;
        let plan = rules(fields, deps.now())?;
        idempotent(deps, &ctx, BACKFILL_SCOPE, &key, &raw, || async {
            let view = start(deps, &ctx, &key, &plan, &connection).await?;
            audit::record_with(
                deps,
                &ctx,
                "sync.backfill",
                format!("connection:{}", view.connection_id),
                Some(json!({
                    "resource": view.resource,
                    "start_time": view.start_time,
                    "end_time": view.end_time,
                    "job_id": view.job_id,
                })),
            )
            .await?;
            Ok(Reply::accepted(writes::to_json(&view)?))
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-01T12:00:00Z";

    fn check(value: Value) -> Result<BackfillPlan, ApiError> {
        let body: BackfillBody = serde_json::from_value(value).expect("the body's shape");
        validate(&body, Timestamp::parse(NOW).unwrap())
    }

    fn fields(err: &ApiError) -> Vec<String> {
        err.details.as_ref().expect("field details")["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn a_valid_body_names_the_resource_by_name_or_function() {
        for resource in ["orders", "get_orders"] {
            let plan = check(json!({
                "connection_id": "conn_1",
                "resource": resource,
                "start_time": "2026-11-01T00:00:00Z",
                "end_time": "2026-11-02T00:00:00Z"
            }))
            .unwrap();
            assert_eq!(plan.resource, ResourceKind::Orders);
            assert_eq!(plan.connection_id, "conn_1");
        }
    }

    #[test]
    fn every_invalid_field_is_named() {
        let err =
            check(json!({ "connection_id": 7, "resource": "parcels", "start_time": "yesterday" }))
                .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code, "validation_failed");
        assert_eq!(
            fields(&err),
            vec!["connection_id", "end_time", "resource", "start_time"]
        );
        let err = check(json!({})).unwrap_err();
        assert_eq!(
            fields(&err),
            vec!["connection_id", "end_time", "resource", "start_time"]
        );
    }

    #[test]
    fn an_end_before_the_start_or_in_the_future_is_refused_on_end_time() {
        for (start, end) in [
            ("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z"),
            ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            ("2026-11-30T00:00:00Z", "2026-12-01T12:00:01Z"),
        ] {
            let err = check(json!({
                "connection_id": "conn_1",
                "resource": "orders",
                "start_time": start,
                "end_time": end
            }))
            .unwrap_err();
            assert_eq!(
                err.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{start}..{end}"
            );
            assert_eq!(fields(&err), vec!["end_time"], "{start}..{end}");
        }
    }

    #[test]
    fn inventory_is_an_unsupported_combination_that_says_so() {
        let err = check(json!({
            "connection_id": "conn_1",
            "resource": "inventory",
            "start_time": "2026-11-01T00:00:00Z",
            "end_time": "2026-11-02T00:00:00Z"
        }))
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.code, "backfill_unsupported");
        assert!(err.message.contains("full snapshot"), "{}", err.message);
        assert_eq!(fields(&err), vec!["resource"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<BackfillBody>(json!({ "mode": "full" })).is_err());
    }
}
