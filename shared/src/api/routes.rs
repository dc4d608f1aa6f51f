//! The route table, as in `template.yaml`: every route, the function (binary) that serves
//! it, and how a request finds its route. The router dispatches on it and the OpenAPI
//! document describes it; neither depends on the other.

use http::StatusCode;

use super::error::ApiError;
use super::quota::QuotaClass;
use super::request::match_template;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    ListOrders,
    GetOrder,
    CreateOrder,
    UpdateOrder,
    CancelOrder,
    ListInventory,
    GetInventory,
    ListProducts,
    GetProduct,
    CreateProduct,
    UpdateProduct,
    ListInboundShipments,
    GetInboundShipment,
    CreateInboundShipment,
    UpdateInboundShipment,
    ListReturns,
    GetReturn,
    CreateReturn,
    ListWarehouses,
    GetWarehouse,
    ListShippingMethods,
    ListBills,
    GetBill,
    ListChanges,
    ListMessages,
    PostMessage,
    CreateLinkToken,
    ExchangeAuthCode,
    ListConnections,
    DeleteConnection,
    DeleteBrand,
    GetOffboarding,
    ListAudit,
    CreateErasure,
    GetErasure,
    RunSync,
    Backfill,
    SyncHealth,
    SyncLag,
    Replay,
    ListReconciliations,
    GetReconciliation,
    OpenApi,
    Docs,
    DocsAsset,
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
    /// The tenant quota it draws on (`api::quota`): admin actions declare
    /// [`QuotaClass::Admin`] with [`Route::admin`].
    pub quota: QuotaClass,
}

impl Route {
    /// API Gateway's `routeKey`, e.g. `GET /orders/{order_id}`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// An admin action: the tenant's smaller admin quota as well as the api quota.
    pub const fn admin(self) -> Self {
        Self {
            quota: QuotaClass::Admin,
            ..self
        }
    }
}

const fn r(id: RouteId, method: &'static str, path: &'static str, function: &'static str) -> Route {
    Route {
        id,
        method,
        path,
        function,
        authorized: true,
        quota: QuotaClass::Api,
    }
}

pub const ROUTES: &[Route] = &[
    r(RouteId::ListOrders, "GET", "/orders", "api-orders"),
    r(RouteId::GetOrder, "GET", "/orders/{order_id}", "api-orders"),
    r(RouteId::CreateOrder, "POST", "/orders", "api-orders"),
    // Before the cancel: the audit test calls the routes in this order, on one order.
    r(
        RouteId::UpdateOrder,
        "PUT",
        "/orders/{order_id}",
        "api-orders",
    ),
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
        RouteId::ListInboundShipments,
        "GET",
        "/inbound-shipments",
        "api-warehouse",
    ),
    r(
        RouteId::GetInboundShipment,
        "GET",
        "/inbound-shipments/{inbound_shipment_id}",
        "api-warehouse",
    ),
    r(
        RouteId::CreateInboundShipment,
        "POST",
        "/inbound-shipments",
        "api-warehouse",
    ),
    r(
        RouteId::UpdateInboundShipment,
        "PUT",
        "/inbound-shipments/{inbound_shipment_id}",
        "api-warehouse",
    ),
    r(RouteId::ListReturns, "GET", "/returns", "api-warehouse"),
    r(
        RouteId::GetReturn,
        "GET",
        "/returns/{return_id}",
        "api-warehouse",
    ),
    r(RouteId::CreateReturn, "POST", "/returns", "api-warehouse"),
    r(
        RouteId::ListWarehouses,
        "GET",
        "/warehouses",
        "api-warehouse",
    ),
    r(
        RouteId::GetWarehouse,
        "GET",
        "/warehouses/{warehouse_id}",
        "api-warehouse",
    ),
    r(
        RouteId::ListShippingMethods,
        "GET",
        "/shipping-methods",
        "api-warehouse",
    ),
    r(RouteId::ListBills, "GET", "/bills", "api-warehouse"),
    r(RouteId::GetBill, "GET", "/bills/{bill_id}", "api-warehouse"),
    r(RouteId::ListChanges, "GET", "/changes", "api-warehouse"),
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
    )
    .admin(),
    r(
        RouteId::ExchangeAuthCode,
        "POST",
        "/connections/exchange",
        "api-connections",
    )
    .admin(),
    r(
        RouteId::ListConnections,
        "GET",
        "/connections",
        "api-connections",
    ),
    r(
        RouteId::DeleteConnection,
        "DELETE",
        "/connections/{connection_id}",
        "api-connections",
    )
    .admin(),
    r(
        RouteId::DeleteBrand,
        "DELETE",
        "/brands/{brand_id}",
        "api-connections",
    )
    .admin(),
    r(
        RouteId::GetOffboarding,
        "GET",
        "/offboardings/{job_id}",
        "api-connections",
    ),
    r(RouteId::ListAudit, "GET", "/audit", "api-connections"),
    r(
        RouteId::CreateErasure,
        "POST",
        "/privacy/erasures",
        "api-connections",
    )
    .admin(),
    r(
        RouteId::GetErasure,
        "GET",
        "/privacy/erasures/{erasure_id}",
        "api-connections",
    ),
    r(RouteId::RunSync, "POST", "/sync/run", "api-sync").admin(),
    r(RouteId::Backfill, "POST", "/sync/backfill", "api-sync").admin(),
    r(RouteId::SyncHealth, "GET", "/sync/health", "api-sync"),
    r(RouteId::SyncLag, "GET", "/sync/lag/{brand_id}", "api-sync"),
    r(RouteId::Replay, "POST", "/sync/replay", "api-sync").admin(),
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
        quota: QuotaClass::Api,
    },
    Route {
        id: RouteId::Docs,
        method: "GET",
        path: "/docs",
        function: "api-docs",
        authorized: false,
        quota: QuotaClass::Api,
    },
    Route {
        id: RouteId::DocsAsset,
        method: "GET",
        path: "/docs/assets/{file}",
        function: "api-docs",
        authorized: false,
        quota: QuotaClass::Api,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_actions_declare_the_admin_quota_and_nothing_else_does() {
        let admin: Vec<RouteId> = ROUTES
            .iter()
            .filter(|r| r.quota == QuotaClass::Admin)
            .map(|r| r.id)
            .collect();
        assert_eq!(
            admin,
            vec![
                RouteId::CreateLinkToken,
                RouteId::ExchangeAuthCode,
                RouteId::DeleteConnection,
                RouteId::DeleteBrand,
                RouteId::CreateErasure,
                RouteId::RunSync,
                RouteId::Backfill,
                RouteId::Replay
            ]
        );
        // an admin route draws on both quotas, the smaller one first
        assert_eq!(
            route(RouteId::RunSync).quota.checks(),
            &[QuotaClass::Admin, QuotaClass::Api]
        );
        assert_eq!(
            route(RouteId::ListOrders).quota.checks(),
            &[QuotaClass::Api]
        );
    }
}
