//! What every handler shares: the request id, authentication, parameter and body parsing
//! (content type, size limit, unknown fields), role permissions, and the response.

use std::collections::BTreeMap;
use std::future::Future;

use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::claims::{Principal, Role};
use super::error::{ApiError, FieldErrors};
use super::ApiDeps;
use crate::domain::{BrandId, Timestamp};
use crate::idempotency::IdempotencyKey;
use crate::store::{PageLimit, PageRequest};

/// Per-request context: who calls, and the id that ties logs and the error envelope.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub principal: Principal,
}

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

/// What a role may do (scope — tenant and brand — is checked separately, first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    WriteOrders,
    WriteProducts,
    WriteMessages,
    ManageConnections,
    ReadAudit,
    /// Enqueue syncs from Trackstar (`POST /sync/run`).
    RunSync,
    /// Re-enqueue failed webhook events, or queue syncs (`POST /sync/replay`).
    Replay,
}

pub fn allows(role: Role, action: Action) -> bool {
    match action {
        Action::Read => true,
        Action::WriteOrders | Action::WriteProducts => role != Role::BrandViewer,
        Action::WriteMessages => role != Role::BrandViewer,
        Action::ManageConnections | Action::ReadAudit | Action::RunSync | Action::Replay => {
            role == Role::TenantAdmin
        }
    }
}

/// 403 unless the caller's role allows `action`.
pub fn require(ctx: &Ctx, action: Action) -> Result<(), ApiError> {
    if allows(ctx.principal.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
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

/// Runs an authenticated handler: claims → principal (401 on failure), then `f`, with one
/// span per request carrying the tenant (never personal data).
pub async fn authenticated<F, Fut>(deps: &ApiDeps, request: Request, f: F) -> Response<Body>
where
    F: FnOnce(Ctx, Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let request_id = request_id(&request);
    let principal = match Principal::from_request(&request, &deps.config.claims) {
        Ok(p) => p,
        Err(e) => return respond(Err(e), &request_id),
    };
    let span = tracing::info_span!(
        "api_request",
        request_id = %request_id,
        tenant_id = %principal.tenant,
        role = principal.role.as_str(),
        method = %request.method(),
        path = request.raw_http_path(),
    );
    let ctx = Ctx {
        request_id: request_id.clone(),
        principal,
    };
    let result = tracing::Instrument::instrument(f(ctx, request), span.clone()).await;
    if let Err(e) = &result {
        span.in_scope(|| {
            tracing::info!(status = e.status.as_u16(), code = e.code, "request failed")
        });
    }
    respond(result, &request_id)
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Matches a path against a template (`/orders/{order_id}`); returns the decoded params.
pub fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (ts, ps) in t.iter().zip(p.iter()) {
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), percent_decode(ps)?);
        } else if ts != ps {
            return None;
        }
    }
    Some(params)
}

/// A path parameter: from the event's `pathParameters` (API Gateway fills them), else by
/// matching the route template against the raw path.
pub fn path_param(request: &Request, template: &str, name: &str) -> Result<String, ApiError> {
    if let Some(v) = request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
    {
        return Ok(v.to_owned());
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    match_template(template, &path)
        .and_then(|mut m| m.remove(name))
        .ok_or_else(|| ApiError::invalid_parameter(name, "is missing"))
}

/// Query parameters, refusing unknown names (typos must not silently widen a listing). A
/// parameter given with an empty value (`?cursor=`) is taken as absent: forms and
/// generated clients send those for unset fields.
pub struct Query {
    values: BTreeMap<String, String>,
}

impl Query {
    pub fn parse(request: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        let mut errors = FieldErrors::new();
        if let Some(map) = request.query_string_parameters_ref() {
            for (name, value) in map.iter() {
                if !allowed.contains(&name) {
                    errors
                        .entry(name.to_owned())
                        .or_default()
                        .push("is not a known parameter".into());
                } else if map.all(name).is_some_and(|v| v.len() > 1) {
                    errors
                        .entry(name.to_owned())
                        .or_default()
                        .push("must be given once".into());
                } else if !value.is_empty() {
                    values.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { values })
        } else {
            Err(ApiError::invalid_parameters(errors))
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `limit` (1–100, default 50) and `cursor`.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => None,
            Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                ApiError::invalid_parameter("limit", "must be an integer from 1 to 100")
            })?),
        };
        let limit = PageLimit::parse(limit).map_err(|_| {
            ApiError::invalid_parameter("limit", "must be an integer from 1 to 100")
        })?;
        Ok(PageRequest {
            limit,
            cursor: self.get("cursor").map(str::to_owned),
        })
    }

    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|raw| {
                Timestamp::parse(raw)
                    .map_err(|_| ApiError::invalid_parameter(name, "must be an RFC 3339 timestamp"))
            })
            .transpose()
    }

    /// As [`Query::brand_scope`], and a brand asked for must exist in the caller's tenant
    /// (another tenant's brand is a 404, as a missing one).
    pub async fn brand_filter(
        &self,
        deps: &ApiDeps,
        ctx: &Ctx,
    ) -> Result<Option<BrandId>, ApiError> {
        let brand = self.brand_scope(ctx)?;
        if let (Some(b), Some(_)) = (&brand, self.get("brand_id")) {
            deps.tenants
                .get_brand(&ctx.principal.tenant, b)
                .await?
                .ok_or_else(|| ApiError::not_found("brand"))?;
        }
        Ok(brand)
    }

    /// The brand a listing is limited to: the `brand_id` asked for (404 if the caller may
    /// not see it), else every brand for tenant-wide roles, else the brand user's one brand
    /// (a user of several brands must choose).
    pub fn brand_scope(&self, ctx: &Ctx) -> Result<Option<BrandId>, ApiError> {
        match self.get("brand_id") {
            Some(raw) => {
                let brand = BrandId::parse(raw)
                    .map_err(|e| ApiError::invalid_parameter("brand_id", e.to_string()))?;
                if ctx.principal.sees_brand(Some(&brand)) {
                    Ok(Some(brand))
                } else {
                    Err(ApiError::not_found("brand"))
                }
            }
            None if ctx.principal.role.is_tenant_wide() => Ok(None),
            None => match ctx.principal.brands.len() {
                1 => Ok(ctx.principal.brands.iter().next().cloned()),
                _ => Err(ApiError::invalid_parameter(
                    "brand_id",
                    "is required: your token names several brands",
                )),
            },
        }
    }
}

/// The `Idempotency-Key` header (400 when missing or invalid).
pub fn idempotency_key(request: &Request) -> Result<IdempotencyKey, ApiError> {
    let raw = request
        .headers()
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "this request requires an Idempotency-Key header",
            )
        })?
        .to_str()
        .map_err(|_| invalid_key())?;
    IdempotencyKey::parse(raw).map_err(|_| invalid_key())
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
    )
}

/// Parses a JSON body: 415 unless `application/json`, 413 over the limit, 400 if it is not
/// JSON, 422 naming the field for unknown, missing or mistyped fields. Returns the typed
/// body and the JSON value (for idempotency fingerprints).
pub fn json_body<T: DeserializeOwned>(
    deps: &ApiDeps,
    request: &Request,
    empty_is: Option<&str>,
) -> Result<(T, Value), ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > deps.config.max_body_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes",
                deps.config.max_body_bytes
            ),
        ));
    }
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        match empty_is {
            Some(default) => default.as_bytes(),
            None => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "body_required",
                    "this request requires a JSON body",
                ))
            }
        }
    } else {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be application/json",
            ));
        }
        bytes
    };
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::validation(FieldErrors::from([(
            "body".to_owned(),
            vec!["must be a JSON object".to_owned()],
        )])));
    }
    let typed = serde_json::from_value::<T>(value.clone()).map_err(|e| {
        ApiError::validation(FieldErrors::from([field_of_serde_error(&e.to_string())]))
    })?;
    Ok((typed, value))
}

/// Names the field a serde error is about (`unknown field `x``, `missing field `x``).
fn field_of_serde_error(message: &str) -> (String, Vec<String>) {
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field `"))
        .map(str::to_owned);
    match quoted {
        Some(field) if message.starts_with("unknown field") => {
            (field, vec!["is not a known field".to_owned()])
        }
        Some(field) if message.starts_with("missing field") => {
            (field, vec!["is required".to_owned()])
        }
        _ => (
            "body".to_owned(),
            vec![message
                .split(" at line")
                .next()
                .unwrap_or(message)
                .to_owned()],
        ),
    }
}

/// Collects field errors while validating a body.
#[derive(Debug, Default)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .entry(field.into())
            .or_default()
            .push(message.into());
    }

    /// Checks a required text field: not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.error(field, "must not be blank");
        } else if value.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
        } else if value.chars().any(char::is_control) {
            self.error(field, "must not contain control characters");
        }
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max);
        }
    }

    /// Parses a value, recording the error under `field`.
    pub fn parse<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segments_and_decode_params() {
        let m = match_template("/inventory/{sku}", "/inventory/TEE%20BLK").unwrap();
        assert_eq!(m["sku"], "TEE BLK");
        assert!(match_template("/orders/{order_id}", "/orders").is_none());
        assert!(match_template("/orders/{order_id}", "/orders/").is_none());
        assert!(match_template("/orders/{order_id}/cancel", "/orders/o1/cancel").is_some());
        assert!(match_template("/inventory/{sku}", "/inventory/%ZZ").is_none());
    }

    #[test]
    fn serde_errors_name_their_field() {
        assert_eq!(
            field_of_serde_error("unknown field `colour`, expected one of `a`, `b`").0,
            "colour"
        );
        assert_eq!(field_of_serde_error("missing field `sku`").0, "sku");
        assert_eq!(field_of_serde_error("invalid type: string").0, "body");
    }

    #[test]
    fn only_admins_manage_connections_and_viewers_never_write() {
        assert!(allows(Role::TenantAdmin, Action::ManageConnections));
        assert!(!allows(Role::TenantStaff, Action::ManageConnections));
        assert!(!allows(Role::BrandViewer, Action::WriteMessages));
        assert!(allows(Role::BrandManager, Action::WriteOrders));
        assert!(!allows(Role::BrandManager, Action::ReadAudit));
    }

    #[test]
    fn only_admins_run_syncs() {
        assert!(allows(Role::TenantAdmin, Action::RunSync));
        for role in [Role::TenantStaff, Role::BrandManager, Role::BrandViewer] {
            assert!(!allows(role, Action::RunSync), "{role:?}");
            assert!(!allows(role, Action::Replay), "{role:?}");
        }
    }
}
