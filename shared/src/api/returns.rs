//! `POST /returns`: a return announced to the warehouse, through Trackstar. The reads are
//! the generic ones (`resources`).

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, Action, Ctx, Reply, Validator};
use super::writes::{self, idempotent};
use super::{schema, ApiDeps};
use crate::domain::{BrandId, Order, OrderId, Return, Sku, WarehouseId};
use crate::idempotency::Scope;
use crate::store::SyncedStore;
use crate::trackstar::{CreateReturnRequest, ReturnWriteLine};

pub const CREATE_SCOPE: Scope = Scope::new("api.returns.create");
pub const MAX_LINE_ITEMS: usize = 500;
pub const MAX_QUANTITY: i64 = 1_000_000;

/// One SKU coming back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    #[schema(value_type = Sku)]
    pub sku: String,
    #[serde(deserialize_with = "request::integer")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
}

/// `POST /returns`: a return for one of the caller's brands.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReturnBody {
    #[schema(value_type = BrandId)]
    pub brand_id: String,
    /// The warehouse that receives it (`GET /warehouses`).
    #[schema(value_type = Option<WarehouseId>)]
    pub warehouse_id: Option<String>,
    /// The brand's order the goods were shipped on.
    #[schema(value_type = Option<OrderId>)]
    pub order_id: Option<String>,
    #[schema(min_items = 1, max_items = 500)]
    pub line_items: Vec<ReturnLineBody>,
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
}

/// Validates every field (each failure named) into the brand and Trackstar's request.
pub fn validate_create(
    body: &CreateReturnBody,
) -> Result<(BrandId, CreateReturnRequest), ApiError> {
    let mut v = Validator::default();
    let brand = v.parse("brand_id", BrandId::parse(body.brand_id.clone()));
    let warehouse_id = body
        .warehouse_id
        .clone()
        .and_then(|w| v.parse("warehouse_id", WarehouseId::parse(w)));
    let order_id = body
        .order_id
        .clone()
        .and_then(|o| v.parse("order_id", OrderId::parse(o)));
    if body.line_items.is_empty() || body.line_items.len() > MAX_LINE_ITEMS {
        v.error(
            "line_items",
            format!("must hold 1 to {MAX_LINE_ITEMS} items"),
        );
    }
    let mut lines = Vec::with_capacity(body.line_items.len().min(MAX_LINE_ITEMS));
    for (i, line) in body.line_items.iter().take(MAX_LINE_ITEMS).enumerate() {
        let sku = v.parse(
            &format!("line_items[{i}].sku"),
            Sku::parse(line.sku.clone()),
        );
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            v.error(
                format!("line_items[{i}].quantity"),
                format!("must be greater than 0 and at most {MAX_QUANTITY}"),
            );
        }
        if let Some(sku) = sku {
            lines.push(ReturnWriteLine {
                sku,
                quantity: line.quantity,
            });
        }
    }
    writes::tags(&mut v, &body.tags);
    v.finish()?;
    let brand = brand.ok_or_else(ApiError::internal)?;
    Ok((
        brand,
        CreateReturnRequest {
            warehouse_id,
            order_id,
            trackstar_tags: body.tags.clone(),
            ..CreateReturnRequest::new(lines)
        },
    ))
}

/// A return names an order of its own brand, as Packr holds it: another brand's, another
/// tenant's and an unknown order are all the same 422 (nothing said about which).
async fn check_order(
    deps: &ApiDeps,
    ctx: &Ctx,
    brand: &BrandId,
    order_id: Option<&OrderId>,
) -> Result<(), ApiError> {
    let Some(id) = order_id else {
        return Ok(());
    };
    let store: &dyn SyncedStore<Order> = deps.objects.as_ref();
    match store.get(&ctx.principal.tenant, id.as_str()).await? {
        Some(order) if order.brand_id.as_ref() == Some(brand) => Ok(()),
        _ => {
            let mut v = Validator::default();
            v.error("order_id", "is not an order of this brand");
            v.finish()
        }
    }
}

/// `POST /returns` — requires `Idempotency-Key`; Trackstar first, then the local copy.
pub async fn create(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        // The key first: a request without one is malformed whoever's brand it names.
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<CreateReturnBody>(deps, &req, None)?;
        writes::brand_scope_then_role(&ctx, &body.brand_id, Action::WriteReturns)?;
        let (brand, mut rma) = validate_create(&body)?;
        let brand_record = writes::brand_record(deps, &ctx, &brand).await?;
        check_order(deps, &ctx, &brand, rma.order_id.as_ref()).await?;
        rma.warehouse_customer_id = brand_record.warehouse_customer_ids.first().cloned();
        idempotent(deps, &ctx, CREATE_SCOPE, &key, &raw, || async {
            let connection = writes::connection_for_brand(deps, &ctx, &brand).await?;
            let created = writes::write_through::<Return>(
                deps,
                &ctx,
                &connection,
                Some(brand.clone()),
                None,
                deps.trackstar()?
                    .create_return(&writes::credentials(&connection), &rma, &key),
            )
            .await?;
            tracing::info!(return_id = %created.id, brand_id = %brand, "return created");
            audit::record_with(
                deps,
                &ctx,
                "returns.create",
                format!("return:{}", created.id),
                Some(json!({ "brand_id": brand })),
            )
            .await?;
            Ok(Reply::created(writes::to_json(&created)?))
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failing_return_field_is_named_and_a_valid_one_is_trackstars_request() {
        let bad: CreateReturnBody = serde_json::from_value(json!({
            "brand_id": "b1",
            "warehouse_id": "wh 1",
            "order_id": "",
            "line_items": [{ "sku": "A", "quantity": -1 }]
        }))
        .unwrap();
        let body = validate_create(&bad).unwrap_err().body("r");
        let mut fields: Vec<&String> = body["error"]["details"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["line_items[0].quantity", "order_id", "warehouse_id"]
        );
        let ok: CreateReturnBody = serde_json::from_value(json!({
            "brand_id": "b1",
            "order_id": "ord_1",
            "line_items": [{ "sku": "A", "quantity": 2 }]
        }))
        .unwrap();
        let (brand, rma) = validate_create(&ok).unwrap();
        assert_eq!(brand.as_str(), "b1");
        assert_eq!(rma.order_id.unwrap().as_str(), "ord_1");
        assert!(rma.warehouse_id.is_none());
    }
}
