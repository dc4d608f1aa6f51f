//! The HTTP surface: routes and the request pipeline
//! (request id and log → API key → access token → rate limit → injected errors →
//! idempotency → injected latency or hang → handler).

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::config::SimConnection;
use crate::data::model::{
    Bill, InboundShipment, InventoryItem, Order, Product, Return, ShippingMethod, Warehouse,
};
use crate::error::ApiError;
use crate::faults::FaultAction;
use crate::idempotency::{request_fingerprint, NextAction, SavedResponse, MAX_KEY_LEN};
use crate::ratelimit::{RateClass, RateDecision};
use crate::routes::{link, read, syncs, write, write_inbound, AppState};

pub const API_KEY_HEADER: &str = "x-trackstar-api-key";
pub const ACCESS_TOKEN_HEADER: &str = "x-trackstar-access-token";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const MAX_BODY: usize = 4 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let wms = Router::new()
        .route(
            "/wms/orders",
            get(read::list::<Order>).post(write::create_order),
        )
        .route(
            "/wms/orders/{id}",
            get(read::get_one::<Order>).put(write::update_order),
        )
        .route("/wms/orders/{id}/cancel", put(write::cancel_order))
        .route("/wms/inventory", get(read::list::<InventoryItem>))
        .route("/wms/inventory/{id}", get(read::get_one::<InventoryItem>))
        .route("/wms/inventory/{id}/adjust", put(write::adjust_inventory))
        .route(
            "/wms/products",
            get(read::list::<Product>).post(write::create_product),
        )
        .route(
            "/wms/products/{id}",
            get(read::get_one::<Product>).put(write::update_product),
        )
        .route(
            "/wms/inbound-shipments",
            get(read::list::<InboundShipment>).post(write_inbound::create_inbound_shipment),
        )
        .route(
            "/wms/inbound-shipments/{id}",
            get(read::get_one::<InboundShipment>).put(write_inbound::update_inbound_shipment),
        )
        .route(
            "/wms/inbound-shipments/{id}/receive",
            put(write_inbound::receive_inbound_shipment),
        )
        .route(
            "/wms/returns",
            get(read::list::<Return>).post(write_inbound::create_return),
        )
        .route("/wms/returns/{id}", get(read::get_one::<Return>))
        .route("/wms/warehouses", get(read::list::<Warehouse>))
        .route("/wms/warehouses/{id}", get(read::get_one::<Warehouse>))
        .route("/wms/shipping-methods", get(read::list::<ShippingMethod>))
        .route(
            "/wms/shipping-methods/{id}",
            get(read::get_one::<ShippingMethod>),
        )
        .route("/wms/billing", get(read::list::<Bill>))
        .route("/wms/billing/{id}", get(read::get_one::<Bill>))
        .route("/connections/sync", post(syncs::force_sync))
        .route(
            "/connections/on-demand-syncs",
            post(syncs::create_on_demand_sync),
        )
        .route(
            "/connections/on-demand-syncs/{id}",
            get(syncs::get_on_demand_sync),
        )
        .route(
            "/connections/on-demand-syncs/{id}/cancel",
            post(syncs::cancel_on_demand_sync),
        )
        .layer(from_fn_with_state(state.clone(), wms_slowness))
        .layer(from_fn_with_state(state.clone(), idempotency))
        .layer(from_fn_with_state(state.clone(), wms_guard));
    let api = Router::new()
        .route("/link/token", post(link::link_token))
        .route("/link/exchange", post(link::exchange))
        .route(
            "/connections",
            get(link::list_connections).delete(link::delete_connection),
        )
        .route("/connections/{id}", get(link::get_connection))
        .merge(wms)
        .layer(from_fn_with_state(state.clone(), api_key));
    api.merge(crate::control::router())
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "Not found", "origin": "trackstar"})),
    )
        .into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Gives every response an `X-Request-Id` and counts requests in the request log.
async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let token = header(req.headers(), ACCESS_TOKEN_HEADER)
        .unwrap_or("")
        .to_owned();
    let logged = !path.starts_with("/_sim");
    if logged {
        state.requests.received(&method, &path, &token);
    }
    let mut response = next.run(req).await;
    if logged {
        state
            .requests
            .served(&method, &path, &token, response.status().as_u16());
    }
    let request_id = format!("req_{}", uuid::Uuid::new_v4().simple());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match header(req.headers(), API_KEY_HEADER) {
        Some(key) if key == state.api_key => next.run(req).await,
        Some(_) => ApiError::Unauthorized("Invalid API key".to_owned()).into_response(),
        None => {
            ApiError::Unauthorized("Missing x-trackstar-api-key header".to_owned()).into_response()
        }
    }
}

fn rate_headers(headers: &mut HeaderMap, d: &RateDecision) {
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", d.reset_epoch.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}

fn too_many(d: &RateDecision) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"error": "Rate limit exceeded", "origin": "trackstar"})),
    )
        .into_response();
    rate_headers(response.headers_mut(), d);
    if let Ok(v) = HeaderValue::from_str(&d.retry_after.max(1).to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

fn injected(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({"error": format!("Injected fault: {status}"), "origin": "trackstar"})),
    )
        .into_response()
}

/// `307 Temporary Redirect` to `location` (a redirect fault).
fn redirect(location: &str) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert("location", v);
    }
    response
}

/// A 200 whose JSON body is padded to `bytes` (an oversize fault).
fn oversize(bytes: usize) -> Response {
    let padding = "x".repeat(bytes.saturating_sub(32));
    Json(json!({"data": [], "next_token": null, "padding": padding})).into_response()
}

/// Access token, rate limits and faults for `/wms/...`.
async fn wms_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = header(req.headers(), ACCESS_TOKEN_HEADER)
        .unwrap_or("")
        .to_owned();
    let Some(connection) = state.use_token(&token) else {
        let message = if token.is_empty() {
            "Missing x-trackstar-access-token header"
        } else {
            "Invalid access token"
        };
        return ApiError::Unauthorized(message.to_owned()).into_response();
    };
    let method = req.method().clone();
    let limits = state.limits();
    let (class, limit) = if method == Method::GET || method == Method::HEAD {
        (RateClass::Read, limits.get_rate_per_sec)
    } else {
        (RateClass::Write, limits.write_rate_per_sec)
    };
    let decision = state.limiter.check(&token, class, limit);
    if !decision.allowed {
        return too_many(&decision);
    }
    let fault = state
        .faults
        .next(&connection.connection_id, method.as_str());
    if fault.storm {
        let storm = RateDecision {
            allowed: false,
            remaining: 0,
            retry_after: 1,
            reset_epoch: decision
                .reset_epoch
                .max(chrono::Utc::now().timestamp() as u64 + 1),
            ..decision
        };
        return too_many(&storm);
    }
    if let Some((status, false)) = fault.error {
        return injected(status);
    }
    if fault.redirect {
        let target = state
            .faults
            .get(&connection.connection_id)
            .and_then(|spec| spec.redirect_to)
            .unwrap_or_default();
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        return redirect(&format!("{}{path}", target.trim_end_matches('/')));
    }
    if let Some(bytes) = fault.oversize {
        return oversize(bytes);
    }
    req.extensions_mut().insert(connection);
    req.extensions_mut().insert(fault);
    let mut response = next.run(req).await;
    if let Some((status, true)) = fault.error {
        response = injected(status);
    }
    rate_headers(response.headers_mut(), &decision);
    response
}

/// Injected slowness of the WMS behind Trackstar: latency, a held answer, or no answer at all. It sits
/// inside the idempotency layer, so a slow write holds its key (a replay meanwhile is a 409).
async fn wms_slowness(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let fault = req
        .extensions()
        .get::<FaultAction>()
        .copied()
        .unwrap_or_default();
    if !fault.latency.is_zero() {
        tokio::time::sleep(fault.latency).await;
    }
    if let Some(generation) = fault.hold {
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            () = state.faults.released(generation) => {}
            _ = tokio::time::timeout(HANG_LIMIT, shutdown.wait_for(|stopped| *stopped)) => {
                return injected(503);
            }
        }
    }
    if fault.hang {
        let mut shutdown = state.shutdown.clone();
        let _ = tokio::time::timeout(HANG_LIMIT, shutdown.wait_for(|stopped| *stopped)).await;
        return injected(503);
    }
    next.run(req).await
}

/// `Idempotency-Key` on writes: replay, mismatch (400) and in-progress (409).
async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let Some(key) = header(req.headers(), IDEMPOTENCY_KEY_HEADER).map(str::to_owned) else {
        return next.run(req).await;
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} characters"
        ))
        .into_response();
    }
    let Some(connection) = req.extensions().get::<SimConnection>().cloned() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::BadRequest("Request body too large".to_owned()).into_response();
    };
    let fingerprint = request_fingerprint(parts.method.as_str(), parts.uri.path(), &bytes);
    let (action, pending) = state
        .idempotency
        .begin(&connection.connection_id, &key, &fingerprint);
    match (action, pending) {
        (NextAction::Start, Some(pending)) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (mut head, body) = response.into_parts();
            let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
            pending.complete(SavedResponse {
                status: head.status.as_u16(),
                body: body.to_vec(),
            });
            head.headers.remove("content-length");
            Response::from_parts(head, Body::from(body))
        }
        (NextAction::ReturnSaved(saved), _) => {
            let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
            let mut response = (status, saved.body).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            response
        }
        (NextAction::InProgress, _) => ApiError::Conflict(
            "A request with this Idempotency-Key is still in progress".to_owned(),
        )
        .into_response(),
        (NextAction::Mismatch, _) => ApiError::BadRequest(
            "Idempotency-Key was used with a different endpoint or body".to_owned(),
        )
        .into_response(),
        (NextAction::Start, None) => {
            ApiError::Conflict("Idempotency-Key unavailable".to_owned()).into_response()
        }
    }
}

/// How long a hung request waits at most when the simulator is never shut down.
pub const HANG_LIMIT: Duration = Duration::from_secs(3600);
