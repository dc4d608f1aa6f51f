//! `GET /audit`: the tenant's audit log (tenant_admin only), and recording entries.

use lambda_http::{Body, Request, Response};

use super::request::{authenticated, require, Action, Ctx, Query, Reply};
use super::ApiDeps;
use crate::store::AuditEntry;

/// Records an audited action. A failure to record is logged, not hidden: the action
/// already happened upstream, so the client still gets its answer.
pub(crate) async fn record(deps: &ApiDeps, ctx: &Ctx, action: &str, target: String) {
    record_with(deps, ctx, action, target, None).await;
}

/// As [`record`], with details of the action.
pub(crate) async fn record_with(
    deps: &ApiDeps,
    ctx: &Ctx,
    action: &str,
    target: String,
    details: Option<serde_json::Value>,
) {
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
    if let Err(e) = deps.audit.append(&ctx.principal.tenant, &entry).await {
        tracing::error!(action, error = %e, "could not record an audit entry");
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
