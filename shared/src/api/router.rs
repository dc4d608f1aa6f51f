//! `dispatch`, which picks a handler from the route table (`routes`) by the event's
//! `routeKey` or, failing that, by method and path template — as API Gateway does.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use super::error::ApiError;
use super::request::{request_id, respond};
use super::{
    audit, backfill, changes, connections, docs, health, inbound, inventory, messages, offboarding,
    openapi, orders, privacy, products, quota, reconciliations, replay, resources, returns, sync,
    ApiDeps,
};
use crate::domain::{Bill, InboundShipment, Return, ShippingMethod, Warehouse};

pub use super::routes::{find, route, Route, RouteId, ROUTES};

/// Calls one route's handler.
pub async fn handle(deps: &ApiDeps, id: RouteId, request: Request) -> Response<Body> {
    match id {
        RouteId::ListOrders => orders::list(deps, request).await,
        RouteId::GetOrder => orders::get(deps, request).await,
        RouteId::CreateOrder => orders::create(deps, request).await,
        RouteId::UpdateOrder => orders::update(deps, request).await,
        RouteId::CancelOrder => orders::cancel(deps, request).await,
        RouteId::ListInventory => inventory::list(deps, request).await,
        RouteId::GetInventory => inventory::get(deps, request).await,
        RouteId::ListProducts => products::list(deps, request).await,
        RouteId::GetProduct => products::get(deps, request).await,
        RouteId::CreateProduct => products::create(deps, request).await,
        RouteId::UpdateProduct => products::update(deps, request).await,
        RouteId::ListInboundShipments => resources::list::<InboundShipment>(deps, request).await,
        RouteId::GetInboundShipment => resources::get::<InboundShipment>(deps, id, request).await,
        RouteId::CreateInboundShipment => inbound::create(deps, request).await,
        RouteId::UpdateInboundShipment => inbound::update(deps, request).await,
        RouteId::ListReturns => resources::list::<Return>(deps, request).await,
        RouteId::GetReturn => resources::get::<Return>(deps, id, request).await,
        RouteId::CreateReturn => returns::create(deps, request).await,
        RouteId::ListWarehouses => resources::list::<Warehouse>(deps, request).await,
        RouteId::GetWarehouse => resources::get::<Warehouse>(deps, id, request).await,
        RouteId::ListShippingMethods => resources::list::<ShippingMethod>(deps, request).await,
        RouteId::ListBills => resources::list::<Bill>(deps, request).await,
        RouteId::GetBill => resources::get::<Bill>(deps, id, request).await,
        RouteId::ListChanges => changes::list(deps, request).await,
        RouteId::ListMessages => messages::list(deps, request).await,
        RouteId::PostMessage => messages::post(deps, request).await,
        RouteId::CreateLinkToken => connections::link_token(deps, request).await,
        RouteId::ExchangeAuthCode => connections::exchange(deps, request).await,
        RouteId::ListConnections => connections::list(deps, request).await,
        RouteId::DeleteConnection => offboarding::delete_connection(deps, request).await,
        RouteId::DeleteBrand => offboarding::delete_brand(deps, request).await,
        RouteId::GetOffboarding => offboarding::get(deps, request).await,
        RouteId::ListAudit => audit::list(deps, request).await,
        RouteId::CreateErasure => privacy::create(deps, request).await,
        RouteId::GetErasure => privacy::get(deps, request).await,
        RouteId::RunSync => sync::run(deps, request).await,
        RouteId::Backfill => backfill::backfill(deps, request).await,
        RouteId::SyncHealth => health::health(deps, request).await,
        RouteId::SyncLag => health::lag(deps, request).await,
        RouteId::Replay => replay::replay(deps, request).await,
        RouteId::ListReconciliations => reconciliations::list(deps, request).await,
        RouteId::GetReconciliation => reconciliations::get(deps, request).await,
        RouteId::OpenApi => openapi::handle(deps, request).await,
        RouteId::Docs | RouteId::DocsAsset => docs::handle(id, &request),
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

/// Routes an API Gateway HTTP API (v2) request to its handler, once the tenant's quotas
/// admit it (`quota::admit`). Never panics: a panicking handler is answered with the 500
/// envelope.
pub async fn dispatch(deps: &ApiDeps, request: Request) -> Response<Body> {
    let id = request_id(&request);
    let route = match route_of(&request) {
        Ok(route) => route,
        Err(e) => return respond(Err(e), &id),
    };
    if let Err(e) = quota::admit(deps, route, &request).await {
        return respond(Err(e), &id);
    }
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
