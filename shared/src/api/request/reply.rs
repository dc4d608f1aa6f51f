//! The successful answer, the request id, and the rendering of either outcome as the HTTP
//! response (the error envelope for errors).

use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::api::error::ApiError;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            headers: Vec::new(),
        }
    }

    /// One page of a keyset-paginated listing: `{"items": [...], "next_cursor": ...}`.
    pub fn page<T: serde::Serialize>(page: crate::store::Page<T>) -> Self {
        Self::ok(serde_json::json!({ "items": page.items, "next_cursor": page.next_cursor }))
    }

    pub fn created(body: Value) -> Self {
        Self {
            status: StatusCode::CREATED,
            body,
            headers: Vec::new(),
        }
    }

    /// Work was queued, not done.
    pub fn accepted(body: Value) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            body,
            headers: Vec::new(),
        }
    }
}

/// API Gateway's request id, else the caller's `X-Request-Id` (if sane), else a new one.
pub fn request_id(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() {
        if let Some(id) = ctx.request_id.as_deref().filter(|s| !s.is_empty()) {
            return id.to_owned();
        }
    }
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{}", uuid::Uuid::now_v7().simple()))
}

/// Renders a result as the HTTP response (the error envelope for errors).
pub fn respond(result: Result<Reply, ApiError>, request_id: &str) -> Response<Body> {
    let (status, body, headers) = match result {
        Ok(reply) => (reply.status, reply.body, reply.headers),
        Err(err) => {
            let mut headers = Vec::new();
            if let Some(secs) = err.retry_after {
                headers.push(("retry-after", secs.to_string()));
            }
            (err.status, err.body(request_id), headers)
        }
    };
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}
