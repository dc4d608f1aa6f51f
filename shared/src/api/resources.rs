//! The read routes of the mirrored resources, written once for every `T: Resource`: a
//! listing (`GET /<resources>`) and one object (`GET /<resources>/{id}`). The filters come
//! from the resource's declaration (`status`, `warehouse_id`, `brand_id` for brand-owned
//! kinds, `updated_since`; see [`visible::list`]), the path parameter from the route table,
//! so a read-only resource needs only its route lines (`routes`, `router`, `openapi`,
//! `template.yaml`).

use lambda_http::{Body, Request, Response};

use super::request::{self, authenticated, Ctx, Reply};
use super::routes::{route, RouteId};
use super::visible;
use super::writes;
use super::ApiDeps;
use crate::api::error::ApiError;
use crate::domain::is_trackstar_object_id;
use crate::resource::Resource;

/// `GET /<resources>?…&limit&cursor`: one page of the objects the caller may see, newest
/// first.
pub async fn list<T: Resource>(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        visible::list::<T>(deps, &ctx, &req, deps.objects.as_ref()).await
    })
    .await
}

/// `GET /<resources>/{id}` (the route `id` names, whose one path parameter is the object's
/// Trackstar id): the object, if the caller may see it; another tenant's, another brand's,
/// a missing or a malformed id alike are a 404.
pub async fn get<T: Resource>(deps: &ApiDeps, id: RouteId, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let object = visible_from_path::<T>(deps, &ctx, &req, id).await?;
        Ok(Reply::ok(writes::to_json(&object)?))
    })
    .await
}

/// The object the route's path parameter names, if the caller may see it.
pub(crate) async fn visible_from_path<T: Resource>(
    deps: &ApiDeps,
    ctx: &Ctx,
    req: &Request,
    id: RouteId,
) -> Result<T, ApiError> {
    let template = route(id).path;
    let raw = request::path_param(req, template, path_parameter(template))?;
    visible::get::<T>(ctx, deps.objects.as_ref(), &raw, is_trackstar_object_id).await
}

/// The name of a template's (last) path parameter: `/returns/{return_id}` → `return_id`.
fn path_parameter(template: &'static str) -> &'static str {
    template
        .rsplit('/')
        .find_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .unwrap_or("id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_parameter_is_the_templates_last() {
        assert_eq!(
            path_parameter("/inbound-shipments/{inbound_shipment_id}"),
            "inbound_shipment_id"
        );
        assert_eq!(path_parameter("/orders/{order_id}/cancel"), "order_id");
        assert_eq!(path_parameter("/warehouses"), "id");
    }
}
