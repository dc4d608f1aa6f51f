//! `GET /_local/stack`: the emulator endpoint, resource names and function environments.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::GatewayState;
use crate::stack::LocalStack;

pub(super) fn routes() -> Router<GatewayState> {
    Router::new().route("/_local/stack", get(stack))
}

async fn stack(State(state): State<GatewayState>) -> Json<LocalStack> {
    Json(LocalStack::clone(&state.stack))
}
