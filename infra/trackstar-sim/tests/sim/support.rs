//! Helpers: a simulator with a client that knows its keys, and a webhook receiver.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use reqwest::{Method, RequestBuilder};
use trackstar_sim::{spawn, SimConfig, SimHandle, WebhookTarget};

pub const API_KEY: &str = "sim_api_key";
pub const TOKEN: &str = "tok_demo";
pub const CONN: &str = "conn_demo";

pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// A simulator with generous rate limits unless the test sets its own.
pub async fn sim_with(config: SimConfig) -> Sim {
    let handle = spawn(config).await.expect("simulator starts");
    Sim {
        handle,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
    }
}

pub async fn sim() -> Sim {
    sim_with(SimConfig {
        get_rate_per_sec: 1000,
        write_rate_per_sec: 1000,
        ..SimConfig::default()
    })
    .await
}

impl Sim {
    /// A request with the API key and the demo access token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.handle.url(path))
            .header("x-trackstar-api-key", API_KEY)
            .header("x-trackstar-access-token", TOKEN)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.req(Method::GET, path)
    }

    /// GET and parse JSON, returning status and body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).send().await.expect("response");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }
}

/// One webhook as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    fail_first: Mutex<u32>,
    /// How long each answer takes.
    delay: Duration,
    /// Requests being answered now, and the most seen at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A local webhook endpoint that records every POST and can fail the first ones.
pub struct Receiver {
    pub target: WebhookTarget,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start(fail_first: u32) -> Self {
        Self::start_with(fail_first, Duration::ZERO).await
    }

    /// A receiver that takes `delay` to answer each POST.
    pub async fn start_slow(delay: Duration) -> Self {
        Self::start_with(0, delay).await
    }

    async fn start_with(fail_first: u32, delay: Duration) -> Self {
        let state = Arc::new(ReceiverState {
            received: Mutex::new(Vec::new()),
            fail_first: Mutex::new(fail_first),
            delay,
            ..ReceiverState::default()
        });
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            target: WebhookTarget {
                url: format!("http://{addr}/hook"),
                secret: trackstar_sim::new_secret(),
            },
            state,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    /// The most POSTs that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state
        .received
        .lock()
        .expect("lock")
        .push(Received { headers, body });
    let mut fail = state.fail_first.lock().expect("lock");
    if *fail > 0 {
        *fail -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}
