//! The local gateway: one axum server standing in for API Gateway, the function URL and the
//! other AWS front doors. Each concern is a module with a `routes()` merged in [`router`];
//! later ones (API routes, …) are added the same way.

pub mod api;
mod debug;
pub mod function_url;
mod health;
pub mod scopes;
mod stack_info;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::webhook::ingest::IngestDeps;
use tokio::net::TcpListener;

pub use function_url::WEBHOOK_PATH;

use crate::stack::LocalStack;
use crate::stats::{IdLog, InvocationLog, LatencyLog};

/// Shared state of every route. Hosted functions are optional: a gateway without them
/// answers 503 on their routes.
#[derive(Clone)]
pub struct GatewayState {
    pub stack: Arc<LocalStack>,
    /// webhook-ingest, behind [`WEBHOOK_PATH`].
    pub webhook_ingest: Option<Arc<IngestDeps>>,
    /// The table, for the `/_local/…` debugging routes.
    pub store: Option<DynamoStore>,
    pub sqs: Option<aws_sdk_sqs::Client>,
    /// Time from request to answer of every webhook delivery.
    pub ack_latency: LatencyLog,
    /// Receipt at ingest → the processor's batch done, per successfully processed message.
    pub done_lag: LatencyLog,
    /// CPU time (ms, summed over the threads that polled it) of webhook-ingest's handler,
    /// per delivery.
    pub ingest_cpu: LatencyLog,
    /// Event ids webhook-ingest answered 2xx for, in answer order.
    pub acked: IdLog,
    /// Wall time of each webhook-processor invocation (one SQS batch), and its size.
    pub processor_invocations: InvocationLog,
    pub ingest_metrics: Option<RecordingSink>,
    pub processor_metrics: Option<RecordingSink>,
    /// The API functions and the JWT authorizer, behind the routes of `ROUTES`.
    pub api: Option<Arc<api::ApiHost>>,
}

impl GatewayState {
    /// A gateway hosting no function yet.
    pub fn new(stack: Arc<LocalStack>) -> Self {
        Self {
            stack,
            webhook_ingest: None,
            store: None,
            sqs: None,
            ack_latency: LatencyLog::default(),
            done_lag: LatencyLog::default(),
            ingest_cpu: LatencyLog::default(),
            acked: IdLog::default(),
            processor_invocations: InvocationLog::default(),
            ingest_metrics: None,
            processor_metrics: None,
            api: None,
        }
    }
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayState")
            .field("stack", &self.stack)
            .field("webhook_ingest", &self.webhook_ingest.is_some())
            .field("store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

pub fn router(state: GatewayState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(stack_info::routes())
        .merge(function_url::routes())
        .merge(debug::routes())
        .merge(api::routes())
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes. Handlers see the peer address
/// (`ConnectInfo<SocketAddr>`), which the function URL reports as `sourceIp`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
