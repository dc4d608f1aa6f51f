//! The run: provisions a fresh copy of the template's resources on the emulator, seeds the
//! demo tenant, starts the Trackstar simulator (its webhooks go to a collector, from which
//! webhook-ingest's events are built), then cold-starts the hello-world floor and every
//! function of `template.yaml`, `runs` times each, interleaved (floor, then each function),
//! each fed a first and a warm event that must succeed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use aws_config::SdkConfig;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, Version};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

use crate::events::{self, EventFiles};
use crate::sandbox::{cold_start, ColdStart, Function};
use packr_local::emulator::{function_access_key, LOCAL_ACCOUNT_ID};
use packr_local::provision::DEV_TRACKSTAR_API_KEY;
use packr_local::seed::{DEMO_ACCESS_TOKEN, DEMO_CONNECTION, DEMO_INTEGRATION, DEMO_TENANT};
use packr_local::stack::LocalStack;
use packr_local::template::{FunctionSpec, Template};

/// The floor's name in the report and its binary.
pub const FLOOR: &str = "hello-world";
pub const FLOOR_BINARY: &str = "coldstart-hello";

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the release binaries are (`$BENCH_RELEASE_DIR`).
    pub release_dir: PathBuf,
    /// The repository (template.yaml, events/).
    pub repo: PathBuf,
    /// The functions' output goes to `<logs>/<binary>-<run>.log`.
    pub logs: PathBuf,
    pub runs: usize,
    /// Longest wait for each stage of a cold start (init, each answer).
    pub limit: Duration,
    /// Only these binaries (all of the template when empty).
    pub only: Vec<String>,
    /// Variables added to every function's environment (not the floor's), over the
    /// template's: to try a setting without a rebuild.
    pub extra_environment: BTreeMap<String, String>,
}

/// One function's cold starts.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: String,
    pub memory_mb: u64,
    pub binary_bytes: u64,
    pub runs: Vec<ColdStart>,
}

#[derive(Debug, Clone)]
pub struct Results {
    pub floor: Measured,
    pub functions: Vec<Measured>,
}

/// A webhook the simulator delivered, as it arrived.
struct Delivery {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

struct Rig {
    sdk: SdkConfig,
    stack: LocalStack,
    sim: trackstar_sim::SimHandle,
    deliveries: Mutex<mpsc::UnboundedReceiver<Delivery>>,
    files: EventFiles,
    /// Messages handed to webhook-processor, deleted once it answered without failures.
    processor_handles: Mutex<Vec<String>>,
}

pub async fn run(options: &Options) -> anyhow::Result<Results> {
    let sdk = packr_local::testing::emulator_config().await;
    let template = Template::load(options.repo.join("template.yaml"))?;
    let stack = packr_local::testing::fresh_local_stack(&sdk).await;
    let demo = packr_local::seed::seed_demo(&sdk, &stack)
        .await
        .context("seeding the demo tenant")?;
    let secret = packr_local::webhooks::current_signing_secret(&sdk, &stack).await?;
    let (collector_url, deliveries) = collector().await?;
    let mut connection = trackstar_sim::SimConnection::new(DEMO_CONNECTION, DEMO_ACCESS_TOKEN)
        .with_integration(DEMO_INTEGRATION);
    connection.warehouse_customer_ids = demo.warehouse_customer_ids();
    let sim = trackstar_sim::spawn(trackstar_sim::SimConfig {
        connections: vec![connection],
        api_key: DEV_TRACKSTAR_API_KEY.to_owned(),
        webhook: Some(trackstar_sim::WebhookTarget {
            url: collector_url,
            secret,
        }),
        ..trackstar_sim::SimConfig::default()
    })
    .await
    .context("starting the Trackstar simulator")?;

    let mut functions: Vec<(FunctionSpec, Function)> = Vec::new();
    for spec in template.functions()? {
        let Some(binary) = spec.binary.clone() else {
            continue;
        };
        if !options.only.is_empty() && !options.only.contains(&binary) {
            continue;
        }
        let mut function = function_of(options, &stack, &spec, &binary, &sim.base_url)?;
        function
            .environment
            .extend(options.extra_environment.clone());
        functions.push((spec, function));
    }
    // Producers before consumers: ingest queues what the processor is fed.
    functions.sort_by_key(|(_, f)| order(&f.name));
    let floor = Function {
        name: FLOOR.to_owned(),
        binary: options.release_dir.join(FLOOR_BINARY),
        memory_mb: 256,
        timeout: Duration::from_secs(3),
        region: stack.region.clone(),
        account_id: LOCAL_ACCOUNT_ID.to_owned(),
        environment: BTreeMap::new(),
    };

    let rig = Arc::new(Rig {
        sdk,
        stack,
        sim,
        deliveries: Mutex::new(deliveries),
        files: EventFiles::new(&options.repo),
        processor_handles: Mutex::new(Vec::new()),
    });
    std::fs::create_dir_all(&options.logs)?;
    let mut floor_runs = Vec::new();
    let mut runs: Vec<Vec<ColdStart>> = vec![Vec::new(); functions.len()];
    for run in 0..options.runs {
        let events = vec![events::hello(), events::hello()];
        let measured = start(options, &floor, run, events).await?;
        check(&floor.name, &measured)?;
        floor_runs.push(measured);
        for (i, (_, function)) in functions.iter().enumerate() {
            let events = rig
                .events_for(&function.name)
                .await
                .with_context(|| format!("building the events of {}", function.name))?;
            let measured = start(options, function, run, events).await?;
            check(&function.name, &measured)?;
            rig.after(&function.name).await?;
            runs[i].push(measured);
        }
        eprintln!("coldstart: run {}/{} done", run + 1, options.runs);
    }
    let floor = Measured {
        name: floor.name.clone(),
        memory_mb: floor.memory_mb,
        binary_bytes: size_of(&floor.binary)?,
        runs: floor_runs,
    };
    let functions = functions
        .into_iter()
        .zip(runs)
        .map(|((_, function), runs)| {
            Ok(Measured {
                name: function.name.clone(),
                memory_mb: function.memory_mb,
                binary_bytes: size_of(&function.binary)?,
                runs,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    match Arc::try_unwrap(rig) {
        Ok(rig) => rig.sim.shutdown().await,
        Err(_) => unreachable!("the rig is only borrowed by the runs above"),
    }
    Ok(Results { floor, functions })
}

fn order(name: &str) -> usize {
    match name {
        "webhook-ingest" => 0,
        "webhook-processor" => 1,
        "sync-scheduler" => 2,
        "sync-worker" => 3,
        _ => 4,
    }
}

fn size_of(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} (build it with cargo build --release)", path.display()))?
        .len())
}

async fn start(
    options: &Options,
    function: &Function,
    run: usize,
    events: Vec<Value>,
) -> anyhow::Result<ColdStart> {
    let log = options.logs.join(format!(
        "{}-{run}.log",
        function
            .binary
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
    ));
    let events = events
        .iter()
        .map(|e| Bytes::from(serde_json::to_vec(e).unwrap_or_default()))
        .collect();
    Ok(cold_start(function, events, &log, options.limit).await?)
}

/// The function as Lambda would run it on the local stack: its template variables with
/// local values (Trackstar = the simulator), credentials naming it, the emulator endpoint.
fn function_of(
    options: &Options,
    stack: &LocalStack,
    spec: &FunctionSpec,
    binary: &str,
    trackstar: &str,
) -> anyhow::Result<Function> {
    let mut environment = stack
        .function_environment
        .get(&spec.logical_id)
        .cloned()
        .with_context(|| format!("no local environment for {}", spec.logical_id))?;
    if let Some(url) = environment.get_mut("TRACKSTAR_BASE_URL") {
        trackstar.clone_into(url);
    }
    if let Some(bundle) = environment.get_mut("SSL_CERT_FILE") {
        *bundle = local_ca_bundle(bundle)?;
    }
    environment.insert("AWS_ENDPOINT_URL".into(), stack.aws_endpoint_url.clone());
    // Lambda hands the role's credentials over in these variables.
    environment.insert("AWS_ACCESS_KEY_ID".into(), function_access_key(binary));
    environment.insert("AWS_SECRET_ACCESS_KEY".into(), "test".into());
    Ok(Function {
        name: binary.to_owned(),
        binary: options.release_dir.join(binary),
        memory_mb: spec.memory_mb.unwrap_or(128),
        timeout: Duration::from_secs(spec.timeout.unwrap_or(3)),
        region: stack.region.clone(),
        account_id: LOCAL_ACCOUNT_ID.to_owned(),
        environment,
    })
}

/// The template's `SSL_CERT_FILE` names provided.al2023's CA bundle; where this machine has
/// no file there, the same bundle at this distribution's path (the candidates
/// `openssl-probe` knows), so the function parses one bundle as on Lambda. None at all is
/// an error: a missing file would make init look cheaper than it is.
fn local_ca_bundle(template_path: &str) -> anyhow::Result<String> {
    const CANDIDATES: [&str; 4] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    std::iter::once(template_path)
        .chain(CANDIDATES)
        .find(|path| Path::new(path).is_file())
        .map(str::to_owned)
        .with_context(|| {
            format!("no CA bundle at {template_path} (SSL_CERT_FILE) nor at {CANDIDATES:?}")
        })
}

/// Every invocation answered with a response (not an error), with the success the
/// function's trigger looks for: HTTP 2xx, no SQS batch item failures.
fn check(function: &str, measured: &ColdStart) -> anyhow::Result<()> {
    for (i, invocation) in measured.invocations.iter().enumerate() {
        let body = invocation
            .outcome
            .clone()
            .into_response()
            .map_err(|e| anyhow::anyhow!("{function}, invocation {}: {e}", i + 1))?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(status) = value.get("statusCode").and_then(Value::as_u64) {
            ensure!(
                (200..300).contains(&status),
                "{function}, invocation {}: HTTP {status}: {}",
                i + 1,
                value.get("body").unwrap_or(&Value::Null)
            );
        }
        if let Some(failures) = value.get("batchItemFailures").and_then(Value::as_array) {
            ensure!(
                failures.is_empty(),
                "{function}, invocation {}: batch item failures {failures:?}",
                i + 1
            );
        }
    }
    Ok(())
}

/// Answers every POST with 200 and hands the request over: the simulator's webhook target.
async fn collector() -> anyhow::Result<(String, mpsc::UnboundedReceiver<Delivery>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/webhooks/trackstar", listener.local_addr()?);
    let router = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Delivery { uri, headers, body });
            axum::http::StatusCode::OK
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((url, rx))
}

impl Rig {
    fn queue(&self, logical_id: &str) -> anyhow::Result<(String, String)> {
        let r = &self.stack.resources;
        let url = r
            .queue_url(logical_id)
            .with_context(|| format!("{logical_id} was not provisioned"))?;
        let arn = r
            .queue_arns
            .get(logical_id)
            .with_context(|| format!("{logical_id} has no ARN"))?;
        Ok((url.to_owned(), arn.clone()))
    }

    /// A first and a warm event for `function`.
    async fn events_for(&self, function: &str) -> anyhow::Result<Vec<Value>> {
        match function {
            "webhook-ingest" => {
                let mut events = Vec::new();
                for _ in 0..2 {
                    events.push(self.delivered_webhook().await?);
                }
                Ok(events)
            }
            "webhook-processor" => {
                let mut events = Vec::new();
                for _ in 0..2 {
                    events.push(self.queued_webhook().await?);
                }
                Ok(events)
            }
            "sync-scheduler" => {
                let sample = self.files.load("eventbridge-scheduled-sync.json")?;
                let rule = format!(
                    "arn:aws:events:{}:{LOCAL_ACCOUNT_ID}:rule/{}-IncrementalSyncSchedule",
                    self.stack.region, self.stack.prefix
                );
                Ok(vec![
                    events::scheduled(&sample, &rule),
                    events::scheduled(&sample, &rule),
                ])
            }
            "sync-worker" => {
                let sample = self.files.load("sqs-sync-jobs-batch.json")?;
                let (_, arn) = self.queue("SyncJobsQueue")?;
                let job = |resource: &str| {
                    json!({
                        "tenant_id": DEMO_TENANT,
                        "connection_id": DEMO_CONNECTION,
                        "resource": resource,
                        "mode": "incremental",
                        "requested_at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        "reason": "schedule",
                    })
                };
                Ok(vec![
                    events::sync_job_batch(&sample, &arn, &job("orders")),
                    events::sync_job_batch(&sample, &arn, &job("inventory")),
                ])
            }
            api => {
                let sample = self.files.load("apigw-v2-get-orders.json")?;
                let claims = || Some(events::tenant_admin_claims(DEMO_TENANT));
                let limit = [("limit", "20")];
                let event = match api {
                    "api-orders" => {
                        events::api_get(&sample, "GET /orders", "/orders", &[], &limit, claims())
                    }
                    "api-inventory" => events::api_get(
                        &sample,
                        "GET /inventory",
                        "/inventory",
                        &[],
                        &limit,
                        claims(),
                    ),
                    "api-products" => events::api_get(
                        &sample,
                        "GET /products",
                        "/products",
                        &[],
                        &limit,
                        claims(),
                    ),
                    "api-warehouse" => events::api_get(
                        &sample,
                        "GET /inbound-shipments",
                        "/inbound-shipments",
                        &[],
                        &limit,
                        claims(),
                    ),
                    "api-messages" => events::api_get(
                        &sample,
                        "GET /brands/{brand_id}/messages",
                        "/brands/brand-acme/messages",
                        &[("brand_id", "brand-acme")],
                        &[],
                        claims(),
                    ),
                    "api-connections" => events::api_get(
                        &sample,
                        "GET /connections",
                        "/connections",
                        &[],
                        &[],
                        claims(),
                    ),
                    "api-sync" => events::api_get(
                        &sample,
                        "GET /sync/health",
                        "/sync/health",
                        &[],
                        &[],
                        claims(),
                    ),
                    "api-docs" => events::api_get(
                        &sample,
                        "GET /openapi.json",
                        "/openapi.json",
                        &[],
                        &[],
                        None,
                    ),
                    other => bail!("no event is known for {other}"),
                };
                Ok(vec![event.clone(), event])
            }
        }
    }

    /// One order change in the simulator, delivered as Svix delivers it, turned into the
    /// function URL event (as the local gateway does).
    async fn delivered_webhook(&self) -> anyhow::Result<Value> {
        self.sim
            .mutate(&trackstar_sim::MutateRequest {
                connection_id: DEMO_CONNECTION.to_owned(),
                kind: trackstar_sim::MutationKind::Order,
                count: 1,
            })
            .map_err(|e| anyhow::anyhow!("simulator mutate: {e:?}"))?;
        let delivery =
            tokio::time::timeout(Duration::from_secs(30), self.deliveries.lock().await.recv())
                .await
                .context("the simulator delivered no webhook within 30 s")?
                .context("the webhook collector stopped")?;
        let mut headers = delivery.headers;
        headers.insert(
            "host",
            packr_local::gateway::function_url::function_url_host()
                .parse()
                .context("function URL host")?,
        );
        let event = packr_local::gateway::function_url::function_url_request(
            &Method::POST,
            Version::HTTP_11,
            &delivery.uri,
            &headers,
            &delivery.body,
            "127.0.0.1",
        );
        Ok(serde_json::to_value(event)?)
    }

    /// One message ingest queued, received as the event source mapping receives it.
    async fn queued_webhook(&self) -> anyhow::Result<Value> {
        let (url, arn) = self.queue("WebhookQueue")?;
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(1)
            .wait_time_seconds(5)
            .visibility_timeout(600)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .context("receiving from WebhookQueue")?;
        let messages = received.messages();
        ensure!(
            !messages.is_empty(),
            "WebhookQueue is empty: webhook-ingest queued nothing"
        );
        let mut handles = self.processor_handles.lock().await;
        handles.extend(
            messages
                .iter()
                .filter_map(|m| m.receipt_handle().map(str::to_owned)),
        );
        Ok(serde_json::to_value(packr_local::esm::sqs_event(
            messages, &arn,
        ))?)
    }

    /// What the trigger does after a successful invocation: the event source mapping
    /// deletes the processed messages. (The jobs sync-scheduler queues stay: nothing
    /// consumes that queue here, sync-worker is fed its own.)
    async fn after(&self, function: &str) -> anyhow::Result<()> {
        if function != "webhook-processor" {
            return Ok(());
        }
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let (url, _) = self.queue("WebhookQueue")?;
        for handle in self.processor_handles.lock().await.drain(..) {
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(handle)
                .send()
                .await
                .context("deleting a processed message")?;
        }
        Ok(())
    }
}
