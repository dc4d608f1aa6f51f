//! The OpenAPI 3.1 document, generated from the code: paths from the route table, request
//! schemas from the request types (utoipa), the error envelope and pagination shapes.
//! Served at `GET /openapi.json` and committed as `openapi.json` (a test keeps them equal).

use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, Paths};
use utoipa::ToSchema;

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
use super::routes::{Route, RouteId, ROUTES};
use super::sync::{QueuedSyncJob, RunSyncAnswer, RunSyncBody, SkippedConnection};
use super::ApiDeps;
use crate::domain::{
    Bill, InboundShipment, InventoryItem, Message, Order, Product, Return, ShippingMethod,
    Warehouse,
};
use crate::health::figures::{Backlog, Percentiles, WebhookFigures};
use crate::health::report::{
    BreakerView, ConnectionErrorView, ConnectionHealth, HealthReport, HealthSummary, LagReport,
    ReconcileView, ResourceHealth, ResourceLag, StuckScheduleView,
};
use crate::health::{Reason, Status};
use crate::idempotency::IdempotencyKey;
use crate::store::AuditEntry;
use crate::sync::{BackfillStatus, BackfillView, ResourceKind};
use crate::webhook::replay::{SkipReason, SkippedEvent};

mod errors;
mod operations;
use errors::{error_responses, error_schemas};
use operations::{path_parameter, query_parameters, shape};

fn with_schema<T: ToSchema>(mut b: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    b = b.schema_from::<T>();
    for (name, schema) in nested {
        b = b.schema(name, schema);
    }
    b
}

pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
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
    components = with_schema::<super::offboarding::DeletedConnectionView>(components);
    components = with_schema::<super::offboarding::OffboardingView>(components);
    components = with_schema::<super::offboarding::ExportFileView>(components);
    components = with_schema::<RunSyncBody>(components);
    components = with_schema::<RunSyncAnswer>(components);
    components = with_schema::<BackfillBody>(components);
    components = with_schema::<super::privacy::ErasureBody>(components);
    components = with_schema::<super::privacy::ErasureView>(components);
    components = with_schema::<crate::privacy::ErasureStatus>(components);
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
                | RouteId::CreateErasure
                | RouteId::DeleteBrand
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
    // The path's own routes: of the templates it matches, the most specific (fewest
    // parameters), as API Gateway documents them (`/connections/exchange` is not also
    // `/connections/{connection_id}`'s).
    let matching: Vec<&Route> = ROUTES
        .iter()
        .filter(|r| super::request::match_template(r.path, path).is_some())
        .collect();
    let fewest = matching.iter().map(|r| r.path.matches('{').count()).min();
    let mut allowed: Vec<&str> = matching
        .iter()
        .filter(|r| Some(r.path.matches('{').count()) == fewest)
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
