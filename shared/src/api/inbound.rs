//! `/inbound-shipments` writes (ASNs), through Trackstar: create, and change one while it is
//! still open. The reads are the generic ones (`resources`).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Reply, Validator};
use super::resources;
use super::routes::RouteId;
use super::schema;
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{BrandId, InboundShipment, InboundShipmentStatus, Sku, Timestamp, WarehouseId};
use crate::idempotency::Scope;
use crate::trackstar::{
    CreateInboundShipmentRequest, InboundWriteLine, SupplierRef, UpdateInboundShipmentRequest,
};

pub const CREATE_SCOPE: Scope = Scope::new("api.inbound_shipments.create");
pub const UPDATE_SCOPE: Scope = Scope::new("api.inbound_shipments.update");
pub const MAX_LINE_ITEMS: usize = 500;
pub const MAX_QUANTITY: i64 = 1_000_000;

/// One SKU expected on the shipment.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundLineBody {
    #[schema(value_type = Sku)]
    pub sku: String,
    #[serde(deserialize_with = "request::integer")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub expected_quantity: i64,
}

/// `POST /inbound-shipments`: an ASN for one of the caller's brands.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInboundShipmentBody {
    #[schema(value_type = BrandId)]
    pub brand_id: String,
    /// The warehouse that receives it (`GET /warehouses`).
    #[schema(value_type = WarehouseId)]
    pub warehouse_id: String,
    #[schema(schema_with = schema::text_128)]
    pub purchase_order_number: String,
    /// The supplier's name.
    #[schema(schema_with = schema::text_200)]
    pub supplier: String,
    /// The WMS's id of the supplier, where it has one.
    #[schema(schema_with = schema::opt_text_128)]
    pub supplier_id: Option<String>,
    #[schema(value_type = Timestamp)]
    pub expected_arrival_date: String,
    #[schema(schema_with = schema::text_128)]
    pub tracking_number: String,
    #[schema(min_items = 1, max_items = 500)]
    pub line_items: Vec<InboundLineBody>,
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
}

/// `PUT /inbound-shipments/{inbound_shipment_id}`: only the fields that change (at least
/// one); given `line_items` replace the shipment's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInboundShipmentBody {
    #[schema(value_type = Option<WarehouseId>)]
    pub warehouse_id: Option<String>,
    #[schema(schema_with = schema::opt_text_128)]
    pub purchase_order_number: Option<String>,
    #[schema(schema_with = schema::opt_text_200)]
    pub supplier: Option<String>,
    #[schema(schema_with = schema::opt_text_128)]
    pub supplier_id: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub expected_arrival_date: Option<String>,
    #[schema(schema_with = schema::opt_text_128)]
    pub tracking_number: Option<String>,
    #[schema(min_items = 1, max_items = 500)]
    pub line_items: Option<Vec<InboundLineBody>>,
    #[schema(schema_with = schema::opt_tags)]
    pub tags: Option<Vec<String>>,
}

fn lines(v: &mut Validator, items: &[InboundLineBody]) -> Vec<InboundWriteLine> {
    if items.is_empty() || items.len() > MAX_LINE_ITEMS {
        v.error(
            "line_items",
            format!("must hold 1 to {MAX_LINE_ITEMS} items"),
        );
    }
    let mut out = Vec::with_capacity(items.len().min(MAX_LINE_ITEMS));
    for (i, line) in items.iter().take(MAX_LINE_ITEMS).enumerate() {
        let sku = v.parse(
            &format!("line_items[{i}].sku"),
            Sku::parse(line.sku.clone()),
        );
        if !(1..=MAX_QUANTITY).contains(&line.expected_quantity) {
            v.error(
                format!("line_items[{i}].expected_quantity"),
                format!("must be greater than 0 and at most {MAX_QUANTITY}"),
            );
        }
        if let Some(sku) = sku {
            out.push(InboundWriteLine {
                sku,
                expected_quantity: line.expected_quantity,
            });
        }
    }
    out
}

fn arrival(v: &mut Validator, raw: &str) -> Option<Timestamp> {
    let parsed = Timestamp::parse_rfc3339(raw).ok();
    if parsed.is_none() {
        v.error(
            "expected_arrival_date",
            "must be an RFC 3339 timestamp, e.g. 2026-04-10T00:00:00Z",
        );
    }
    parsed
}

fn warehouse(v: &mut Validator, raw: &str) -> Option<WarehouseId> {
    v.parse("warehouse_id", WarehouseId::parse(raw))
}

/// Validates every field (each failure named) into the brand and Trackstar's request.
pub fn validate_create(
    body: &CreateInboundShipmentBody,
) -> Result<(BrandId, CreateInboundShipmentRequest), ApiError> {
    let mut v = Validator::default();
    let brand = v.parse("brand_id", BrandId::parse(body.brand_id.clone()));
    let warehouse_id = warehouse(&mut v, &body.warehouse_id);
    v.text("purchase_order_number", &body.purchase_order_number, 128);
    v.text("supplier", &body.supplier, 200);
    v.opt_text("supplier_id", body.supplier_id.as_ref(), 128);
    let expected = arrival(&mut v, &body.expected_arrival_date);
    v.text("tracking_number", &body.tracking_number, 128);
    let line_items = lines(&mut v, &body.line_items);
    writes::tags(&mut v, &body.tags);
    v.finish()?;
    let (Some(brand), Some(warehouse_id), Some(expected_arrival_date)) =
        (brand, warehouse_id, expected)
    else {
        return Err(ApiError::internal());
    };
    Ok((
        brand,
        CreateInboundShipmentRequest {
            warehouse_id,
            purchase_order_number: body.purchase_order_number.clone(),
            supplier: body.supplier.clone(),
            supplier_object: body.supplier_id.clone().map(SupplierRef::Id),
            expected_arrival_date,
            tracking_number: body.tracking_number.clone(),
            line_items,
            warehouse_customer_id: None,
            trackstar_tags: body.tags.clone(),
        },
    ))
}

/// Validates every field of an update (each failure named) into Trackstar's request.
pub fn validate_update(
    body: &UpdateInboundShipmentBody,
) -> Result<UpdateInboundShipmentRequest, ApiError> {
    let mut v = Validator::default();
    let warehouse_id = body
        .warehouse_id
        .as_deref()
        .and_then(|w| warehouse(&mut v, w));
    v.opt_text(
        "purchase_order_number",
        body.purchase_order_number.as_ref(),
        128,
    );
    v.opt_text("supplier", body.supplier.as_ref(), 200);
    v.opt_text("supplier_id", body.supplier_id.as_ref(), 128);
    let expected = body
        .expected_arrival_date
        .as_deref()
        .and_then(|raw| arrival(&mut v, raw));
    v.opt_text("tracking_number", body.tracking_number.as_ref(), 128);
    let line_items = body
        .line_items
        .as_deref()
        .map(|items| lines(&mut v, items))
        .unwrap_or_default();
    if let Some(t) = &body.tags {
        writes::tags(&mut v, t);
        if t.is_empty() {
            v.error("tags", "must hold at least one tag when given");
        }
    }
    let changes_something = body.warehouse_id.is_some()
        || body.purchase_order_number.is_some()
        || body.supplier.is_some()
        || body.supplier_id.is_some()
        || body.expected_arrival_date.is_some()
        || body.tracking_number.is_some()
        || body.line_items.is_some()
        || body.tags.is_some();
    if !changes_something {
        v.error("body", "must change at least one field");
    }
    v.finish()?;
    Ok(UpdateInboundShipmentRequest {
        warehouse_id,
        purchase_order_number: body.purchase_order_number.clone(),
        supplier: body.supplier.clone(),
        supplier_object: body.supplier_id.clone().map(SupplierRef::Id),
        expected_arrival_date: expected,
        tracking_number: body.tracking_number.clone(),
        line_items,
        trackstar_tags: body.tags.clone().unwrap_or_default(),
    })
}

/// Only an open shipment can be changed: once it is on its way or being received, the
/// warehouse works from what it was told.
fn not_open(status: InboundShipmentStatus) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "inbound_shipment_not_open",
        format!("the inbound shipment is {status}: only an open one can be changed"),
    )
}

/// `POST /inbound-shipments` — requires `Idempotency-Key`; Trackstar first, then the local
/// copy.
pub async fn create(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        // The key first: a request without one is malformed whoever's brand it names.
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<CreateInboundShipmentBody>(deps, &req, None)?;
        writes::brand_scope_then_role(&ctx, &body.brand_id, Action::WriteInboundShipments)?;
        let (brand, mut asn) = validate_create(&body)?;
        let brand_record = writes::brand_record(deps, &ctx, &brand).await?;
        asn.warehouse_customer_id = brand_record.warehouse_customer_ids.first().cloned();
        idempotent(deps, &ctx, CREATE_SCOPE, &key, &raw, || async {
            let connection = writes::connection_for_brand(deps, &ctx, &brand).await?;
            let shipment = writes::write_through::<InboundShipment>(
                deps,
                &ctx,
                &connection,
                Some(brand.clone()),
                None,
                deps.trackstar()?.create_inbound_shipment(
                    &writes::credentials(&connection),
                    &asn,
                    &key,
                ),
            )
            .await?;
            tracing::info!(inbound_shipment_id = %shipment.id, brand_id = %brand, "inbound shipment created");
            // After Trackstar and the local copy, as for orders (`crate::audit`).
            audit::record_with(
                deps,
                &ctx,
                "inbound_shipments.create",
                format!("inbound_shipment:{}", shipment.id),
                Some(json!({ "brand_id": brand })),
            )
            .await?;
            Ok(Reply::created(writes::to_json(&shipment)?))
        })
        .await
    })
    .await
}

/// `PUT /inbound-shipments/{inbound_shipment_id}` — requires `Idempotency-Key`;
/// write-through, only while the stored shipment is open (else 409).
pub async fn update(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let shipment = resources::visible_from_path::<InboundShipment>(
            deps,
            &ctx,
            &req,
            RouteId::UpdateInboundShipment,
        )
        .await?;
        require(&ctx, Action::WriteInboundShipments)?;
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<UpdateInboundShipmentBody>(deps, &req, None)?;
        let change = validate_update(&body)?;
        let payload = json!({ "inbound_shipment_id": shipment.id, "body": raw });
        idempotent(deps, &ctx, UPDATE_SCOPE, &key, &payload, || async {
            // Inside: a replay of an accepted change answers as it did, whatever the state
            // now; a refusal gives the key up.
            if shipment.status != InboundShipmentStatus::Open {
                return Err(not_open(shipment.status));
            }
            let connection = writes::connection_by_id(deps, &ctx, &shipment.connection_id).await?;
            let updated = writes::write_through::<InboundShipment>(
                deps,
                &ctx,
                &connection,
                shipment.brand_id.clone(),
                None,
                deps.trackstar()?.update_inbound_shipment(
                    &writes::credentials(&connection),
                    &shipment.id,
                    &change,
                    &key,
                ),
            )
            .await?;
            audit::record(
                deps,
                &ctx,
                "inbound_shipments.update",
                format!("inbound_shipment:{}", updated.id),
            )
            .await?;
            Ok(Reply::ok(writes::to_json(&updated)?))
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> CreateInboundShipmentBody {
        serde_json::from_value(json!({
            "brand_id": "b1",
            "warehouse_id": "wh_1",
            "purchase_order_number": "PO-1",
            "supplier": "Acme Textiles",
            "expected_arrival_date": "2026-04-10T00:00:00+02:00",
            "tracking_number": "1Z1",
            "line_items": [{ "sku": "TEE-1", "expected_quantity": 10 }]
        }))
        .unwrap()
    }

    fn fields(err: ApiError) -> Vec<String> {
        let body = err.body("r");
        let mut names: Vec<String> = body["error"]["details"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_valid_asn_becomes_trackstars_request_with_the_date_in_utc() {
        let (brand, asn) = validate_create(&body()).unwrap();
        assert_eq!(brand.as_str(), "b1");
        assert_eq!(
            asn.expected_arrival_date.to_rfc3339(),
            "2026-04-09T22:00:00Z"
        );
        assert_eq!(asn.line_items.len(), 1);
        assert!(asn.supplier_object.is_none());
        asn.validate().unwrap();
    }

    #[test]
    fn every_failing_create_field_is_named() {
        let mut b = body();
        b.brand_id = "b 1".into();
        b.warehouse_id = "wh#1".into();
        b.supplier = " ".into();
        b.expected_arrival_date = "tomorrow".into();
        b.line_items = vec![
            InboundLineBody {
                sku: " ".into(),
                expected_quantity: 1,
            },
            InboundLineBody {
                sku: "A".into(),
                expected_quantity: 0,
            },
        ];
        b.tags = vec![String::new()];
        assert_eq!(
            fields(validate_create(&b).unwrap_err()),
            [
                "brand_id",
                "expected_arrival_date",
                "line_items[0].sku",
                "line_items[1].expected_quantity",
                "supplier",
                "tags[0]",
                "warehouse_id"
            ]
        );
        b = body();
        b.line_items.clear();
        assert_eq!(fields(validate_create(&b).unwrap_err()), ["line_items"]);
    }

    #[test]
    fn an_update_must_change_something_and_names_what_is_wrong() {
        let empty: UpdateInboundShipmentBody = serde_json::from_value(json!({})).unwrap();
        assert_eq!(fields(validate_update(&empty).unwrap_err()), ["body"]);
        let bad: UpdateInboundShipmentBody = serde_json::from_value(json!({
            "expected_arrival_date": "2026-13-01T00:00:00Z",
            "line_items": [],
            "tags": []
        }))
        .unwrap();
        assert_eq!(
            fields(validate_update(&bad).unwrap_err()),
            ["expected_arrival_date", "line_items", "tags"]
        );
        let ok: UpdateInboundShipmentBody =
            serde_json::from_value(json!({ "tracking_number": "1Z2", "supplier_id": "sup_1" }))
                .unwrap();
        let change = validate_update(&ok).unwrap();
        change.validate().unwrap();
        assert_eq!(
            change.supplier_object,
            Some(SupplierRef::Id("sup_1".into()))
        );
    }
}
