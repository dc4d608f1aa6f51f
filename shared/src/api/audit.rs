//! `GET /audit`: the tenant's audit log (tenant_admin only), and recording entries.
//!
//! Every route that is not a GET records one entry before its success answer; a failed
//! audit write fails the request (see `crate::audit` for why, and where each handler
//! records so that the client's retry is safe).

use http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::error::{error_chain, ApiError};
use super::request::{authenticated, require, Action, Ctx, Query, Reply};
use super::ApiDeps;
use crate::store::AuditEntry;

/// The answer when the audit entry could not be written: retryable, and with an
/// `Idempotency-Key` the retry does not repeat what already happened.
pub fn audit_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        "the action could not be recorded in the audit log; retry (with the same Idempotency-Key)",
    )
    .with_retry_after(std::time::Duration::from_secs(1))
}

/// Records an audited action; the request fails if it cannot be recorded.
pub(crate) async fn record(
    deps: &ApiDeps,
    ctx: &Ctx,
    action: &str,
    target: String,
) -> Result<(), ApiError> {
    record_with(deps, ctx, action, target, None).await
}

/// As [`record`], with details of the action.
pub(crate) async fn record_with(
    deps: &ApiDeps,
    ctx: &Ctx,
    action: &str,
    target: String,
    details: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        id: AuditEntry::new_id(),
        tenant_id: ctx.principal.tenant.clone(),
        actor: ctx.principal.subject.clone(),
        actor_role: ctx.principal.role.as_str().to_owned(),
        action: action.to_owned(),
        target,
        at: deps.now(),
        request_id: ctx.request_id.clone(),
        details,
    };
    match deps.audit.append(&ctx.principal.tenant, &entry).await {
        Ok(link) => {
            tracing::info!(action, audit_seq = link.seq, "audit entry recorded");
            Ok(())
        }
        Err(e) => {
            tracing::error!(action, error = %error_chain(&e), "could not record an audit entry; failing the request");
            Err(audit_unavailable())
        }
    }
}

/// `GET /audit?limit&cursor` — newest first.
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ReadAudit)?;
        let q = Query::parse(&req, &["limit", "cursor"])?;
        let page = deps.audit.list(&ctx.principal.tenant, &q.page()?).await?;
        Ok(Reply::page(page))
    })
    .await
}
