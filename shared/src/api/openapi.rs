//! The OpenAPI 3.1 document, generated from the code: paths from the route table, request
//! schemas from the request types (utoipa), the error envelope and pagination shapes.
//! Served at `GET /openapi.json` and committed as `openapi.json` (a test keeps them equal).

use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, Paths};
use utoipa::ToSchema;

use super::connections::{ConnectionView, ExchangeBody, LinkTokenBody};
use super::messages::PostMessageBody;
use super::orders::CreateOrderBody;
use super::products::{CreateProductBody, UpdateProductBody};
use super::reconciliations::ReconciliationView;
use super::replay::{ReplayAnswer, ReplayBody, ReplayType};
use super::request::{respond, Reply};
use super::routes::{RouteId, ROUTES};
use super::sync::{QueuedSyncJob, RunSyncAnswer, RunSyncBody, SkippedConnection};
use super::ApiDeps;
use crate::health::figures::{Backlog, Percentiles, WebhookFigures};
use crate::health::report::{
    BreakerView, ConnectionErrorView, ConnectionHealth, HealthReport, HealthSummary, LagReport,
    ReconcileView, ResourceHealth, ResourceLag, StuckScheduleView,
};
use crate::health::{Reason, Status};
use crate::sync::SyncResource;
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
            json!({ "type": "object", "properties": { "sku": { "type": "string" }, "items": { "type": "array", "items": reference("InventoryItem") } } }),
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
            json!({ "type": "object", "required": ["link_token"], "properties": { "link_token": { "type": "string" } } }),
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
            json!({ "type": "object", "properties": { "items": { "type": "array", "items": reference("ConnectionView") } } }),
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
    }
}

fn query_parameters(id: RouteId) -> Vec<(&'static str, Value, &'static str)> {
    let limit = (
        "limit",
        json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 50 }),
        "Page size",
    );
    let cursor = (
        "cursor",
        json!({ "type": "string" }),
        "Opaque cursor from `next_cursor`",
    );
    let brand = (
        "brand_id",
        json!({ "type": "string" }),
        "Only this brand (required for users of several brands)",
    );
    let since = (
        "updated_since",
        json!({ "type": "string", "format": "date-time" }),
        "Only objects updated at or after",
    );
    match id {
        RouteId::ListOrders => vec![
            brand,
            (
                "status",
                json!({ "type": "string" }),
                "Only orders in this status",
            ),
            since,
            limit,
            cursor,
        ],
        RouteId::ListInventory | RouteId::ListProducts => vec![brand, since, limit, cursor],
        RouteId::ListMessages | RouteId::ListAudit => vec![limit, cursor],
        RouteId::ListReconciliations => vec![brand, limit, cursor],
        _ => Vec::new(),
    }
}

fn error_responses(id: RouteId, method: &str, authorized: bool) -> Map<String, Value> {
    let mut codes: Vec<(&str, &str)> = Vec::new();
    if authorized {
        codes.extend([
            ("400", "Invalid parameters, cursor or Idempotency-Key"),
            ("401", "Missing or malformed token claims"),
            ("403", "The role does not allow this action"),
            ("404", "Not found (or another tenant's or brand's)"),
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
    } else if method != "GET" {
        codes.extend([
            ("409", "Idempotency-Key in progress, or a conflicting state"),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Validation failed (each field named), or Idempotency-Key reused with another body",
            ),
            ("502", "The warehouse system failed"),
            (
                "503",
                "The warehouse system is rate limiting or unavailable (Retry-After)",
            ),
            ("504", "The warehouse system timed out"),
        ]);
    }
    codes.push(("500", "Internal error"));
    codes
        .into_iter()
        .map(|(code, description)| {
            (
                code.to_owned(),
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": reference("Error") } }
                }),
            )
        })
        .collect()
}

fn domain_schemas() -> Value {
    let money = json!({
        "type": "object",
        "required": ["minor", "currency"],
        "properties": {
            "minor": { "type": "integer", "description": "Integer minor units (cents)" },
            "currency": { "type": "string", "description": "ISO 4217 code" }
        }
    });
    let object = |description: &str, required: &[&str]| json!({ "type": "object", "description": description, "required": required, "additionalProperties": true });
    json!({
        "Money": money,
        "Order": object("An order as synced from the warehouse (amounts as Money, times UTC RFC 3339).", &["id", "tenant_id", "connection_id", "status", "created_date", "updated_date"]),
        "InventoryItem": object("Stock of one SKU, overall and per warehouse.", &["id", "tenant_id", "sku", "updated_date"]),
        "Product": object("A catalogue entry.", &["id", "tenant_id", "sku", "updated_date"]),
        "Message": object("A message in a 3PL ↔ brand thread.", &["id", "brand_id", "author", "body", "created_at"]),
        "AuditEntry": object("An audited action.", &["id", "actor", "action", "target", "at", "request_id"]),
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": { "type": "string", "description": "Stable machine-readable code" },
                        "message": { "type": "string" },
                        "details": { "type": "object", "description": "e.g. {\"fields\": {\"line_items[0].quantity\": [\"…\"]}}" },
                        "request_id": { "type": "string" }
                    }
                }
            }
        }
    })
}

/// The whole document as JSON (deterministic: maps are sorted).
pub fn document() -> Value {
    let mut components = ComponentsBuilder::new();
    components = with_schema::<CreateOrderBody>(components);
    components = with_schema::<CreateProductBody>(components);
    components = with_schema::<UpdateProductBody>(components);
    components = with_schema::<PostMessageBody>(components);
    components = with_schema::<LinkTokenBody>(components);
    components = with_schema::<ExchangeBody>(components);
    components = with_schema::<ConnectionView>(components);
    components = with_schema::<RunSyncBody>(components);
    components = with_schema::<RunSyncAnswer>(components);
    components = with_schema::<QueuedSyncJob>(components);
    components = with_schema::<SkippedConnection>(components);
    components = with_schema::<SyncResource>(components);
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
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        for (name, schema, description) in query_parameters(route.id) {
            parameters.push(json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema }));
        }
        let idempotent = matches!(
            route.id,
            RouteId::CreateOrder
                | RouteId::CancelOrder
                | RouteId::CreateProduct
                | RouteId::UpdateProduct
                | RouteId::RunSync
                | RouteId::Replay
                | RouteId::PostMessage
        );
        if idempotent {
            parameters.push(json!({ "name": "Idempotency-Key", "in": "header", "required": true, "description": "1–255 visible ASCII characters; a replay returns the saved response with `Idempotent-Replayed: true`", "schema": { "type": "string" } }));
        }
        let mut responses = error_responses(route.id, route.method, route.authorized);
        responses.insert(
            status.to_string(),
            json!({ "description": summary, "content": { "application/json": { "schema": schema } } }),
        );
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
        if let Value::Object(extra) = domain_schemas() {
            schemas.extend(extra);
        }
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

/// `GET /openapi.json` as a routed handler.
pub async fn handle(_deps: &ApiDeps, request: Request) -> Response<Body> {
    serve(&request)
}
