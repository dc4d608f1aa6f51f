//! The webhook pipeline, end to end on one machine: the Trackstar simulator posts signed
//! webhooks to the gateway's function URL (webhook-ingest), which queues them on the
//! emulator's SQS; the event source mapping feeds them to webhook-processor, which reads
//! the simulator when it must and writes DynamoDB. The sync engine ([`crate::sync`]) runs
//! beside it: sync-worker behind the sync-jobs queue, sync-scheduler behind the schedules.
//! `packr-dev`, the end-to-end tests and the benches all start it through [`start`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::store::CursorCodec;
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::wiring::{ingest_from_env, processor_from_env};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trackstar_sim::{SimConfig, SimConnection, SimHandle, WebhookTarget};

use crate::bench::calls::{timed_config, CallLog};
use crate::dev_jwt::DevJwt;
use crate::emulator::{function_config, with_endpoint};
use crate::esm::{self, EsmConfig, Poller};
use crate::gateway::api::{logical_id, ApiHost, DOCS_FUNCTION};
use crate::gateway::scopes::RouteScopes;
use crate::gateway::{self, GatewayState, WEBHOOK_PATH};
use crate::provision::DEV_TRACKSTAR_API_KEY;
use crate::seed::{self, Demo, DEMO_ACCESS_TOKEN, DEMO_CONNECTION, DEMO_INTEGRATION};
use crate::stack::LocalStack;
use crate::stats::{BatchLog, BatchTime, CpuTimed, LatencyLog};
use crate::sync::{SyncOptions, SyncStack};

const INGEST_FUNCTION: &str = "WebhookIngestFunction";
const PROCESSOR_FUNCTION: &str = "WebhookProcessorFunction";

#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Gateway port on 127.0.0.1 (0 picks a free one).
    pub gateway_port: u16,
    /// Simulator port on 127.0.0.1 (0 picks a free one).
    pub sim_port: u16,
    pub sim_seed: u64,
    pub orders_per_connection: usize,
    pub inventory_per_connection: usize,
    pub products_per_connection: usize,
    /// `None`: the simulator's few (a tenth of the orders, 1 to 10).
    pub inbound_shipments_per_connection: Option<usize>,
    /// `None`: the simulator's few (a tenth of the orders, 1 to 10).
    pub returns_per_connection: Option<usize>,
    pub esm: EsmConfig,
    /// Concurrent pollers of the webhook queue (Lambda runs several per mapping).
    pub pollers: usize,
    /// The API's JWT authorizer key (a fresh random one when `None`).
    pub jwt: Option<DevJwt>,
    /// The sync engine: sync-jobs pollers and schedules.
    pub sync: SyncOptions,
    /// The AWS endpoint of webhook-processor's clients and of its mapping's pollers
    /// (which act with its role); `None`: the emulator's. The chaos run gives it a fault
    /// proxy's ([`crate::faultproxy`]): endpoint configuration, as on AWS.
    pub processor_aws_endpoint: Option<String>,
    /// Times every AWS call of webhook-ingest (`ingest`), webhook-processor (`processor`),
    /// its mapping's pollers (`poller`) and the stack's own queue checks (`harness`).
    pub calls: Option<CallLog>,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            gateway_port: 0,
            sim_port: 0,
            sim_seed: 42,
            orders_per_connection: 50,
            inventory_per_connection: 20,
            products_per_connection: 20,
            inbound_shipments_per_connection: None,
            returns_per_connection: None,
            esm: EsmConfig::default(),
            pollers: 2,
            jwt: None,
            sync: SyncOptions::default(),
            processor_aws_endpoint: None,
            calls: None,
        }
    }
}

/// The running pipeline. [`WebhookStack::shutdown`] stops what [`start`] started.
pub struct WebhookStack {
    /// The stack as the hosted functions see it: `TRACKSTAR_BASE_URL` is the simulator's.
    pub stack: Arc<LocalStack>,
    /// `http://127.0.0.1:<port>`
    pub gateway_url: String,
    /// The gateway's function URL of webhook-ingest.
    pub webhook_url: String,
    pub sim: SimHandle,
    pub demo: Demo,
    pub gateway: GatewayState,
    /// The webhook queue the pollers consume.
    pub queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
    /// sync-worker behind the sync-jobs queue, sync-scheduler behind the schedules.
    pub sync: SyncStack,
    /// The processor's batches: start, end, CPU, and how long each message was queued.
    pub batches: BatchLog,
    /// The AWS calls timed, when [`WebhookOptions::calls`] asked for it.
    pub calls: Option<CallLog>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    pollers: Vec<Poller>,
    /// Starts one more poller of the webhook queue (to replace a killed one).
    spawn_poller: Box<dyn Fn() -> Poller + Send + Sync>,
}

impl std::fmt::Debug for WebhookStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookStack")
            .field("gateway_url", &self.gateway_url)
            .field("sim", &self.sim.base_url)
            .finish_non_exhaustive()
    }
}

/// Seeds the demo tenant, starts the gateway (function URL), the simulator (webhooks to
/// the function URL, signed with the provisioned `WebhookSigningSecret`) and the pollers
/// feeding webhook-processor (whose `TRACKSTAR_BASE_URL` is the simulator).
pub async fn start(
    sdk: &SdkConfig,
    stack: Arc<LocalStack>,
    options: WebhookOptions,
) -> anyhow::Result<WebhookStack> {
    let demo = seed::seed_demo(sdk, &stack)
        .await
        .context("seeding the demo tenant")?;
    let signing_secret = current_signing_secret(sdk, &stack).await?;

    let listener = TcpListener::bind(("127.0.0.1", options.gateway_port))
        .await
        .with_context(|| format!("binding the gateway to 127.0.0.1:{}", options.gateway_port))?;
    let gateway_url = format!("http://{}", listener.local_addr()?);
    let webhook_url = format!("{gateway_url}{WEBHOOK_PATH}");

    let mut sim_connection =
        SimConnection::new(DEMO_CONNECTION, DEMO_ACCESS_TOKEN).with_integration(DEMO_INTEGRATION);
    sim_connection.warehouse_customer_ids = demo.warehouse_customer_ids();
    let sim = trackstar_sim::spawn_on(
        SimConfig {
            seed: options.sim_seed,
            orders_per_connection: options.orders_per_connection,
            inventory_per_connection: options.inventory_per_connection,
            products_per_connection: options.products_per_connection,
            inbound_shipments_per_connection: options.inbound_shipments_per_connection,
            returns_per_connection: options.returns_per_connection,
            connections: vec![sim_connection],
            api_key: DEV_TRACKSTAR_API_KEY.to_owned(),
            webhook: Some(WebhookTarget {
                url: webhook_url.clone(),
                secret: signing_secret,
            }),
            ..SimConfig::default()
        },
        options.sim_port,
    )
    .await
    .context("starting the Trackstar simulator")?;
    let stack = Arc::new(with_trackstar_base_url(&stack, &sim.base_url));

    let ingest_metrics = RecordingSink::new();
    let processor_metrics = RecordingSink::new();
    let timed = |config: SdkConfig, role: &'static str| match &options.calls {
        Some(log) => timed_config(&config, role, log),
        None => config,
    };
    // Each function acts with its own credentials (its role on AWS).
    let mut ingest = ingest_from_env(
        &timed(function_config(sdk, "webhook-ingest"), "ingest"),
        &function_env(&stack, INGEST_FUNCTION)?,
        "webhook-ingest",
    )
    .context("configuring webhook-ingest")?;
    ingest.metrics = Arc::new(ingest_metrics.clone());
    let processor_env = function_env(&stack, PROCESSOR_FUNCTION)?;
    let processor_sdk = match &options.processor_aws_endpoint {
        Some(endpoint) => with_endpoint(&function_config(sdk, "webhook-processor"), endpoint),
        None => function_config(sdk, "webhook-processor"),
    };
    let poller_sdk = timed(processor_sdk.clone(), "poller");
    let processor_sdk = timed(processor_sdk, "processor");
    let mut processor = processor_from_env(&processor_sdk, &processor_env, "webhook-processor")
        .await
        .context("configuring webhook-processor")?;
    processor.metrics = Arc::new(processor_metrics.clone());
    let processor = Arc::new(processor);

    let api = api_host(
        sdk,
        &stack,
        options.jwt.clone().unwrap_or_else(DevJwt::generate),
    )
    .await?;

    let sqs = aws_sdk_sqs::Client::new(&timed(sdk.clone(), "harness"));
    let gateway = GatewayState {
        webhook_ingest: Some(Arc::new(ingest)),
        store: Some(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            stack.resources.table_name.clone(),
            CursorCodec::new(rand::random::<[u8; 32]>().to_vec()),
        )),
        sqs: Some(sqs.clone()),
        ack_latency: LatencyLog::default(),
        ingest_metrics: Some(ingest_metrics),
        processor_metrics: Some(processor_metrics),
        api: Some(Arc::new(api)),
        ..GatewayState::new(Arc::clone(&stack))
    };

    let (shutdown, stop) = watch::channel(false);
    let mut stop_server = stop.clone();
    let server = tokio::spawn(gateway::serve(
        listener,
        gateway::router(gateway.clone()),
        async move {
            let _ = stop_server.wait_for(|stopped| *stopped).await;
        },
    ));

    let queue_url = stack
        .resources
        .queue_url("WebhookQueue")
        .context("WebhookQueue was not provisioned")?
        .to_owned();
    let queue_arn = stack
        .resources
        .queue_arns
        .get("WebhookQueue")
        .context("WebhookQueue has no ARN")?
        .clone();
    // Lambda's event source mapping polls with the function's execution role.
    let batches = BatchLog::default();
    let handler = {
        let done_lag = gateway.done_lag.clone();
        let invocations = gateway.processor_invocations.clone();
        let batches = batches.clone();
        Arc::new(move |event: SqsEvent| {
            let processor = Arc::clone(&processor);
            let done_lag = done_lag.clone();
            let invocations = invocations.clone();
            let batches = batches.clone();
            async move {
                let received = received_at(&event);
                let queued = queued_for(&event);
                let records = event.records.len();
                let started = std::time::Instant::now();
                let (response, cpu_ms) =
                    CpuTimed::new(packr::webhook::processor::handle_batch(&processor, event)).await;
                invocations.record(started.elapsed().as_secs_f64() * 1000.0, records);
                batches.record(BatchTime {
                    started,
                    ended: std::time::Instant::now(),
                    cpu_ms,
                    records: queued,
                });
                record_done_lag(&done_lag, &received, &response);
                response
            }
        })
    };
    let spawn_poller: Box<dyn Fn() -> Poller + Send + Sync> = {
        let sqs = aws_sdk_sqs::Client::new(&poller_sdk);
        let queue_url = queue_url.clone();
        let esm = options.esm.clone();
        let stop = stop.clone();
        Box::new(move || {
            let handler = Arc::clone(&handler);
            esm::spawn_tracked_poller(
                sqs.clone(),
                queue_url.clone(),
                queue_arn.clone(),
                esm.clone(),
                move |event| handler(event),
                stop.clone(),
            )
        })
    };
    let pollers = (0..options.pollers).map(|_| spawn_poller()).collect();
    let sync = crate::sync::start(sdk, &stack, options.sync.clone(), stop)
        .await
        .context("starting the sync engine (sync-worker pollers, schedules)")?;

    Ok(WebhookStack {
        stack,
        gateway_url,
        webhook_url,
        sim,
        demo,
        gateway,
        queue_url,
        sqs,
        sync,
        batches,
        calls: options.calls.clone(),
        shutdown,
        server,
        pollers,
        spawn_poller,
    })
}

impl WebhookStack {
    /// Metrics webhook-ingest emitted.
    pub fn ingest_metrics(&self) -> RecordingSink {
        self.gateway.ingest_metrics.clone().unwrap_or_default()
    }

    /// Metrics webhook-processor emitted.
    pub fn processor_metrics(&self) -> RecordingSink {
        self.gateway.processor_metrics.clone().unwrap_or_default()
    }

    /// Waits until the simulator has no webhook pending and the queue is empty (nothing
    /// visible, nothing in flight); false on timeout.
    pub async fn wait_settled(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        if !self.sim.wait_webhooks_idle(timeout).await {
            return false;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        esm::wait_drained(&self.sqs, &self.queue_url, left).await
    }

    /// Kills a poller of the webhook queue while it holds a batch, as when a Lambda
    /// instance dies mid-batch, and starts another in its place (as Lambda would). Waits
    /// up to `timeout` for a poller to hold messages; returns how many the killed one held
    /// (they come back after their visibility timeout), `None` if none held any in time.
    pub async fn kill_poller_mid_batch(&mut self, timeout: Duration) -> Option<usize> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(i) = self.pollers.iter().position(|p| p.in_hand() > 0) {
                let poller = &self.pollers[i];
                let held = poller.in_hand();
                poller.kill();
                self.pollers[i] = (self.spawn_poller)();
                return Some(held);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops the pollers (after their batch in hand), the schedules, the gateway and the
    /// simulator.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for poller in self.pollers {
            let _ = poller.task.await;
        }
        self.sync.join().await;
        match tokio::time::timeout(Duration::from_secs(5), self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => eprintln!("packr-local: the gateway stopped with {error}"),
            Ok(Err(error)) => eprintln!("packr-local: the gateway task failed: {error}"),
            Err(_) => eprintln!("packr-local: the gateway did not stop within 5 s"),
        }
        self.sim.shutdown().await;
    }
}

/// `(message id, received_at in unix ms)` of every record whose body is a queued event.
fn received_at(event: &SqsEvent) -> Vec<(String, i64)> {
    event
        .records
        .iter()
        .filter_map(|record| {
            let body = record.body.as_deref()?;
            let queued: QueuedEvent = serde_json::from_str(body).ok()?;
            Some((record.message_id.clone()?, queued.received_at.unix_millis()))
        })
        .collect()
}

/// `(event id, ms since ingest received it)` of every record whose body is a queued event:
/// queued (ingest's receipt, just before its `SendMessage`) → handed to the processor.
fn queued_for(event: &SqsEvent) -> Vec<(String, f64)> {
    let now = chrono::Utc::now().timestamp_millis();
    event
        .records
        .iter()
        .filter_map(|record| {
            let queued: QueuedEvent = serde_json::from_str(record.body.as_deref()?).ok()?;
            let since = now - queued.received_at.unix_millis();
            Some((queued.event_id.to_string(), since.max(0) as f64))
        })
        .collect()
}

/// Receipt (ingest's clock) → batch done, for the records the processor did not fail.
fn record_done_lag(log: &LatencyLog, received: &[(String, i64)], response: &SqsBatchResponse) {
    let now = chrono::Utc::now().timestamp_millis();
    for (id, received_at) in received {
        let failed = response
            .batch_item_failures
            .iter()
            .any(|f| &f.item_identifier == id);
        if !failed {
            log.record((now - received_at).max(0) as f64);
        }
    }
}

/// Every API function's dependencies, from its environment in the template (as its
/// binary builds them at cold start), and the authorizer's key.
async fn api_host(sdk: &SdkConfig, stack: &LocalStack, jwt: DevJwt) -> anyhow::Result<ApiHost> {
    let mut functions = std::collections::HashMap::new();
    for route in packr::api::router::ROUTES {
        if functions.contains_key(route.function) || route.function == DOCS_FUNCTION {
            continue;
        }
        let env = function_env(stack, &logical_id(route.function))?;
        let deps = packr::api::wiring::from_env(&function_config(sdk, route.function), &env)
            .await
            .with_context(|| format!("configuring {}", route.function))?;
        functions.insert(route.function, deps);
    }
    let template = crate::template::Template::repo_default().context("reading template.yaml")?;
    let scopes = RouteScopes::from_template(&template).context("reading the routes' scopes")?;
    Ok(ApiHost {
        functions,
        jwt,
        scopes,
    })
}

/// `stack` with every function's `TRACKSTAR_BASE_URL` pointing at the simulator.
fn with_trackstar_base_url(stack: &LocalStack, base_url: &str) -> LocalStack {
    let mut stack = stack.clone();
    for variables in stack.function_environment.values_mut() {
        if let Some(value) = variables.get_mut("TRACKSTAR_BASE_URL") {
            base_url.clone_into(value);
        }
    }
    stack
}

fn function_env(stack: &LocalStack, function: &str) -> anyhow::Result<BTreeMap<String, String>> {
    stack
        .function_environment
        .get(function)
        .cloned()
        .with_context(|| format!("template.yaml has no {function}"))
}

/// The `current` key of the provisioned `WebhookSigningSecret` (`{"current", "previous"}`).
pub async fn current_signing_secret(sdk: &SdkConfig, stack: &LocalStack) -> anyhow::Result<String> {
    let arn = stack
        .resources
        .secret_arn("WebhookSigningSecret")
        .context("WebhookSigningSecret was not provisioned")?;
    let value = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .context("reading WebhookSigningSecret")?;
    let text = value
        .secret_string()
        .context("WebhookSigningSecret has no string value")?;
    let parsed: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| anyhow::anyhow!("WebhookSigningSecret is not JSON"))?;
    parsed
        .get("current")
        .and_then(|v| v.as_str())
        .filter(|v| v.starts_with("whsec_"))
        .map(str::to_owned)
        .context("WebhookSigningSecret has no `current` whsec_ key")
}
