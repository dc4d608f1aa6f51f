//! The read side orders, products and inventory share: a listing of the synced objects the
//! caller may see, and one such object by id (another tenant's or another brand's is a
//! 404, never a 403 that would tell it exists).

use lambda_http::Request;

use super::error::ApiError;
use super::request::{Ctx, Query, Reply};
use super::ApiDeps;
use crate::domain::OrderStatus;
use crate::store::{ListQuery, SyncedObject, SyncedStore};

/// `GET /<kind>?brand_id&updated_since&limit&cursor` (and `status` where the kind has one):
/// one page, newest first.
pub(crate) async fn list<T: SyncedObject>(
    deps: &ApiDeps,
    ctx: &Ctx,
    req: &Request,
    store: &dyn SyncedStore<T>,
) -> Result<Reply, ApiError> {
    let mut allowed = vec!["brand_id", "updated_since", "limit", "cursor"];
    if T::HAS_STATUS {
        allowed.push("status");
    }
    let q = Query::parse(req, &allowed)?;
    let status = q
        .get("status")
        .map(|s| {
            OrderStatus::parse(s)
                .ok_or_else(|| ApiError::invalid_parameter("status", "is not a known order status"))
        })
        .transpose()?;
    let query = ListQuery {
        brand_id: q.brand_filter(deps, ctx).await?,
        updated_since: q.timestamp("updated_since")?,
        status,
    };
    let page = store
        .list(&ctx.principal.tenant, &query, &q.page()?)
        .await?;
    Ok(Reply::page(page))
}

/// The object `raw_id` names, if the caller may see it; `valid_id` tells a well-formed id
/// (a malformed one cannot exist: 404 as well).
pub(crate) async fn get<T: SyncedObject>(
    ctx: &Ctx,
    store: &dyn SyncedStore<T>,
    raw_id: &str,
    valid_id: impl Fn(&str) -> bool,
) -> Result<T, ApiError> {
    if !valid_id(raw_id) {
        return Err(ApiError::not_found(T::NAME));
    }
    match store.get(&ctx.principal.tenant, raw_id).await? {
        Some(object) if ctx.principal.sees_brand(object.brand_id()) => Ok(object),
        _ => Err(ApiError::not_found(T::NAME)),
    }
}
