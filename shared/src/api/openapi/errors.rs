//! The error side of the document: each route's error statuses, and the two error
//! envelopes (Packr's and API Gateway's).

use serde_json::{json, Map, Value};

use super::reference;
use crate::api::routes::RouteId;

/// Error statuses of a route. API Gateway answers some itself, before or after the
/// function, with its own body `{"message": "…"}`: 401 (the JWT authorizer), 403, 429
/// (throttling; Packr's own 429 is a tenant quota), 500 and 503 (the function failed or was
/// throttled); those allow both bodies.
pub(super) fn error_responses(id: RouteId, method: &str, authorized: bool) -> Map<String, Value> {
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
    } else if id == RouteId::CreateErasure {
        // Records and queues; never calls the warehouse system.
        codes.extend([
            ("409", "Idempotency-Key in progress"),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Validation failed (`email`, `name` or `postal_code` named), or Idempotency-Key reused with another body",
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
pub(super) fn error_schemas() -> Value {
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
                                },
                                "connection_id": { "type": "string", "description": "`connection_not_active`: the connection" },
                                "status": { "type": "string", "description": "`connection_not_active`: its status, e.g. `disconnected`" }
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
