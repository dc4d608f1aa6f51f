//! `/products`: listing, reading, and the write-through create and update.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::schema;
use super::visible;
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{BrandId, Product, ProductId, Sku};
use crate::idempotency::Scope;
use crate::trackstar::{CreateProductRequest, ProductMeasurements, UpdateProductRequest};

pub const CREATE_SCOPE: Scope = Scope::new("api.products.create");
pub const UPDATE_SCOPE: Scope = Scope::new("api.products.update");

/// `GET /products?brand_id&updated_since&limit&cursor`
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        visible::list::<Product>(deps, &ctx, &req, deps.objects.as_ref()).await
    })
    .await
}

/// A product the caller may see: another tenant's or another brand's is a 404.
async fn visible_product(deps: &ApiDeps, ctx: &Ctx, raw_id: &str) -> Result<Product, ApiError> {
    visible::get::<Product>(ctx, deps.objects.as_ref(), raw_id, |id| {
        ProductId::parse(id).is_ok()
    })
    .await
}

/// `GET /products/{product_id}`
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let id = request::path_param(&req, "/products/{product_id}", "product_id")?;
        let product = visible_product(deps, &ctx, &id).await?;
        Ok(Reply::ok(writes::to_json(&product)?))
    })
    .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurementsBody {
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1_000_000)]
    pub length: f64,
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1_000_000)]
    pub width: f64,
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1_000_000)]
    pub height: f64,
    /// `cm` or `in`.
    #[schema(schema_with = schema::length_unit)]
    pub unit: String,
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1_000_000)]
    pub weight: f64,
    /// `kg`, `oz` or `lb`.
    #[schema(schema_with = schema::weight_unit)]
    pub weight_unit: String,
}

/// `POST /products`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductBody {
    #[schema(value_type = BrandId)]
    pub brand_id: String,
    #[schema(value_type = Sku)]
    pub sku: String,
    #[schema(schema_with = schema::text_200)]
    pub name: String,
    /// 8 to 14 digits (Trackstar requires it on create).
    #[schema(pattern = "^[0-9]{8,14}$")]
    pub gtin: String,
    pub measurements: MeasurementsBody,
}

/// `PUT /products/{product_id}`: only the fields that change (at least one).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductBody {
    #[schema(value_type = Option<Sku>)]
    pub sku: Option<String>,
    #[schema(schema_with = schema::opt_text_200)]
    pub name: Option<String>,
    #[schema(schema_with = schema::opt_gtin)]
    pub gtin: Option<String>,
    pub measurements: Option<MeasurementsBody>,
}

fn measurements(v: &mut Validator, m: Option<&MeasurementsBody>) -> Option<ProductMeasurements> {
    let m = m?;
    for (name, value) in [
        ("length", m.length),
        ("width", m.width),
        ("height", m.height),
        ("weight", m.weight),
    ] {
        if !(value.is_finite() && value > 0.0 && value < 1e6) {
            v.error(format!("measurements.{name}"), "must be a positive number");
        }
    }
    let word = |v: &mut Validator, field: &str, value: &str, words: &[&'static str]| {
        let found = words.iter().copied().find(|w| *w == value);
        if found.is_none() {
            v.error(field, format!("must be one of: {}", words.join(", ")));
        }
        found
    };
    let unit = word(v, "measurements.unit", &m.unit, schema::LENGTH_UNITS);
    let weight_unit = word(
        v,
        "measurements.weight_unit",
        &m.weight_unit,
        schema::WEIGHT_UNITS,
    );
    Some(ProductMeasurements {
        length: Some(m.length),
        width: Some(m.width),
        height: Some(m.height),
        unit,
        weight: Some(m.weight),
        weight_unit,
    })
}

fn gtin(v: &mut Validator, value: Option<&String>) {
    if let Some(g) = value {
        if !(8..=14).contains(&g.len()) || !g.bytes().all(|b| b.is_ascii_digit()) {
            v.error("gtin", "must be 8 to 14 digits");
        }
    }
}

/// `POST /products` — requires `Idempotency-Key`; Trackstar first, then the local copy.
pub async fn create(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        // The key first: a request without one is malformed whoever's brand it names.
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<CreateProductBody>(deps, &req, None)?;
        if let Ok(brand) = BrandId::parse(body.brand_id.clone()) {
            if !ctx.principal.sees_brand(Some(&brand)) {
                return Err(ApiError::not_found("brand"));
            }
        }
        require(&ctx, Action::WriteProducts)?;
        let mut v = Validator::default();
        let brand = v.parse("brand_id", BrandId::parse(body.brand_id.clone()));
        let sku = v.parse("sku", Sku::parse(body.sku.clone()));
        v.text("name", &body.name, 200);
        gtin(&mut v, Some(&body.gtin));
        let m = measurements(&mut v, Some(&body.measurements));
        v.finish()?;
        let (brand, sku) = brand.zip(sku).ok_or_else(ApiError::internal)?;
        deps.tenants
            .get_brand(&ctx.principal.tenant, &brand)
            .await?
            .ok_or_else(|| ApiError::not_found("brand"))?;
        idempotent(deps, &ctx, CREATE_SCOPE, &key, &raw, || async {
            let connection = writes::connection_for_brand(deps, &ctx, &brand).await?;
            let request = CreateProductRequest {
                name: Some(body.name.clone()),
                gtin: Some(body.gtin.clone()),
                measurements: m,
                ..CreateProductRequest::new(sku)
            };
            let product = writes::write_through::<Product>(
                deps,
                &ctx,
                &connection,
                Some(brand.clone()),
                None,
                deps.trackstar()?
                    .create_product(&writes::credentials(&connection), &request, &key),
            )
            .await?;
            // After Trackstar and the local copy, as for orders (`crate::audit`).
            audit::record(
                deps,
                &ctx,
                "products.create",
                format!("product:{}", product.id),
            )
            .await?;
            Ok(Reply::created(writes::to_json(&product)?))
        })
        .await
    })
    .await
}

/// `PUT /products/{product_id}` — requires `Idempotency-Key`; write-through.
pub async fn update(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let id = request::path_param(&req, "/products/{product_id}", "product_id")?;
        let product = visible_product(deps, &ctx, &id).await?;
        require(&ctx, Action::WriteProducts)?;
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<UpdateProductBody>(deps, &req, None)?;
        let mut v = Validator::default();
        let sku = body.sku.clone().and_then(|s| v.parse("sku", Sku::parse(s)));
        v.opt_text("name", body.name.as_ref(), 200);
        gtin(&mut v, body.gtin.as_ref());
        let m = measurements(&mut v, body.measurements.as_ref());
        if body.sku.is_none() && body.name.is_none() && body.gtin.is_none() && m.is_none() {
            v.error("body", "must change at least one field");
        }
        v.finish()?;
        let payload = json!({ "product_id": product.id, "body": raw });
        idempotent(deps, &ctx, UPDATE_SCOPE, &key, &payload, || async {
            let connection = writes::connection_by_id(deps, &ctx, &product.connection_id).await?;
            let request = UpdateProductRequest {
                sku,
                name: body.name.clone(),
                gtin: body.gtin.clone(),
                measurements: m,
                trackstar_tags: Vec::new(),
            };
            let updated = writes::write_through::<Product>(
                deps,
                &ctx,
                &connection,
                product.brand_id.clone(),
                None,
                deps.trackstar()?.update_product(
                    &writes::credentials(&connection),
                    &product.id,
                    &request,
                    &key,
                ),
            )
            .await?;
            audit::record(
                deps,
                &ctx,
                "products.update",
                format!("product:{}", updated.id),
            )
            .await?;
            Ok(Reply::ok(writes::to_json(&updated)?))
        })
        .await
    })
    .await
}
