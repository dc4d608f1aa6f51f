//! `GET /changes?kinds&brand_id&limit&cursor`: the tenant's changes feed (`crate::changes`),
//! oldest first, every resource, deletions included. Brand users get their brands' objects
//! and the tenant-wide kinds, as in the listings; `brand_id` narrows to one brand's objects.

use lambda_http::{Body, Request, Response};

use super::error::ApiError;
use super::request::{authenticated, Ctx, Query, Reply};
use super::ApiDeps;
use crate::changes::{self, ChangeFilter};
use crate::resource::ResourceKind;

pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let q = Query::parse(&req, &["kinds", "brand_id", "limit", "cursor"])?;
        let filter = filter(deps, &ctx, &q).await?;
        let page = deps
            .objects
            .changes_page(
                &ctx.principal.tenant,
                &filter,
                &q.page()?,
                &deps.config.changes,
            )
            .await?;
        Ok(Reply::ok(serde_json::to_value(page).map_err(|e| {
            ApiError::internal_from("changes page", &e)
        })?))
    })
    .await
}

/// The caller's filter: the kinds asked for, and the brands the caller may see.
async fn filter(deps: &ApiDeps, ctx: &Ctx, q: &Query) -> Result<ChangeFilter, ApiError> {
    let kinds = q.get("kinds").map(parse_kinds).transpose()?;
    let principal = &ctx.principal;
    let (brands, tenant_wide) = if q.get("brand_id").is_some() {
        // One brand asked for (404 unless the caller sees it and it exists): its objects.
        (q.brand_filter(deps, ctx).await?.map(|b| vec![b]), false)
    } else if principal.role.is_tenant_wide() {
        (None, true)
    } else {
        // A brand user: their brands, and the kinds every role sees.
        (Some(principal.brands.iter().cloned().collect()), true)
    };
    Ok(ChangeFilter {
        kinds,
        brands,
        tenant_wide,
    })
}

/// `kinds=orders,returns` (see [`changes::parse_kinds`]).
fn parse_kinds(raw: &str) -> Result<Vec<ResourceKind>, ApiError> {
    changes::parse_kinds(raw.split(','))
        .map_err(|e| ApiError::invalid_parameter("kinds", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_resource_names_and_a_repeat_counts_once() {
        assert_eq!(
            parse_kinds("orders,returns").expect("kinds"),
            [ResourceKind::Orders, ResourceKind::Returns]
        );
        assert!(parse_kinds("orders,labor_activities").is_err());
        assert_eq!(
            parse_kinds("orders,orders").expect("kinds"),
            [ResourceKind::Orders]
        );
        assert!(parse_kinds("").is_err());
    }
}
