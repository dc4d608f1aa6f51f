//! The OpenAPI 3.1 document, generated from the code: paths from the route table, request
//! schemas from the request types (utoipa), the error envelope and pagination shapes.
//! Served at `GET /openapi.json` and committed as `openapi.json` (a test keeps them equal).

use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, Paths};
use utoipa::{PartialSchema, ToSchema};

use super::backfill::BackfillBody;
use super::connections::{ConnectionView, ExchangeBody, LinkTokenBody};
use super::docs;
use super::error::ApiError;
use super::inbound::{CreateInboundShipmentBody, UpdateInboundShipmentBody};
use super::messages::PostMessageBody;
use super::orders::{CreateOrderBody, UpdateOrderBody};
use super::products::{CreateProductBody, UpdateProductBody};
use super::reconciliations::ReconciliationView;
use super::replay::{ReplayAnswer, ReplayBody, ReplayType};
use super::request::{respond, Reply};
use super::returns::CreateReturnBody;
use super::routes::{RouteId, ROUTES};
use super::sync::{QueuedSyncJob, RunSyncAnswer, RunSyncBody, SkippedConnection};
use super::ApiDeps;
use crate::domain::{
    Bill, BillId, BrandId, InboundShipment, InboundShipmentId, InventoryItem, Message, Order,
    OrderId, Product, ProductId, Return, ReturnId, ShippingMethod, Sku, Timestamp, Warehouse,
    WarehouseId,
};
use crate::health::figures::{Backlog, Percentiles, WebhookFigures};
use crate::health::report::{
    BreakerView, ConnectionErrorView, ConnectionHealth, HealthReport, HealthSummary, LagReport,
    ReconcileView, ResourceHealth, ResourceLag, StuckScheduleView,
};
use crate::health::{Reason, Status};
use crate::idempotency::IdempotencyKey;
use crate::resource::{Owner, Resource, ResourceSpec};
use crate::store::{AuditEntry, PageLimit};
use crate::sync::{BackfillStatus, BackfillView, ResourceKind};
use crate::webhook::replay::{SkipReason, SkippedEvent};

fn with_schema<T: ToSchema>(mut b: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    b = b.schema_from::<T>();
    for (name, schema) in nested {
        b = b.schema(name, schema);
    }
    b
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Request body schema, success status and response schema of a route.
fn shape(id: RouteId) -> (Option<&'static str>, u16, Value, &'static str) {
    let page = |item: &str| {
        json!({
            "type": "object",
            "required": ["items", "next_cursor"],
            "additionalProperties": false,
            "properties": {
                "items": { "type": "array", "items": reference(item) },
                "next_cursor": { "type": ["string", "null"], "description": "Opaque; pass back as `cursor` for the next page." }
            }
        })
    };
    match id {
        RouteId::ListOrders => (None, 200, page("Order"), "Orders, newest first"),
        RouteId::GetOrder => (None, 200, reference("Order"), "An order"),
        RouteId::CreateOrder => (
            Some("CreateOrderBody"),
            201,
            reference("Order"),
            "Create an order (write-through)",
        ),
        RouteId::UpdateOrder => (
            Some("UpdateOrderBody"),
            200,
            reference("Order"),
            "Change an order's ship-to address or shipping method before it ships (write-through)",
        ),
        RouteId::CancelOrder => (
            None,
            200,
            reference("Order"),
            "Cancel an order (write-through)",
        ),
        RouteId::ListInventory => (None, 200, page("InventoryItem"), "Inventory, newest first"),
        RouteId::GetInventory => (
            None,
            200,
            json!({ "type": "object", "required": ["sku", "items"], "additionalProperties": false, "properties": { "sku": reference("Sku"), "items": { "type": "array", "items": reference("InventoryItem") } } }),
            "A SKU's inventory items",
        ),
        RouteId::ListProducts => (None, 200, page("Product"), "Products, newest first"),
        RouteId::GetProduct => (None, 200, reference("Product"), "A product"),
        RouteId::CreateProduct => (
            Some("CreateProductBody"),
            201,
            reference("Product"),
            "Create a product (write-through)",
        ),
        RouteId::UpdateProduct => (
            Some("UpdateProductBody"),
            200,
            reference("Product"),
            "Update a product (write-through)",
        ),
        RouteId::ListInboundShipments => (
            None,
            200,
            page("InboundShipment"),
            "Inbound shipments (ASNs), newest first",
        ),
        RouteId::GetInboundShipment => (
            None,
            200,
            reference("InboundShipment"),
            "An inbound shipment (ASN): what is expected, what was received",
        ),
        RouteId::CreateInboundShipment => (
            Some("CreateInboundShipmentBody"),
            201,
            reference("InboundShipment"),
            "Announce an inbound shipment (ASN) to the warehouse (write-through)",
        ),
        RouteId::UpdateInboundShipment => (
            Some("UpdateInboundShipmentBody"),
            200,
            reference("InboundShipment"),
            "Change an inbound shipment while it is open (write-through)",
        ),
        RouteId::ListReturns => (None, 200, page("Return"), "Returns, newest first"),
        RouteId::GetReturn => (None, 200, reference("Return"), "A return"),
        RouteId::CreateReturn => (
            Some("CreateReturnBody"),
            201,
            reference("Return"),
            "Announce a return to the warehouse (write-through)",
        ),
        RouteId::ListWarehouses => (
            None,
            200,
            page("Warehouse"),
            "The tenant's warehouses, newest first (every role)",
        ),
        RouteId::GetWarehouse => (None, 200, reference("Warehouse"), "A warehouse"),
        RouteId::ListShippingMethods => (
            None,
            200,
            page("ShippingMethod"),
            "The tenant's shipping methods, newest first (every role): what an order can ship with",
        ),
        RouteId::ListBills => (
            None,
            200,
            page("Bill"),
            "Bills (the warehouse's charges), newest first",
        ),
        RouteId::GetBill => (None, 200, reference("Bill"), "A bill"),
        RouteId::ListChanges => (
            None,
            200,
            reference("ChangesPage"),
            "Every change to the tenant's synced objects, oldest first, deletions included: follow `next_cursor` (always present; poll again when `has_more` is false). Changes appear once they are older than the horizon (8 s by default), so none is ever skipped; cursors are good for 7 days (then 410)",
        ),
        RouteId::ListMessages => (
            None,
            200,
            page("Message"),
            "A brand's message thread, newest first",
        ),
        RouteId::PostMessage => (
            Some("PostMessageBody"),
            201,
            reference("Message"),
            "Post a message to a brand's thread",
        ),
        RouteId::CreateLinkToken => (
            Some("LinkTokenBody"),
            200,
            json!({ "type": "object", "required": ["link_token"], "additionalProperties": false, "properties": { "link_token": { "type": "string" } } }),
            "Create a Trackstar Link token (tenant_admin)",
        ),
        RouteId::ExchangeAuthCode => (
            Some("ExchangeBody"),
            201,
            reference("ConnectionView"),
            "Exchange a Link auth code for a new connection (tenant_admin); 200 for a reinstall",
        ),
        RouteId::ListConnections => (
            None,
            200,
            json!({ "type": "object", "required": ["items"], "additionalProperties": false, "properties": { "items": { "type": "array", "items": reference("ConnectionView") } } }),
            "The tenant's connections (tenant_admin)",
        ),
        RouteId::ListAudit => (
            None,
            200,
            page("AuditEntry"),
            "The audit log, newest first (tenant_admin)",
        ),
        RouteId::RunSync => (
            Some("RunSyncBody"),
            202,
            reference("RunSyncAnswer"),
            "Queue syncs from the warehouse system: one job per (connection, resource) (tenant_admin)",
        ),
        RouteId::Backfill => (
            Some("BackfillBody"),
            202,
            reference("BackfillView"),
            "Ask the warehouse system to re-read one resource of a connection over a window (Trackstar's on-demand sync); its completion queues an incremental sync of the resource (tenant_admin)",
        ),
        RouteId::SyncHealth => (
            None,
            200,
            reference("HealthReport"),
            "Sync health of the caller's connections (brand roles: their brands' only)",
        ),
        RouteId::SyncLag => (
            None,
            200,
            reference("LagReport"),
            "Sync and webhook lag per resource of a brand's connections",
        ),
        RouteId::Replay => (
            Some("ReplayBody"),
            202,
            reference("ReplayAnswer"),
            "Replay the tenant's failed webhook events (spread over time), or queue a sync of a brand's connections; 200 for a dry run (tenant_admin)",
        ),
        RouteId::ListReconciliations => (
            None,
            200,
            page("ReconciliationView"),
            "Reconciliation reports, newest first (brand roles: their brands' only)",
        ),
        RouteId::GetReconciliation => (
            None,
            200,
            reference("ReconciliationView"),
            "A reconciliation report",
        ),
        RouteId::OpenApi => (None, 200, json!({ "type": "object" }), "This document"),
        RouteId::Docs => (
            None,
            200,
            json!({ "type": "string" }),
            "This document as a reference page (HTML, Swagger UI)",
        ),
        RouteId::DocsAsset => (
            None,
            200,
            json!({ "type": "string" }),
            "A script, stylesheet or licence of the reference page",
        ),
    }
}

/// A schema of the type's own (`PartialSchema`), as JSON.
fn schema_of<T: PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or_else(|_| json!({}))
}

/// Query parameters of a route: name, schema, description. Every one is optional and may
/// be sent empty (`allowEmptyValue`): an empty value is the same as leaving it out.
fn query_parameters(id: RouteId) -> Vec<(&'static str, Value, String)> {
    let limit = (
        "limit",
        json!({ "type": "integer", "minimum": PageLimit::MIN, "maximum": PageLimit::MAX, "default": PageLimit::DEFAULT }),
        "Page size".to_owned(),
    );
    let cursor = (
        "cursor",
        json!({ "type": "string" }),
        "Opaque cursor from `next_cursor` of the previous page, with the same other parameters"
            .to_owned(),
    );
    let brand = (
        "brand_id",
        schema_of::<BrandId>(),
        "Only this brand (required for users of several brands)".to_owned(),
    );
    let since = (
        "updated_since",
        schema_of::<Timestamp>(),
        "Only objects updated at or after".to_owned(),
    );
    // A listing of a mirrored resource: the filters its declaration gives
    // (`api::visible::list` takes the same ones).
    let listing = |spec: &ResourceSpec| {
        let mut out = Vec::new();
        if spec.owner == Owner::Brand {
            out.push(brand.clone());
        }
        if !spec.statuses.is_empty() {
            out.push((
                "status",
                json!({ "type": "string", "enum": spec.statuses }),
                format!("Only {} in this status", spec.name.replace('_', " ")),
            ));
        }
        if spec.warehouse_filter {
            out.push((
                "warehouse_id",
                schema_of::<WarehouseId>(),
                format!("Only {} of this warehouse", spec.name.replace('_', " ")),
            ));
        }
        out.extend([since.clone(), limit.clone(), cursor.clone()]);
        out
    };
    match id {
        RouteId::ListOrders => listing(&Order::SPEC),
        RouteId::ListInventory => listing(&InventoryItem::SPEC),
        RouteId::ListProducts => listing(&Product::SPEC),
        RouteId::ListInboundShipments => listing(&InboundShipment::SPEC),
        RouteId::ListReturns => listing(&Return::SPEC),
        RouteId::ListWarehouses => listing(&Warehouse::SPEC),
        RouteId::ListShippingMethods => listing(&ShippingMethod::SPEC),
        RouteId::ListBills => listing(&Bill::SPEC),
        RouteId::ListChanges => vec![
            (
                "kinds",
                json!({ "type": "string", "pattern": "^[a-z_]+(,[a-z_]+)*$" }),
                format!(
                    "Only these resources, comma-separated ({})",
                    crate::sync::ResourceKind::ALL
                        .map(|k| k.spec().name)
                        .join(", ")
                ),
            ),
            (
                "brand_id",
                schema_of::<BrandId>(),
                "Only this brand's objects (tenant-wide resources left out)".to_owned(),
            ),
            limit,
            cursor,
        ],
        RouteId::ListMessages | RouteId::ListAudit => vec![limit, cursor],
        RouteId::ListReconciliations => vec![brand, limit, cursor],
        _ => Vec::new(),
    }
}

/// The schema of a path parameter, from the id type the handler parses it into.
fn path_parameter(name: &str) -> Value {
    match name {
        "order_id" => schema_of::<OrderId>(),
        "product_id" => schema_of::<ProductId>(),
        "inbound_shipment_id" => schema_of::<InboundShipmentId>(),
        "return_id" => schema_of::<ReturnId>(),
        "warehouse_id" => schema_of::<WarehouseId>(),
        "bill_id" => schema_of::<BillId>(),
        "brand_id" => schema_of::<BrandId>(),
        "sku" => schema_of::<Sku>(),
        "file" => {
            json!({ "type": "string", "enum": docs::ASSETS.iter().map(|a| a.name).collect::<Vec<_>>() })
        }
        _ => json!({ "type": "string", "minLength": 1 }),
    }
}

/// Error statuses of a route. API Gateway answers some itself, before or after the
/// function, with its own body `{"message": "…"}`: 401 (the JWT authorizer), 403, 429
/// (throttling; Packr's own 429 is a tenant quota), 500 and 503 (the function failed or was
/// throttled); those allow both bodies.
fn error_responses(id: RouteId, method: &str, authorized: bool) -> Map<String, Value> {
    let mut codes: Vec<(&str, &str)> = Vec::new();
    if authorized {
        codes.extend([
            ("400", "Invalid parameters, cursor or Idempotency-Key"),
            (
                "401",
                "No valid token (API Gateway's authorizer), or token claims Packr cannot use",
            ),
            ("403", "The role does not allow this action"),
            ("404", "Not found (or another tenant's or brand's)"),
            (
                "429",
                "Throttled by API Gateway, or `quota_exceeded`: the tenant's request quota (admin actions: its admin quota) is used up (Retry-After)",
            ),
        ]);
    }
    if matches!(id, RouteId::RunSync | RouteId::Replay) {
        // Queues work; never calls the warehouse system itself.
        codes.extend([
            (
                "409",
                "`connection_not_active`: the named connection cannot sync; or Idempotency-Key in progress",
            ),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Validation failed (each field named, e.g. `resources[1]`), or Idempotency-Key reused with another body",
            ),
        ]);
    } else if id == RouteId::Backfill {
        codes.extend([
            (
                "409",
                "`connection_not_active`: the connection cannot sync; or Idempotency-Key in progress",
            ),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Validation failed (each field named), `backfill_unsupported`: the combination cannot be backfilled (inventory, or a resource the warehouse system refuses on-demand syncs of), or Idempotency-Key reused with another body",
            ),
            ("502", "The warehouse system failed"),
            ("504", "The warehouse system timed out"),
        ]);
    } else if method != "GET" {
        codes.extend([
            (
                "409",
                match id {
                    RouteId::UpdateOrder => "`order_not_editable`: the order has shipped, is fulfilled or cancelled; or Idempotency-Key in progress, or another conflicting state",
                    RouteId::UpdateInboundShipment => "`inbound_shipment_not_open`: the inbound shipment is no longer open; or Idempotency-Key in progress, or another conflicting state",
                    _ => "Idempotency-Key in progress, or a conflicting state",
                },
            ),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Validation failed (each field named by its path, e.g. `line_items[0].quantity`), or Idempotency-Key reused with another body",
            ),
            ("502", "The warehouse system failed"),
            ("504", "The warehouse system timed out"),
        ]);
    }
    if id == RouteId::ListChanges {
        codes.push((
            "410",
            "`cursor_expired`: the cursor is older than the feed's retention; start again without a cursor",
        ));
    }
    if id == RouteId::DocsAsset {
        codes.push(("404", "No such asset"));
    }
    codes.push(("500", "Internal error"));
    codes.push((
        "503",
        if method == "GET" {
            "Unavailable: the warehouse system is rate limiting or down (Retry-After), or the function was throttled; `quota_unavailable`: an admin action while the tenant quota cannot be checked (Retry-After)"
        } else {
            "Unavailable: the warehouse system is rate limiting or down (Retry-After), the function was throttled, `audit_unavailable`: the action could not be recorded in the audit log (retry with the same Idempotency-Key), or `quota_unavailable`: an admin action while the tenant quota cannot be checked (Retry-After)"
        },
    ));
    codes
        .into_iter()
        .map(|(code, description)| {
            let schema = match code {
                "401" | "403" | "429" | "500" | "503" => {
                    json!({ "anyOf": [reference("Error"), reference("GatewayError")] })
                }
                _ => reference("Error"),
            };
            (
                code.to_owned(),
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": schema } }
                }),
            )
        })
        .collect()
}

/// The error envelopes: Packr's own, and API Gateway's.
fn error_schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "description": "Packr's error envelope",
            "required": ["error"],
            "additionalProperties": false,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "additionalProperties": false,
                    "properties": {
                        "code": { "type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "Stable machine-readable code, e.g. `validation_failed`" },
                        "message": { "type": "string" },
                        "details": {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": {
                                "fields": {
                                    "type": "object",
                                    "description": "What is wrong with each field, by its path: {\"line_items[0].quantity\": [\"…\"]}",
                                    "additionalProperties": { "type": "array", "items": { "type": "string" } }
                                }
                            }
                        },
                        "retry_after": { "type": "integer", "minimum": 1, "description": "Seconds to wait before retrying, as in the Retry-After header" },
                        "request_id": { "type": "string" }
                    }
                }
            }
        },
        "GatewayError": {
            "type": "object",
            "description": "API Gateway's own answer (authorizer, throttling, function failures), e.g. `{\"message\": \"Unauthorized\"}`",
            "required": ["message"],
            "additionalProperties": false,
            "properties": { "message": { "type": "string" } }
        }
    })
}

/// Objects Packr answers with carry only the properties their schema names: the document
/// says so (`additionalProperties: false`), so a response with an undeclared field fails the
/// contract tests instead of leaking into clients unseen.
fn close_objects(schemas: &mut Map<String, Value>) {
    for schema in schemas.values_mut() {
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema["additionalProperties"] = Value::Bool(false);
        }
    }
}

/// `Idempotent-Replayed: true` on an answer replayed for a repeated Idempotency-Key.
fn reference_header() -> Value {
    json!({
        "description": "`true` when this is the saved answer to an earlier request with the same Idempotency-Key",
        "required": false,
        "schema": { "type": "string", "enum": ["true"] }
    })
}

/// Links from the writes that create an object to the routes that read and change it.
fn links(id: RouteId) -> Option<Value> {
    let link = |operation: RouteId, parameter: &str| {
        json!({
            "operationId": format!("{operation:?}"),
            "parameters": { parameter: "$response.body#/id" }
        })
    };
    match id {
        RouteId::CreateOrder => Some(json!({
            "GetOrder": link(RouteId::GetOrder, "order_id"),
            "UpdateOrder": link(RouteId::UpdateOrder, "order_id"),
            "CancelOrder": link(RouteId::CancelOrder, "order_id"),
        })),
        RouteId::CreateInboundShipment => Some(json!({
            "GetInboundShipment": link(RouteId::GetInboundShipment, "inbound_shipment_id"),
            "UpdateInboundShipment": link(RouteId::UpdateInboundShipment, "inbound_shipment_id"),
        })),
        RouteId::CreateReturn => Some(json!({
            "GetReturn": link(RouteId::GetReturn, "return_id"),
        })),
        RouteId::CreateProduct => Some(json!({
            "GetProduct": link(RouteId::GetProduct, "product_id"),
            "UpdateProduct": link(RouteId::UpdateProduct, "product_id"),
        })),
        _ => None,
    }
}

/// What the derive cannot say about a body: `PUT /products/{id}`, `PUT /orders/{id}` and
/// `PUT /inbound-shipments/{id}` must change at least one field (one of them present and
/// not null); `POST /sync/replay`: `event_ids` and `max_age_hours` only with `type: webhook`, `mode`
/// only with `type: sync`.
fn refine_bodies(schemas: &mut Map<String, Value>) {
    if let Some(replay) = schemas.get_mut("ReplayBody") {
        let absent = json!({ "type": "null" });
        replay["oneOf"] = json!([
            { "properties": { "type": { "const": "webhook" }, "mode": absent } },
            { "properties": { "type": { "const": "sync" }, "event_ids": absent, "max_age_hours": absent } },
        ]);
    }
    let one_of_present = |fields: &[&str]| -> Value {
        fields
            .iter()
            .map(
                |f| json!({ "required": [f], "properties": { *f: { "not": { "type": "null" } } } }),
            )
            .collect()
    };
    if let Some(update) = schemas.get_mut("UpdateProductBody") {
        update["anyOf"] = one_of_present(&["sku", "name", "gtin", "measurements"]);
    }
    if let Some(update) = schemas.get_mut("UpdateInboundShipmentBody") {
        update["anyOf"] = one_of_present(&[
            "warehouse_id",
            "purchase_order_number",
            "supplier",
            "supplier_id",
            "expected_arrival_date",
            "tracking_number",
            "line_items",
            "tags",
        ]);
    }
    // A change's object is the object as its resource's `GET` answers it.
    if let Some(object) = schemas
        .get_mut("Change")
        .and_then(|c| c.get_mut("properties"))
        .and_then(|p| p.get_mut("object"))
    {
        let mut kinds: Vec<Value> = crate::sync::ResourceKind::ALL
            .iter()
            .map(|k| reference(&k.schema_name()))
            .collect();
        kinds.push(json!({ "type": "null" }));
        *object = json!({
            "description": "The object's current state, as `GET /<resources>/{id}` answers it; `null` for a deletion",
            "anyOf": kinds,
        });
    }
    if let Some(update) = schemas.get_mut("UpdateOrderBody") {
        update["anyOf"] =
            one_of_present(&["ship_to_address", "shipping_method_id", "shipping_method"]);
    }
}

/// What the docs routes answer instead of JSON.
fn non_json_content(id: RouteId, schema: &Value) -> Option<Value> {
    let types = match id {
        RouteId::Docs => vec!["text/html"],
        RouteId::DocsAsset => docs::asset_media_types(),
        _ => return None,
    };
    let content: Map<String, Value> = types
        .into_iter()
        .map(|t| (t.to_owned(), json!({ "schema": schema })))
        .collect();
    Some(Value::Object(content))
}

/// The whole document as JSON (deterministic: maps are sorted).
pub fn document() -> Value {
    let mut components = ComponentsBuilder::new();
    components = with_schema::<CreateOrderBody>(components);
    components = with_schema::<UpdateOrderBody>(components);
    components = with_schema::<CreateProductBody>(components);
    components = with_schema::<CreateInboundShipmentBody>(components);
    components = with_schema::<UpdateInboundShipmentBody>(components);
    components = with_schema::<CreateReturnBody>(components);
    components = with_schema::<UpdateProductBody>(components);
    components = with_schema::<PostMessageBody>(components);
    components = with_schema::<LinkTokenBody>(components);
    components = with_schema::<ExchangeBody>(components);
    components = with_schema::<ConnectionView>(components);
    components = with_schema::<RunSyncBody>(components);
    components = with_schema::<RunSyncAnswer>(components);
    components = with_schema::<BackfillBody>(components);
    components = with_schema::<BackfillView>(components);
    components = with_schema::<BackfillStatus>(components);
    components = with_schema::<QueuedSyncJob>(components);
    components = with_schema::<SkippedConnection>(components);
    components = with_schema::<ResourceKind>(components);
    components = with_schema::<super::sync::RunSyncMode>(components);
    components = with_schema::<HealthReport>(components);
    components = with_schema::<HealthSummary>(components);
    components = with_schema::<ConnectionHealth>(components);
    components = with_schema::<ResourceHealth>(components);
    components = with_schema::<ReconcileView>(components);
    components = with_schema::<WebhookFigures>(components);
    components = with_schema::<Percentiles>(components);
    components = with_schema::<Backlog>(components);
    components = with_schema::<BreakerView>(components);
    components = with_schema::<ConnectionErrorView>(components);
    components = with_schema::<StuckScheduleView>(components);
    components = with_schema::<Reason>(components);
    components = with_schema::<Status>(components);
    components = with_schema::<LagReport>(components);
    components = with_schema::<ResourceLag>(components);
    components = with_schema::<ReplayBody>(components);
    components = with_schema::<ReplayType>(components);
    components = with_schema::<ReplayAnswer>(components);
    components = with_schema::<SkippedEvent>(components);
    components = with_schema::<SkipReason>(components);
    components = with_schema::<ReconciliationView>(components);
    components = with_schema::<Order>(components);
    components = with_schema::<InventoryItem>(components);
    components = with_schema::<Product>(components);
    components = with_schema::<InboundShipment>(components);
    components = with_schema::<Return>(components);
    components = with_schema::<Warehouse>(components);
    components = with_schema::<ShippingMethod>(components);
    components = with_schema::<Bill>(components);
    components = with_schema::<Message>(components);
    components = with_schema::<AuditEntry>(components);
    components = with_schema::<crate::changes::ChangesPage>(components);
    components = with_schema::<crate::changes::Change>(components);
    components = with_schema::<crate::changes::ChangeAction>(components);
    let base = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Packr API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Tenant-facing API of Packr. The tenant comes from the verified token's claims only.",
                ))
                .build(),
        )
        .paths(Paths::new())
        .components(Some(components.build()))
        .build();
    let mut doc = serde_json::to_value(&base).unwrap_or_else(|_| json!({}));

    let mut paths = Map::new();
    for route in ROUTES {
        let (body, status, schema, summary) = shape(route.id);
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": path_parameter(name) }))
            .collect();
        for (name, schema, description) in query_parameters(route.id) {
            parameters.push(json!({
                "name": name,
                "in": "query",
                "required": false,
                "allowEmptyValue": true,
                "description": format!("{description}. An empty value is the same as leaving the parameter out."),
                "schema": schema,
            }));
        }
        let idempotent = matches!(
            route.id,
            RouteId::CreateOrder
                | RouteId::UpdateOrder
                | RouteId::CancelOrder
                | RouteId::CreateInboundShipment
                | RouteId::UpdateInboundShipment
                | RouteId::CreateReturn
                | RouteId::CreateProduct
                | RouteId::UpdateProduct
                | RouteId::RunSync
                | RouteId::Backfill
                | RouteId::Replay
                | RouteId::PostMessage
        );
        if idempotent {
            parameters.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": true,
                "description": "Names this write: the same key with the same body within 24 hours returns the saved response (with `Idempotent-Replayed: true`) instead of writing again; with another body it is a 422",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IdempotencyKey::MAX_LEN,
                    "pattern": "^[\\x21-\\x7E]+$",
                    "description": "1–255 visible ASCII characters"
                }
            }));
        }
        let mut responses = error_responses(route.id, route.method, route.authorized);
        let mut success = json!({ "description": summary, "content": { "application/json": { "schema": schema } } });
        if let Some(content) = non_json_content(route.id, &schema) {
            success["content"] = content;
        }
        if idempotent {
            success["headers"] = json!({ "Idempotent-Replayed": reference_header() });
        }
        if let Some(links) = links(route.id) {
            success["links"] = links;
        }
        responses.insert(status.to_string(), success);
        if route.id == RouteId::Replay {
            responses.insert(
                "200".to_owned(),
                json!({ "description": "Dry run: what would be replayed; nothing enqueued", "content": { "application/json": { "schema": reference("ReplayAnswer") } } }),
            );
        }
        if route.id == RouteId::ExchangeAuthCode {
            responses.insert(
                "200".to_owned(),
                json!({ "description": "Reinstalled: the tenant's existing connection, active again with the new token", "content": { "application/json": { "schema": reference("ConnectionView") } } }),
            );
        }
        let mut operation = json!({
            "operationId": format!("{:?}", route.id),
            "summary": summary,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(name) = body {
            operation["requestBody"] = json!({
                "required": route.id != RouteId::CreateLinkToken,
                "content": { "application/json": { "schema": reference(name) } }
            });
        }
        if route.authorized {
            operation["security"] = json!([{ "jwt": [] }]);
        } else {
            operation["security"] = json!([]);
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    doc["paths"] = Value::Object(paths);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        if let Value::Object(extra) = error_schemas() {
            schemas.extend(extra);
        }
        close_objects(schemas);
        refine_bodies(schemas);
    }
    doc["components"]["securitySchemes"] = json!({
        "jwt": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
    });
    doc
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json` (no authorizer, no dependencies).
pub fn serve(request: &Request) -> Response<Body> {
    let id = super::request::request_id(request);
    respond(Ok(Reply::ok(document())), &id)
}

/// The HTTP API's `$default` route (api-docs): what no route matches. A path of a route
/// asked with another method is a 405 naming the methods it has (`Allow`); anything else a
/// 404. Both in Packr's error envelope, and no dependencies, like the document.
pub fn default_route(request: &Request) -> Response<Body> {
    let id = super::request::request_id(request);
    let path = request.uri().path();
    if request.method() == http::Method::GET && path == "/openapi.json" {
        return serve(request);
    }
    if let Some(response) = docs::serve(request) {
        return response;
    }
    let mut allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| super::request::match_template(r.path, path).is_some())
        .map(|r| r.method)
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    if allowed.is_empty() {
        let err = ApiError::new(
            http::StatusCode::NOT_FOUND,
            "route_not_found",
            "no route has this path",
        );
        return respond(Err(err), &id);
    }
    let err = ApiError::new(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this path answers only {}", allowed.join(", ")),
    );
    let mut response = respond(Err(err), &id);
    if let Ok(value) = http::HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

/// `GET /openapi.json` as a routed handler.
pub async fn handle(_deps: &ApiDeps, request: Request) -> Response<Body> {
    serve(&request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, path: &str) -> Response<Body> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("https://api.example.com{path}"))
            .body(Body::Empty)
            .unwrap();
        default_route(&request)
    }

    fn json(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn the_default_route_names_the_methods_of_a_known_path() {
        let r = call("TRACE", "/orders");
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, POST");
        assert_eq!(json(&r)["error"]["code"], "method_not_allowed");
        let r = call("DELETE", "/orders/ord_1");
        assert_eq!(
            (r.status(), &r.headers()["allow"]),
            (
                405.try_into().unwrap(),
                &http::HeaderValue::from_static("GET, PUT")
            )
        );
    }

    #[test]
    fn the_default_route_answers_404_for_an_unknown_path_and_serves_the_document() {
        let r = call("GET", "/nowhere");
        assert_eq!(r.status(), 404);
        assert_eq!(json(&r)["error"]["code"], "route_not_found");
        assert!(r.headers().get("allow").is_none());
        let r = call("GET", "/openapi.json");
        assert_eq!(r.status(), 200);
        assert_eq!(json(&r)["openapi"], "3.1.0");
    }
}
