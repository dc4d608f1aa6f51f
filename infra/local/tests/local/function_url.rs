//! webhook-ingest behind the gateway's function URL, over HTTP.

use std::sync::Arc;

use packr::webhook::wiring::ingest_from_env;
use packr_local::esm::queue_depth;
use packr_local::gateway::{router, serve, GatewayState, WEBHOOK_PATH};
use packr_local::seed::seed_demo;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::current_signing_secret;
use serde_json::Value;
use tokio::net::TcpListener;

struct Gateway {
    url: String,
    secret: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// A gateway on port 0 hosting webhook-ingest on a fresh, seeded stack.
async fn gateway() -> Gateway {
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    seed_demo(&sdk, &stack).await.expect("seed");
    let secret = current_signing_secret(&sdk, &stack)
        .await
        .expect("signing secret");
    let ingest = ingest_from_env(
        &sdk,
        &stack.function_environment["WebhookIngestFunction"],
        "webhook-ingest",
    )
    .expect("ingest deps");
    let state = GatewayState {
        webhook_ingest: Some(Arc::new(ingest)),
        ..GatewayState::new(stack.clone())
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(state), async move {
        let _ = stopped.await;
    }));
    Gateway {
        url,
        secret,
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: stack.resources.queue_urls["WebhookQueue"].clone(),
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        stop,
    }
}

impl Gateway {
    async fn post(&self, msg_id: &str, body: Vec<u8>, secret: &str) -> (u16, Value) {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = trackstar_sim::sign_webhook(secret, msg_id, timestamp, &body);
        let response = self
            .client
            .post(format!("{}{WEBHOOK_PATH}", self.url))
            .header("content-type", "application/json")
            .header("svix-id", msg_id)
            .header("svix-timestamp", timestamp.to_string())
            .header("svix-signature", signature)
            .body(body)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

fn order_event(padding: usize) -> Vec<u8> {
    // Odd spacing and non-ASCII text: the signature only verifies if the bytes arrive as sent.
    format!(
        "{{ \"connection_id\":\"conn_demo\",  \"event_type\":\"order.updated\",\"data\":{{\"id\":\"ord_x\",\"note\":\"Zürich → 東京\",\"pad\":\"{}\"}} }}",
        "x".repeat(padding)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_signed_webhook_is_queued_with_its_bytes_intact() {
    // given
    let gateway = gateway().await;
    // when
    let (status, body) = gateway
        .post(
            "msg_functionurl000000000000001",
            order_event(0),
            &gateway.secret,
        )
        .await;
    // then
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued");
    assert_eq!(
        queue_depth(&gateway.sqs, &gateway.queue_url)
            .await
            .expect("depth"),
        (1, 0)
    );
    // and a second delivery of the same event is acknowledged and queued again: ingest
    // writes nothing, the processor's record of the event tells the duplicate
    let (status, body) = gateway
        .post(
            "msg_functionurl000000000000001",
            order_event(0),
            &gateway.secret,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "queued");
    let _ = gateway.stop.send(());
}

#[tokio::test]
async fn a_webhook_signed_with_another_secret_is_rejected() {
    let gateway = gateway().await;
    let other = trackstar_sim::new_secret();
    let (status, _) = gateway
        .post("msg_functionurl000000000000002", order_event(0), &other)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        queue_depth(&gateway.sqs, &gateway.queue_url)
            .await
            .expect("depth"),
        (0, 0)
    );
    let _ = gateway.stop.send(());
}

#[tokio::test]
async fn an_oversized_body_gets_the_handlers_413_and_a_huge_one_the_gateways() {
    let gateway = gateway().await;
    // 300 KiB: above the handler's 200 KiB, below the gateway's 1 MiB
    let (status, body) = gateway
        .post(
            "msg_functionurl000000000000003",
            order_event(300 * 1024),
            &gateway.secret,
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
    // 2 MiB: refused by the gateway before the handler
    let (status, body) = gateway
        .post(
            "msg_functionurl000000000000004",
            order_event(2 * 1024 * 1024),
            &gateway.secret,
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(body, Value::Null);
    let _ = gateway.stop.send(());
}

#[tokio::test]
async fn other_methods_get_the_handlers_405() {
    let gateway = gateway().await;
    let response = gateway
        .client
        .get(format!("{}{WEBHOOK_PATH}", gateway.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 405);
    let _ = gateway.stop.send(());
}
