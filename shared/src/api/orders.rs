//! `/orders`: listing (filters, keyset pagination, newest first), reading, and the
//! write-through create and cancel.

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
use crate::domain::{
    Address, BrandId, Currency, Money, Order, OrderId, OrderStatus, ProductId, ShipmentStatus, Sku,
};
use crate::idempotency::Scope;
use crate::trackstar::{
    CreateOrderRequest, OrderFields, UpdateOrderRequest, WriteAddress, WriteLineItem,
};

pub const CREATE_SCOPE: Scope = Scope::new("api.orders.create");
pub const CANCEL_SCOPE: Scope = Scope::new("api.orders.cancel");
pub const UPDATE_SCOPE: Scope = Scope::new("api.orders.update");
pub const MAX_LINE_ITEMS: usize = 500;
pub const MAX_QUANTITY: i64 = 1_000_000;

/// `GET /orders?brand_id&status&updated_since&limit&cursor`
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        visible::list::<Order>(deps, &ctx, &req, deps.objects.as_ref()).await
    })
    .await
}

/// An order the caller may see: another tenant's or another brand's is a 404.
async fn visible_order(deps: &ApiDeps, ctx: &Ctx, raw_id: &str) -> Result<Order, ApiError> {
    visible::get::<Order>(ctx, deps.objects.as_ref(), raw_id, |id| {
        OrderId::parse(id).is_ok()
    })
    .await
}

/// `GET /orders/{order_id}`
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let id = request::path_param(&req, "/orders/{order_id}", "order_id")?;
        let order = visible_order(deps, &ctx, &id).await?;
        Ok(Reply::ok(writes::to_json(&order)?))
    })
    .await
}

/// Amounts in minor units of the order's currency.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotalsBody {
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub price: Option<i64>,
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub tax: Option<i64>,
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub discount: Option<i64>,
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub shipping: Option<i64>,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[schema(schema_with = schema::text_200)]
    pub full_name: String,
    #[schema(schema_with = schema::opt_text_200)]
    pub company: Option<String>,
    #[schema(schema_with = schema::text_200)]
    pub address1: String,
    #[schema(schema_with = schema::opt_text_200)]
    pub address2: Option<String>,
    #[schema(schema_with = schema::opt_text_200)]
    pub address3: Option<String>,
    #[schema(schema_with = schema::text_100)]
    pub city: String,
    #[schema(schema_with = schema::opt_text_100)]
    pub state: Option<String>,
    #[schema(schema_with = schema::opt_postal_code)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(schema_with = schema::country)]
    pub country: String,
    #[schema(schema_with = schema::opt_phone)]
    pub phone_number: Option<String>,
    #[schema(schema_with = schema::opt_email)]
    pub email_address: Option<String>,
}

// Personal data: `Debug` shows only the country.
crate::redacted_debug!(AddressBody {
    country;
    full_name, company, address1, address2, address3, city, state, postal_code,
    phone_number, email_address,
});

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemBody {
    #[schema(value_type = Sku)]
    pub sku: String,
    #[serde(deserialize_with = "request::integer")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
    #[schema(value_type = Option<ProductId>)]
    pub product_id: Option<String>,
    /// Minor units of the order's currency.
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub unit_price: Option<i64>,
    /// Minor units of the order's currency.
    #[serde(default, deserialize_with = "request::opt_integer")]
    #[schema(schema_with = schema::opt_amount)]
    pub discount_amount: Option<i64>,
}

// `Debug` derived: the address redacts itself.
/// `POST /orders`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    #[schema(value_type = BrandId)]
    pub brand_id: String,
    #[schema(schema_with = schema::text_128)]
    pub reference_id: String,
    #[schema(schema_with = schema::text_128)]
    pub order_number: String,
    /// Trackstar requires these three on create (its base fields).
    #[schema(schema_with = schema::text_64)]
    pub channel: String,
    #[schema(schema_with = schema::text_128)]
    pub shipping_method_id: String,
    #[schema(schema_with = schema::text_64)]
    pub service_level: String,
    /// ISO 4217 code of every amount in the order.
    #[schema(value_type = Currency)]
    pub currency: String,
    #[serde(default)]
    pub totals: TotalsBody,
    pub ship_to_address: AddressBody,
    #[schema(min_items = 1, max_items = 500)]
    pub line_items: Vec<LineItemBody>,
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
}

fn amount(
    v: &mut Validator,
    field: &str,
    minor: Option<i64>,
    currency: Option<Currency>,
) -> Option<Money> {
    let minor = minor?;
    if !(0..=schema::MAX_MINOR_UNITS).contains(&minor) {
        v.error(
            field,
            format!("must be 0 to {} minor units", schema::MAX_MINOR_UNITS),
        );
        return None;
    }
    currency.map(|c| Money::from_minor(minor, c))
}

fn address(v: &mut Validator, a: &AddressBody) -> WriteAddress {
    v.text("ship_to_address.full_name", &a.full_name, 200);
    v.opt_text("ship_to_address.company", a.company.as_ref(), 200);
    v.text("ship_to_address.address1", &a.address1, 200);
    v.opt_text("ship_to_address.address2", a.address2.as_ref(), 200);
    v.opt_text("ship_to_address.address3", a.address3.as_ref(), 200);
    v.text("ship_to_address.city", &a.city, 100);
    v.opt_text("ship_to_address.state", a.state.as_ref(), 100);
    v.opt_text("ship_to_address.postal_code", a.postal_code.as_ref(), 20);
    if a.country.len() != 2 || !a.country.bytes().all(|b| b.is_ascii_uppercase()) {
        v.error(
            "ship_to_address.country",
            "must be an ISO 3166-1 alpha-2 code, e.g. US",
        );
    }
    v.opt_text("ship_to_address.phone_number", a.phone_number.as_ref(), 40);
    if let Some(email) = &a.email_address {
        if email.chars().count() > 254 || !email.contains('@') {
            v.error("ship_to_address.email_address", "must be an email address");
        }
    }
    WriteAddress::from(Address {
        full_name: Some(a.full_name.clone()),
        company: a.company.clone(),
        address1: Some(a.address1.clone()),
        address2: a.address2.clone(),
        address3: a.address3.clone(),
        city: Some(a.city.clone()),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
        country: Some(a.country.clone()),
        phone_number: a.phone_number.clone(),
        email_address: a.email_address.clone(),
    })
}

/// Validates every field (each failure named) into the brand and Trackstar's request.
pub fn validate_create(body: &CreateOrderBody) -> Result<(BrandId, OrderFields), ApiError> {
    let mut v = Validator::default();
    let brand = v.parse("brand_id", BrandId::parse(body.brand_id.clone()));
    v.text("reference_id", &body.reference_id, 128);
    v.text("order_number", &body.order_number, 128);
    v.text("channel", &body.channel, 64);
    v.text("shipping_method_id", &body.shipping_method_id, 128);
    v.text("service_level", &body.service_level, 64);
    // Upper case exactly, as the document says (`Currency::parse` also reads Trackstar's
    // data, which may be lower case).
    let currency = v
        .parse("currency", Currency::parse(&body.currency))
        .filter(|c| c.code() == body.currency);
    if currency.is_none() && !v.has_error("currency") {
        v.error("currency", "must be an upper-case ISO 4217 code, e.g. USD");
    }
    let zero = Some(0);
    let t = &body.totals;
    let total_price = amount(&mut v, "totals.price", t.price.or(zero), currency);
    let total_tax = amount(&mut v, "totals.tax", t.tax.or(zero), currency);
    let total_discount = amount(&mut v, "totals.discount", t.discount.or(zero), currency);
    let total_shipping = amount(&mut v, "totals.shipping", t.shipping.or(zero), currency);
    let ship_to = address(&mut v, &body.ship_to_address);
    if body.line_items.is_empty() || body.line_items.len() > MAX_LINE_ITEMS {
        v.error(
            "line_items",
            format!("must hold 1 to {MAX_LINE_ITEMS} items"),
        );
    }
    let mut lines = Vec::with_capacity(body.line_items.len().min(MAX_LINE_ITEMS));
    for (i, line) in body.line_items.iter().take(MAX_LINE_ITEMS).enumerate() {
        let f = |name: &str| format!("line_items[{i}].{name}");
        let sku = v.parse(&f("sku"), Sku::parse(line.sku.clone()));
        if line.quantity <= 0 || line.quantity > MAX_QUANTITY {
            v.error(
                f("quantity"),
                format!("must be greater than 0 and at most {MAX_QUANTITY}"),
            );
        }
        let product_id = line
            .product_id
            .clone()
            .and_then(|p| v.parse(&f("product_id"), ProductId::parse(p)));
        let unit_price = amount(&mut v, &f("unit_price"), line.unit_price, currency);
        let discount = amount(
            &mut v,
            &f("discount_amount"),
            line.discount_amount,
            currency,
        );
        if let Some(sku) = sku {
            lines.push(WriteLineItem {
                product_id,
                sku,
                quantity: line.quantity,
                unit_price,
                discount_amount: discount,
            });
        }
    }
    if body.tags.len() > 50 {
        v.error("tags", "must hold at most 50 tags");
    }
    for (i, tag) in body.tags.iter().enumerate() {
        v.text(&format!("tags[{i}]"), tag, 64);
    }
    v.finish()?;
    let brand = brand.ok_or_else(ApiError::internal)?;
    Ok((
        brand,
        OrderFields {
            reference_id: Some(body.reference_id.clone()),
            order_number: Some(body.order_number.clone()),
            warehouse_customer_id: None,
            channel: Some(body.channel.clone()),
            shipping_method_id: Some(body.shipping_method_id.clone()),
            service_level: Some(body.service_level.clone()),
            invoice_currency_code: currency,
            total_price,
            total_tax,
            total_discount,
            total_shipping,
            ship_to_address: Some(ship_to),
            line_items: lines,
            trackstar_tags: body.tags.clone(),
        },
    ))
}

/// `POST /orders` — requires `Idempotency-Key`; Trackstar first, then the local copy.
pub async fn create(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        // The key first: a request without one is malformed whoever's brand it names.
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<CreateOrderBody>(deps, &req, None)?;
        // Scope before permission: another brand's is a 404, a viewer's own a 403.
        if let Ok(brand) = BrandId::parse(body.brand_id.clone()) {
            if !ctx.principal.sees_brand(Some(&brand)) {
                return Err(ApiError::not_found("brand"));
            }
        }
        require(&ctx, Action::WriteOrders)?;
        let (brand, mut fields) = validate_create(&body)?;
        let brand_record = deps
            .tenants
            .get_brand(&ctx.principal.tenant, &brand)
            .await?
            .ok_or_else(|| ApiError::not_found("brand"))?;
        fields.warehouse_customer_id = brand_record.warehouse_customer_ids.first().cloned();
        idempotent(deps, &ctx, CREATE_SCOPE, &key, &raw, || async {
            let connection = writes::connection_for_brand(deps, &ctx, &brand).await?;
            let currency = fields.invoice_currency_code;
            let order = writes::write_through::<Order>(
                deps,
                &ctx,
                &connection,
                Some(brand.clone()),
                currency,
                deps.trackstar()?.create_order(
                    &writes::credentials(&connection),
                    &CreateOrderRequest { fields },
                    &key,
                ),
            )
            .await?;
            tracing::info!(order_id = %order.id, brand_id = %brand, "order created");
            // After Trackstar and the local copy: a failure here gives the key up, and the
            // retry's write is replayed by Trackstar under the same key (`crate::audit`).
            audit::record_with(
                deps,
                &ctx,
                "orders.create",
                format!("order:{}", order.id),
                Some(json!({ "brand_id": brand })),
            )
            .await?;
            Ok(Reply::created(writes::to_json(&order)?))
        })
        .await
    })
    .await
}

/// `POST /orders/{order_id}/cancel` — requires `Idempotency-Key`; write-through.
pub async fn cancel(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let id = request::path_param(&req, "/orders/{order_id}/cancel", "order_id")?;
        let order = visible_order(deps, &ctx, &id).await?;
        require(&ctx, Action::WriteOrders)?;
        let key = request::idempotency_key(&req)?;
        let payload = json!({ "order_id": order.id });
        idempotent(deps, &ctx, CANCEL_SCOPE, &key, &payload, || async {
            let connection = writes::connection_by_id(deps, &ctx, &order.connection_id).await?;
            let cancelled = writes::write_through::<Order>(
                deps,
                &ctx,
                &connection,
                order.brand_id.clone(),
                order.currency,
                deps.trackstar()?
                    .cancel_order(&writes::credentials(&connection), &order.id, &key),
            )
            .await?;
            tracing::info!(order_id = %cancelled.id, "order cancelled");
            audit::record(
                deps,
                &ctx,
                "orders.cancel",
                format!("order:{}", cancelled.id),
            )
            .await?;
            Ok(Reply::ok(writes::to_json(&cancelled)?))
        })
        .await
    })
    .await
}

/// `PUT /orders/{order_id}`: where it goes and how, before it ships (at least one field).
// `Debug` derived: the address redacts itself.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrderBody {
    /// Replaces the whole ship-to address.
    pub ship_to_address: Option<AddressBody>,
    /// One of `GET /shipping-methods`.
    #[schema(schema_with = schema::opt_text_128)]
    pub shipping_method_id: Option<String>,
    /// The shipping method's name, for warehouse systems that take it by name.
    #[schema(schema_with = schema::opt_text_200)]
    pub shipping_method: Option<String>,
}

/// Validates every field of a change (each failure named) into Trackstar's request.
pub fn validate_update(body: &UpdateOrderBody) -> Result<UpdateOrderRequest, ApiError> {
    let mut v = Validator::default();
    let ship_to = body.ship_to_address.as_ref().map(|a| address(&mut v, a));
    v.opt_text("shipping_method_id", body.shipping_method_id.as_ref(), 128);
    v.opt_text("shipping_method", body.shipping_method.as_ref(), 200);
    if ship_to.is_none() && body.shipping_method_id.is_none() && body.shipping_method.is_none() {
        v.error(
            "body",
            "must change the ship-to address or the shipping method",
        );
    }
    v.finish()?;
    Ok(UpdateOrderRequest {
        fields: OrderFields {
            shipping_method_id: body.shipping_method_id.clone(),
            ship_to_address: ship_to,
            ..OrderFields::default()
        },
        status: None,
        shipping_method: body.shipping_method.clone(),
    })
}

/// An order can be changed until it ships: not once (partly) fulfilled, cancelled, or with
/// a shipment out of the door.
fn editable(order: &Order) -> Result<(), ApiError> {
    let shipped = order
        .shipments
        .iter()
        .any(|s| s.status == ShipmentStatus::Shipped);
    let state = match order.status {
        OrderStatus::Cancelled => Some("cancelled"),
        OrderStatus::Fulfilled | OrderStatus::PartiallyFulfilled => Some("fulfilled"),
        _ if shipped => Some("shipped"),
        _ => None,
    };
    match state {
        None => Ok(()),
        Some(state) => Err(ApiError::new(
            http::StatusCode::CONFLICT,
            "order_not_editable",
            format!("the order is {state}: its address and shipping method can no longer change"),
        )),
    }
}

/// `PUT /orders/{order_id}` — requires `Idempotency-Key`; write-through, refused (409) once
/// the order has shipped or is cancelled.
pub async fn update(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let id = request::path_param(&req, "/orders/{order_id}", "order_id")?;
        let order = visible_order(deps, &ctx, &id).await?;
        require(&ctx, Action::WriteOrders)?;
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<UpdateOrderBody>(deps, &req, None)?;
        let change = validate_update(&body)?;
        let payload = json!({ "order_id": order.id, "body": raw });
        idempotent(deps, &ctx, UPDATE_SCOPE, &key, &payload, || async {
            // Inside: a replay of an accepted change answers as it did, whatever the state
            // now; a refusal gives the key up.
            editable(&order)?;
            let connection = writes::connection_by_id(deps, &ctx, &order.connection_id).await?;
            let updated = writes::write_through::<Order>(
                deps,
                &ctx,
                &connection,
                order.brand_id.clone(),
                order.currency,
                deps.trackstar()?.update_order(
                    &writes::credentials(&connection),
                    &order.id,
                    &change,
                    &key,
                ),
            )
            .await?;
            tracing::info!(order_id = %updated.id, "order changed");
            audit::record(deps, &ctx, "orders.update", format!("order:{}", updated.id)).await?;
            Ok(Reply::ok(writes::to_json(&updated)?))
        })
        .await
    })
    .await
}
