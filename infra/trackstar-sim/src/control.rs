//! The control API under `/_sim/` (no auth, loopback only): faults, mutations, the truth,
//! request counts, webhook options, targets and sample events, extra connections, limits.
//!
//! | route | body | does |
//! |---|---|---|
//! | `POST /_sim/faults/{connection_id}` | [`FaultSpec`] | inject faults |
//! | `DELETE /_sim/faults/{connection_id}`, `DELETE /_sim/faults` | | clear them |
//! | `POST /_sim/mutate` | [`MutateRequest`] | change objects, send webhooks |
//! | `GET /_sim/truth/{connection_id}` | | every object of the connection |
//! | `GET /_sim/requests`, `DELETE /_sim/requests` | | request counts / reset |
//! | `GET /_sim/webhooks` | | stats, options, attempts |
//! | `PUT /_sim/webhooks/options` | [`DeliveryOptions`] (partial) | duplicates, reorder, schedule |
//! | `PUT /_sim/webhooks/target` | [`WebhookTarget`] or `null` | where webhooks go |
//! | `POST /_sim/webhooks/emit` | `{connection_id, event_type}` | send a sample event |
//! | `POST /_sim/connections` | [`SimConnection`] | add a connection |
//! | `PUT /_sim/limits` | [`Limits`] | change rate limits |

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
use crate::data::now;
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::fixtures::sample_event;
use crate::routes::AppState;
use crate::state::{Limits, MutateRequest};
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

async fn mutate(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: MutateRequest = parse(&body)?;
    let outcome = state.mutate(&request)?;
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
