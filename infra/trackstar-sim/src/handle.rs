//! Starting and stopping a simulator, and the handle tests drive it with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{SimConfig, SimConnection, WebhookTarget};
use crate::data::clock::LateRecord;
use crate::data::mutate::MutateAction;
use crate::data::ResourceKind;
use crate::data::{now, ConnectionData};
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::fixtures::sample_event;
use crate::requests::RequestsSnapshot;
use crate::state::{
    ConnectionRecord, Limits, MutateOutcome, MutateRequest, ResourcePolicy, SimState,
};
use crate::webhooks::{DeliveryOptions, WebhookDispatcher, WebhookStats};

/// A running simulator. Drop it or call [`SimHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    webhook_task: JoinHandle<()>,
}

/// Starts a simulator on `127.0.0.1:0`.
pub async fn spawn(config: SimConfig) -> anyhow::Result<SimHandle> {
    spawn_on(config, 0).await
}

/// Starts a simulator on `127.0.0.1:<port>` (0 picks a free port).
pub async fn spawn_on(config: SimConfig, port: u16) -> anyhow::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (webhooks, webhook_task) = WebhookDispatcher::start(config.webhook.clone(), config.seed);
    let state = Arc::new(SimState::new(&config, webhooks, shutdown_rx.clone()));
    let app = crate::server::router(Arc::clone(&state));
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "simulator server stopped with an error");
        }
    });
    Ok(SimHandle {
        base_url: format!("http://{addr}"),
        addr,
        state,
        shutdown,
        server,
        webhook_task,
    })
}

impl SimHandle {
    /// Direct access to the truth and every control operation.
    pub fn state(&self) -> &Arc<SimState> {
        &self.state
    }

    /// Stops serving (hung requests are released) and stops webhook delivery.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut { self.server }).await;
        self.webhook_task.abort();
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn truth(&self, connection_id: &str) -> Option<ConnectionData> {
        self.state.truth(connection_id)
    }

    pub fn add_connection(&self, connection: SimConnection) -> ConnectionRecord {
        self.state.add_connection(connection, None)
    }

    pub fn set_faults(&self, connection_id: &str, spec: FaultSpec) {
        self.state.set_faults(connection_id, spec);
    }

    pub fn clear_faults(&self, connection_id: &str) {
        self.state.clear_faults(connection_id);
    }

    pub fn clear_all_faults(&self) {
        self.state.clear_all_faults();
    }

    pub fn mutate(&self, request: &MutateRequest) -> Result<MutateOutcome, ApiError> {
        self.state.mutate(request)
    }

    /// [`SimHandle::mutate`], creating or updating objects as `action` says.
    pub fn mutate_with(
        &self,
        request: &MutateRequest,
        action: MutateAction,
    ) -> Result<MutateOutcome, ApiError> {
        self.state.mutate_with(request, Some(action))
    }

    /// A record old in the WMS (`updated_date` `age` ago) that Trackstar reads only now; no
    /// webhook is sent.
    pub fn late_record(
        &self,
        connection_id: &str,
        kind: ResourceKind,
        age: chrono::Duration,
    ) -> Result<LateRecord, ApiError> {
        self.state.late_record(connection_id, kind, age)
    }

    /// How lists and gets of `kind` are answered for a connection.
    pub fn set_resource_policy(
        &self,
        connection_id: &str,
        kind: ResourceKind,
        policy: ResourcePolicy,
    ) {
        self.state.set_resource_policy(connection_id, kind, policy);
    }

    pub fn requests(&self) -> RequestsSnapshot {
        self.state.requests()
    }

    pub fn reset_requests(&self) {
        self.state.reset_requests();
    }

    pub fn set_limits(&self, limits: Limits) {
        self.state.set_limits(limits);
    }

    pub fn set_webhook_target(&self, target: Option<WebhookTarget>) {
        self.state.set_webhook_target(target);
    }

    pub fn set_webhook_options(&self, options: DeliveryOptions) {
        self.state.set_webhook_options(options);
    }

    pub fn webhook_stats(&self) -> WebhookStats {
        self.state.webhook_stats()
    }

    /// Waits until every webhook is delivered, given up or dropped; false on timeout.
    pub async fn wait_webhooks_idle(&self, timeout: Duration) -> bool {
        self.state.wait_webhooks_idle(timeout).await
    }

    /// Sends a sample event of any fixture type for a connection (e.g.
    /// `connection.historical-sync-completed`); `None` for an unknown connection or type.
    pub fn emit_sample(&self, connection_id: &str, event_type: &str) -> Option<serde_json::Value> {
        let record = self.state.connection(connection_id)?;
        let data = self.state.truth(connection_id)?;
        let event = sample_event(&data, &record.connection, event_type, now())?;
        let body = event.body.clone();
        self.state.emit(event);
        Some(body)
    }
}
