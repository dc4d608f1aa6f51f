//! No personal data and no credential in any log line. Every handler is fed events full of
//! planted names, addresses, emails, phone numbers, message text, auth codes and bearer
//! tokens — valid ones and ones that fail — while the production subscriber
//! (`packr::runtime::logging`, the filter and JSON format the functions use) logs at the
//! most verbose level the template's `LogLevel` parameter allows, into a buffer. Then the
//! buffer is searched for every planted value.

use packr::runtime::logging::{self, CaptureGuard, LogCapture};
use packr::sync::{ChunkOutcome, ResourceKind, SyncMode};
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

const NAME: &str = "Zelda Quackenbush";
const COMPANY: &str = "Quackenbush Holdings";
const STREET: &str = "77 Xylophone Way";
const CITY: &str = "Quuxville";
const POSTAL: &str = "QX9 7ZZ";
const EMAIL: &str = "zelda.q@planted.example";
const PHONE: &str = "+1 555-0199-7734";
const TEXT: &str = "Please ring Zelda about parcel 4471";
const BEARER: &str = "eyJPLANTEDbearer.eyJzdWIiOiJ6ZWxkYSJ9.c2lnbmF0dXJl";
/// The simulator exchanges `auth_<connection>` for that connection (acme's here), and any
/// other code for a new one.
const VALID_CODE: &str = "auth_conn_acme";
const NEW_CODE: &str = "linkcode-PLANTED-7f3e";

/// Every planted value (the phone number also without its country code).
const PLANTED: &[&str] = &[
    NAME,
    "Quackenbush",
    COMPANY,
    STREET,
    "Xylophone",
    CITY,
    POSTAL,
    EMAIL,
    "555-0199-7734",
    TEXT,
    "parcel 4471",
    BEARER,
    "eyJPLANTED",
    VALID_CODE,
    NEW_CODE,
];

/// Starts capturing at the most verbose value of `LogLevel` in template.yaml.
fn capture() -> (LogCapture, CaptureGuard) {
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap(),
    )
    .unwrap();
    let allowed = template["Parameters"]["LogLevel"]["AllowedValues"]
        .as_sequence()
        .expect("LogLevel lists its allowed values");
    let most_verbose = allowed
        .iter()
        .map(|v| logging::parse_level(v.as_str().unwrap()).unwrap())
        .max()
        .unwrap();
    assert_eq!(most_verbose.to_string(), "trace");
    let capture = LogCapture::new();
    let guard = capture.install(most_verbose);
    (capture, guard)
}

/// The captured logs: each line JSON, none holding a planted value, and every one of
/// `expected` (ids, messages) present — so the handlers did log, at trace, into the buffer.
fn assert_clean(capture: &LogCapture, expected: &[&str]) -> String {
    let logs = capture.contents();
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    for value in PLANTED {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(value)).collect();
        assert!(leaks.is_empty(), "{value:?} logged:\n{}", leaks.join("\n"));
    }
    for value in expected {
        assert!(logs.contains(value), "{value:?} not logged:\n{logs}");
    }
    logs
}

fn address() -> Value {
    json!({
        "full_name": NAME,
        "company": COMPANY,
        "address1": STREET,
        "city": CITY,
        "state": "QX",
        "postal_code": POSTAL,
        "country": "GB",
        "phone_number": PHONE,
        "email_address": EMAIL
    })
}

/// `events/apigw-v2-post-orders.json` with this body, a planted bearer token and acme's
/// admin as the verified caller: the raw event.
fn post_orders_event(body: &Value, key: &str) -> Value {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/apigw-v2-post-orders.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&raw).unwrap();
    event["headers"]["authorization"] = json!(format!("Bearer {BEARER}"));
    event["headers"]["idempotency-key"] = json!(key);
    event["body"] = json!(body.to_string());
    event
}

/// [`post_orders_event`] as the request lambda_http makes of it.
fn post_orders_sample(body: &Value, key: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&post_orders_event(body, key).to_string()).unwrap()
}

#[tokio::test]
async fn api_writes_full_of_personal_data_log_none_of_it_at_trace() {
    // given acme, its admin and brand manager, and every request carrying a bearer token
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let auth = format!("Bearer {BEARER}");
    let (capture, _guard) = capture();

    // when an order is created from the sample event with a planted ship-to address
    let mut order = order_body("b1", "ref-planted-1");
    order["ship_to_address"] = address();
    let created = s.call(post_orders_sample(&order, "key-planted-1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    // and the same key is replayed, and orders failing validation are refused
    let replayed = s.call(post_orders_sample(&order, "key-planted-1")).await;
    assert_eq!(replayed.status, 201, "{}", replayed.body);
    let mut bad_email = order.clone();
    bad_email["ship_to_address"]["email_address"] = json!(NAME);
    bad_email["reference_id"] = json!("ref-planted-2");
    let refused = s
        .call(post_orders_sample(&bad_email, "key-planted-2"))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let mut wrong_type = order.clone();
    wrong_type["line_items"][0]["quantity"] = json!(TEXT);
    let refused = s
        .call(post_orders_sample(&wrong_type, "key-planted-3"))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    // and a message is posted, and one too long is refused
    for (body, key, status) in [
        (TEXT.to_owned(), "msg-planted-1", 201),
        (format!("{TEXT} {}", "x".repeat(4000)), "msg-planted-2", 422),
    ] {
        let r = s
            .send(
                &manager,
                "POST",
                "/brands/b1/messages",
                &json!({ "body": body }),
                &[("idempotency-key", key), ("authorization", &auth)],
            )
            .await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    // and auth codes are exchanged: acme's connection again, a new one for b1, and one
    // request malformed
    for (body, status) in [
        (json!({ "auth_code": VALID_CODE }), 200),
        (json!({ "auth_code": NEW_CODE, "brand_id": "b1" }), 201),
        (json!({ "auth_code": NEW_CODE, "customer": EMAIL }), 422),
    ] {
        let r = s
            .send(
                &admin,
                "POST",
                "/connections/exchange",
                &body,
                &[("authorization", &auth)],
            )
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // and a caller without claims is refused
    let anonymous = s
        .send(
            &Caller::without_claims(),
            "POST",
            "/orders",
            &order,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // then the logs name the order and the failures, and none of the planted values
    let order_id = created.body["id"].as_str().unwrap();
    assert_clean(&capture, &[order_id, "order created", "request failed"]);
}

#[tokio::test]
async fn webhooks_full_of_personal_data_are_ingested_parked_and_refused_without_logging_it() {
    use crate::webhook_ingest::{ingest, request, signed, webhook_body};
    use packr::webhook::ingest::handle;
    // given webhook-ingest with connection conn_demo routed to acme
    let s = ingest().await;
    let mut data = crate::webhook_processor::fixture("order-created")["data"].clone();
    data["ship_to_address"] = address();
    let (capture, _guard) = capture();

    // when a signed order webhook is delivered twice
    let body = webhook_body("conn_demo", "order.created", data.clone());
    for _ in 0..2 {
        let r = handle(&s.deps, signed(&body, "msg_planted_1")).await;
        assert_eq!(r.status_code, 200, "{:?}", r.body);
    }
    // and one arrives for a connection not linked yet (parked)
    let parked = webhook_body("conn_not_yet", "order.created", data.clone());
    let r = handle(&s.deps, signed(&parked, "msg_planted_2")).await;
    assert_eq!(r.status_code, 200, "{:?}", r.body);
    // and one with a bad signature, and one whose envelope is malformed around the data
    let r = handle(&s.deps, request(&body, "msg_planted_3", 1, "v1,Zm9v")).await;
    assert_eq!(r.status_code, 401, "{:?}", r.body);
    let malformed = json!({
        "connection_id": "conn_demo",
        "event_type": "order.created",
        "data": data,
        "data_truncated": NAME,
    })
    .to_string();
    let r = handle(&s.deps, signed(&malformed, "msg_planted_4")).await;
    assert!(r.status_code >= 400, "{:?}", r.body);
    let not_json = format!("{{\"connection_id\": \"conn_demo\", \"note\": \"{TEXT}\"");
    let r = handle(&s.deps, signed(&not_json, "msg_planted_5")).await;
    assert!(r.status_code >= 400, "{:?}", r.body);

    // then only the signed order webhook is queued (each delivery of it), and the logs hold
    // the ids and none of the planted values
    let queued: Vec<String> = s
        .drain()
        .await
        .iter()
        .map(|m| {
            m.message_attributes.as_ref().unwrap()["event_id"]
                .string_value()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(!queued.is_empty());
    assert!(queued.iter().all(|id| id == "msg_planted_1"), "{queued:?}");
    assert_clean(
        &capture,
        &["msg_planted_2", "parked", "webhook signature rejected"],
    );
}

#[tokio::test]
async fn queued_events_full_of_personal_data_are_applied_and_failed_without_logging_it() {
    use crate::webhook_processor::{fixture, message, sqs_event};
    use packr::domain::{ConnectionId, CorrelationId, EventId, Timestamp};
    use packr::webhook::envelope::QueuedEvent;
    use packr::webhook::processor::handle_batch;
    // given webhook-processor on acme's connection conn_fixture
    let s = stack().await;
    let t = seed_acme(&s.store, "wc_fixture_1", "conn_fixture").await;
    let metrics = packr::metrics::RecordingSink::new();
    let deps = processor_deps(&s.store_as("webhook-processor"), &metrics);
    let queued = |id: &str, payload: Value| QueuedEvent {
        event_id: EventId::parse(id).unwrap(),
        tenant_id: t.clone(),
        brand_id: None,
        connection_id: ConnectionId::parse("conn_fixture").unwrap(),
        event_type: payload["event_type"].as_str().unwrap().to_owned(),
        received_at: Timestamp::now(),
        delivered_at: None,
        correlation_id: CorrelationId::generate(),
        payload,
    };
    let mut good = fixture("order-created");
    good["data"]["ship_to_address"] = address();
    let mut unconvertible = good.clone();
    unconvertible["data"]["id"] = json!("ord_planted_bad");
    unconvertible["data"]["ship_to_address"] = json!(TEXT);
    let mut misdated = good.clone();
    misdated["data"]["id"] = json!("ord_planted_misdated");
    misdated["data"]["updated_date"] = json!(EMAIL);
    let (capture, _guard) = capture();

    // when a batch holds the order, its duplicate, an unconvertible one and a message that
    // is no queued event at all
    let event = sqs_event(vec![
        message("sqs-1", &queued("msg_proc_1", good.clone())),
        message("sqs-2", &queued("msg_proc_1", good)),
        message("sqs-3", &queued("msg_proc_2", unconvertible)),
        message("sqs-5", &queued("msg_proc_3", misdated)),
        (
            "sqs-4".to_owned(),
            json!({ "event_id": "msg_x", "tenant_id": "acme", "connection_id": "conn_fixture",
                    "event_type": "order.created", "received_at": NAME,
                    "correlation_id": "cor_x", "payload": address() })
            .to_string(),
        ),
    ]);
    let r = handle_batch(&deps, event).await;

    // then the order is applied, the broken ones fail, and nothing planted is logged
    let failed: Vec<&str> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert!(!failed.contains(&"sqs-1"), "{failed:?}");
    assert!(failed.contains(&"sqs-4"), "{failed:?}");
    assert_clean(
        &capture,
        &["msg_proc_1", "event processed", "unreadable queue message"],
    );
}

#[tokio::test]
async fn syncing_and_reconciling_orders_with_personal_data_logs_none_of_it() {
    use crate::sync_engine::{rig, CONNECTION};
    // given the simulator's orders, one of them with the planted address
    let r = rig(7).await;
    r.sim
        .state()
        .with_data(CONNECTION, |data| {
            let a = &mut data.orders[0].ship_to_address;
            a.full_name = Some(NAME.to_owned());
            a.company = Some(COMPANY.to_owned());
            a.address1 = Some(STREET.to_owned());
            a.city = Some(CITY.to_owned());
            a.postal_code = Some(POSTAL.to_owned());
            a.phone_number = Some(PHONE.to_owned());
            a.email_address = Some(EMAIL.to_owned());
        })
        .unwrap();
    let deps = r.deps();
    let (capture, _guard) = capture();

    // when the orders are fully synced, then reconciled
    let full = r
        .run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    assert!(
        matches!(full.last(), Some(ChunkOutcome::Completed { .. })),
        "{full:?}"
    );
    let reconciled = r
        .run_to_end(&deps, crate::sync_engine::reconcile_job(&r, false))
        .await;
    assert!(
        matches!(reconciled.last(), Some(ChunkOutcome::Completed { .. })),
        "{reconciled:?}"
    );

    // then the runs are logged, the planted address is not, nor any of the simulator's
    let logs = assert_clean(&capture, &["reconciliation finished"]);
    let truth = r.sim.truth(CONNECTION).unwrap();
    for order in &truth.orders {
        let a = &order.ship_to_address;
        for value in [&a.full_name, &a.address1, &a.email_address, &a.phone_number]
            .into_iter()
            .flatten()
        {
            assert!(!logs.contains(value.as_str()), "{value} logged");
        }
    }
}

/// Lambda's Runtime API, as much of it as one invocation needs: the first
/// `GET …/invocation/next` hands out `event`, later ones wait; the function's answer
/// (`POST …/response` or `…/error`) is sent back with its path.
async fn runtime_api(event: String) -> (String, tokio::sync::oneshot::Receiver<(String, Vec<u8>)>) {
    use std::sync::{Arc, Mutex};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (answer, answered) = tokio::sync::oneshot::channel();
    let state = Arc::new(Mutex::new((Some(event), Some(answer))));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_runtime_api(stream, state.clone()));
        }
    });
    (address, answered)
}

type RuntimeState = std::sync::Arc<
    std::sync::Mutex<(
        Option<String>,
        Option<tokio::sync::oneshot::Sender<(String, Vec<u8>)>>,
    )>,
>;

/// HTTP/1.1 requests of one connection, one after the other.
async fn serve_runtime_api(stream: tokio::net::TcpStream, state: RuntimeState) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).await.unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let reply = if path.ends_with("/invocation/next") {
            let Some(event) = state.lock().unwrap().0.take() else {
                // No more events: the runtime waits here, as it does on Lambda.
                return std::future::pending().await;
            };
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: req-runtime-1\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:api-orders\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                 content-length: {}\r\n\r\n{event}",
                event.len()
            )
        } else {
            if let Some(answer) = state.lock().unwrap().1.take() {
                let _ = answer.send((path, body));
            }
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
        };
        stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
    }
}

#[tokio::test]
async fn lambda_runtime_handed_a_raw_event_full_of_personal_data_logs_none_of_it() {
    // given api-orders' handler run by lambda_http's runtime against a Runtime API that hands
    // it an order with a planted address and bearer token
    let s = api_stack().await;
    let mut order = order_body("b1", "ref-runtime-1");
    order["ship_to_address"] = address();
    let event = post_orders_event(&order, "key-runtime-1").to_string();
    assert!(event.contains(NAME) && event.contains(BEARER));
    let (api, answered) = runtime_api(event).await;
    for (name, value) in [
        ("AWS_LAMBDA_RUNTIME_API", api.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "api-orders"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ] {
        std::env::set_var(name, value);
    }
    let deps = s.deps_as("api-orders");
    let (capture, _guard) = capture();

    // when the runtime takes the event, the handler answers
    let runtime = lambda_http::run(lambda_http::service_fn(|request| {
        let deps = &deps;
        async move { Ok::<_, lambda_http::Error>(packr::api::dispatch(deps, request).await) }
    }));
    let (path, body) = tokio::select! {
        answer = answered => answer.unwrap(),
        ended = runtime => panic!("the runtime stopped: {ended:?}"),
    };

    // then the order was created, and neither the raw event nor any of its values is logged
    assert!(path.ends_with("/req-runtime-1/response"), "{path}");
    let response: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    let logs = assert_clean(&capture, &["order created"]);
    assert!(!logs.contains("raw JSON event"), "{logs}");
}
