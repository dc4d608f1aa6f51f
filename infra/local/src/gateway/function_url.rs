//! `/webhooks/trackstar`: webhook-ingest's Lambda function URL. The HTTP request becomes
//! the `LambdaFunctionUrlRequest` AWS would send (payload format 2.0), the handler runs,
//! and its `LambdaFunctionUrlResponse` becomes the HTTP answer.

use std::net::SocketAddr;
use std::time::Instant;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContext,
    LambdaFunctionUrlRequestContextHttpDescription, LambdaFunctionUrlResponse,
};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::GatewayState;
use crate::emulator::LOCAL_REGION;
use crate::stats::CpuTimed;

/// The path the local function URL is served on.
pub const WEBHOOK_PATH: &str = "/webhooks/trackstar";

/// Larger than the handler's own limit (200 KiB), so a sender sees the handler's 413 for
/// moderately large bodies; Lambda's own request limit is 6 MB.
pub const GATEWAY_BODY_LIMIT: usize = 1024 * 1024;

/// The function URL's made-up id: `<url-id>.lambda-url.<region>.on.aws`.
const URL_ID: &str = "packrlocalwebhookingest000000000";

pub(super) fn routes() -> Router<GatewayState> {
    Router::new()
        .route(WEBHOOK_PATH, any(invoke))
        .layer(DefaultBodyLimit::max(GATEWAY_BODY_LIMIT))
}

async fn invoke(
    State(state): State<GatewayState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    version: Version,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let Some(deps) = state.webhook_ingest.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook-ingest is not hosted by this gateway",
        )
            .into_response();
    };
    let source_ip = peer.map_or_else(
        || "127.0.0.1".to_owned(),
        |Extension(ConnectInfo(addr))| addr.ip().to_string(),
    );
    let request = function_url_request(&method, version, &uri, &headers, &body, &source_ip);
    let (response, cpu_ms) = CpuTimed::new(packr::webhook::ingest::handle(&deps, request)).await;
    if (200..300).contains(&response.status_code) {
        if let Some(id) = acked_event_id(response.body.as_deref()) {
            state.acked.record(id);
        }
    }
    let http = http_response(response);
    state
        .ack_latency
        .record(started.elapsed().as_secs_f64() * 1000.0);
    state.ingest_cpu.record(cpu_ms);
    http
}

/// The `event_id` of ingest's answer (`{"status": "queued", "event_id": …}`).
fn acked_event_id(body: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body?).ok()?;
    value.get("event_id")?.as_str().map(str::to_owned)
}

/// The event AWS sends for an HTTP request to a function URL.
pub fn function_url_request(
    method: &Method,
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    source_ip: &str,
) -> LambdaFunctionUrlRequest {
    let now = chrono::Utc::now();
    let mut event = LambdaFunctionUrlRequest::default();
    event.version = Some("2.0".to_owned());
    event.raw_path = Some(uri.path().to_owned());
    event.raw_query_string = Some(uri.query().unwrap_or("").to_owned());

    // Headers: lower-cased names (HeaderMap's already are), repeated ones joined with
    // commas, cookies moved to `cookies`, and the forwarding headers AWS adds.
    let mut joined = HeaderMap::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
        if name == "cookie" {
            for value in &values {
                let text = String::from_utf8_lossy(value);
                cookies.extend(
                    text.split("; ")
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(&values.join(&b","[..])) {
            joined.insert(name.clone(), value);
        }
    }
    if let Ok(ip) = HeaderValue::from_str(source_ip) {
        joined
            .entry(HeaderName::from_static("x-forwarded-for"))
            .or_insert(ip);
    }
    joined
        .entry(HeaderName::from_static("x-forwarded-proto"))
        .or_insert(HeaderValue::from_static("http"));
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = joined;

    let mut parameters: std::collections::HashMap<String, String> = Default::default();
    if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) {
        for (name, value) in pairs {
            parameters
                .entry(name)
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert(value);
        }
    }
    event.query_string_parameters = parameters;

    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut context = LambdaFunctionUrlRequestContext::default();
    context.account_id = Some("anonymous".to_owned());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.apiid = Some(URL_ID.to_owned());
    context.domain_name = Some(host.to_owned());
    context.domain_prefix = Some(host.split('.').next().unwrap_or(host).to_owned());
    context.time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context.time_epoch = now.timestamp_millis();
    let mut http = LambdaFunctionUrlRequestContextHttpDescription::default();
    http.method = Some(method.as_str().to_owned());
    http.path = Some(uri.path().to_owned());
    http.protocol = Some(protocol(version).to_owned());
    http.source_ip = Some(source_ip.to_owned());
    http.user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    context.http = http;
    event.request_context = context;

    // Bytes exactly as received: text when it is UTF-8, else base64.
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => {
                event.body = Some(text.to_owned());
                event.is_base64_encoded = false;
            }
            Err(_) => {
                event.body = Some(BASE64.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The HTTP answer for the function's response (status, headers, cookies, body).
pub fn http_response(response: LambdaFunctionUrlResponse) -> Response {
    let status = u16::try_from(response.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match (response.body, response.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.into_bytes(),
        (Some(encoded), true) => match BASE64.decode(encoded) {
            Ok(bytes) => bytes,
            // What a function URL answers when the function's response is malformed.
            Err(_) => return (StatusCode::BAD_GATEWAY, "Internal Server Error").into_response(),
        },
    };
    let mut http = Response::new(Body::from(body));
    *http.status_mut() = status;
    let headers = http.headers_mut();
    for (name, value) in &response.headers {
        headers.append(name.clone(), value.clone());
    }
    for cookie in &response.cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(axum::http::header::SET_COOKIE, value);
        }
    }
    http
}

/// The region the made-up function URL lives in.
pub fn function_url_host() -> String {
    format!("{URL_ID}.lambda-url.{LOCAL_REGION}.on.aws")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_text_body_and_the_request_line_are_carried_as_aws_sends_them() {
        let uri: Uri = "/webhooks/trackstar?a=1&b=2&a=3".parse().expect("uri");
        let event = function_url_request(
            &Method::POST,
            Version::HTTP_11,
            &uri,
            &headers(&[
                ("Content-Type", "application/json"),
                ("svix-id", "msg_1"),
                ("x-many", "one"),
                ("x-many", "two"),
                ("cookie", "a=1; b=2"),
            ]),
            br#"{"k": "v"}"#,
            "10.0.0.7",
        );
        assert_eq!(event.body.as_deref(), Some(r#"{"k": "v"}"#));
        assert!(!event.is_base64_encoded);
        assert_eq!(event.raw_path.as_deref(), Some("/webhooks/trackstar"));
        assert_eq!(event.raw_query_string.as_deref(), Some("a=1&b=2&a=3"));
        assert_eq!(event.query_string_parameters["a"], "1,3");
        assert_eq!(event.headers["content-type"], "application/json");
        assert_eq!(event.headers["x-many"], "one,two");
        assert_eq!(event.headers["x-forwarded-for"], "10.0.0.7");
        assert!(event.headers.get("cookie").is_none());
        assert_eq!(
            event.cookies,
            Some(vec!["a=1".to_owned(), "b=2".to_owned()])
        );
        let http = &event.request_context.http;
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.path.as_deref(), Some("/webhooks/trackstar"));
        assert_eq!(http.source_ip.as_deref(), Some("10.0.0.7"));
        assert!(event.request_context.time_epoch > 0);
        let json = serde_json::to_value(&event).expect("json");
        assert_eq!(json["isBase64Encoded"], false);
        assert_eq!(json["requestContext"]["http"]["sourceIp"], "10.0.0.7");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_base64_encoded_byte_for_byte() {
        let bytes = [0xff_u8, 0x00, 0x7b, 0xfe];
        let event = function_url_request(
            &Method::POST,
            Version::HTTP_11,
            &"/webhooks/trackstar".parse().expect("uri"),
            &HeaderMap::new(),
            &bytes,
            "127.0.0.1",
        );
        assert!(event.is_base64_encoded);
        let decoded = BASE64.decode(event.body.expect("body")).expect("base64");
        assert_eq!(decoded, bytes);
    }

    #[test]
    fn the_function_response_becomes_the_http_answer() {
        let mut response = LambdaFunctionUrlResponse::default();
        response.status_code = 409;
        response
            .headers
            .insert("retry-after", HeaderValue::from_static("15"));
        response.body = Some("{\"error\":1}".to_owned());
        response.cookies = vec!["s=1".to_owned()];
        let http = http_response(response);
        assert_eq!(http.status(), StatusCode::CONFLICT);
        assert_eq!(http.headers()["retry-after"], "15");
        assert_eq!(http.headers()["set-cookie"], "s=1");
    }
}
