//! The route table (as in `template.yaml`) and `dispatch`, which picks a handler by the
//! event's `routeKey` or, failing that, by method and path template — as API Gateway does.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use super::error::ApiError;
use super::request::{match_template, request_id, respond};
use super::{
    audit, connections, health, inventory, messages, openapi, orders, products, reconciliations,
    replay, sync, ApiDeps,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    ListOrders,
    GetOrder,
    CreateOrder,
    CancelOrder,
    ListInventory,
    GetInventory,
    ListProducts,
    GetProduct,
    CreateProduct,
    UpdateProduct,
    ListMessages,
    PostMessage,
    CreateLinkToken,
    ExchangeAuthCode,
    ListConnections,
    ListAudit,
    RunSync,
    SyncHealth,
    SyncLag,
    Replay,
    ListReconciliations,
    GetReconciliation,
    OpenApi,
}

/// One API Gateway route and the function (binary) that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// The binary under `functions/` that serves the route.
    pub function: &'static str,
    /// Whether the JWT authorizer guards the route.
    pub authorized: bool,
}

impl Route {
    /// API Gateway's `routeKey`, e.g. `GET /orders/{order_id}`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn r(id: RouteId, method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        id,
        method,
        path,
        function,
        authorized: true,
    }
}

pub const ROUTES: &[Route] = &[
    r(RouteId::ListOrders, "GET", "/orders", "api-orders"),
    r(RouteId::GetOrder, "GET", "/orders/{order_id}", "api-orders"),
    r(RouteId::CreateOrder, "POST", "/orders", "api-orders"),
    r(
        RouteId::CancelOrder,
        "POST",
        "/orders/{order_id}/cancel",
        "api-orders",
    ),
    r(RouteId::ListInventory, "GET", "/inventory", "api-inventory"),
    r(
        RouteId::GetInventory,
        "GET",
        "/inventory/{sku}",
        "api-inventory",
    ),
    r(RouteId::ListProducts, "GET", "/products", "api-products"),
    r(
        RouteId::GetProduct,
        "GET",
        "/products/{product_id}",
        "api-products",
    ),
    r(RouteId::CreateProduct, "POST", "/products", "api-products"),
    r(
        RouteId::UpdateProduct,
        "PUT",
        "/products/{product_id}",
        "api-products",
    ),
    r(
        RouteId::ListMessages,
        "GET",
        "/brands/{brand_id}/messages",
        "api-messages",
    ),
    r(
        RouteId::PostMessage,
        "POST",
        "/brands/{brand_id}/messages",
        "api-messages",
    ),
    r(
        RouteId::CreateLinkToken,
        "POST",
        "/connections/link-token",
        "api-connections",
    ),
    r(
        RouteId::ExchangeAuthCode,
        "POST",
        "/connections/exchange",
        "api-connections",
    ),
    r(
        RouteId::ListConnections,
        "GET",
        "/connections",
        "api-connections",
    ),
    r(RouteId::ListAudit, "GET", "/audit", "api-connections"),
    r(RouteId::RunSync, "POST", "/sync/run", "api-sync"),
    r(RouteId::SyncHealth, "GET", "/sync/health", "api-sync"),
    r(RouteId::SyncLag, "GET", "/sync/lag/{brand_id}", "api-sync"),
    r(RouteId::Replay, "POST", "/sync/replay", "api-sync"),
    r(
        RouteId::ListReconciliations,
        "GET",
        "/sync/reconciliations",
        "api-sync",
    ),
    r(
        RouteId::GetReconciliation,
        "GET",
        "/sync/reconciliations/{report_id}",
        "api-sync",
    ),
    Route {
        id: RouteId::OpenApi,
        method: "GET",
        path: "/openapi.json",
        function: "api-docs",
        authorized: false,
    },
];

pub fn route(id: RouteId) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| unreachable!("every RouteId is in ROUTES"))
}

/// The route for a method and raw path: 404 when no template matches, 405 when one
/// matches with another method.
pub fn find(method: &str, path: &str) -> Result<&'static Route, ApiError> {
    let matching: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| match_template(r.path, path).is_some())
        .collect();
    if let Some(route) = matching
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method))
    {
        return Ok(route);
    }
    if matching.is_empty() {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no such route",
        ))
    } else {
        Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept this method",
        ))
    }
}

/// Calls one route's handler.
pub async fn handle(deps: &ApiDeps, id: RouteId, request: Request) -> Response<Body> {
    match id {
        RouteId::ListOrders => orders::list(deps, request).await,
        RouteId::GetOrder => orders::get(deps, request).await,
        RouteId::CreateOrder => orders::create(deps, request).await,
        RouteId::CancelOrder => orders::cancel(deps, request).await,
        RouteId::ListInventory => inventory::list(deps, request).await,
        RouteId::GetInventory => inventory::get(deps, request).await,
        RouteId::ListProducts => products::list(deps, request).await,
        RouteId::GetProduct => products::get(deps, request).await,
        RouteId::CreateProduct => products::create(deps, request).await,
        RouteId::UpdateProduct => products::update(deps, request).await,
        RouteId::ListMessages => messages::list(deps, request).await,
        RouteId::PostMessage => messages::post(deps, request).await,
        RouteId::CreateLinkToken => connections::link_token(deps, request).await,
        RouteId::ExchangeAuthCode => connections::exchange(deps, request).await,
        RouteId::ListConnections => connections::list(deps, request).await,
        RouteId::ListAudit => audit::list(deps, request).await,
        RouteId::RunSync => sync::run(deps, request).await,
        RouteId::SyncHealth => health::health(deps, request).await,
        RouteId::SyncLag => health::lag(deps, request).await,
        RouteId::Replay => replay::replay(deps, request).await,
        RouteId::ListReconciliations => reconciliations::list(deps, request).await,
        RouteId::GetReconciliation => reconciliations::get(deps, request).await,
        RouteId::OpenApi => openapi::handle(deps, request).await,
    }
}

fn route_of(request: &Request) -> Result<&'static Route, ApiError> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() {
        if let Some(route) = ctx
            .route_key
            .as_deref()
            .and_then(|key| ROUTES.iter().find(|r| r.route_key() == key))
        {
            return Ok(route);
        }
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    find(request.method().as_str(), path)
}

/// Routes an API Gateway HTTP API (v2) request to its handler. Never panics: a panicking
/// handler is answered with the 500 envelope.
pub async fn dispatch(deps: &ApiDeps, request: Request) -> Response<Body> {
    let id = request_id(&request);
    let route = match route_of(&request) {
        Ok(route) => route,
        Err(e) => return respond(Err(e), &id),
    };
    match AssertUnwindSafe(handle(deps, route.id, request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(route = %route.route_key(), "handler panicked");
            respond(Err(ApiError::internal()), &id)
        }
    }
}
