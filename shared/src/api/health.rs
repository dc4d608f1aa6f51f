//! `GET /sync/health` and `GET /sync/lag/{brand_id}` (every role; brand roles see only
//! their brands' connections), served by the api-sync function. The figures are computed
//! by [`crate::health`], shared with `packr health`.

use lambda_http::{Body, Request, Response};

use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Query, Reply};
use super::writes::to_json;
use super::ApiDeps;
use crate::domain::BrandId;
use crate::health::{brand_lag, tenant_health, HealthError, Scope};

const LAG_TEMPLATE: &str = "/sync/lag/{brand_id}";

fn scope(ctx: &Ctx) -> Scope {
    if ctx.principal.role.is_tenant_wide() {
        Scope::Tenant
    } else {
        Scope::Brands(ctx.principal.brands.iter().cloned().collect())
    }
}

fn internal(e: HealthError) -> ApiError {
    match e {
        HealthError::Store(e) => ApiError::from(e),
    }
}

/// `GET /sync/health`
pub async fn health(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        Query::parse(&req, &[])?;
        require(&ctx, Action::Read)?;
        let sources = deps.health()?;
        let report = tenant_health(sources, &ctx.principal.tenant, &scope(&ctx), deps.now())
            .await
            .map_err(internal)?;
        Ok(Reply::ok(to_json(&report)?))
    })
    .await
}

/// `GET /sync/lag/{brand_id}` — another tenant's brand, or one the caller may not see: 404.
pub async fn lag(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        Query::parse(&req, &[])?;
        require(&ctx, Action::Read)?;
        let raw = request::path_param(&req, LAG_TEMPLATE, "brand_id")?;
        let brand = BrandId::parse(raw).map_err(|_| ApiError::not_found("brand"))?;
        if !ctx.principal.sees_brand(Some(&brand)) {
            return Err(ApiError::not_found("brand"));
        }
        deps.tenants
            .get_brand(&ctx.principal.tenant, &brand)
            .await?
            .ok_or_else(|| ApiError::not_found("brand"))?;
        let sources = deps.health()?;
        let report = brand_lag(sources, &ctx.principal.tenant, &brand, deps.now())
            .await
            .map_err(internal)?;
        Ok(Reply::ok(to_json(&report)?))
    })
    .await
}
