//! The fault-injecting proxy in front of the emulator: the SDK, pointed at it by its
//! endpoint only, retries what it injects and succeeds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use packr_local::emulator::with_endpoint;
use packr_local::faultproxy::{self, Fault, FaultConfig, Service, Tap};
use packr_local::testing::{emulator_config, fresh_stack, fresh_table};

/// The emulator's config pointed at `endpoint`, retrying up to 10 times (or `attempts`)
/// with short backoffs (so a test at a high fault rate stays quick).
fn through(sdk: &SdkConfig, endpoint: &str) -> SdkConfig {
    through_with_attempts(sdk, endpoint, 10)
}

fn through_with_attempts(sdk: &SdkConfig, endpoint: &str, attempts: u32) -> SdkConfig {
    with_endpoint(sdk, endpoint)
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(2))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .build()
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL")
}

#[tokio::test]
async fn dynamodb_calls_through_a_failing_proxy_are_retried_and_succeed() {
    // given a proxy failing 30 % of requests, and a tap counting the emulator's answers
    let sdk = emulator_config().await;
    let table = fresh_table(&sdk).await;
    let answered = Arc::new(AtomicU64::new(0));
    let tap: Tap = {
        let answered = Arc::clone(&answered);
        Arc::new(move |exchange| {
            if exchange.service == Service::DynamoDb && exchange.status == 200 {
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let proxy = faultproxy::start(
        &endpoint(),
        FaultConfig {
            rate: 0.3,
            seed: 4,
            ..FaultConfig::default()
        },
        Some(tap),
    )
    .await
    .expect("proxy starts");
    let ddb = aws_sdk_dynamodb::Client::new(&through(&sdk, &proxy.url));
    // when 30 items are put and read back through it
    for i in 0..30 {
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(format!("P#{i}")))
            .item("sk", AttributeValue::S("A".into()))
            .item("n", AttributeValue::N(i.to_string()))
            .send()
            .await
            .expect("put succeeds after retries");
        let got = ddb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(format!("P#{i}")))
            .key("sk", AttributeValue::S("A".into()))
            .send()
            .await
            .expect("get succeeds after retries");
        assert_eq!(
            got.item().and_then(|i| i.get("n")),
            Some(&AttributeValue::N(i.to_string()))
        );
    }
    // then faults were injected and retried: every call answered, some more than once
    let stats = proxy.stats();
    let injected = stats.total_injected(Service::DynamoDb);
    assert!(injected >= 5, "{stats:?}");
    assert_eq!(stats.total_requests(Service::DynamoDb), 60 + injected);
    let lost = stats
        .injected
        .get(&(Service::DynamoDb, Fault::LostAnswer))
        .copied()
        .unwrap_or(0);
    // a lost answer reached the emulator: it answered those too
    assert_eq!(answered.load(Ordering::Relaxed), 60 + lost);
    proxy.shutdown().await;
}

#[tokio::test]
async fn sqs_calls_through_a_failing_proxy_are_retried_and_succeed() {
    // given a proxy failing 30 % of SQS requests
    let sdk = emulator_config().await;
    let stack = fresh_stack(&sdk).await;
    let queue = stack.queue_url("WebhookQueue").expect("queue").to_owned();
    let proxy = faultproxy::start(
        &endpoint(),
        FaultConfig {
            rate: 0.3,
            seed: 8,
            ..FaultConfig::default()
        },
        None,
    )
    .await
    .expect("proxy starts");
    let sqs = aws_sdk_sqs::Client::new(&through(&sdk, &proxy.url));
    // when 20 messages are sent through it
    for i in 0..20 {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("send succeeds after retries");
    }
    // then SQS faults of both kinds were answered and retried, and each message is on the
    // queue (a lost answer's send took effect: it may be there twice)
    let stats = proxy.stats();
    assert!(stats.total_injected(Service::Sqs) >= 3, "{stats:?}");
    let direct = aws_sdk_sqs::Client::new(&sdk);
    let mut bodies = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let got = direct
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        if got.messages().is_empty() {
            break;
        }
        bodies.extend(
            got.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
    }
    assert_eq!(bodies.len(), 20);
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults_into_the_same_calls() {
    async fn run(sdk: &SdkConfig, table: &str, seed: u64) -> Vec<(Service, Fault, u64)> {
        let proxy = faultproxy::start(
            &endpoint(),
            FaultConfig {
                rate: 0.25,
                seed,
                ..FaultConfig::default()
            },
            None,
        )
        .await
        .expect("proxy starts");
        let ddb = aws_sdk_dynamodb::Client::new(&through(sdk, &proxy.url));
        for i in 0..20 {
            ddb.put_item()
                .table_name(table)
                .item("pk", AttributeValue::S(format!("S#{i}")))
                .item("sk", AttributeValue::S("A".into()))
                .send()
                .await
                .expect("put");
        }
        let stats = proxy.stats();
        proxy.shutdown().await;
        stats
            .injected
            .into_iter()
            .map(|((s, f), n)| (s, f, n))
            .collect()
    }
    let sdk = emulator_config().await;
    let table = fresh_table(&sdk).await;
    assert_eq!(run(&sdk, &table, 21).await, run(&sdk, &table, 21).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_writes_through_the_proxy_let_exactly_one_win() {
    // given a proxy that injects nothing and serialises conditional writes
    let sdk = emulator_config().await;
    let table = fresh_table(&sdk).await;
    let proxy = faultproxy::start(&endpoint(), FaultConfig::default(), None)
        .await
        .expect("proxy starts");
    let ddb = aws_sdk_dynamodb::Client::new(&through(&sdk, &proxy.url));
    // when 16 writers race to create one item
    let writers = (0..16).map(|i| {
        let ddb = ddb.clone();
        let table = table.clone();
        tokio::spawn(async move {
            ddb.put_item()
                .table_name(&table)
                .item("pk", AttributeValue::S("RACE".into()))
                .item("sk", AttributeValue::S("A".into()))
                .item("writer", AttributeValue::N(i.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .is_ok()
        })
    });
    let won = futures::future::join_all(writers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    // then exactly one succeeded, as on DynamoDB
    assert_eq!(won, 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_request_whose_caller_went_away_still_reaches_the_tap_with_the_emulators_answer() {
    // given an upstream that answers 300 ms late, and a proxy in front of it with a tap
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let upstream = format!("http://{}", listener.local_addr().expect("addr"));
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "{}"
    });
    let server = tokio::spawn(async move { axum::serve(listener, slow).await });
    let seen = Arc::new(AtomicU64::new(0));
    let tap: Tap = {
        let seen = Arc::clone(&seen);
        Arc::new(move |exchange| {
            if exchange.operation == "PutItem" && exchange.status == 200 {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let proxy = faultproxy::start(&upstream, FaultConfig::default(), Some(tap))
        .await
        .expect("proxy starts");

    // when a caller sends a write and goes away after 50 ms (a killed poller's function)
    let gone = reqwest::Client::new()
        .post(&proxy.url)
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .body("{}")
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(gone.is_err_and(|e| e.is_timeout()));

    // then the forwarded write still gets its answer to the tap
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.load(Ordering::Relaxed) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.load(Ordering::Relaxed), 1);
    assert_eq!(
        proxy
            .stats()
            .requests
            .get(&(Service::DynamoDb, "PutItem".to_owned())),
        Some(&1)
    );
    proxy.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn an_outage_answers_every_call_of_its_service_with_a_500_and_forwards_none() {
    // given a proxy with DynamoDB out, and clients of both services through it
    let sdk = emulator_config().await;
    let stack = fresh_stack(&sdk).await;
    let table = stack.table_name.clone();
    let queue = stack.queue_url("WebhookQueue").expect("queue").to_owned();
    let proxy = faultproxy::start(&endpoint(), FaultConfig::default(), None)
        .await
        .expect("proxy starts");
    proxy.set_outage(Service::DynamoDb, true);
    let through = through_with_attempts(&sdk, &proxy.url, 3);
    let ddb = aws_sdk_dynamodb::Client::new(&through);
    let put = |n: &str| {
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("OUTAGE".into()))
            .item("sk", AttributeValue::S("A".into()))
            .item("n", AttributeValue::N(n.into()))
            .send()
    };

    // when a write is tried during the outage
    let error = put("1").await.expect_err("DynamoDB is out");

    // then every attempt got DynamoDB's 500 and none reached the emulator
    let service_error = error.into_service_error();
    assert!(
        service_error.is_internal_server_error(),
        "{service_error:?}"
    );
    let stats = proxy.stats();
    assert_eq!(stats.outage_answers.get(&Service::DynamoDb), Some(&3));
    assert_eq!(stats.total_requests(Service::DynamoDb), 0);
    let direct = aws_sdk_dynamodb::Client::new(&sdk);
    let stored = direct
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("OUTAGE".into()))
        .key("sk", AttributeValue::S("A".into()))
        .send()
        .await
        .expect("direct read");
    assert!(stored.item().is_none());

    // and SQS goes on meanwhile
    aws_sdk_sqs::Client::new(&through)
        .send_message()
        .queue_url(&queue)
        .message_body("during the outage")
        .send()
        .await
        .expect("SQS is up");

    // and once the outage ends, the write goes through
    proxy.set_outage(Service::DynamoDb, false);
    put("2").await.expect("DynamoDB is back");
    assert_eq!(proxy.stats().total_requests(Service::DynamoDb), 1);
    proxy.shutdown().await;
}
