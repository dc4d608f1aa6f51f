//! `POST /link/token`, `POST /link/exchange`, `GET /connections[/{id}]`, `DELETE /connections`.
//!
//! Exchange: an `auth_code` of the form `auth_<connection_id>` names the connection; a known
//! one is returned as is (a reinstall), an unknown one is created with that id, seeded data,
//! a new access token `tok_<random>` and a `connection.created` webhook. Any other
//! non-empty code creates a connection with a generated id `conn_<random>`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::config::SimConnection;
use crate::data::{now, ResourceKind};
use crate::error::ApiError;
use crate::events::event;
use crate::state::ConnectionRecord;
use crate::validation::{parse_object, Fields};

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

pub async fn link_token(body: Bytes) -> Result<Json<Value>, ApiError> {
    let obj = parse_object(&body)?;
    let mut fields = Fields::new(&obj);
    let _ = fields.string("connection_id");
    fields.finish()?;
    Ok(Json(
        json!({ "link_token": format!("lt_{}", random_suffix()) }),
    ))
}

pub async fn exchange(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let obj = parse_object(&body)?;
    let mut fields = Fields::new(&obj);
    fields.require(&["auth_code"]);
    let auth_code = fields.string("auth_code");
    let customer_id = fields.string("customer_id");
    fields.finish()?;
    let auth_code = auth_code.unwrap_or_default();
    let connection_id = match auth_code.strip_prefix("auth_") {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("conn_{}", random_suffix()),
    };
    let record = match state.connection(&connection_id) {
        Some(existing) => existing,
        None => {
            let connection = SimConnection::new(
                &connection_id,
                &format!("tok_{}", uuid::Uuid::new_v4().simple()),
            );
            let record = state.add_connection(connection, customer_id);
            state.emit(event(
                &record.connection.connection_id,
                &record.connection.integration_name,
                "connection.created",
                &json!({ "created_date": record.created_at, "access_token": record.connection.access_token }),
                None,
            ));
            record
        }
    };
    Ok(Json(json!({
        "access_token": record.connection.access_token,
        "connection_id": record.connection.connection_id,
        "integration_name": record.connection.integration_name,
        "customer_id": record.customer_id,
        "available_actions": record.connection.available_actions(),
        "available_endpoints": available_endpoints(),
    })))
}

/// Every resource the simulator serves, by Trackstar function name.
fn available_endpoints() -> Vec<&'static str> {
    ResourceKind::ALL
        .iter()
        .map(|k| k.function_name())
        .collect()
}

/// A connection in the shape of the spec's `Connection` schema.
pub fn connection_json(record: &ConnectionRecord) -> Value {
    let sync = |kind: ResourceKind| {
        // Trackstar's defaults: hourly, warehouses and shipping methods every 12 h.
        let hours = match kind {
            ResourceKind::Warehouses | ResourceKind::ShippingMethods => 12,
            _ => 1,
        };
        json!({
            "function_name": kind.function_name(),
            "latest_sync": now(),
            "last_crawl_start": now(),
            "last_crawl_end": now(),
            "sync_frequency": hours * 3600,
            "in_progress": false,
            "sync_status": "enabled",
        })
    };
    json!({
        "connection_id": record.connection.connection_id,
        "integration_name": record.connection.integration_name,
        "integration_type": "wms",
        "customer_id": record.customer_id,
        "created_at": record.created_at,
        "last_used": record.last_used,
        "times_used": record.times_used,
        "latest_sync": now(),
        "sync_schedules": ResourceKind::ALL.map(sync),
        "errors": [],
        "available_actions": record.connection.available_actions(),
        "available_endpoints": available_endpoints(),
        "webhooks_disabled": false,
    })
}

pub async fn list_connections(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state.connections().iter().map(connection_json).collect();
    Json(json!({ "total_count": data.len(), "data": data, "next_token": null }))
}

/// The spec gives this endpoint the list envelope (`GetConnectionsResponse`) too.
pub async fn get_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.connection(&id).ok_or(ApiError::NotFound {
        what: "Connection",
        id,
    })?;
    Ok(Json(
        json!({ "data": [connection_json(&record)], "next_token": null, "total_count": 1 }),
    ))
}

/// `DELETE /connections`: deletes the connection of the access token
/// (`DeleteConnectionResponse`); its token is refused from then on (401), as Trackstar
/// refuses a deleted connection's. The connection's injected errors apply (the deletion
/// then does not happen).
pub async fn delete_connection(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let token = headers
        .get(crate::server::ACCESS_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::Unauthorized(
            "Missing x-trackstar-access-token header".into(),
        ));
    }
    let Some(known) = state
        .connections()
        .into_iter()
        .find(|c| c.connection.access_token == token)
    else {
        return Err(ApiError::Unauthorized("Invalid access token".into()));
    };
    let fault = state.faults.next(&known.connection.connection_id, "DELETE");
    if let Some((status, _)) = fault.error {
        let status = axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        return Ok((
            status,
            Json(json!({"error": format!("Injected fault: {status}"), "origin": "trackstar"})),
        )
            .into_response());
    }
    let record = state
        .delete_by_token(token)
        .ok_or_else(|| ApiError::Unauthorized("Invalid access token".into()))?;
    Ok(Json(json!({
        "id": record.connection.connection_id,
        "object": "connection",
        "deleted": true,
    }))
    .into_response())
}
