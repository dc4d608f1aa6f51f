use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use trackstar_sim::FaultSpec;

use crate::support::{sim, CONN};
use crate::writes::order_body;

#[tokio::test]
async fn replay_with_the_same_key_returns_the_first_answer_and_writes_once() {
    // given a created order
    let s = sim().await;
    let send = || {
        s.req(Method::POST, "/wms/orders")
            .header("Idempotency-Key", "key-1")
            .json(&order_body())
            .send()
    };
    let first = send().await.expect("response");
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: Value = first.json().await.expect("json");
    let orders_before = s.handle.truth(CONN).expect("truth").orders.len();

    // when replayed
    let replay = send().await.expect("response");

    // then the same answer comes back, flagged, and nothing new is created
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let replay_body: Value = replay.json().await.expect("json");
    assert_eq!(replay_body, first_body);
    assert_eq!(
        s.handle.truth(CONN).expect("truth").orders.len(),
        orders_before
    );
    let id = first_body["id"].as_str().expect("id");
    assert_eq!(s.handle.requests().applied_to(id), 1);
    assert_eq!(s.handle.requests().count("POST", "/wms/orders"), 2);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn same_key_with_another_body_or_endpoint_is_400() {
    let s = sim().await;
    let ok = s
        .req(Method::POST, "/wms/orders")
        .header("Idempotency-Key", "key-2")
        .json(&order_body())
        .send()
        .await
        .expect("response");
    assert_eq!(ok.status(), 200);
    let mut other = order_body();
    other["order_number"] = "PK-OTHER".into();
    let other_body = s
        .req(Method::POST, "/wms/orders")
        .header("Idempotency-Key", "key-2")
        .json(&other)
        .send()
        .await
        .expect("response");
    assert_eq!(other_body.status(), 400);
    let other_endpoint = s
        .req(Method::POST, "/wms/products")
        .header("Idempotency-Key", "key-2")
        .json(&order_body())
        .send()
        .await
        .expect("response");
    assert_eq!(other_endpoint.status(), 400);
    let too_long = s
        .req(Method::POST, "/wms/orders")
        .header("Idempotency-Key", "k".repeat(256))
        .json(&order_body())
        .send()
        .await
        .expect("response");
    assert_eq!(too_long.status(), 400);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn replay_while_the_first_is_in_progress_is_409() {
    // given a slow WMS
    let s = sim().await;
    s.handle.set_faults(
        CONN,
        FaultSpec {
            latency_ms: 400,
            methods: vec!["POST".to_owned()],
            ..FaultSpec::default()
        },
    );
    let send = || {
        s.req(Method::POST, "/wms/orders")
            .header("Idempotency-Key", "key-3")
            .json(&order_body())
            .send()
    };
    // when a replay arrives while the first is still running
    let (first, second) = tokio::join!(send(), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        send().await
    });
    // then
    assert_eq!(first.expect("response").status(), 200);
    assert_eq!(second.expect("response").status(), 409);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_is_recovered_by_replaying_the_key() {
    // given a write that is applied but whose answer is lost (502 after apply)
    let s = sim().await;
    s.handle.set_faults(
        CONN,
        FaultSpec {
            after_apply: true,
            ..FaultSpec::error(502, Some(1))
        },
    );
    let send = || {
        s.req(Method::POST, "/wms/orders")
            .header("Idempotency-Key", "key-4")
            .json(&order_body())
            .send()
    };
    let lost = send().await.expect("response");
    assert_eq!(lost.status(), 502);
    // when the client retries with the same key
    let retry = send().await.expect("response");
    // then it gets the saved success and the order exists once
    assert_eq!(retry.status(), 200);
    assert!(retry.headers().get("idempotent-replayed").is_some());
    let body: Value = retry.json().await.expect("json");
    let id = body["id"].as_str().expect("id");
    assert_eq!(s.handle.requests().applied_to(id), 1);
    s.handle.shutdown().await;
}
