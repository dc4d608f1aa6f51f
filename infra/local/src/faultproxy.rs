//! A fault-injecting proxy between functions and the AWS emulator: a share of the requests
//! it forwards are answered with the errors AWS answers under load — DynamoDB's
//! `ThrottlingException`, `ProvisionedThroughputExceededException` and 500
//! `InternalServerError`, SQS's throttling and 500 in the JSON protocol the SDK speaks
//! (`x-amz-json-1.0` with the `x-amzn-query-error` header its query-compatible errors carry)
//! — and some requests are forwarded and then answered with a 500 anyway (the call took
//! effect, its answer was lost). The SDK must retry all of them.
//!
//! A share of `BatchGetItem`s ([`FaultConfig::partial_batch_gets`]) is answered in part, as
//! DynamoDB answers a batch that exceeds the throughput: the proxy forwards only the first
//! key of each table and hands the rest back as `UnprocessedKeys`.
//!
//! A function is pointed at it by endpoint configuration only (`AWS_ENDPOINT_URL`, or the
//! SDK config's endpoint): its code has no idea. The draws come from a seeded generator in
//! arrival order, so a seed gives the same sequence of decisions; what was injected is
//! counted. A tap sees every answer the emulator gave (before a lost-answer fault replaces
//! it), which is how the chaos run counts verdicts per event at the wire.
//!
//! moto does not serialise concurrent conditional writes, which DynamoDB makes atomic per
//! item; with [`FaultConfig::serialize_conditional_writes`] the proxy forwards those of
//! one item one at a time (writes of other items still run side by side), so what goes
//! through it sees DynamoDB's guarantee.
//!
//! Hand-written: no crate does fault injection for the AWS JSON protocols; the HTTP parts
//! are axum and reqwest.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The AWS service a request is for, from its `x-amz-target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    DynamoDb,
    Sqs,
    /// Anything else (Secrets Manager, …): forwarded, never failed.
    Other,
}

impl Service {
    /// `DynamoDB_20120810.PutItem` → (DynamoDb, "PutItem"); `AmazonSQS.ReceiveMessage` →
    /// (Sqs, "ReceiveMessage").
    pub fn of_target(target: Option<&str>) -> (Self, String) {
        let Some(target) = target else {
            return (Self::Other, String::new());
        };
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        let service = if prefix.starts_with("DynamoDB_") {
            Self::DynamoDb
        } else if prefix == "AmazonSQS" {
            Self::Sqs
        } else {
            Self::Other
        };
        (service, operation.to_owned())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DynamoDb => "dynamodb",
            Self::Sqs => "sqs",
            Self::Other => "other",
        }
    }
}

/// One injected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// DynamoDB 400 `ThrottlingException`.
    DynamoThrottling,
    /// DynamoDB 400 `ProvisionedThroughputExceededException`.
    DynamoThroughputExceeded,
    /// DynamoDB 500 `InternalServerError`, not forwarded.
    DynamoInternalError,
    /// SQS 400 `RequestThrottled`.
    SqsThrottled,
    /// SQS 500 `InternalError`, not forwarded.
    SqsInternalError,
    /// Forwarded (the call took effect), then answered with the service's 500.
    LostAnswer,
}

impl Fault {
    /// Every kind, in the order tables list them.
    pub const ALL: [Fault; 6] = [
        Fault::DynamoThrottling,
        Fault::DynamoThroughputExceeded,
        Fault::DynamoInternalError,
        Fault::SqsThrottled,
        Fault::SqsInternalError,
        Fault::LostAnswer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DynamoThrottling => "ThrottlingException (400)",
            Self::DynamoThroughputExceeded => "ProvisionedThroughputExceededException (400)",
            Self::DynamoInternalError => "InternalServerError (500)",
            Self::SqsThrottled => "RequestThrottled (400)",
            Self::SqsInternalError => "InternalError (500)",
            Self::LostAnswer => "500 after the call took effect",
        }
    }

    /// Whether the request is forwarded before the fault is answered.
    pub fn forwards(self) -> bool {
        self == Self::LostAnswer
    }
}

/// What the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultConfig {
    /// Share of DynamoDB and SQS requests answered with a fault, 0.0..=1.0.
    pub rate: f64,
    pub seed: u64,
    /// Forward DynamoDB writes with a `ConditionExpression` one at a time (see the module).
    pub serialize_conditional_writes: bool,
    /// Share of `BatchGetItem`s of two keys or more answered in part (see the module),
    /// 0.0..=1.0; drawn apart from `rate`, so a run's other faults do not move.
    pub partial_batch_gets: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            rate: 0.0,
            seed: 0,
            serialize_conditional_writes: true,
            partial_batch_gets: 0.0,
        }
    }
}

/// The seeded decisions, one per request in arrival order.
#[derive(Debug)]
pub struct FaultPlan {
    rate: f64,
    rng: StdRng,
}

impl FaultPlan {
    pub fn new(rate: f64, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            rng: StdRng::seed_from_u64(seed ^ 0xfa_0175),
        }
    }

    /// The fault for the next request to `service`, if any. DynamoDB: 35 % throttling, 35 %
    /// throughput exceeded, 20 % 500, 10 % lost answers; SQS: 45 % throttled, 45 % 500,
    /// 10 % lost answers. Other services are never failed.
    pub fn decide(&mut self, service: Service) -> Option<Fault> {
        if service == Service::Other {
            return None;
        }
        let (roll, kind) = (self.rng.random::<f64>(), self.rng.random::<f64>());
        if roll >= self.rate {
            return None;
        }
        Some(match service {
            Service::DynamoDb if kind < 0.35 => Fault::DynamoThrottling,
            Service::DynamoDb if kind < 0.70 => Fault::DynamoThroughputExceeded,
            Service::DynamoDb if kind < 0.90 => Fault::DynamoInternalError,
            Service::Sqs if kind < 0.45 => Fault::SqsThrottled,
            Service::Sqs if kind < 0.90 => Fault::SqsInternalError,
            _ => Fault::LostAnswer,
        })
    }
}

/// The answer AWS gives for `fault` on `service`: status, headers, body.
pub fn fault_answer(
    service: Service,
    fault: Fault,
) -> (StatusCode, Vec<(&'static str, String)>, String) {
    let dynamo = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            vec![("content-type", "application/x-amz-json-1.0".to_owned())],
            serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": message,
            })
            .to_string(),
        )
    };
    let sqs = |status: StatusCode, code: &str, kind: &str, message: &str| {
        (
            status,
            vec![
                ("content-type", "application/x-amz-json-1.0".to_owned()),
                ("x-amzn-query-error", format!("{code};{kind}")),
            ],
            serde_json::json!({
                "__type": format!("com.amazonaws.sqs#{code}"),
                "message": message,
            })
            .to_string(),
        )
    };
    match (service, fault) {
        (_, Fault::DynamoThrottling) => dynamo(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        (_, Fault::DynamoThroughputExceeded) => dynamo(
            StatusCode::BAD_REQUEST,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        (_, Fault::DynamoInternalError) | (Service::DynamoDb, Fault::LostAnswer) => dynamo(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal server error",
        ),
        (_, Fault::SqsThrottled) => sqs(
            StatusCode::BAD_REQUEST,
            "RequestThrottled",
            "Sender",
            "Request is throttled.",
        ),
        (_, Fault::SqsInternalError) | (_, Fault::LostAnswer) => sqs(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Receiver",
            "We encountered an internal error. Please try again.",
        ),
    }
}

/// One answer of the emulator, as the tap sees it.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub service: Service,
    pub operation: &'a str,
    pub request: &'a [u8],
    /// The emulator's status (also when a lost-answer fault replaced it).
    pub status: u16,
    /// The fault answered instead, if any (only [`Fault::LostAnswer`] reaches the tap).
    pub fault: Option<Fault>,
}

/// Sees every answer the emulator gave.
pub type Tap = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// What went through the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyStats {
    /// Requests received, by service and operation.
    pub requests: BTreeMap<(Service, String), u64>,
    /// Faults answered, by service and fault.
    pub injected: BTreeMap<(Service, Fault), u64>,
    /// Requests that could not be forwarded (the emulator did not answer).
    pub upstream_errors: u64,
    /// Requests answered with the service's 500 because it was out (see
    /// [`FaultProxy::set_outage`]); counted apart from `requests` and `injected`.
    pub outage_answers: BTreeMap<Service, u64>,
    /// `BatchGetItem`s answered in part, and the keys handed back unprocessed.
    pub partial_batch_gets: u64,
    pub keys_left_unprocessed: u64,
}

impl ProxyStats {
    pub fn total_requests(&self, service: Service) -> u64 {
        self.requests
            .iter()
            .filter(|((s, _), _)| *s == service)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total_injected(&self, service: Service) -> u64 {
        self.injected
            .iter()
            .filter(|((s, _), _)| *s == service)
            .map(|(_, n)| n)
            .sum()
    }
}

struct Inner {
    upstream: String,
    client: reqwest::Client,
    plan: Mutex<FaultPlan>,
    /// Draws for partial `BatchGetItem`s, with their share.
    partial: Mutex<(StdRng, f64)>,
    /// Services that are out: every request answered with their 500, none forwarded.
    outages: Mutex<std::collections::BTreeSet<Service>>,
    stats: Mutex<ProxyStats>,
    tap: Option<Tap>,
    serialize_conditional_writes: bool,
    /// One lock per item (table, `pk`, `sk`) a conditional write is in flight for;
    /// transactions take the `""` lock. It grows by a small entry per item written: fine
    /// for a proxy that lives as long as one run.
    item_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The running proxy; [`FaultProxy::shutdown`] stops it.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`: the endpoint to give the functions.
    pub url: String,
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts a proxy to `upstream` (the emulator's endpoint) on a free port of 127.0.0.1.
pub async fn start(
    upstream: &str,
    config: FaultConfig,
    tap: Option<Tap>,
) -> std::io::Result<FaultProxy> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let inner = Arc::new(Inner {
        upstream: upstream.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(std::io::Error::other)?,
        plan: Mutex::new(FaultPlan::new(config.rate, config.seed)),
        partial: Mutex::new((
            StdRng::seed_from_u64(config.seed ^ 0x000b_a7c4),
            config.partial_batch_gets.clamp(0.0, 1.0),
        )),
        outages: Mutex::new(std::collections::BTreeSet::new()),
        stats: Mutex::new(ProxyStats::default()),
        tap,
        serialize_conditional_writes: config.serialize_conditional_writes,
        item_locks: Mutex::new(HashMap::new()),
    });
    let router = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&inner));
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the fault proxy stopped");
        }
    });
    Ok(FaultProxy {
        url,
        inner,
        stop,
        task,
    })
}

impl FaultProxy {
    pub fn stats(&self) -> ProxyStats {
        lock(&self.inner.stats).clone()
    }

    /// Changes the share of requests failed from now on (the draws go on from where
    /// they are).
    pub fn set_rate(&self, rate: f64) {
        lock(&self.inner.plan).rate = rate.clamp(0.0, 1.0);
    }

    /// Starts (`true`) or ends an outage of `service`: while it lasts every request for it
    /// is answered with the service's 500 `InternalServerError`/`InternalError` and none is
    /// forwarded, as when a region's DynamoDB is down. Other services go on as before.
    pub fn set_outage(&self, service: Service, out: bool) {
        let mut outages = lock(&self.inner.outages);
        if out {
            outages.insert(service);
        } else {
            outages.remove(&service);
        }
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
];

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return plain(StatusCode::BAD_REQUEST, "unreadable request body");
    };
    // From here on the request runs on a task of its own: when the caller goes away (a
    // killed poller drops its connections) axum drops this future, but a request already
    // forwarded still gets its answer to the tap, so no effect the emulator took goes
    // unseen.
    match tokio::spawn(forward(inner, parts, body)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, "the fault proxy's request task failed");
            plain(StatusCode::BAD_GATEWAY, "the fault proxy failed")
        }
    }
}

async fn forward(
    inner: Arc<Inner>,
    parts: axum::http::request::Parts,
    body: axum::body::Bytes,
) -> Response {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let (service, operation) = Service::of_target(target);
    if lock(&inner.outages).contains(&service) {
        *lock(&inner.stats)
            .outage_answers
            .entry(service)
            .or_default() += 1;
        let fault = if service == Service::Sqs {
            Fault::SqsInternalError
        } else {
            Fault::DynamoInternalError
        };
        return injected(service, fault);
    }
    let fault = lock(&inner.plan).decide(service);
    {
        let mut stats = lock(&inner.stats);
        *stats
            .requests
            .entry((service, operation.clone()))
            .or_default() += 1;
        if let Some(fault) = fault {
            *stats.injected.entry((service, fault)).or_default() += 1;
        }
    }
    if let Some(fault) = fault.filter(|f| !f.forwards()) {
        return injected(service, fault);
    }
    let (body, held_back) = if service == Service::DynamoDb && operation == "BatchGetItem" {
        let partial = {
            let mut draws = lock(&inner.partial);
            let share = draws.1;
            share > 0.0 && draws.0.random::<f64>() < share
        };
        match partial.then(|| split_batch_get(&body)).flatten() {
            Some((forwarded, held_back)) => (axum::body::Bytes::from(forwarded), Some(held_back)),
            None => (body, None),
        }
    } else {
        (body, None)
    };

    let conditional = inner.serialize_conditional_writes
        && service == Service::DynamoDb
        && matches!(
            operation.as_str(),
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems"
        )
        && body
            .windows(b"ConditionExpression".len())
            .any(|w| w == b"ConditionExpression");
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut forward = inner
        .client
        .request(parts.method.clone(), format!("{}{path}", inner.upstream))
        .body(body.clone());
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            forward = forward.header(name, value);
        }
    }
    // Held until the tap has seen the answer too, so the tap sees one item's conditional
    // writes in the order the emulator applied them.
    let _one_at_a_time = if conditional {
        let lock = {
            let mut locks = lock(&inner.item_locks);
            Arc::clone(locks.entry(item_of(&operation, &body)).or_default())
        };
        Some(lock.lock_owned().await)
    } else {
        None
    };
    let answer = {
        match forward.send().await {
            Ok(answer) => {
                let status = answer.status();
                let headers = answer.headers().clone();
                match answer.bytes().await {
                    Ok(bytes) => Ok((status, headers, bytes)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    };
    let (status, headers, bytes) = match answer {
        Ok(answer) => answer,
        Err(error) => {
            lock(&inner.stats).upstream_errors += 1;
            tracing::warn!(%error, "the fault proxy could not reach the emulator");
            return plain(StatusCode::BAD_GATEWAY, "the emulator did not answer");
        }
    };
    if let Some(tap) = &inner.tap {
        tap(&Exchange {
            service,
            operation: &operation,
            request: &body,
            status: status.as_u16(),
            fault,
        });
    }
    if let Some(fault) = fault {
        return injected(service, fault);
    }
    let bytes = match held_back {
        Some(held_back) if status.is_success() => match with_unprocessed_keys(&bytes, held_back) {
            Some((answer, keys)) => {
                let mut stats = lock(&inner.stats);
                stats.partial_batch_gets += 1;
                stats.keys_left_unprocessed += keys;
                axum::body::Bytes::from(answer)
            }
            None => bytes,
        },
        _ => bytes,
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    copy_headers(&headers, response.headers_mut());
    response
}

/// A `BatchGetItem` request cut to the first key of each table, and the rest by table (`KeysAndAttributes` with its other fields kept); `None` for a
/// request of fewer than two keys or one that cannot be read.
fn split_batch_get(body: &[u8]) -> Option<(Vec<u8>, serde_json::Map<String, serde_json::Value>)> {
    let mut request: serde_json::Value = serde_json::from_slice(body).ok()?;
    let tables = request.get_mut("RequestItems")?.as_object_mut()?;
    let total: usize = tables
        .values()
        .map(|t| t["Keys"].as_array().map_or(0, Vec::len))
        .sum();
    if total < 2 {
        return None;
    }
    let mut held_back = serde_json::Map::new();
    for (table, wanted) in tables.iter_mut() {
        let keys = wanted.get_mut("Keys")?.as_array_mut()?;
        let rest = keys.split_off(1);
        if !rest.is_empty() {
            let mut unprocessed = wanted.clone();
            unprocessed["Keys"] = serde_json::Value::Array(rest);
            held_back.insert(table.clone(), unprocessed);
        }
    }
    tables.retain(|_, wanted| wanted["Keys"].as_array().is_some_and(|k| !k.is_empty()));
    Some((serde_json::to_vec(&request).ok()?, held_back))
}

/// The emulator's `BatchGetItem` answer with `held_back` added to its `UnprocessedKeys`,
/// and how many keys that hands back.
fn with_unprocessed_keys(
    answer: &[u8],
    held_back: serde_json::Map<String, serde_json::Value>,
) -> Option<(Vec<u8>, u64)> {
    let mut answer: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let keys = held_back
        .values()
        .map(|t| t["Keys"].as_array().map_or(0, Vec::len) as u64)
        .sum();
    let unprocessed = answer
        .as_object_mut()?
        .entry("UnprocessedKeys")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()?;
    for (table, wanted) in held_back {
        match unprocessed.get_mut(&table) {
            Some(existing) => {
                let more = wanted["Keys"].as_array().cloned().unwrap_or_default();
                existing["Keys"].as_array_mut()?.extend(more);
            }
            None => {
                unprocessed.insert(table, wanted);
            }
        }
    }
    Some((serde_json::to_vec(&answer).ok()?, keys))
}

/// The item a single-item write is for: `<table>|<pk>|<sk>` (the table's keys are `pk` and
/// `sk`); `""` for anything else, which then shares one lock.
fn item_of(operation: &str, body: &[u8]) -> String {
    if operation == "TransactWriteItems" {
        return String::new();
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let key = if operation == "PutItem" {
        &request["Item"]
    } else {
        &request["Key"]
    };
    format!(
        "{}|{}|{}",
        request["TableName"].as_str().unwrap_or_default(),
        key["pk"],
        key["sk"]
    )
}

fn copy_headers(from: &reqwest::header::HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            to.append(name, value);
        }
    }
}

fn injected(service: Service, fault: Fault) -> Response {
    let (status, headers, body) = fault_answer(service, fault);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(rate: f64, seed: u64, n: usize) -> Vec<Option<Fault>> {
        let mut plan = FaultPlan::new(rate, seed);
        (0..n)
            .map(|i| {
                plan.decide(if i % 2 == 0 {
                    Service::DynamoDb
                } else {
                    Service::Sqs
                })
            })
            .collect()
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        assert_eq!(decisions(0.05, 9, 2_000), decisions(0.05, 9, 2_000));
        assert_ne!(decisions(0.05, 9, 2_000), decisions(0.05, 10, 2_000));
    }

    #[test]
    fn faults_come_at_the_configured_rate_and_of_every_kind() {
        // given 20,000 requests at 5 %
        let drawn = decisions(0.05, 1, 20_000);
        let faults: Vec<Fault> = drawn.iter().flatten().copied().collect();
        // then about 1,000 fail (within 15 %), with every kind of fault among them
        assert!((850..=1_150).contains(&faults.len()), "{}", faults.len());
        for kind in Fault::ALL {
            assert!(faults.contains(&kind), "{kind:?} never drawn");
        }
    }

    #[test]
    fn other_services_and_a_zero_rate_are_never_failed() {
        let mut plan = FaultPlan::new(1.0, 3);
        assert_eq!(plan.decide(Service::Other), None);
        assert!(decisions(0.0, 3, 1_000).iter().all(Option::is_none));
    }

    #[test]
    fn targets_name_the_service_and_operation() {
        assert_eq!(
            Service::of_target(Some("DynamoDB_20120810.PutItem")),
            (Service::DynamoDb, "PutItem".to_owned())
        );
        assert_eq!(
            Service::of_target(Some("AmazonSQS.ReceiveMessage")),
            (Service::Sqs, "ReceiveMessage".to_owned())
        );
        assert_eq!(
            Service::of_target(Some("secretsmanager.GetSecretValue")).0,
            Service::Other
        );
        assert_eq!(Service::of_target(None).0, Service::Other);
    }

    #[test]
    fn sqs_faults_carry_the_query_compatible_error_code() {
        let (status, headers, body) = fault_answer(Service::Sqs, Fault::SqsThrottled);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(headers
            .iter()
            .any(|(n, v)| *n == "x-amzn-query-error" && v == "RequestThrottled;Sender"));
        assert!(body.contains("com.amazonaws.sqs#RequestThrottled"));
        let (status, _, body) = fault_answer(Service::DynamoDb, Fault::LostAnswer);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("InternalServerError"));
    }
}
