//! The Trackstar client: every call goes through one pipeline —
//! circuit breaker → per-token rate limiter → HTTP with timeouts → error mapping →
//! retry with jittered backoff (retryable errors only) — and is logged without secrets.
//!
//! With a shared budget attached (`with_shared_budget`), connection calls are admitted by
//! the token's DynamoDB-backed budget and breaker (`budget.rs`), which every instance
//! shares: the in-process limiter stays in front as the fast path (one lane per priority,
//! so an instance's own background load cannot queue its interactive calls), the shared
//! breaker is authoritative, and the in-process breaker and token limiter take over only
//! while DynamoDB cannot be reached. Organisation calls (link flow, connections) carry no
//! access token and stay on the in-process limiter and breaker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::InboundShipmentId;
use crate::domain::{ConnectionId, OrderId, ProductId, TenantId};
use crate::metrics::{Metric, MetricsSink};
use crate::secrets::{LazySecret, SecretSource};
use crate::store::keys;

use super::breaker::{BreakerSnapshot, Breakers, Clock, Permit, SystemClock};
use super::budget::{Admission, Ask, BudgetError, DynamoBudget, SharedBreakerSnapshot};
use super::config::{check_base_url, ConfigError, TrackstarConfig};
use super::credentials::{ConnectionCredentials, IdempotencyKey};
use super::error::{request_id, ErrorMeta, TrackstarError};
use super::filters::ListFilter;
use super::on_demand::{OnDemandSyncJob, OnDemandSyncRequest};
use super::pagination::{self, Listed};
use super::priority::Priority;
use super::ratelimit::{lane_key, token_key, RateLimits, RequestKind, TokenKey};
use super::requests::{
    CreateOrderRequest, CreateProductRequest, UpdateOrderRequest, UpdateProductRequest,
};
use super::requests_inbound::{
    CreateInboundShipmentRequest, CreateReturnRequest, UpdateInboundShipmentRequest,
    WriteRequestError,
};
use super::retry::backoff_delay;
use super::wire::{
    decode_page, decode_single, decode_write, ExchangeResponse, ExchangedConnection, LinkToken,
    Page, TrackstarConnection, TrackstarOrder, TrackstarProduct, WriteResult,
};
use crate::runtime::tls;

const API_KEY_HEADER: &str = "x-trackstar-api-key";
const ACCESS_TOKEN_HEADER: &str = "x-trackstar-access-token";
const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The breaker key for organisation-level calls (link flow, connections).
const ORG_BREAKER_KEY: &str = "_org";
/// The shared timeline's slot length for a rate of 1/s, µs: 1 s · 1.05. More headroom than
/// the in-process limiter's 2 %, because slots booked on one timeline are sent by different
/// instances whose requests travel separately (and some a DynamoDB round trip late): with
/// 105 ms slots at 10/s, ten slots span 1,050 ms, so a request may reach Trackstar up to
/// 50 ms later than the one ten slots after it before Trackstar's rolling one-second window
/// sees eleven. (At 102 ms that margin is 20 ms, and the three-process test saw 429s.)
const SHARED_PERIOD_US: f64 = 1_050_000.0;

/// A cheap-to-clone handle; clones share limiters, breakers, the shared budget and the
/// connection pool. Each handle has a priority (default `Interactive`).
#[derive(Clone)]
pub struct TrackstarClient {
    inner: Arc<Inner>,
    budget: Option<DynamoBudget>,
    priority: Priority,
    /// Where `trackstar.errors` (by kind) and `trackstar.breaker_opened` go, if anywhere.
    metrics: Option<Arc<dyn MetricsSink>>,
}

struct Inner {
    http: reqwest::Client,
    config: TrackstarConfig,
    api_key: ApiKey,
    secrets: Arc<dyn SecretSource>,
    limits: RateLimits,
    breakers: Breakers,
}

/// The organisation key: given, or read through the client's secret source on first use and
/// kept for the instance's life (as a key read at cold start was). A function builds its
/// client at init without reading the secret: that is network I/O, and most invocations of
/// the functions holding a client (API reads, webhooks that need no refetch) never call
/// Trackstar.
enum ApiKey {
    Given(SecretString, TokenKey),
    Secret(LazySecret<(SecretString, TokenKey)>),
}

impl Inner {
    async fn api_key(&self) -> Result<(&SecretString, TokenKey), TrackstarError> {
        match &self.api_key {
            ApiKey::Given(key, id) => Ok((key, *id)),
            ApiKey::Secret(secret) => {
                let (key, id) = secret
                    .get(|key| Ok::<_, TrackstarError>((key.clone(), token_key(key))))
                    .await?;
                Ok((key, *id))
            }
        }
    }
}

enum Auth<'a> {
    ApiKey,
    Connection(&'a ConnectionCredentials),
}

struct Call<'a> {
    method: Method,
    /// The path with placeholders, for logs (`/wms/orders/{order_id}`).
    template: &'static str,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&'a IdempotencyKey>,
    auth: Auth<'a>,
}

/// How one attempt was let through.
enum Gate<'a> {
    /// The in-process breaker and token limiter (organisation calls, or the shared budget
    /// unreachable).
    Local {
        permit: Permit<'a>,
        limiter: TokenKey,
    },
    /// The shared budget; `probe` when this attempt is the half-open probe.
    Shared {
        budget: &'a DynamoBudget,
        pk: &'a str,
        probe: bool,
        limiter: TokenKey,
    },
}

impl Gate<'_> {
    fn limiter(&self) -> &TokenKey {
        match self {
            Gate::Local { limiter, .. } | Gate::Shared { limiter, .. } => limiter,
        }
    }
}

struct Reply {
    headers: HeaderMap,
    body: Vec<u8>,
    request_id: Option<String>,
}

impl TrackstarClient {
    /// `api_key` is the organisation key; access tokens are read per call through
    /// `secrets` (put a `CachedSecretSource` in front of Secrets Manager).
    pub fn new(
        config: TrackstarConfig,
        api_key: SecretString,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, ConfigError> {
        Self::with_clock(config, api_key, secrets, Arc::new(SystemClock))
    }

    /// As `new`, with the organisation key read from the secret `api_key_secret` through
    /// `secrets` on the first call that needs it (not now), then kept.
    pub fn with_api_key_secret(
        config: TrackstarConfig,
        api_key_secret: impl Into<String>,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, ConfigError> {
        Self::build(
            config,
            ApiKey::Secret(LazySecret::new(secrets.clone(), api_key_secret)),
            secrets,
            Arc::new(SystemClock),
        )
    }

    /// As `new`, with the breakers on the given clock.
    pub fn with_clock(
        config: TrackstarConfig,
        api_key: SecretString,
        secrets: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let id = token_key(&api_key);
        Self::build(config, ApiKey::Given(api_key, id), secrets, clock)
    }

    fn build(
        config: TrackstarConfig,
        api_key: ApiKey,
        secrets: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        check_base_url(&config.base_url)?;
        let tls = tls::client_config().map_err(ConfigError::Tls)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            // A redirect is answered as an error, never followed: reqwest's default policy
            // drops only `Authorization` and `Cookie` on a cross-host redirect, so the
            // `x-trackstar-*` credentials would follow it.
            .redirect(reqwest::redirect::Policy::none())
            // Plain HTTP only where `check_base_url` allows it (loopback).
            .https_only(config.base_url.starts_with("https://"))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("packr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ConfigError::HttpClient)?;
        let limits = RateLimits::new(
            config.get_rate,
            config.write_rate,
            config.retry.max_rate_limit_wait,
        );
        let breakers = Breakers::new(config.breaker.clone(), clock);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_key,
                secrets,
                limits,
                breakers,
                config,
            }),
            budget: None,
            priority: Priority::default(),
            metrics: None,
        })
    }

    /// This client with every connection call admitted by the token's shared budget and
    /// breaker in DynamoDB (see `budget.rs`).
    pub fn with_shared_budget(mut self, budget: DynamoBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// A handle whose calls use `priority`, sharing everything else with this one.
    pub fn with_priority(&self, priority: Priority) -> TrackstarClient {
        TrackstarClient {
            inner: self.inner.clone(),
            budget: self.budget.clone(),
            priority,
            metrics: self.metrics.clone(),
        }
    }

    /// This client emitting `trackstar.errors` (dimension `kind`) for every failed attempt
    /// and `trackstar.breaker_opened` whenever a connection's breaker opens.
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn emit(&self, metric: Metric) {
        if let Some(metrics) = &self.metrics {
            metrics.emit(metric);
        }
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    pub fn shared_budget(&self) -> Option<&DynamoBudget> {
        self.budget.as_ref()
    }

    /// The shared circuit breaker of one connection as stored, read afresh; `None` when
    /// this client has no shared budget. A connection never seen reads as closed.
    pub async fn shared_breaker(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<SharedBreakerSnapshot>, BudgetError> {
        match &self.budget {
            None => Ok(None),
            Some(budget) => budget.breaker(tenant, connection).await.map(Some),
        }
    }

    pub fn config(&self) -> &TrackstarConfig {
        &self.inner.config
    }

    /// The in-process circuit breaker of one connection, as it stands now (with a shared
    /// budget, it is used only while DynamoDB cannot be reached; see `shared_breaker`).
    pub fn breaker_state(&self, connection: &ConnectionId) -> BreakerSnapshot {
        self.inner.breakers.snapshot(connection.as_str())
    }

    // ---- link flow and connections (API key only) ----

    /// `POST /link/token`; pass a connection id to reinstall an existing connection.
    pub async fn create_link_token(
        &self,
        connection_id: Option<&ConnectionId>,
    ) -> Result<LinkToken, TrackstarError> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            connection_id: Option<&'a str>,
        }
        let key = IdempotencyKey::generate();
        let body = Body {
            connection_id: connection_id.map(ConnectionId::as_str),
        };
        let reply = self
            .send(Call {
                method: Method::POST,
                template: "/link/token",
                path: "/link/token".into(),
                query: Vec::new(),
                body: Some(json_body(&body)?),
                idempotency_key: Some(&key),
                auth: Auth::ApiKey,
            })
            .await?;
        decode(&reply, |b| serde_json::from_slice(b))
    }

    /// `POST /link/exchange`: trades the browser's auth code for the permanent access token.
    pub async fn exchange_auth_code(
        &self,
        auth_code: &SecretString,
        customer_id: Option<&str>,
    ) -> Result<ExchangedConnection, TrackstarError> {
        #[derive(Serialize)]
        struct Body<'a> {
            auth_code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            customer_id: Option<&'a str>,
        }
        let key = IdempotencyKey::generate();
        let body = Body {
            auth_code: auth_code.expose_secret(),
            customer_id: customer_id.filter(|c| !c.trim().is_empty()),
        };
        let reply = self
            .send(Call {
                method: Method::POST,
                template: "/link/exchange",
                path: "/link/exchange".into(),
                query: Vec::new(),
                body: Some(json_body(&body)?),
                idempotency_key: Some(&key),
                auth: Auth::ApiKey,
            })
            .await?;
        let raw: ExchangeResponse = decode(&reply, |b| serde_json::from_slice(b))?;
        let connection_id = raw.connection_id.ok_or_else(|| TrackstarError::Protocol {
            reason: "the exchange response has no connection_id".into(),
        })?;
        Ok(ExchangedConnection {
            access_token: SecretString::from(raw.access_token),
            connection_id,
            integration_name: raw.integration_name,
            customer_id: raw.customer_id,
            available_actions: raw.available_actions,
        })
    }

    /// `GET /connections/{connection_id}`.
    pub async fn get_connection(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<TrackstarConnection, TrackstarError> {
        let reply = self
            .send(Call {
                method: Method::GET,
                template: "/connections/{connection_id}",
                path: format!("/connections/{connection_id}"),
                query: Vec::new(),
                body: None,
                idempotency_key: None,
                auth: Auth::ApiKey,
            })
            .await?;
        decode(&reply, decode_single)
    }

    /// `DELETE /connections` (connection-scoped: the access token names it): removes the
    /// connection at Trackstar. Sent with an idempotency key (a retry of a deletion that
    /// went through answers as the first did; one Trackstar no longer knows is a 404 or
    /// 401, which the caller counts as deleted).
    pub async fn delete_connection(
        &self,
        credentials: &ConnectionCredentials,
    ) -> Result<(), TrackstarError> {
        let key = IdempotencyKey::generate();
        self.send(Call {
            method: Method::DELETE,
            template: "/connections",
            path: "/connections".into(),
            query: Vec::new(),
            body: None,
            idempotency_key: Some(&key),
            auth: Auth::Connection(credentials),
        })
        .await?;
        Ok(())
    }

    // ---- on-demand syncs (backfills) ----

    /// `POST /connections/on-demand-syncs`: asks Trackstar to re-read one function's data
    /// over a window (see `on_demand.rs`). Sent with the caller's idempotency key.
    pub async fn create_on_demand_sync(
        &self,
        credentials: &ConnectionCredentials,
        request: &OnDemandSyncRequest,
        key: &IdempotencyKey,
    ) -> Result<OnDemandSyncJob, TrackstarError> {
        let reply = self
            .send(Call {
                method: Method::POST,
                template: "/connections/on-demand-syncs",
                path: "/connections/on-demand-syncs".into(),
                query: Vec::new(),
                body: Some(json_body(request)?),
                idempotency_key: Some(key),
                auth: Auth::Connection(credentials),
            })
            .await?;
        decode(&reply, decode_single)
    }

    /// `GET /connections/on-demand-syncs/{id}`.
    pub async fn get_on_demand_sync(
        &self,
        credentials: &ConnectionCredentials,
        id: &str,
    ) -> Result<OnDemandSyncJob, TrackstarError> {
        self.get_one(
            credentials,
            "/connections/on-demand-syncs/{id}",
            format!("/connections/on-demand-syncs/{id}"),
        )
        .await
    }

    // ---- listings ----

    /// One page of a listing; `page_token` is the previous page's `next_token`.
    pub async fn list_page<T: Listed>(
        &self,
        credentials: &ConnectionCredentials,
        filter: &ListFilter,
        page_token: Option<&str>,
    ) -> Result<Page<T>, TrackstarError> {
        let mut query = filter.to_query(self.inner.config.updated_field_name);
        if let Some(token) = page_token {
            query.push(("page_token".to_owned(), token.to_owned()));
        }
        let reply = self
            .send(Call {
                method: Method::GET,
                template: T::PATH,
                path: T::PATH.to_owned(),
                query,
                body: None,
                idempotency_key: None,
                auth: Auth::Connection(credentials),
            })
            .await?;
        let request_id = reply.request_id.clone();
        let page: Page<T> = decode(&reply, |b| decode_page(b, request_id))?;
        if page.skipped > 0 {
            tracing::warn!(
                path = T::PATH,
                skipped = page.skipped,
                request_id = page.request_id.as_deref().unwrap_or(""),
                "trackstar page entries could not be decoded and were skipped"
            );
        }
        Ok(page)
    }

    /// Every page of a listing, as a stream.
    pub fn pages<T: Listed>(
        &self,
        credentials: &ConnectionCredentials,
        filter: ListFilter,
    ) -> BoxStream<'static, Result<Page<T>, TrackstarError>> {
        pagination::pages(self.clone(), credentials.clone(), filter)
    }

    /// Every item of a listing, across pages, as a stream.
    pub fn items<T: Listed>(
        &self,
        credentials: &ConnectionCredentials,
        filter: ListFilter,
    ) -> BoxStream<'static, Result<T, TrackstarError>> {
        pagination::items(self.clone(), credentials.clone(), filter)
    }

    pub fn list_orders(
        &self,
        credentials: &ConnectionCredentials,
        filter: ListFilter,
    ) -> BoxStream<'static, Result<TrackstarOrder, TrackstarError>> {
        self.items(credentials, filter)
    }

    // ---- single reads ----

    pub async fn get_order(
        &self,
        credentials: &ConnectionCredentials,
        id: &OrderId,
    ) -> Result<TrackstarOrder, TrackstarError> {
        self.get_one(
            credentials,
            "/wms/orders/{order_id}",
            format!("/wms/orders/{id}"),
        )
        .await
    }

    async fn get_one<T: DeserializeOwned>(
        &self,
        credentials: &ConnectionCredentials,
        template: &'static str,
        path: String,
    ) -> Result<T, TrackstarError> {
        let reply = self
            .send(Call {
                method: Method::GET,
                template,
                path,
                query: Vec::new(),
                body: None,
                idempotency_key: None,
                auth: Auth::Connection(credentials),
            })
            .await?;
        decode(&reply, decode_single)
    }

    // ---- writes ----

    /// `POST /wms/orders`. Amounts must share one currency (it becomes the invoice currency).
    pub async fn create_order(
        &self,
        credentials: &ConnectionCredentials,
        request: &CreateOrderRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<TrackstarOrder>, TrackstarError> {
        let mut request = request.clone();
        request
            .fields
            .check_currency()
            .map_err(|reason| TrackstarError::InvalidRequest { reason })?;
        self.write(
            credentials,
            Method::POST,
            "/wms/orders",
            "/wms/orders".into(),
            Some(json_body(&request)?),
            key,
        )
        .await
    }

    /// `PUT /wms/orders/{order_id}` with only the fields that change.
    pub async fn update_order(
        &self,
        credentials: &ConnectionCredentials,
        id: &OrderId,
        request: &UpdateOrderRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<TrackstarOrder>, TrackstarError> {
        let mut request = request.clone();
        request
            .fields
            .check_currency()
            .map_err(|reason| TrackstarError::InvalidRequest { reason })?;
        self.write(
            credentials,
            Method::PUT,
            "/wms/orders/{order_id}",
            format!("/wms/orders/{id}"),
            Some(json_body(&request)?),
            key,
        )
        .await
    }

    /// `POST /wms/inbound-shipments`. Refused before sending (`InvalidRequest`, naming the
    /// field) when a required field is blank, there is no line, or a quantity is not positive.
    pub async fn create_inbound_shipment(
        &self,
        credentials: &ConnectionCredentials,
        request: &CreateInboundShipmentRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<super::wire::TrackstarInboundShipment>, TrackstarError> {
        request.validate().map_err(invalid_request)?;
        self.write(
            credentials,
            Method::POST,
            "/wms/inbound-shipments",
            "/wms/inbound-shipments".into(),
            Some(json_body(request)?),
            key,
        )
        .await
    }

    /// `PUT /wms/inbound-shipments/{inbound_shipment_id}` with only the fields that change.
    pub async fn update_inbound_shipment(
        &self,
        credentials: &ConnectionCredentials,
        id: &InboundShipmentId,
        request: &UpdateInboundShipmentRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<super::wire::TrackstarInboundShipment>, TrackstarError> {
        request.validate().map_err(invalid_request)?;
        self.write(
            credentials,
            Method::PUT,
            "/wms/inbound-shipments/{inbound_shipment_id}",
            format!("/wms/inbound-shipments/{id}"),
            Some(json_body(request)?),
            key,
        )
        .await
    }

    /// `POST /wms/returns`. Refused before sending when it has no line or a quantity is not
    /// positive.
    pub async fn create_return(
        &self,
        credentials: &ConnectionCredentials,
        request: &CreateReturnRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<super::wire::TrackstarReturn>, TrackstarError> {
        request.validate().map_err(invalid_request)?;
        self.write(
            credentials,
            Method::POST,
            "/wms/returns",
            "/wms/returns".into(),
            Some(json_body(request)?),
            key,
        )
        .await
    }

    /// `PUT /wms/orders/{order_id}/cancel` (no body).
    pub async fn cancel_order(
        &self,
        credentials: &ConnectionCredentials,
        id: &OrderId,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<TrackstarOrder>, TrackstarError> {
        self.write(
            credentials,
            Method::PUT,
            "/wms/orders/{order_id}/cancel",
            format!("/wms/orders/{id}/cancel"),
            None,
            key,
        )
        .await
    }

    pub async fn create_product(
        &self,
        credentials: &ConnectionCredentials,
        request: &CreateProductRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<TrackstarProduct>, TrackstarError> {
        self.write(
            credentials,
            Method::POST,
            "/wms/products",
            "/wms/products".into(),
            Some(json_body(request)?),
            key,
        )
        .await
    }

    pub async fn update_product(
        &self,
        credentials: &ConnectionCredentials,
        id: &ProductId,
        request: &UpdateProductRequest,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<TrackstarProduct>, TrackstarError> {
        self.write(
            credentials,
            Method::PUT,
            "/wms/products/{product_id}",
            format!("/wms/products/{id}"),
            Some(json_body(request)?),
            key,
        )
        .await
    }

    async fn write<T: DeserializeOwned>(
        &self,
        credentials: &ConnectionCredentials,
        method: Method,
        template: &'static str,
        path: String,
        body: Option<Vec<u8>>,
        key: &IdempotencyKey,
    ) -> Result<WriteResult<T>, TrackstarError> {
        let reply = self
            .send(Call {
                method,
                template,
                path,
                query: Vec::new(),
                body,
                idempotency_key: Some(key),
                auth: Auth::Connection(credentials),
            })
            .await?;
        let replayed = reply
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let request_id = reply.request_id.clone();
        decode(&reply, |b| decode_write(b, replayed, request_id))
    }

    // ---- the pipeline ----

    async fn send(&self, call: Call<'_>) -> Result<Reply, TrackstarError> {
        let inner = &*self.inner;
        let policy = &inner.config.retry;
        let connection = match &call.auth {
            Auth::ApiKey => "",
            Auth::Connection(c) => c.connection_id.as_str(),
        };
        let kind = if call.method == Method::GET {
            RequestKind::Read
        } else {
            RequestKind::Write
        };
        let shared = match (&call.auth, &self.budget) {
            (Auth::Connection(c), Some(budget)) => Some((
                budget,
                keys::trackstar_budget_pk(&c.tenant_id, &c.connection_id),
            )),
            _ => None,
        };
        let shared = shared.as_ref().map(|(budget, pk)| (*budget, pk.as_str()));
        let mut token = match &call.auth {
            Auth::ApiKey => None,
            Auth::Connection(c) => Some(inner.secrets.get(&c.access_token_secret).await?),
        };
        let (api_key, api_key_id) = inner.api_key().await?;
        let mut refreshed = false;
        let mut retries = 0_u32;
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            let token_id = token.as_ref().map(token_key).unwrap_or(api_key_id);
            // Boxed (here and below): the budget's futures nest deeply, and every caller's
            // future embeds this one.
            let gate = Box::pin(self.admit(&call, shared, &token_id, kind, attempt))
                .await
                .inspect_err(|error| {
                    tracing::warn!(
                        method = %call.method,
                        path = call.template,
                        connection_id = connection,
                        priority = self.priority.as_str(),
                        attempt,
                        error = error.kind(),
                        "trackstar call refused before sending"
                    );
                })?;
            let limiter = *gate.limiter();

            let started = Instant::now();
            let outcome = self.send_once(&call, api_key, token.as_ref()).await;
            let latency_ms = started.elapsed().as_millis() as u64;

            let error = match outcome {
                Ok((status, reply)) => {
                    Box::pin(self.settle(gate, false)).await;
                    inner.limits.observe(&limiter, &reply.headers);
                    tracing::info!(
                        method = %call.method,
                        path = call.template,
                        connection_id = connection,
                        status = status.as_u16(),
                        request_id = reply.request_id.as_deref().unwrap_or(""),
                        attempt,
                        latency_ms,
                        "trackstar call"
                    );
                    return Ok(reply);
                }
                Err((error, headers)) => {
                    self.emit(Metric::count("trackstar.errors").with("kind", error.kind()));
                    Box::pin(self.settle(gate, error.trips_breaker())).await;
                    if let Some(headers) = &headers {
                        inner.limits.observe(&limiter, headers);
                    }
                    tracing::warn!(
                        method = %call.method,
                        path = call.template,
                        connection_id = connection,
                        error = error.kind(),
                        status = status_of(&error),
                        request_id = error.request_id().unwrap_or(""),
                        attempt,
                        latency_ms,
                        "trackstar call failed"
                    );
                    error
                }
            };

            // A rejected access token may have been rotated: read it afresh, once.
            if let (TrackstarError::Unauthorized { .. }, Auth::Connection(c)) = (&error, &call.auth)
            {
                if !refreshed {
                    refreshed = true;
                    inner.secrets.invalidate(&c.access_token_secret).await;
                    token = Some(inner.secrets.get(&c.access_token_secret).await?);
                    continue;
                }
            }

            if !error.is_retryable() || retries + 1 >= policy.max_attempts {
                return Err(error);
            }
            retries += 1;
            match &error {
                TrackstarError::RateLimited { retry_after, .. } => {
                    let wait = retry_after
                        .unwrap_or_else(|| backoff_delay(policy, retries, &mut rand::rng()));
                    // Pausing the token holds every caller on it, not just this one: in
                    // this instance, and through the shared budget in every instance.
                    inner.limits.pause(&token_id, wait);
                    inner.limits.pause(&limiter, wait);
                    if let Some((budget, pk)) = shared.filter(|(b, _)| !b.bypassed()) {
                        let until = chrono::Utc::now().timestamp_millis()
                            + i64::try_from(wait.min(policy.max_rate_limit_wait).as_millis())
                                .unwrap_or(0);
                        if let Err(e) = Box::pin(budget.pause(pk, kind, until)).await {
                            budget.fail_open(&e);
                        }
                    }
                    if wait > policy.max_rate_limit_wait {
                        // Retrying before the server's window reopens cannot succeed:
                        // hand the wait back to the caller (e.g. a queued job) instead.
                        return Err(error);
                    }
                }
                _ => {
                    let wait = backoff_delay(policy, retries, &mut rand::rng());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Lets one attempt through: the shared budget for connection calls when it can be
    /// reached (books a slot and sleeps until it), else the in-process breaker and limiter.
    async fn admit<'a>(
        &'a self,
        call: &Call<'_>,
        shared: Option<(&'a DynamoBudget, &'a str)>,
        token_id: &TokenKey,
        kind: RequestKind,
        attempt: u32,
    ) -> Result<Gate<'a>, TrackstarError> {
        let inner = &*self.inner;
        if let Some((budget, pk)) = shared.filter(|(b, _)| !b.bypassed()) {
            if let Some(retry_after) = budget.known_open(pk) {
                return Err(TrackstarError::CircuitOpen { retry_after });
            }
            let lane = lane_key(token_id, self.priority);
            inner.limits.acquire(&lane, kind).await;
            match budget.reserve(pk, &self.ask(kind)).await {
                Ok(Admission::Slot { at_ms, probe }) => {
                    let wait = at_ms - chrono::Utc::now().timestamp_millis();
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                    }
                    return Ok(Gate::Shared {
                        budget,
                        pk,
                        probe,
                        limiter: lane,
                    });
                }
                Ok(Admission::Open { retry_after }) => {
                    return Err(TrackstarError::CircuitOpen { retry_after });
                }
                Ok(Admission::Busy { retry_after }) => {
                    return Err(TrackstarError::RateLimited {
                        retry_after: Some(retry_after),
                        meta: ErrorMeta::default(),
                    });
                }
                // A DynamoDB outage must not stop all Trackstar traffic: fall through to
                // the in-process breaker and the token's in-process limiter.
                Err(error) => budget.fail_open(&error),
            }
        }
        let breaker_key = match &call.auth {
            Auth::ApiKey => ORG_BREAKER_KEY,
            Auth::Connection(c) => c.connection_id.as_str(),
        };
        let permit = inner.breakers.acquire(breaker_key).map_err(|retry_after| {
            tracing::debug!(attempt, "in-process circuit open");
            TrackstarError::CircuitOpen { retry_after }
        })?;
        inner.limits.acquire(token_id, kind).await;
        Ok(Gate::Local {
            permit,
            limiter: *token_id,
        })
    }

    /// Reports an attempt's outcome to whatever let it through. On the shared breaker, a
    /// failure is one write; a success writes only when it is the probe (closing it).
    async fn settle(&self, gate: Gate<'_>, failed: bool) {
        match gate {
            Gate::Local { permit, .. } => {
                if failed {
                    let key = permit.key().to_owned();
                    let opened = self.inner.breakers.snapshot(&key).times_opened;
                    permit.failure();
                    if self.inner.breakers.snapshot(&key).times_opened > opened {
                        self.breaker_opened("local");
                    }
                } else {
                    permit.success();
                }
            }
            Gate::Shared {
                budget, pk, probe, ..
            } => {
                let was_open = budget.known_open(pk).is_some();
                let result = if failed {
                    budget
                        .record_failure(pk, &self.inner.config.breaker, probe)
                        .await
                } else if probe {
                    budget.record_probe_success(pk).await
                } else {
                    Ok(())
                };
                if let Err(error) = result {
                    budget.fail_open(&error);
                }
                if failed && !was_open && budget.known_open(pk).is_some() {
                    self.breaker_opened("shared");
                }
            }
        }
    }

    fn breaker_opened(&self, scope: &'static str) {
        tracing::warn!(scope, "trackstar circuit breaker opened");
        self.emit(Metric::count("trackstar.breaker_opened").with("scope", scope));
    }

    /// What this handle's priority may book on the shared timeline.
    fn ask(&self, kind: RequestKind) -> Ask {
        let config = &self.inner.config;
        let rate = match kind {
            RequestKind::Read => config.get_rate,
            RequestKind::Write => config.write_rate,
        };
        let period_us = SHARED_PERIOD_US / f64::from(rate.get());
        let interval_ms = (period_us / self.priority.share() / 1000.0).ceil() as i64;
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        Ask {
            kind,
            interval_ms: interval_ms.max(1),
            look_ahead_ms: millis(self.priority.look_ahead()),
            max_wait: config.retry.max_rate_limit_wait,
            probe_lease_ms: millis(config.request_timeout + Duration::from_secs(1)),
            lane: self.priority.index(),
        }
    }

    /// One HTTP exchange. On failure, also returns the response headers when there was a
    /// response (for the rate-limit headers).
    async fn send_once(
        &self,
        call: &Call<'_>,
        api_key: &SecretString,
        token: Option<&SecretString>,
    ) -> Result<(StatusCode, Reply), (TrackstarError, Option<HeaderMap>)> {
        let inner = &*self.inner;
        let url = format!(
            "{}{}",
            inner.config.base_url.trim_end_matches('/'),
            call.path
        );
        let mut request = inner
            .http
            .request(call.method.clone(), url)
            .header(API_KEY_HEADER, sensitive(api_key.expose_secret()));
        if let Some(token) = token {
            request = request.header(ACCESS_TOKEN_HEADER, sensitive(token.expose_secret()));
        }
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(key) = call.idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key.as_str());
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| (TrackstarError::from_transport(e), None))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(response, inner.config.max_response_bytes)
            .await
            .map_err(|e| (e, Some(headers.clone())))?;
        if status.is_success() {
            Ok((
                status,
                Reply {
                    request_id: request_id(&headers),
                    headers,
                    body,
                },
            ))
        } else {
            let error = TrackstarError::from_response(status, &headers, &body);
            Err((error, Some(headers)))
        }
    }
}

/// The response body, refused as soon as it is known to pass `limit` bytes: from its
/// `Content-Length`, else while the chunks arrive (nothing past the cap is buffered).
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, TrackstarError> {
    let too_large = |headers: &HeaderMap| TrackstarError::ResponseTooLarge {
        limit,
        meta: ErrorMeta {
            request_id: request_id(headers),
            ..ErrorMeta::default()
        },
    };
    let declared = response.content_length().unwrap_or(0);
    if usize::try_from(declared).map_or(true, |n| n > limit) {
        return Err(too_large(response.headers()));
    }
    let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(TrackstarError::from_transport)?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large(response.headers()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A header value marked sensitive, so `reqwest`/`hyper` never print it.
fn sensitive(value: &str) -> HeaderValue {
    let mut header = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    header.set_sensitive(true);
    header
}

/// A request refused before sending: Trackstar's `InvalidRequest`, its reason naming the field.
fn invalid_request(error: WriteRequestError) -> TrackstarError {
    TrackstarError::InvalidRequest {
        reason: error.to_string(),
    }
}

fn json_body<T: Serialize>(body: &T) -> Result<Vec<u8>, TrackstarError> {
    serde_json::to_vec(body).map_err(|e| TrackstarError::InvalidRequest {
        reason: format!("the request body could not be encoded: {e}"),
    })
}

fn decode<T>(
    reply: &Reply,
    decoder: impl FnOnce(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, TrackstarError> {
    decoder(&reply.body).map_err(|source| TrackstarError::Decode {
        source,
        meta: super::error::ErrorMeta {
            request_id: reply.request_id.clone(),
            ..Default::default()
        },
    })
}

fn status_of(error: &TrackstarError) -> u16 {
    match error {
        TrackstarError::BadRequest { .. } => 400,
        TrackstarError::Unauthorized { .. } => 401,
        TrackstarError::Forbidden { .. } => 403,
        TrackstarError::NotFound { .. } => 404,
        TrackstarError::Conflict { .. } => 409,
        TrackstarError::Validation { .. } => 422,
        TrackstarError::RateLimited { .. } => 429,
        TrackstarError::NotImplemented { .. } => 501,
        TrackstarError::Upstream { status, .. } => *status,
        _ => 0,
    }
}

impl std::fmt::Debug for TrackstarClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackstarClient")
            .field("base_url", &self.inner.config.base_url)
            .finish_non_exhaustive()
    }
}
