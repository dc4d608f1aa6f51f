//! Client-facing errors: one envelope everywhere,
//! `{"error": {"code", "message", "details"?, "retry_after"?, "request_id"}}` (`retry_after`:
//! the seconds of the `Retry-After` header, when there is one), with stable machine-readable
//! codes. Internal causes are logged (with their chain) and answered with an opaque 500.

use std::collections::BTreeMap;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value};

use crate::idempotency::IdempotencyError;
use crate::store::StoreError;
use crate::trackstar::TrackstarError;

/// Field path → messages, for validation errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this action",
        )
    }

    /// Missing, another tenant's, or another brand's: indistinguishable on purpose.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// Request body fields that failed validation (422), each named.
    pub fn validation(fields: FieldErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the request body is invalid",
        )
        .with_details(json!({ "fields": fields }))
    }

    /// Query or path parameters that failed validation (400), each named.
    pub fn invalid_parameters(fields: FieldErrors) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "one or more parameters are invalid",
        )
        .with_details(json!({ "fields": fields }))
    }

    pub fn invalid_parameter(field: &str, message: impl Into<String>) -> Self {
        Self::invalid_parameters(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred",
        )
    }

    /// Logs the cause chain (never request data) and returns the opaque 500.
    pub fn internal_from(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(context, error = %error_chain(err), "internal error");
        Self::internal()
    }

    /// The envelope body.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(details) = &self.details {
            error["details"] = details.clone();
        }
        if let Some(secs) = self.retry_after {
            error["retry_after"] = json!(secs);
        }
        json!({ "error": error })
    }
}

pub use crate::errors::error_chain;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::Cursor(e) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                format!("the cursor is not valid for this listing: {e}"),
            )
            .with_details(json!({ "fields": { "cursor": [e.to_string()] } })),
            StoreError::Limit(e) => Self::invalid_parameter("limit", e.to_string()),
            StoreError::CursorExpired { retention_days } => Self::new(
                StatusCode::GONE,
                "cursor_expired",
                format!(
                    "the cursor is older than the feed's retention ({retention_days} days): \
                     deletions since may be gone; start again without a cursor (the current \
                     state of every object, then its changes) or from the listings"
                ),
            ),
            StoreError::UnsupportedFilter { field } => {
                Self::invalid_parameter(field, "this filter is not supported here")
            }
            StoreError::NotFound { what } => Self::not_found(what),
            StoreError::AlreadyExists { what } => Self::new(
                StatusCode::CONFLICT,
                "already_exists",
                format!("{what} already exists"),
            ),
            _ => Self::internal_from("store", &err),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::InProgress { retry_after } => Self::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still in progress",
            )
            .with_retry_after(retry_after),
            IdempotencyError::PayloadMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            ),
            IdempotencyError::LeaseLost => Self::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "another attempt with this Idempotency-Key took over",
            ),
            IdempotencyError::Store(e) => Self::from(e),
        }
    }
}

/// Trackstar's failures, mapped for clients: its 422 → 422 with its details; 404 → 404;
/// timeouts → 504; 5xx and network → 502; rate limited / circuit open → 503 + Retry-After.
impl From<TrackstarError> for ApiError {
    fn from(err: TrackstarError) -> Self {
        tracing::warn!(
            kind = err.kind(),
            upstream_request_id = err.request_id(),
            error = %err,
            "trackstar call failed"
        );
        match err {
            // No field named: the warehouse refused the request in the current state of
            // things (a SKU that exists, an order past cancelling), a conflict.
            TrackstarError::Validation { details, .. } if details.is_empty() => Self::new(
                StatusCode::CONFLICT,
                "upstream_conflict",
                "the warehouse system refused the request in the object's current state",
            ),
            TrackstarError::Validation { details, .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upstream_validation_failed",
                "the warehouse system rejected the request",
            )
            .with_details(json!({ "fields": details })),
            TrackstarError::InvalidRequest { reason } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "the request body is invalid",
            )
            .with_details(json!({ "fields": { "body": [reason] } })),
            TrackstarError::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the object was not found in the warehouse system",
            ),
            TrackstarError::NotImplemented { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_by_warehouse",
                "the warehouse system does not support this action",
            ),
            TrackstarError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "upstream_in_progress",
                "the warehouse system is still processing this request",
            ),
            TrackstarError::Timeout { .. } => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the warehouse system did not answer in time",
            ),
            TrackstarError::RateLimited { retry_after, .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_rate_limited",
                "the warehouse system is rate limiting; retry later",
            )
            .with_retry_after(retry_after.unwrap_or(Duration::from_secs(1))),
            TrackstarError::CircuitOpen { retry_after } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                "the warehouse system is failing; retry later",
            )
            .with_retry_after(retry_after),
            TrackstarError::Secret(_) => Self::internal(),
            _ => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "the warehouse system failed",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_code_message_details_and_request_id() {
        let e = ApiError::validation(BTreeMap::from([(
            "line_items[0].quantity".to_owned(),
            vec!["must be greater than 0".to_owned()],
        )]));
        let body = e.body("req-1");
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert_eq!(
            body["error"]["details"]["fields"]["line_items[0].quantity"][0],
            "must be greater than 0"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let e = ApiError::internal().with_retry_after(Duration::from_millis(1500));
        assert_eq!(e.retry_after, Some(2));
        let e = ApiError::internal().with_retry_after(Duration::ZERO);
        assert_eq!(e.retry_after, Some(1));
    }
}
