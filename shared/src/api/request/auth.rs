//! Who calls (the principal from verified claims) and what their role allows.

use std::future::Future;

use lambda_http::{Body, Request, RequestExt, Response};

use super::reply::{request_id, respond, Reply};
use crate::api::claims::{Principal, Role};
use crate::api::error::ApiError;
use crate::api::ApiDeps;

/// Per-request context: who calls, and the id that ties logs and the error envelope.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub principal: Principal,
}

/// What a role may do (scope — tenant and brand — is checked separately, first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    WriteOrders,
    WriteProducts,
    /// Create and change inbound shipments (ASNs).
    WriteInboundShipments,
    WriteReturns,
    WriteMessages,
    ManageConnections,
    ReadAudit,
    /// Enqueue syncs from Trackstar (`POST /sync/run`).
    RunSync,
    /// Re-enqueue failed webhook events, or queue syncs (`POST /sync/replay`).
    Replay,
    /// Erase a person's data (`POST /privacy/erasures`) and read erasures.
    ErasePeople,
}

pub fn allows(role: Role, action: Action) -> bool {
    match action {
        Action::Read => true,
        Action::WriteOrders
        | Action::WriteProducts
        | Action::WriteInboundShipments
        | Action::WriteReturns => role != Role::BrandViewer,
        Action::WriteMessages => role != Role::BrandViewer,
        Action::ManageConnections
        | Action::ReadAudit
        | Action::RunSync
        | Action::Replay
        | Action::ErasePeople => role == Role::TenantAdmin,
    }
}

/// 403 unless the caller's role allows `action`.
pub fn require(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    if allows(ctx.principal.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// Runs an authenticated handler: claims → principal (401 on failure), then `f`, with one
/// span per request carrying the tenant (never personal data).
pub async fn authenticated<F, Fut>(deps: &ApiDeps, request: Request, f: F) -> Response<Body>
where
    F: FnOnce(Ctx, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let request_id = request_id(&request);
    let principal = match Principal::from_request(&request, &deps.config.claims) {
        Ok(p) => p,
        Err(e) => return respond(Err(e), &request_id),
    };
    let span = tracing::info_span!(
        "api_request",
        request_id = %request_id,
        tenant_id = %principal.tenant,
        role = principal.role.as_str(),
        method = %request.method(),
        path = request.raw_http_path(),
    );
    let ctx = Ctx {
        request_id: request_id.clone(),
        principal,
    };
    let result = tracing::Instrument::instrument(f(ctx, request), span.clone()).await;
    if let Err(e) = &result {
        span.in_scope(|| {
            tracing::info!(status = e.status.as_u16(), code = e.code, "request failed")
        });
    }
    respond(result, &request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_connections_and_viewers_never_write() {
        assert!(allows(Role::TenantAdmin, Action::ManageConnections));
        assert!(!allows(Role::TenantStaff, Action::ManageConnections));
        assert!(!allows(Role::BrandViewer, Action::WriteMessages));
        assert!(allows(Role::BrandManager, Action::WriteOrders));
        for action in [Action::WriteInboundShipments, Action::WriteReturns] {
            assert!(allows(Role::BrandManager, action));
            assert!(allows(Role::TenantStaff, action));
            assert!(!allows(Role::BrandViewer, action));
        }
        assert!(!allows(Role::BrandManager, Action::ReadAudit));
    }

    #[test]
    fn only_admins_run_syncs() {
        assert!(allows(Role::TenantAdmin, Action::RunSync));
        for role in [Role::TenantStaff, Role::BrandManager, Role::BrandViewer] {
            assert!(!allows(role, Action::RunSync), "{role:?}");
            assert!(!allows(role, Action::Replay), "{role:?}");
        }
    }
}
