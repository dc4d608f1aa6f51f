//! The API routes of `packr::api::router::ROUTES`, served as API Gateway (HTTP API) would:
//! the JWT authorizer verifies `Authorization: Bearer …` (401 `{"message":"Unauthorized"}`
//! otherwise) and the route's scopes as `template.yaml` declares them (403
//! `{"message":"Forbidden"}`, see `scopes`), the request becomes the payload-2.0 event (`ApiGatewayV2httpRequest`, verified
//! claims flattened into `requestContext.authorizer.jwt.claims`), lambda_http turns it into
//! the `Request` the function sees, and `dispatch` answers it — the Lambda code path.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use lambda_http::request::LambdaRequest;
use packr::api::router::{dispatch, Route, ROUTES};
use packr::api::ApiDeps;
use serde_json::{json, Map, Value};

use super::scopes::{refuse_unless_scoped, token_scopes, RouteScopes};
use super::GatewayState;
use crate::dev_jwt::DevJwt;

/// What the gateway needs to host the API: each function's dependencies (by the route's
/// `function`, e.g. `api-orders`), the authorizer's key and each route's scopes.
#[derive(Clone)]
pub struct ApiHost {
    pub functions: HashMap<&'static str, ApiDeps>,
    pub jwt: DevJwt,
    pub scopes: RouteScopes,
}

impl std::fmt::Debug for ApiHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiHost")
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The function that serves the OpenAPI document and its reference page without `ApiDeps`.
pub const DOCS_FUNCTION: &str = "api-docs";

/// The template's logical id of a route's function: `api-orders` → `ApiOrdersFunction`.
pub fn logical_id(function: &str) -> String {
    let mut id: String = function
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    id.push_str("Function");
    id
}

/// The template's `$default` route: api-docs answers what no route matches.
fn default_route(method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut builder = axum::http::Request::builder()
        .method(method.clone())
        .uri(uri.clone());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    match builder.body(lambda_http::Body::Empty) {
        Ok(request) => into_http(packr::api::openapi::default_route(&request)),
        Err(_) => message(StatusCode::BAD_REQUEST, "Bad Request"),
    }
}

async fn unmatched(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    default_route(&method, &uri, &headers)
}

pub(super) fn routes() -> Router<GatewayState> {
    let mut router = Router::new().fallback(unmatched);
    let mut paths: Vec<&'static str> = ROUTES.iter().map(|r| r.path).collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        router = router.route(path, any(serve_route));
    }
    router
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

#[allow(clippy::too_many_arguments)]
async fn serve_route(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(route) = ROUTES
        .iter()
        .find(|r| r.path == matched.as_str() && r.method.eq_ignore_ascii_case(method.as_str()))
    else {
        // No route has this method: the `$default` route (api-docs) answers.
        return default_route(&method, &uri, &headers);
    };
    if route.function == DOCS_FUNCTION {
        // api-docs needs no dependencies: it answers as its main does, hosted or not.
        return match build_event(route, &params, &method, &uri, &headers, &body, peer, None) {
            Ok(event) => {
                let request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
                into_http(packr::api::openapi::default_route(&request))
            }
            Err(error) => {
                tracing::error!(%error, "building the API Gateway event failed");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
    }
    let Some(host) = state.api.as_ref() else {
        return message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    };
    let claims = if route.authorized {
        match bearer(&headers).and_then(|token| host.jwt.verify_all(token).ok()) {
            Some(claims) => {
                let required = host.scopes.required(&route.route_key());
                if let Some(refused) = refuse_unless_scoped(required, &token_scopes(&claims)) {
                    return refused;
                }
                Some(flatten_claims(&claims))
            }
            None => return message(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    } else {
        None
    };
    let event = match build_event(route, &params, &method, &uri, &headers, &body, peer, claims) {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(%error, "building the API Gateway event failed");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
    match host.functions.get(route.function) {
        Some(deps) => into_http(dispatch(deps, request).await),
        None => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
    }
}

/// The token of `Authorization: Bearer <token>` (the authorizer's `$request.header.Authorization`).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Claims as HTTP APIs pass them to the function: strings as they are, arrays as `[a b]`,
/// other values in their JSON text.
pub fn flatten_claims(claims: &Map<String, Value>) -> BTreeMap<String, String> {
    fn scalar(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    claims
        .iter()
        .map(|(name, value)| {
            let flat = match value {
                Value::Array(items) => format!(
                    "[{}]",
                    items.iter().map(scalar).collect::<Vec<_>>().join(" ")
                ),
                other => scalar(other),
            };
            (name.clone(), flat)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn build_event(
    route: &Route,
    params: &HashMap<String, String>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    peer: SocketAddr,
    claims: Option<BTreeMap<String, String>>,
) -> Result<ApiGatewayV2httpRequest, serde_json::Error> {
    // Header names lower-cased, repeated values joined with commas; cookies apart.
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == axum::http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        header_map
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) {
        for (name, value) in pairs {
            query
                .entry(name)
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert(value);
        }
    }
    let (body, is_base64) = if body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (
                Some(base64::engine::general_purpose::STANDARD.encode(body)),
                true,
            ),
        }
    };
    let now = chrono::Utc::now();
    let host = header_map.get("host").cloned().unwrap_or_default();
    let authorizer = claims.map(|claims| json!({ "jwt": { "claims": claims, "scopes": null } }));
    let event = json!({
        "version": "2.0",
        "routeKey": route.route_key(),
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or(""),
        "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
        "headers": header_map,
        "queryStringParameters": if query.is_empty() { Value::Null } else { json!(query) },
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "requestContext": {
            "accountId": crate::emulator::LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": header_map.get("user-agent").cloned().unwrap_or_default(),
            },
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    serde_json::from_value(event)
}

fn into_http(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Empty => axum::body::Body::empty(),
        lambda_http::Body::Text(text) => axum::body::Body::from(text),
        lambda_http::Body::Binary(bytes) => axum::body::Body::from(bytes),
        _ => axum::body::Body::empty(),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_flattened_as_http_apis_do() {
        let claims: Map<String, Value> = serde_json::from_value(json!({
            "sub": "u1",
            "custom:brand_ids": ["b1", "b2"],
            "custom:role": "brand_viewer",
            "exp": 1700000000,
            "empty": [],
        }))
        .expect("an object");
        let flat = flatten_claims(&claims);
        assert_eq!(flat["custom:brand_ids"], "[b1 b2]");
        assert_eq!(flat["sub"], "u1");
        assert_eq!(flat["custom:role"], "brand_viewer");
        assert_eq!(flat["exp"], "1700000000");
        assert_eq!(flat["empty"], "[]");
    }

    #[test]
    fn route_functions_map_to_template_logical_ids() {
        assert_eq!(logical_id("api-orders"), "ApiOrdersFunction");
        assert_eq!(logical_id("api-docs"), "ApiDocsFunction");
    }
}
