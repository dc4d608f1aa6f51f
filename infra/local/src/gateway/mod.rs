//! The local gateway: one axum server standing in for API Gateway, the function URL and the
//! other AWS front doors. Each concern is a module with a `routes()` merged in [`router`];
//! later ones (API routes, webhook function URL, …) are added the same way.

mod health;
mod stack_info;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::stack::LocalStack;

/// Shared state of every route.
#[derive(Debug, Clone)]
pub struct GatewayState {
    pub stack: Arc<LocalStack>,
}

pub fn router(state: GatewayState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(stack_info::routes())
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
