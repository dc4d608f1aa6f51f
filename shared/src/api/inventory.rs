//! `/inventory`: per-brand stock, keyset pagination; one SKU's items.

use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::error::ApiError;
use super::request::{self, authenticated, Reply};
use super::visible;
use super::ApiDeps;
use crate::domain::{InventoryItem, Sku};
use crate::store::SyncedStore;

/// `GET /inventory?brand_id&updated_since&limit&cursor`
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        visible::list::<InventoryItem>(deps, &ctx, &req, deps.objects.as_ref()).await
    })
    .await
}

/// `GET /inventory/{sku}` — the caller's visible items of that SKU (404 when none).
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let raw = request::path_param(&req, "/inventory/{sku}", "sku")?;
        let sku = Sku::parse(raw).map_err(|_| ApiError::not_found("inventory item"))?;
        let mut items: Vec<InventoryItem> =
            SyncedStore::find_by_sku(deps.objects.as_ref(), &ctx.principal.tenant, &sku).await?;
        items.retain(|i| ctx.principal.sees_brand(i.brand_id.as_ref()));
        if items.is_empty() {
            return Err(ApiError::not_found("inventory item"));
        }
        items.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Reply::ok(json!({ "sku": sku, "items": items })))
    })
    .await
}
