//! What a refused request costs webhook-ingest, the price of a flood at its public URL: the
//! thread CPU time of the handler per unsigned, badly signed, stale and oversize request,
//! beside a floor measured in the same run: the signature check alone (headers and HMAC)
//! of a validly signed delivery of the same body, which every accepted delivery pays
//! before it touches AWS. The requests go straight to the gateway's own ingest instance
//! (warm: its signing secret cached), kinds interleaved so drift hits all of them alike.
//! CPU time (`CLOCK_THREAD_CPUTIME_ID`, summed over the handler's polls), not wall clock.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, Method, Uri, Version};
use packr::domain::Timestamp;
use packr::webhook::ingest::{handle, IngestDeps, DEFAULT_MAX_BODY_BYTES};
use packr::webhook::signature::{SignatureHeaders, Verifier, WebhookSecret};
use secrecy::SecretString;

use crate::gateway::function_url::function_url_request;
use crate::stats::{thread_cpu_ms, CpuTimed, Summary};

/// A well-formed signing key that is not the stack's.
const FOREIGN_SECRET: &str = "whsec_Zm9yZWlnbi1rZXktbm90LXRoZS1zdGFja3M=";

/// The kinds of refused request, with the status ingest answers each.
pub const KINDS: [(&str, i64); 5] = [
    ("unsigned (no svix-* headers)", 401),
    ("stale timestamp (valid signature, 301 s old)", 401),
    ("bad signature (another key's)", 401),
    ("bad signature, body at the size cap", 401),
    ("oversize (one byte over the cap)", 413),
];

#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectionReport {
    /// Requests of each kind measured.
    pub per_kind: usize,
    /// The body of the floor and of every kind but the two at and over the cap (B).
    pub body_bytes: usize,
    pub kinds: Vec<RejectedKind>,
    /// Header checks + HMAC of a validly signed delivery of `body_bytes` (ms).
    pub floor_verify_cpu_ms: Summary,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedKind {
    pub kind: String,
    pub status: i64,
    /// Answers with `status` (the rest would be a measurement of the wrong thing).
    pub refused: usize,
    /// Thread CPU time of the handler per request (ms).
    pub cpu_ms: Summary,
}

/// One request of each kind, for a delivery of `body` signed with `secret` at `now`.
pub fn requests(
    secret: &WebhookSecret,
    body: &str,
    now: i64,
) -> Vec<aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest> {
    let foreign = parse_secret(FOREIGN_SECRET);
    let capped = pad_to(body, DEFAULT_MAX_BODY_BYTES);
    let over = pad_to(body, DEFAULT_MAX_BODY_BYTES + 1);
    let id = "msg_bench_rejected";
    let stale = now - 301;
    vec![
        request(body, None),
        request(
            body,
            Some((id, stale, secret.sign(id, stale, body.as_bytes()))),
        ),
        request(
            body,
            Some((id, now, foreign.sign(id, now, body.as_bytes()))),
        ),
        request(
            &capped,
            Some((id, now, foreign.sign(id, now, capped.as_bytes()))),
        ),
        request(
            &over,
            Some((id, now, secret.sign(id, now, over.as_bytes()))),
        ),
    ]
}

/// Measures `per_kind` requests of each kind against `deps` (secret: the stack's current
/// `whsec_…` key) and the floor, on a body of `body_bytes`.
pub async fn measure(
    deps: &IngestDeps,
    secret: &str,
    body_bytes: usize,
    per_kind: usize,
) -> anyhow::Result<RejectionReport> {
    let secret = parse_secret(secret);
    let body = pad_to(
        r#"{"connection_id":"conn_bench","integration_name":"shipbob","event_type":"order.updated","data":{"id":"ord_bench"}}"#,
        body_bytes,
    );
    // Warm the instance on every path once (the signing secret is read at most here).
    for request in requests(&secret, &body, Timestamp::now().unix_seconds()) {
        handle(deps, request).await;
    }
    let mut cpu: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut refused: BTreeMap<usize, usize> = BTreeMap::new();
    let mut floor = Vec::with_capacity(per_kind);
    let verifier = Verifier::new(vec![secret.clone()]);
    for _ in 0..per_kind {
        let now = Timestamp::now().unix_seconds();
        for (kind, request) in requests(&secret, &body, now).into_iter().enumerate() {
            let (answer, cpu_ms) = CpuTimed::new(handle(deps, request)).await;
            cpu.entry(kind).or_default().push(cpu_ms);
            if answer.status_code == KINDS[kind].1 {
                *refused.entry(kind).or_default() += 1;
            }
        }
        floor.push(verify_cpu_ms(&verifier, &secret, &body, now)?);
    }
    Ok(RejectionReport {
        per_kind,
        body_bytes: body.len(),
        kinds: KINDS
            .iter()
            .enumerate()
            .map(|(i, (kind, status))| RejectedKind {
                kind: (*kind).to_owned(),
                status: *status,
                refused: refused.get(&i).copied().unwrap_or(0),
                cpu_ms: Summary::of(cpu.get(&i).map_or(&[][..], Vec::as_slice)),
            })
            .collect(),
        floor_verify_cpu_ms: Summary::of(&floor),
    })
}

/// CPU ms of checking a valid delivery's signature (what an accepted request pays first).
fn verify_cpu_ms(
    verifier: &Verifier,
    secret: &WebhookSecret,
    body: &str,
    now: i64,
) -> anyhow::Result<f64> {
    let id = "msg_bench_floor";
    let signature = secret.sign(id, now, body.as_bytes());
    let timestamp = now.to_string();
    let headers = SignatureHeaders {
        id: Some(id),
        timestamp: Some(&timestamp),
        signature: Some(&signature),
    };
    let before = thread_cpu_ms();
    let verified = verifier.verify(headers, std::hint::black_box(body.as_bytes()), now);
    let spent = (thread_cpu_ms() - before).max(0.0);
    anyhow::ensure!(verified.is_ok(), "the floor's delivery did not verify");
    Ok(spent)
}

fn parse_secret(text: &str) -> WebhookSecret {
    WebhookSecret::parse(&SecretString::from(text.to_owned()))
        .unwrap_or_else(|_| unreachable!("the bench's keys are well-formed"))
}

/// `json` (an object) with a `"pad"` member making it exactly `bytes` long (or as it is when
/// already longer).
fn pad_to(json: &str, bytes: usize) -> String {
    let head = json.trim_end_matches('}');
    let frame = head.len() + r#","pad":""}"#.len();
    let padding = "x".repeat(bytes.saturating_sub(frame));
    format!(r#"{head},"pad":"{padding}"}}"#)
}

fn request(
    body: &str,
    signed: Option<(&str, i64, String)>,
) -> aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("user-agent", HeaderValue::from_static("packr-bench"));
    if let Some((id, timestamp, signature)) = signed {
        let pairs = [
            ("svix-id", id.to_owned()),
            ("svix-timestamp", timestamp.to_string()),
            ("svix-signature", signature),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    function_url_request(
        &Method::POST,
        Version::HTTP_11,
        &Uri::from_static("/"),
        &headers,
        body.as_bytes(),
        "203.0.113.10",
    )
}

#[cfg(test)]
mod tests {
    use packr::webhook::signature::SignatureError;

    use super::*;

    fn header<'a>(
        r: &'a aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest,
        name: &str,
    ) -> Option<&'a str> {
        r.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn each_kind_is_refused_for_its_own_reason() {
        // given the bench's requests for a stack key
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let now = 1_700_000_000;
        let body = pad_to(r#"{"a":1}"#, 2048);
        let all = requests(&key, &body, now);
        assert_eq!(all.len(), KINDS.len());
        // when the stack's verifier checks them (the oversize one by its length)
        let verdict =
            |r: &aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest| {
                let headers = SignatureHeaders::from_lookup(|name| header(r, name));
                let body = r.body.as_deref().unwrap_or_default();
                Verifier::new(vec![key.clone()]).verify(headers, body.as_bytes(), now)
            };
        // then each fails as its kind says, and only for that reason
        assert_eq!(
            verdict(&all[0]),
            Err(SignatureError::MissingHeader("svix-id"))
        );
        assert_eq!(verdict(&all[1]), Err(SignatureError::TooOld));
        assert_eq!(verdict(&all[2]), Err(SignatureError::NoMatch));
        assert_eq!(verdict(&all[3]), Err(SignatureError::NoMatch));
        assert_eq!(
            all[3].body.as_deref().map(str::len),
            Some(DEFAULT_MAX_BODY_BYTES)
        );
        assert!(
            verdict(&all[4]).is_ok(),
            "signed correctly: refused by size only"
        );
        assert_eq!(
            all[4].body.as_deref().map(str::len),
            Some(DEFAULT_MAX_BODY_BYTES + 1)
        );
    }

    #[test]
    fn padding_makes_valid_json_of_the_asked_length() {
        let padded = pad_to(r#"{"a":1}"#, 100);
        assert_eq!(padded.len(), 100);
        let parsed: serde_json::Value = serde_json::from_str(&padded).expect("JSON");
        assert_eq!(parsed["a"], 1);
    }
}
