//! A local implementation of the AWS Lambda Runtime API (version `2018-06-01`): the HTTP
//! protocol a custom runtime (`provided.al2023`, `lambda_runtime`) speaks with Lambda.
//!
//! | request | answer |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | waits for the next event; `200` with the event as body and the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id` |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | `202`; `400` for an id not handed out (or answered already), `413` above 6 MB |
//! | `POST /2018-06-01/runtime/invocation/{id}/error` | `202`; the body (`errorMessage`, `errorType`) and `Lambda-Runtime-Function-Error-Type` are kept |
//! | `POST /2018-06-01/runtime/init/error` | `202`; the init error is kept |
//!
//! One [`RuntimeApi`] is one sandbox's endpoint (`AWS_LAMBDA_RUNTIME_API`). It records when
//! every `GET /next` arrived and when each invocation was handed out and answered, which is
//! what the cold-start bench measures. Hand-written (axum): no maintained crate offers this
//! server as a library — cargo-lambda's `watch` carries one inside its CLI, and AWS's Runtime
//! Interface Emulator is a Go binary for container images.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::sync::{oneshot, Notify};

/// The largest synchronous response Lambda accepts (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What the endpoint says about the function in its headers.
#[derive(Debug, Clone)]
pub struct FunctionIdentity {
    /// `AWS_LAMBDA_FUNCTION_NAME`; the ARN is built from it.
    pub name: String,
    pub region: String,
    pub account_id: String,
    /// The function's `Timeout`: each invocation's deadline is its hand-out time plus this.
    pub timeout: Duration,
}

impl FunctionIdentity {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/response`: the function's result.
    Response(Bytes),
    /// `POST …/error`: the error type (header, else the body's `errorType`) and the body.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

impl Outcome {
    /// The response body, or `Err` with the error's type and body.
    pub fn into_response(self) -> Result<Bytes, String> {
        match self {
            Outcome::Response(body) => Ok(body),
            Outcome::Error { error_type, body } => Err(format!(
                "{}: {}",
                error_type.as_deref().unwrap_or("error"),
                String::from_utf8_lossy(&body)
            )),
        }
    }
}

/// An answered invocation and when it was handed out and answered.
#[derive(Debug, Clone)]
pub struct Answered {
    pub request_id: String,
    pub outcome: Outcome,
    /// When the `GET /next` that received it was answered.
    pub handed_out_at: Instant,
    /// When its `response` / `error` arrived.
    pub answered_at: Instant,
}

impl Answered {
    /// Hand-out to answer: the invocation's duration as Lambda bills it.
    pub fn duration(&self) -> Duration {
        self.answered_at
            .saturating_duration_since(self.handed_out_at)
    }
}

/// A `POST /runtime/init/error`.
#[derive(Debug, Clone)]
pub struct InitError {
    pub at: Instant,
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// An invocation queued with [`RuntimeApi::invoke`]; resolves when it is answered.
#[derive(Debug)]
pub struct PendingInvocation {
    pub request_id: String,
    answer: oneshot::Receiver<Answered>,
}

impl PendingInvocation {
    /// Waits for the answer; `None` when the endpoint stopped first.
    pub async fn answered(self) -> Option<Answered> {
        self.answer.await.ok()
    }
}

struct Queued {
    request_id: String,
    payload: Bytes,
    answer: oneshot::Sender<Answered>,
}

struct InFlight {
    handed_out_at: Instant,
    answer: oneshot::Sender<Answered>,
}

struct Shared {
    identity: FunctionIdentity,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, InFlight>>,
    polls: Mutex<Vec<Instant>>,
    polled: Notify,
    init_error: Mutex<Option<InitError>>,
}

/// A running Runtime API endpoint on 127.0.0.1. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts the endpoint on a free loopback port.
    pub async fn start(identity: FunctionIdentity) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            identity,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            polls: Mutex::new(Vec::new()),
            polled: Notify::new(),
            init_error: Mutex::new(None),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Bodies above the limit are answered 413 by the handler, not cut by axum.
            .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1024 * 1024))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the runtime receives it on a `GET /next`, in queue order.
    pub fn invoke(&self, payload: impl Into<Bytes>) -> PendingInvocation {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.queue).push_back(Queued {
            request_id: request_id.clone(),
            payload: payload.into(),
            answer: tx,
        });
        self.shared.queued.notify_one();
        PendingInvocation {
            request_id,
            answer: rx,
        }
    }

    /// When each `GET /next` arrived, in order.
    pub fn polls(&self) -> Vec<Instant> {
        lock(&self.shared.polls).clone()
    }

    /// Waits until at least `count` `GET /next` have arrived; the `count`-th one's time.
    pub async fn wait_polls(&self, count: usize) -> Instant {
        loop {
            let notified = self.shared.polled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(at) = lock(&self.shared.polls).get(count.saturating_sub(1)) {
                return *at;
            }
            notified.await;
        }
    }

    /// The init error the runtime reported, if any.
    pub fn init_error(&self) -> Option<InitError> {
        lock(&self.shared.init_error).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler cannot leave these collections half-updated.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// `Root=1-<epoch seconds hex>-<24 hex>;Parent=<16 hex>;Sampled=0`, as X-Ray formats it.
fn trace_id() -> String {
    let seconds = epoch_ms() / 1000;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &id[..24],
        &parent[..16]
    )
}

fn error_body(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errorType": error_type, "errorMessage": message })),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.polls).push(Instant::now());
    shared.polled.notify_waiters();
    let queued = loop {
        let notified = shared.queued.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(queued) = lock(&shared.queue).pop_front() {
            break queued;
        }
        notified.await;
    };
    let handed_out_at = Instant::now();
    let deadline = epoch_ms() + shared.identity.timeout.as_millis();
    lock(&shared.in_flight).insert(
        queued.request_id.clone(),
        InFlight {
            handed_out_at,
            answer: queued.answer,
        },
    );
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", queued.request_id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set("lambda-runtime-invoked-function-arn", shared.identity.arn());
    set("lambda-runtime-trace-id", trace_id());
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, queued.payload).into_response()
}

fn answer(shared: &Shared, request_id: &str, outcome: Outcome) -> Response {
    let Some(in_flight) = lock(&shared.in_flight).remove(request_id) else {
        return error_body(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "Invalid request ID",
        );
    };
    let _ = in_flight.answer.send(Answered {
        request_id: request_id.to_owned(),
        outcome,
        handed_out_at: in_flight.handed_out_at,
        answered_at: Instant::now(),
    });
    accepted()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_RESPONSE_BYTES {
        // Lambda fails the invocation and tells the runtime.
        answer(
            &shared,
            &request_id,
            Outcome::Error {
                error_type: Some("Function.ResponseSizeTooLarge".to_owned()),
                body: Bytes::new(),
            },
        );
        return error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        );
    }
    answer(&shared, &request_id, Outcome::Response(body))
}

fn error_type(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()?
                .get("errorType")?
                .as_str()
                .map(str::to_owned)
        })
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = error_type(&headers, &body);
    answer(&shared, &request_id, Outcome::Error { error_type, body })
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *lock(&shared.init_error) = Some(InitError {
        at: Instant::now(),
        error_type: error_type(&headers, &body),
        body,
    });
    accepted()
}
