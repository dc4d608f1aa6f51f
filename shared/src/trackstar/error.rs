//! The Trackstar boundary's error taxonomy: one variant per way a call can fail, each with
//! the upstream request id and error origin where known, and whether a retry can help.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use crate::secrets::SecretError;

/// Who produced an upstream error: Trackstar itself or the WMS behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorOrigin {
    Trackstar,
    Integration,
}

/// What is known about an upstream response that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorMeta {
    /// `X-Request-Id` of the failed response.
    pub request_id: Option<String>,
    pub origin: Option<ErrorOrigin>,
    /// Trackstar's `error` text, cut to 300 characters. Not part of `Display` (it may echo
    /// request data); log it deliberately if at all.
    pub message: Option<String>,
}

/// Field path (`line_items.0.sku`) → messages, from a 422 body.
pub type ValidationDetails = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum TrackstarError {
    #[error("trackstar: 400 bad request (request id {:?})", .meta.request_id)]
    BadRequest { meta: ErrorMeta },
    #[error("trackstar: 401 unauthorized (request id {:?})", .meta.request_id)]
    Unauthorized { meta: ErrorMeta },
    #[error("trackstar: 403 forbidden (request id {:?})", .meta.request_id)]
    Forbidden { meta: ErrorMeta },
    #[error("trackstar: 404 not found (request id {:?})", .meta.request_id)]
    NotFound { meta: ErrorMeta },
    /// An earlier request with the same idempotency key is still being processed. Not
    /// retried by the client (no 4xx is); re-sending later with the same key gets the
    /// first request's result.
    #[error("trackstar: 409 a request with this idempotency key is in progress (request id {:?})", .meta.request_id)]
    Conflict { meta: ErrorMeta },
    #[error("trackstar: 422 validation failed on {} field(s) (request id {:?})", .details.len(), .meta.request_id)]
    Validation {
        details: ValidationDetails,
        meta: ErrorMeta,
    },
    #[error("trackstar: 429 rate limited, retry after {retry_after:?} (request id {:?})", .meta.request_id)]
    RateLimited {
        retry_after: Option<Duration>,
        meta: ErrorMeta,
    },
    #[error("trackstar: 501 not implemented for this integration (request id {:?})", .meta.request_id)]
    NotImplemented { meta: ErrorMeta },
    #[error("trackstar: upstream status {status} (request id {:?})", .meta.request_id)]
    Upstream { status: u16, meta: ErrorMeta },
    /// A 3xx answer. Never followed: the credentials travel in headers, and a redirect
    /// (to another host above all) must not carry them anywhere. Not retried.
    #[error("trackstar: redirect ({status}) refused, not followed (request id {:?})", .meta.request_id)]
    Redirected { status: u16, meta: ErrorMeta },
    /// A response body longer than the client's cap (`TRACKSTAR_MAX_RESPONSE_BYTES`): refused
    /// without reading further. Not retried (the same request gets the same answer).
    #[error("trackstar: response body over the {limit}-byte cap refused (request id {:?})", .meta.request_id)]
    ResponseTooLarge { limit: usize, meta: ErrorMeta },
    #[error("trackstar: network error")]
    Network {
        #[source]
        source: reqwest::Error,
    },
    #[error("trackstar: request timed out")]
    Timeout {
        #[source]
        source: Option<reqwest::Error>,
    },
    #[error("trackstar: circuit open for this connection, retry after {retry_after:?}")]
    CircuitOpen { retry_after: Duration },
    #[error("trackstar: response could not be decoded (request id {:?})", .meta.request_id)]
    Decode {
        #[source]
        source: serde_json::Error,
        meta: ErrorMeta,
    },
    #[error("trackstar: the response broke the API contract: {reason}")]
    Protocol { reason: String },
    #[error("trackstar: the request is invalid before sending: {reason}")]
    InvalidRequest { reason: String },
    #[error("trackstar: credentials could not be read")]
    Secret(#[from] SecretError),
}

impl TrackstarError {
    /// Whether trying the same request again later can succeed: 5xx (but not 501), 429,
    /// network errors and timeouts. No other 4xx is ever retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Network { .. } | Self::Timeout { .. } => true,
            Self::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether this failure counts towards opening the connection's circuit breaker.
    pub fn trips_breaker(&self) -> bool {
        self.is_retryable()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.meta().and_then(|m| m.request_id.as_deref())
    }

    pub fn origin(&self) -> Option<ErrorOrigin> {
        self.meta().and_then(|m| m.origin)
    }

    pub fn meta(&self) -> Option<&ErrorMeta> {
        match self {
            Self::BadRequest { meta }
            | Self::Unauthorized { meta }
            | Self::Forbidden { meta }
            | Self::NotFound { meta }
            | Self::Conflict { meta }
            | Self::Validation { meta, .. }
            | Self::RateLimited { meta, .. }
            | Self::NotImplemented { meta }
            | Self::Upstream { meta, .. }
            | Self::Redirected { meta, .. }
            | Self::ResponseTooLarge { meta, .. }
            | Self::Decode { meta, .. } => Some(meta),
            _ => None,
        }
    }

    /// A short stable name for logs and metrics (`trackstar.errors` by kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Validation { .. } => "validation",
            Self::RateLimited { .. } => "rate_limited",
            Self::NotImplemented { .. } => "not_implemented",
            Self::Upstream { .. } => "upstream",
            Self::Redirected { .. } => "redirected",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::Network { .. } => "network",
            Self::Timeout { .. } => "timeout",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Decode { .. } => "decode",
            Self::Protocol { .. } => "protocol",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Secret(_) => "secret",
        }
    }

    /// Classifies a transport-level failure.
    /// The URL is dropped from the error: its query may carry filter values.
    pub fn from_transport(err: reqwest::Error) -> Self {
        let err = err.without_url();
        if err.is_timeout() {
            Self::Timeout { source: Some(err) }
        } else {
            Self::Network { source: err }
        }
    }

    /// Maps a non-2xx response to its variant. Never panics, whatever the body holds.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let meta = ErrorMeta {
            request_id: request_id(headers),
            origin: parsed.as_ref().and_then(origin_of),
            message: parsed.as_ref().and_then(message_of),
        };
        match status.as_u16() {
            400 => Self::BadRequest { meta },
            401 => Self::Unauthorized { meta },
            403 => Self::Forbidden { meta },
            404 => Self::NotFound { meta },
            409 => Self::Conflict { meta },
            422 => Self::Validation {
                details: parsed
                    .as_ref()
                    .and_then(|v| v.get("detail"))
                    .map(validation_details)
                    .unwrap_or_default(),
                meta,
            },
            429 => Self::RateLimited {
                retry_after: rate_limit_wait(headers, chrono::Utc::now().timestamp()),
                meta,
            },
            501 => Self::NotImplemented { meta },
            status @ 300..=399 => Self::Redirected { status, meta },
            other => Self::Upstream {
                status: other,
                meta,
            },
        }
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect())
}

fn origin_of(body: &Value) -> Option<ErrorOrigin> {
    match body.get("origin")?.as_str()? {
        "trackstar" => Some(ErrorOrigin::Trackstar),
        "integration" => Some(ErrorOrigin::Integration),
        _ => None,
    }
}

fn message_of(body: &Value) -> Option<String> {
    let message = match body.get("error")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(message.chars().take(300).collect())
}

/// Flattens `detail` into field path → messages. Trackstar nests it by location
/// (`{"json": {"sku": ["required"]}}`); the location level is dropped when it is one of
/// the usual request parts. Older or other shapes (`{"sku": ["…"]}`, a bare string) are
/// accepted too.
pub(crate) fn validation_details(detail: &Value) -> ValidationDetails {
    const LOCATIONS: [&str; 6] = ["json", "body", "query", "querystring", "path", "headers"];
    let mut out = ValidationDetails::new();
    match detail {
        Value::Object(map) => {
            for (key, value) in map {
                if LOCATIONS.contains(&key.as_str()) && value.is_object() {
                    flatten_into(&mut out, "", value);
                } else {
                    flatten_into(&mut out, key, value);
                }
            }
        }
        other => flatten_into(&mut out, "", other),
    }
    out
}

fn flatten_into(out: &mut ValidationDetails, path: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let next = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten_into(out, &next, inner);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            let messages = out.entry(field_name(path)).or_default();
            messages.extend(items.iter().map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                flatten_into(out, &format!("{path}.{index}"), inner);
            }
        }
        Value::String(s) => out.entry(field_name(path)).or_default().push(s.clone()),
        Value::Null => {}
        other => out
            .entry(field_name(path))
            .or_default()
            .push(other.to_string()),
    }
}

fn field_name(path: &str) -> String {
    if path.is_empty() {
        "_".to_owned()
    } else {
        path.to_owned()
    }
}

/// How long to wait before the next request after a 429 (or an exhausted window):
/// `retry-after` in seconds if present, otherwise `x-ratelimit-reset` (epoch seconds)
/// minus now.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now_epoch_seconds: i64) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(seconds) = header("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds.min(86_400.0)));
        }
    }
    let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<f64>().ok())?;
    if !reset.is_finite() {
        return None;
    }
    let seconds = (reset - now_epoch_seconds as f64).clamp(0.0, 86_400.0);
    Some(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn map(status: u16, body: Value) -> TrackstarError {
        TrackstarError::from_response(
            StatusCode::from_u16(status).unwrap(),
            &headers(&[("x-request-id", "req_1")]),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn every_status_maps_to_its_variant_with_the_request_id() {
        let body = json!({"error": "nope", "origin": "integration"});
        type Check = fn(&TrackstarError) -> bool;
        let cases: Vec<(u16, Check)> = vec![
            (400, |e| matches!(e, TrackstarError::BadRequest { .. })),
            (401, |e| matches!(e, TrackstarError::Unauthorized { .. })),
            (403, |e| matches!(e, TrackstarError::Forbidden { .. })),
            (404, |e| matches!(e, TrackstarError::NotFound { .. })),
            (409, |e| matches!(e, TrackstarError::Conflict { .. })),
            (422, |e| matches!(e, TrackstarError::Validation { .. })),
            (429, |e| matches!(e, TrackstarError::RateLimited { .. })),
            (501, |e| matches!(e, TrackstarError::NotImplemented { .. })),
            (500, |e| {
                matches!(e, TrackstarError::Upstream { status: 500, .. })
            }),
            (502, |e| {
                matches!(e, TrackstarError::Upstream { status: 502, .. })
            }),
            (503, |e| {
                matches!(e, TrackstarError::Upstream { status: 503, .. })
            }),
        ];
        for (status, is_expected) in cases {
            let err = map(status, body.clone());
            assert!(is_expected(&err), "{status} mapped to {err:?}");
            assert_eq!(err.request_id(), Some("req_1"));
            assert_eq!(err.origin(), Some(ErrorOrigin::Integration));
        }
    }

    #[test]
    fn only_5xx_429_network_and_timeouts_are_retryable() {
        for status in [500, 502, 503, 504, 429] {
            assert!(map(status, json!({})).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!map(status, json!({})).is_retryable(), "{status}");
        }
        assert!(TrackstarError::Timeout { source: None }.is_retryable());
        assert!(!TrackstarError::CircuitOpen {
            retry_after: Duration::from_secs(1)
        }
        .is_retryable());
    }

    #[test]
    fn validation_details_are_flattened_by_field() {
        let err = map(
            422,
            json!({"error": "Validation error", "detail": {"json": {
                "sku": ["Missing data for required field."],
                "line_items": {"0": {"quantity": ["Must be positive."]}}
            }}}),
        );
        let TrackstarError::Validation { details, .. } = err else {
            panic!("not a validation error");
        };
        assert_eq!(details["sku"], vec!["Missing data for required field."]);
        assert_eq!(details["line_items.0.quantity"], vec!["Must be positive."]);
    }

    #[test]
    fn validation_details_without_a_location_or_as_text_are_kept() {
        let TrackstarError::Validation { details, .. } = map(
            422,
            json!({"error": "bad", "detail": {"name": ["too long"]}}),
        ) else {
            panic!("not a validation error");
        };
        assert_eq!(details["name"], vec!["too long"]);
        let TrackstarError::Validation { details, .. } =
            map(422, json!({"error": "bad", "detail": "everything"}))
        else {
            panic!("not a validation error");
        };
        assert_eq!(details["_"], vec!["everything"]);
    }

    #[test]
    fn garbage_bodies_map_by_status_alone() {
        let err = TrackstarError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>bad gateway</html>",
        );
        assert!(matches!(err, TrackstarError::Upstream { status: 502, .. }));
        assert_eq!(err.request_id(), None);
        assert_eq!(err.origin(), None);
    }

    #[test]
    fn older_bodies_without_origin_still_carry_the_message() {
        let err = map(404, json!({"error": "Order not found", "id": "o1"}));
        assert_eq!(err.origin(), None);
        assert_eq!(
            err.meta().and_then(|m| m.message.as_deref()),
            Some("Order not found")
        );
        assert!(!err.to_string().contains("Order not found"));
    }

    #[test]
    fn retry_after_wins_over_the_reset_epoch() {
        let h = headers(&[("retry-after", "2"), ("x-ratelimit-reset", "1000")]);
        assert_eq!(rate_limit_wait(&h, 990), Some(Duration::from_secs(2)));
        let h = headers(&[("x-ratelimit-reset", "1003")]);
        assert_eq!(rate_limit_wait(&h, 1000), Some(Duration::from_secs(3)));
        let h = headers(&[("x-ratelimit-reset", "900")]);
        assert_eq!(rate_limit_wait(&h, 1000), Some(Duration::ZERO));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(rate_limit_wait(&h, 1000), None);
    }
}
