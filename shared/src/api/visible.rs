//! The read side orders, products and inventory share: a listing of the synced objects the
//! caller may see, and one such object by id (another tenant's or another brand's is a
//! 404, never a 403 that would tell it exists).

use lambda_http::Request;

use super::error::ApiError;
use super::request::{Ctx, Query, Reply};
use super::ApiDeps;
use crate::domain::WarehouseId;
use crate::resource::{Owner, Resource};
use crate::store::{ListQuery, SyncedStore};

/// `GET /<kind>?brand_id&updated_since&limit&cursor` (and `status`, `warehouse_id` where
/// the kind declares them; no `brand_id` for tenant-wide kinds): one page, newest first.
pub(crate) async fn list<T: Resource>(
    deps: &ApiDeps,
    ctx: &Ctx,
    req: &Request,
    store: &dyn SyncedStore<T>,
) -> Result<Reply, ApiError> {
    let spec = T::SPEC;
    let by_brand = spec.owner == Owner::Brand;
    let mut allowed = vec!["updated_since", "limit", "cursor"];
    if by_brand {
        allowed.push("brand_id");
    }
    if !spec.statuses.is_empty() {
        allowed.push("status");
    }
    if spec.warehouse_filter {
        allowed.push("warehouse_id");
    }
    let q = Query::parse(req, &allowed)?;
    let status = q
        .get("status")
        .map(|s| {
            spec.statuses
                .contains(&s)
                .then(|| s.to_owned())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "status",
                        format!("is not a known {} status", spec.singular),
                    )
                })
        })
        .transpose()?;
    let warehouse_id = q
        .get("warehouse_id")
        .map(|w| {
            // A warehouse id as the document describes it (`WarehouseId`): anything else
            // names no warehouse, and is refused rather than answered with an empty page.
            WarehouseId::parse(w)
                .map(|w| w.as_str().to_owned())
                .map_err(|e| ApiError::invalid_parameter("warehouse_id", e.to_string()))
        })
        .transpose()?;
    let query = ListQuery {
        brand_id: if by_brand {
            q.brand_filter(deps, ctx).await?
        } else {
            None
        },
        updated_since: q.timestamp("updated_since")?,
        status,
        warehouse_id,
    };
    let page = store
        .list(&ctx.principal.tenant, &query, &q.page()?)
        .await?;
    Ok(Reply::page(page))
}

/// The object `raw_id` names, if the caller may see it; `valid_id` tells a well-formed id
/// (a malformed one cannot exist: 404 as well). Every role of the tenant sees a tenant-wide
/// kind's objects.
pub(crate) async fn get<T: Resource>(
    ctx: &Ctx,
    store: &dyn SyncedStore<T>,
    raw_id: &str,
    valid_id: impl Fn(&str) -> bool,
) -> Result<T, ApiError> {
    if !valid_id(raw_id) {
        return Err(ApiError::not_found(T::SPEC.singular));
    }
    match store.get(&ctx.principal.tenant, raw_id).await? {
        Some(object)
            if T::SPEC.owner == Owner::Tenant || ctx.principal.sees_brand(object.brand_id()) =>
        {
            Ok(object)
        }
        _ => Err(ApiError::not_found(T::SPEC.singular)),
    }
}
