//! The local Lambda Runtime API (`packr_coldstart::runtime_api`) speaks the protocol a real
//! custom runtime expects: the hello-world `lambda_runtime` binary of this package is
//! spawned against it the way the cold-start bench spawns every function.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use packr_coldstart::runtime_api::{FunctionIdentity, Outcome, RuntimeApi};
use packr_coldstart::sandbox::{cold_start, Function, SandboxError};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

fn hello(environment: BTreeMap<String, String>) -> Function {
    Function {
        name: "hello-world".to_owned(),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_coldstart-hello")),
        memory_mb: 128,
        timeout: Duration::from_secs(3),
        region: "us-east-1".to_owned(),
        account_id: "123456789012".to_owned(),
        environment,
    }
}

fn log(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("coldstart-{name}-{}.log", std::process::id()))
}

fn identity() -> FunctionIdentity {
    FunctionIdentity {
        name: "probe".to_owned(),
        region: "us-east-1".to_owned(),
        account_id: "123456789012".to_owned(),
        timeout: Duration::from_secs(30),
    }
}

#[tokio::test]
async fn a_lambda_runtime_binary_polls_gets_each_event_and_its_answers_are_recorded_in_order() {
    // Given the hello-world binary and two events queued for it
    let events = vec![
        serde_json::to_vec(&json!({"firstName": "Ada"}))
            .unwrap()
            .into(),
        serde_json::to_vec(&json!({})).unwrap().into(),
    ];

    // When it is cold-started against the local Runtime API
    let started = cold_start(&hello(BTreeMap::new()), events, &log("answers"), LIMIT)
        .await
        .expect("the hello-world answers both events");

    // Then both answers arrive on the response route, in order
    let answers: Vec<Value> = started
        .invocations
        .iter()
        .map(|a| match &a.outcome {
            Outcome::Response(body) => serde_json::from_slice(body).unwrap(),
            other => panic!("expected a response, got {other:?}"),
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            json!({"message": "Hello, Ada!"}),
            json!({"message": "Hello, world!"})
        ]
    );
    // and init ends before the first answer, which comes before the warm one's
    assert!(started.init <= started.first_invoke);
    assert!(started.invocations[0].answered_at <= started.invocations[1].handed_out_at);
    assert_eq!(started.warm_invokes().len(), 1);
    assert!(started.peak_rss_kb > 0, "VmHWM was read");
}

#[tokio::test]
async fn an_event_the_runtime_cannot_deserialize_is_reported_on_the_error_route_and_the_runtime_goes_on(
) {
    // Given an event that is not JSON, then a good one
    let events = vec![
        b"not json".to_vec().into(),
        serde_json::to_vec(&json!({"firstName": "Grace"}))
            .unwrap()
            .into(),
    ];

    // When the hello-world is fed both
    let started = cold_start(&hello(BTreeMap::new()), events, &log("error"), LIMIT)
        .await
        .expect("the runtime answers both");

    // Then the first is an invocation error with its type, and the second still succeeds
    match &started.invocations[0].outcome {
        Outcome::Error { error_type, body } => {
            assert!(error_type.is_some(), "an error type is reported");
            let body: Value = serde_json::from_slice(body).unwrap();
            assert!(body.get("errorMessage").is_some(), "{body}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        started.invocations[1].outcome,
        Outcome::Response(
            serde_json::to_vec(&json!({"message": "Hello, Grace!"}))
                .unwrap()
                .into()
        )
    );
}

#[tokio::test]
async fn a_runtime_that_exits_during_init_is_reported_as_exited_before_polling() {
    // Given a memory size lambda_runtime cannot parse (its config is read at init)
    let environment = BTreeMap::from([(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
        "lots".to_owned(),
    )]);

    // When it is started
    let result = cold_start(
        &hello(environment),
        vec![b"{}".to_vec().into()],
        &log("exit"),
        LIMIT,
    )
    .await;

    // Then the sandbox reports that it exited before its first GET /next
    match result {
        Err(SandboxError::Exited { stage, .. }) => assert_eq!(stage, "polling"),
        other => panic!("expected an exit during init, got {other:?}"),
    }
}

#[tokio::test]
async fn next_carries_the_invocation_headers_and_an_answer_is_accepted_once_per_request_id() {
    // Given an endpoint with one event queued
    let api = RuntimeApi::start(identity()).await.unwrap();
    let pending = api.invoke(br#"{"n":1}"#.to_vec());
    let base = format!("http://{}/2018-06-01/runtime", api.address());
    let http = reqwest::Client::new();

    // When the runtime asks for the next invocation
    let next = http
        .get(format!("{base}/invocation/next"))
        .send()
        .await
        .unwrap();

    // Then it gets the event and Lambda's headers, the deadline 30 s (the timeout) ahead
    assert_eq!(next.status(), 200);
    let header = |name: &str| {
        next.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("header {name}"))
    };
    let request_id = header("lambda-runtime-aws-request-id");
    assert_eq!(request_id, pending.request_id);
    assert_eq!(
        header("lambda-runtime-invoked-function-arn"),
        "arn:aws:lambda:us-east-1:123456789012:function:probe"
    );
    assert!(header("lambda-runtime-trace-id").starts_with("Root=1-"));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let deadline: u128 = header("lambda-runtime-deadline-ms").parse().unwrap();
    assert!(deadline > now_ms + 25_000 && deadline <= now_ms + 30_000);
    assert_eq!(next.text().await.unwrap(), r#"{"n":1}"#);
    assert_eq!(api.polls().len(), 1);

    // and its response is accepted once, then refused for the same id
    let url = format!("{base}/invocation/{request_id}/response");
    let first = http.post(&url).body("\"ok\"").send().await.unwrap();
    assert_eq!(first.status(), 202);
    let again = http.post(&url).body("\"ok\"").send().await.unwrap();
    assert_eq!(again.status(), 400);
    let answered = pending.answered().await.expect("answered");
    assert_eq!(
        answered.outcome,
        Outcome::Response(b"\"ok\"".to_vec().into())
    );

    // and an init error is recorded with its type
    let init = http
        .post(format!("{base}/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.ConfigError")
        .body(r#"{"errorMessage":"TABLE_NAME is not set","errorType":"ConfigError"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 202);
    assert_eq!(
        api.init_error().and_then(|e| e.error_type).as_deref(),
        Some("Runtime.ConfigError")
    );
}
