//! The control API under `/_sim/` (no auth, loopback only): faults, mutations, the truth,
//! request counts, webhook options, targets and sample events, extra connections, limits.
//!
//! | route | body | does |
//! |---|---|---|
//! | `POST /_sim/faults/{connection_id}` | [`FaultSpec`] | inject faults |
//! | `DELETE /_sim/faults/{connection_id}`, `DELETE /_sim/faults` | | clear them |
//! | `POST /_sim/mutate` | [`MutateRequest`] + optional `action`: `"create"`/`"update"` | change objects, send webhooks |
//! | `POST /_sim/late-record` | `{connection_id, kind, age_hours?}` | insert a record old in the WMS, new to Trackstar; no webhook |
//! | `GET /_sim/trackstar-dates/{connection_id}/{kind}/{id}` | | Trackstar's clock of one object |
//! | `POST /_sim/resource-policy` | `{connection_id, kind, answer}` | lists/gets of a kind: `allowed`, `forbidden` (403), `not_implemented` (501) |
//! | `PUT /_sim/on-demand-syncs/options` | [`SyncJobOptions`] | complete new jobs on their own after a delay |
//! | `POST /_sim/on-demand-syncs/{id}/complete` | | re-read the window, send `connection.sync-job-completed` |
//! | `POST /_sim/on-demand-syncs/{id}/stuck` | | mark stuck, send `connection.sync-job-stuck` |
//! | `GET /_sim/truth/{connection_id}` | | every object of the connection |
//! | `GET /_sim/requests`, `DELETE /_sim/requests` | | request counts / reset |
//! | `GET /_sim/webhooks` | | stats, options, attempts |
//! | `PUT /_sim/webhooks/options` | [`DeliveryOptions`] (partial) | duplicates, reorder, schedule |
//! | `PUT /_sim/webhooks/target` | [`WebhookTarget`] or `null` | where webhooks go |
//! | `POST /_sim/webhooks/emit` | `{connection_id, event_type}` | send a sample event |
//! | `POST /_sim/connections` | [`SimConnection`] | add a connection |
//! | `PUT /_sim/limits` | [`Limits`] | change rate limits |
//!
//! `kind` is a [`ResourceKind`]: `orders`, `inventory`, `products`, `inbound_shipments`,
//! `returns`, `warehouses`, `shipping_methods`, `bills`. A mutation `kind` is a
//! [`crate::MutationKind`]: `order`, `inventory`, `product`, `inbound_shipment`,
//! `inbound_receipt`, `return`, `warehouse`, `shipping_method`, `bill`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{SimConnection, WebhookTarget};
use crate::data::mutate::MutateAction;
use crate::data::{now, ResourceKind};
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::fixtures::sample_event;
use crate::routes::AppState;
use crate::state::{Limits, MutateRequest, ResourcePolicy};
use crate::syncs::SyncJobOptions;
use crate::webhooks::DeliveryOptions;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_sim/faults", delete(clear_all_faults))
        .route(
            "/_sim/faults/{connection_id}",
            post(set_faults).delete(clear_faults),
        )
        .route("/_sim/mutate", post(mutate))
        .route("/_sim/truth/{connection_id}", get(truth))
        .route("/_sim/requests", get(requests).delete(reset_requests))
        .route("/_sim/webhooks", get(webhooks))
        .route("/_sim/webhooks/options", put(webhook_options))
        .route("/_sim/webhooks/target", put(webhook_target))
        .route("/_sim/webhooks/emit", post(emit))
        .route("/_sim/connections", post(add_connection))
        .route("/_sim/limits", put(limits))
        .route("/_sim/late-record", post(late_record))
        .route(
            "/_sim/trackstar-dates/{connection_id}/{kind}/{id}",
            get(trackstar_dates),
        )
        .route("/_sim/resource-policy", post(resource_policy))
        .route("/_sim/on-demand-syncs/options", put(sync_options))
        .route("/_sim/on-demand-syncs/{id}", get(sync_job))
        .route("/_sim/on-demand-syncs/{id}/complete", post(complete_sync))
        .route("/_sim/on-demand-syncs/{id}/stuck", post(stick_sync))
        .layer(from_fn(loopback_only))
}

async fn loopback_only(req: Request, next: Next) -> Response {
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match remote {
        Some(ip) if !ip.is_loopback() => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "The control API is loopback only", "origin": "trackstar"})),
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation("body", "_schema", &e.to_string()))
}

fn ok() -> Json<Value> {
    Json(json!({"ok": true}))
}

async fn set_faults(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let spec: FaultSpec = parse(&body)?;
    if !(0.0..=1.0).contains(&spec.rate) {
        return Err(ApiError::validation(
            "body",
            "rate",
            "Must be between 0 and 1.",
        ));
    }
    if spec.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return Err(ApiError::validation(
            "body",
            "status",
            "Not an HTTP status.",
        ));
    }
    state.set_faults(&connection_id, spec);
    Ok(ok())
}

async fn clear_faults(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
) -> Json<Value> {
    state.clear_faults(&connection_id);
    ok()
}

async fn clear_all_faults(State(state): State<AppState>) -> Json<Value> {
    state.clear_all_faults();
    ok()
}

/// `POST /_sim/mutate`: a [`MutateRequest`] and, optionally, what to do.
#[derive(Debug, Deserialize)]
struct MutateBody {
    #[serde(flatten)]
    request: MutateRequest,
    #[serde(default)]
    action: Option<MutateAction>,
}

async fn mutate(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let MutateBody { request, action } = parse(&body)?;
    let outcome = state.mutate_with(&request, action)?;
    Ok(Json(serde_json::to_value(outcome).unwrap_or(Value::Null)))
}

async fn truth(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let data = state.truth(&connection_id).ok_or(ApiError::NotFound {
        what: "Connection",
        id: connection_id,
    })?;
    Ok(Json(serde_json::to_value(data).unwrap_or(Value::Null)))
}

async fn requests(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(state.requests()).unwrap_or(Value::Null))
}

async fn reset_requests(State(state): State<AppState>) -> Json<Value> {
    state.reset_requests();
    ok()
}

async fn webhooks(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "stats": state.webhook_stats(),
        "options": state.webhook_options(),
        "attempts": state.webhook_records(),
    }))
}

async fn webhook_options(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let options: DeliveryOptions = parse(&body)?;
    state.set_webhook_options(options.clone());
    Ok(Json(serde_json::to_value(options).unwrap_or(Value::Null)))
}

async fn webhook_target(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let target: Option<WebhookTarget> = parse(&body)?;
    state.set_webhook_target(target);
    Ok(ok())
}

#[derive(Debug, Deserialize)]
struct EmitRequest {
    connection_id: String,
    event_type: String,
}

async fn emit(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: EmitRequest = parse(&body)?;
    let record = state
        .connection(&request.connection_id)
        .ok_or_else(|| ApiError::NotFound {
            what: "Connection",
            id: request.connection_id.clone(),
        })?;
    let data = state.truth(&request.connection_id).unwrap_or_default();
    let event =
        sample_event(&data, &record.connection, &request.event_type, now()).ok_or_else(|| {
            ApiError::validation("body", "event_type", "No sample for this event type.")
        })?;
    let body = event.body.clone();
    state.emit(event);
    Ok(Json(body))
}

async fn add_connection(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let connection: SimConnection = parse(&body)?;
    let record = state.add_connection(connection, None);
    Ok(Json(crate::routes::link::connection_json(&record)))
}

async fn limits(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let limits: Limits = parse(&body)?;
    state.set_limits(limits);
    Ok(ok())
}

fn kind_named(kind: &str) -> Result<ResourceKind, ApiError> {
    serde_json::from_value(Value::String(kind.to_owned()))
        .map_err(|_| ApiError::validation("path", "kind", "Unknown resource kind."))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LateRecordRequest {
    connection_id: String,
    kind: ResourceKind,
    /// How long ago the WMS last changed the record (default 48 h).
    #[serde(default = "two_days")]
    age_hours: u32,
}

fn two_days() -> u32 {
    48
}

async fn late_record(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: LateRecordRequest = parse(&body)?;
    if request.age_hours == 0 || request.age_hours > 24 * 3650 {
        return Err(ApiError::validation(
            "body",
            "age_hours",
            "Must be between 1 and 87600.",
        ));
    }
    let record = state.late_record(
        &request.connection_id,
        request.kind,
        chrono::Duration::hours(i64::from(request.age_hours)),
    )?;
    Ok(Json(serde_json::to_value(record).unwrap_or(Value::Null)))
}

async fn trackstar_dates(
    State(state): State<AppState>,
    Path((connection_id, kind, id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let kind = kind_named(&kind)?;
    let dates = state
        .trackstar_dates(&connection_id, kind, &id)
        .ok_or(ApiError::NotFound { what: "Object", id })?;
    Ok(Json(serde_json::to_value(dates).unwrap_or(Value::Null)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyRequest {
    connection_id: String,
    kind: ResourceKind,
    answer: ResourcePolicy,
}

async fn resource_policy(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: PolicyRequest = parse(&body)?;
    state.set_resource_policy(&request.connection_id, request.kind, request.answer);
    Ok(ok())
}

async fn sync_options(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let options: SyncJobOptions = parse(&body)?;
    state.sync_jobs.set_options(options);
    Ok(Json(serde_json::to_value(options).unwrap_or(Value::Null)))
}

async fn sync_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.sync_job(&id, None).ok_or(ApiError::NotFound {
        what: "Sync job",
        id,
    })?;
    Ok(Json(json!({ "data": job })))
}

async fn complete_sync(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (job, ids) = state.complete_sync_job(&id)?;
    Ok(Json(json!({ "data": job, "object_ids": ids })))
}

async fn stick_sync(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.stick_sync_job(&id)?;
    Ok(Json(json!({ "data": job })))
}
