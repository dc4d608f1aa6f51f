//! What a flood at webhook-ingest's public function URL costs: unsigned, badly signed, stale
//! and oversize requests are refused before any AWS call. Ingest is built as its binary
//! builds itself (`wiring::ingest_from_env`, the template's environment) with its AWS
//! endpoint a pass-through proxy in front of the emulator that counts every AWS request the
//! function makes (`packr_local::faultproxy`, no faults injected).

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use packr::domain::Timestamp;
use packr::webhook::ingest::{handle, IngestDeps, DEFAULT_MAX_BODY_BYTES};
use packr::webhook::wiring::ingest_from_env;
use packr_local::faultproxy::{self, FaultConfig, FaultProxy, Service};
use serde_json::{json, Value};

use crate::webhook_ingest::{request, secret, webhook_body};

const INGEST: &str = "WebhookIngestFunction";
/// A well-formed key that is not the stack's signing secret.
const OTHER_SECRET: &str = "whsec_c2VjcmV0LW90aGVy";

struct Bounded {
    deps: IngestDeps,
    proxy: FaultProxy,
    /// The stack's current signing secret (`whsec_…`).
    secret: String,
}

/// A fresh stack and webhook-ingest as deployed, its AWS calls counted at the proxy.
async fn bounded_ingest() -> Bounded {
    let sdk = packr_local::testing::emulator_config().await;
    let stack = packr_local::testing::fresh_local_stack(&sdk).await;
    let signing = packr_local::webhooks::current_signing_secret(&sdk, &stack)
        .await
        .unwrap();
    let proxy = faultproxy::start(&stack.aws_endpoint_url, FaultConfig::default(), None)
        .await
        .unwrap();
    let function = packr_local::emulator::with_endpoint(
        &packr_local::testing::function_config(&sdk, "webhook-ingest"),
        &proxy.url,
    );
    let env = stack.function_environment[INGEST].clone();
    let deps = ingest_from_env(&function, &env, "webhook-ingest").unwrap();
    Bounded {
        deps,
        proxy,
        secret: signing,
    }
}

fn now() -> i64 {
    Timestamp::now().unix_seconds()
}

fn body() -> String {
    webhook_body("conn_flood", "order.updated", json!({"id": "ord_1"}))
}

fn without(mut r: LambdaFunctionUrlRequest, names: &[&str]) -> LambdaFunctionUrlRequest {
    for name in names {
        r.headers.remove(*name);
    }
    r
}

fn code(r: &aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse) -> String {
    let body: Value = serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every AWS request the proxy forwarded, as `(service, operation)` → count.
fn aws_calls(proxy: &FaultProxy) -> Vec<(String, String, u64)> {
    proxy
        .stats()
        .requests
        .into_iter()
        .map(|((service, operation), n)| (service.as_str().to_owned(), operation, n))
        .collect()
}

#[tokio::test]
async fn unsigned_stale_and_oversize_requests_are_refused_without_any_aws_call() {
    // given webhook-ingest on a cold instance (no signing secret read yet)
    let b = bounded_ingest().await;
    let body = body();
    let good = |id: &str, ts: i64| secret(&b.secret).sign(id, ts, body.as_bytes());
    let oversize = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
    // "eHh4" is base64 of "xxx": this decodes to one block of three bytes over the cap
    let mut oversize_base64 = request(
        &"eHh4".repeat(DEFAULT_MAX_BODY_BYTES / 3 + 1),
        "msg_big64",
        now(),
        "v1,AAAA",
    );
    oversize_base64.is_base64_encoded = true;
    let cases: Vec<(&str, LambdaFunctionUrlRequest, i64, &str)> = vec![
        (
            "no signature headers",
            without(
                request(&body, "msg_1", now(), "v1,AAAA"),
                &["svix-id", "svix-timestamp", "svix-signature"],
            ),
            401,
            "missing_header",
        ),
        (
            "no svix-signature",
            without(
                request(&body, "msg_1", now(), "v1,AAAA"),
                &["svix-signature"],
            ),
            401,
            "missing_header",
        ),
        (
            "a signature of no known version",
            request(&body, "msg_1", now(), "v2,AAAA"),
            401,
            "invalid_header",
        ),
        (
            "a valid signature, stale by 301 s",
            request(&body, "msg_1", now() - 301, &good("msg_1", now() - 301)),
            401,
            "timestamp_too_old",
        ),
        (
            "a valid signature, 301 s in the future",
            request(&body, "msg_1", now() + 301, &good("msg_1", now() + 301)),
            401,
            "timestamp_too_new",
        ),
        (
            "a body one byte over the cap, validly signed",
            request(
                &oversize,
                "msg_big",
                now(),
                &secret(&b.secret).sign("msg_big", now(), oversize.as_bytes()),
            ),
            413,
            "payload_too_large",
        ),
        (
            "a base64 body over the cap",
            oversize_base64,
            413,
            "payload_too_large",
        ),
    ];

    // when each is delivered five times
    for (case, r, status, expected) in &cases {
        for _ in 0..5 {
            let answer = handle(&b.deps, r.clone()).await;
            // then each is refused with its status and reason
            assert_eq!(answer.status_code, *status, "{case}: {:?}", answer.body);
            assert_eq!(code(&answer), *expected, "{case}");
        }
    }

    // and the function made no AWS call at all: no secret read, no DynamoDB, no SQS
    assert_eq!(
        aws_calls(&b.proxy),
        vec![],
        "AWS calls for refused requests"
    );

    // and the proxy does count what a verified delivery costs (so the zero above can fail)
    let id = "msg_counted";
    let ts = now();
    let answer = handle(&b.deps, request(&body, id, ts, &good(id, ts))).await;
    assert_eq!(answer.status_code, 200, "{:?}", answer.body);
    let calls = aws_calls(&b.proxy);
    assert!(
        calls.contains(&("other".into(), "GetSecretValue".into(), 1)),
        "{calls:?}"
    );
    assert!(
        b.proxy.stats().total_requests(Service::DynamoDb) >= 1,
        "{calls:?}"
    );
    b.proxy.shutdown().await;
}

#[tokio::test]
async fn badly_signed_requests_cost_no_aws_call_beyond_the_instance_s_cached_secret() {
    // given webhook-ingest on a cold instance
    let b = bounded_ingest().await;
    let body = body();
    let ts = now();
    let forged = secret(OTHER_SECRET).sign("msg_1", ts, body.as_bytes());
    let genuine = secret(&b.secret).sign("msg_1", ts, body.as_bytes());
    let tampered = body.replace("ord_1", "ord_2");

    // when forty badly signed requests arrive: another key's signature, a tampered body,
    // a signature that is not base64 of a MAC
    let mut refused = 0;
    for i in 0..40 {
        let r = match i % 3 {
            0 => request(&body, "msg_1", ts, &forged),
            1 => request(&tampered, "msg_1", ts, &genuine),
            _ => request(&body, "msg_1", ts, "v1,bm90LWEtbWFj"),
        };
        let answer = handle(&b.deps, r).await;
        assert_eq!(answer.status_code, 401, "{:?}", answer.body);
        assert_eq!(code(&answer), "signature_mismatch");
        refused += 1;
    }

    // then all were refused, and the one AWS call was the signing secret's read, once for
    // the instance (cached for SECRETS_CACHE_TTL_SECONDS), never one per request
    assert_eq!(refused, 40);
    assert_eq!(
        aws_calls(&b.proxy),
        vec![("other".to_owned(), "GetSecretValue".to_owned(), 1)]
    );
    b.proxy.shutdown().await;
}
