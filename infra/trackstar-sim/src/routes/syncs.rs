//! `POST /connections/sync` (force sync) and the on-demand sync endpoints, connection-scoped
//! like `/wms/...` (access token, rate limits, faults, `Idempotency-Key`). See
//! [`crate::syncs`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::AppState;
use crate::config::SimConnection;
use crate::error::ApiError;
use crate::validation::parse_object;

pub async fn force_sync(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let obj = parse_object(&body)?;
    let functions = state.force_sync(&connection, &obj)?;
    Ok(Json(json!({
        "id": connection.connection_id,
        "syncing": true,
        "functions_to_sync": functions,
    })))
}

pub async fn create_on_demand_sync(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let obj = parse_object(&body)?;
    let job = state.create_sync_job(&connection, &obj)?;
    if let Some(ms) = state.sync_jobs.options().auto_complete_ms {
        let (state, id) = (Arc::clone(&state), job.id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            // Cancelled or completed meanwhile: nothing to do.
            let _ = state.complete_sync_job(&id);
        });
    }
    Ok(Json(json!({ "data": job, "id": job.id })))
}

pub async fn get_on_demand_sync(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state
        .sync_job(&id, Some(&connection.connection_id))
        .ok_or(ApiError::NotFound {
            what: "Sync job",
            id,
        })?;
    Ok(Json(json!({ "data": job })))
}

pub async fn cancel_on_demand_sync(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.cancel_sync_job(&id, &connection.connection_id)?;
    Ok(Json(json!({ "data": job, "id": job.id })))
}
