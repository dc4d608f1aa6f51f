//! Client-facing errors, rendered as Trackstar renders them:
//! `{"error": "...", "origin": "trackstar"}` plus `id` (404) or `detail` (422).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Where an error comes from, as in Trackstar's `origin` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Trackstar,
    Integration,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Trackstar => "trackstar",
            Origin::Integration => "integration",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{what} not found")]
    NotFound { what: &'static str, id: String },
    /// 422 with `detail: {<location>: {<field>: [messages]}}`.
    #[error("validation failed")]
    Validation {
        location: &'static str,
        fields: BTreeMap<String, Vec<String>>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotImplemented(String),
    /// Any status with a message, e.g. injected faults or WMS refusals.
    #[error("{message}")]
    Status {
        status: StatusCode,
        message: String,
        origin: Origin,
    },
}

impl ApiError {
    pub fn validation(location: &'static str, field: &str, message: &str) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), vec![message.to_owned()]);
        ApiError::Validation { location, fields }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Status { status, .. } => *status,
        }
    }

    /// The JSON body Trackstar would send.
    pub fn body(&self) -> serde_json::Value {
        match self {
            ApiError::NotFound { id, .. } => {
                json!({"error": self.to_string(), "id": id, "origin": "trackstar"})
            }
            ApiError::Validation { location, fields } => json!({
                "error": "Validation error",
                "detail": { *location: fields },
                "origin": "trackstar",
            }),
            ApiError::Status {
                message, origin, ..
            } => json!({"error": message, "origin": origin.as_str()}),
            _ => json!({"error": self.to_string(), "origin": "trackstar"}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}
