//! `GET /_local/health`: the gateway is up.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::GatewayState;

pub(super) fn routes() -> Router<GatewayState> {
    Router::new().route("/_local/health", get(health))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
