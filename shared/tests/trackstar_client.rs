//! The Trackstar client against the Trackstar simulator: pagination, error mapping,
//! retries, idempotent writes, rate limits, the circuit breaker and token refresh.
//!
//! Limits are compressed through config where the behaviour stays the same; the one
//! rate-limit test keeps Trackstar's real 10 GET/s.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use packr::domain::{
    ConnectionId, Currency, Money, OrderId, Sku, TenantId, Timestamp, WarehouseCustomerId,
};
use packr::secrets::{InMemorySecretSource, SecretError, SecretSource};
use packr::trackstar::wire::TrackstarOrder;
use packr::trackstar::{
    BreakerPolicy, BreakerState, ConnectionCredentials, CreateOrderRequest, IdempotencyKey,
    ListFilter, OrderFields, RetryPolicy, TrackstarClient, TrackstarConfig, TrackstarError,
    WriteAddress, WriteLineItem,
};
use secrecy::SecretString;
use trackstar_sim::{FaultSpec, SimConfig, SimConnection, SimHandle};

const TOKEN_SECRET: &str = "trackstar/conn_demo/token";

fn fast_sim(orders: usize) -> SimConfig {
    SimConfig {
        orders_per_connection: orders,
        get_rate_per_sec: 10_000,
        write_rate_per_sec: 10_000,
        ..SimConfig::default()
    }
}

fn fast_config(sim: &SimHandle) -> TrackstarConfig {
    TrackstarConfig {
        base_url: sim.base_url.clone(),
        get_rate: NonZeroU32::new(5_000).unwrap(),
        write_rate: NonZeroU32::new(5_000).unwrap(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_rate_limit_wait: Duration::from_secs(3),
        },
        breaker: BreakerPolicy {
            failure_threshold: 1_000,
            window: Duration::from_secs(10),
            reset_timeout: Duration::from_secs(1),
        },
        ..TrackstarConfig::default()
    }
}

fn client(config: TrackstarConfig, secrets: Arc<dyn SecretSource>) -> TrackstarClient {
    TrackstarClient::new(config, SecretString::from("sim_api_key"), secrets).unwrap()
}

fn demo_secrets() -> Arc<InMemorySecretSource> {
    Arc::new(InMemorySecretSource::with(TOKEN_SECRET, "tok_demo"))
}

fn demo_credentials() -> ConnectionCredentials {
    ConnectionCredentials::new(
        TenantId::parse("tenant_demo").unwrap(),
        ConnectionId::parse("conn_demo").unwrap(),
        TOKEN_SECRET,
    )
}

fn order_path(id: &str) -> String {
    format!("/wms/orders/{id}")
}

fn any_order_id(sim: &SimHandle) -> String {
    sim.truth("conn_demo").unwrap().orders[0].id.clone()
}

fn new_order_request(reference: &str) -> CreateOrderRequest {
    let usd = Currency::parse("USD").unwrap();
    CreateOrderRequest {
        fields: OrderFields {
            reference_id: Some(reference.to_owned()),
            order_number: Some(format!("N-{reference}")),
            warehouse_customer_id: Some(WarehouseCustomerId::parse("wc_demo_1").unwrap()),
            channel: Some("web".into()),
            shipping_method_id: Some("ground".into()),
            service_level: Some("standard".into()),
            invoice_currency_code: Some(usd),
            total_price: Some(Money::from_minor(2500, usd)),
            total_tax: Some(Money::from_minor(0, usd)),
            total_discount: Some(Money::from_minor(0, usd)),
            total_shipping: Some(Money::from_minor(500, usd)),
            ship_to_address: Some(WriteAddress {
                full_name: Some("Test Person".into()),
                address1: Some("1 Main St".into()),
                city: Some("Austin".into()),
                state: Some("TX".into()),
                postal_code: Some("78701".into()),
                country: Some("US".into()),
                ..WriteAddress::default()
            }),
            line_items: vec![WriteLineItem {
                unit_price: Some(Money::from_minor(1000, usd)),
                ..WriteLineItem::new(Sku::parse("SKU-1").unwrap(), 2)
            }],
            trackstar_tags: Vec::new(),
        },
    }
}

// ---------------------------------------------------------------------------------------
// pagination

#[tokio::test]
async fn pagination_over_many_pages_yields_every_matching_order_exactly_once() {
    // given 2,500 orders, about half of them for one warehouse customer
    let sim = trackstar_sim::spawn(fast_sim(2_500)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    let truth = sim.truth("conn_demo").unwrap();
    let expected: HashSet<String> = truth
        .orders
        .iter()
        .filter(|o| o.warehouse_customer_id.as_deref() == Some("wc_demo_1"))
        .map(|o| o.id.clone())
        .collect();
    assert!(expected.len() > 1_000 && expected.len() < 2_500);
    let since = Timestamp::parse("2000-01-01T00:00:00Z").unwrap();

    for limit in [1_000_u32, 100] {
        sim.reset_requests();
        let filter = ListFilter::new()
            .warehouse_customer(&WarehouseCustomerId::parse("wc_demo_1").unwrap())
            .updated_since(since)
            .limit(limit)
            .unwrap();
        // when
        let pages: Vec<_> = client
            .pages::<TrackstarOrder>(&demo_credentials(), filter)
            .try_collect()
            .await
            .unwrap();
        // then every page was filtered, and together they hold each match once
        let ids: Vec<String> = pages
            .iter()
            .flat_map(|p| p.data.iter().filter_map(|o| o.id.clone()))
            .collect();
        let unique: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), unique.len(), "duplicates with limit {limit}");
        assert_eq!(unique, expected, "limit {limit}");
        assert!(pages.iter().all(|p| p
            .data
            .iter()
            .all(|o| o.warehouse_customer_id.as_deref() == Some("wc_demo_1"))));
        let expected_pages = expected.len().div_ceil(limit as usize);
        assert_eq!(pages.len(), expected_pages, "limit {limit}");
        assert!(pages.iter().all(|p| p.data.len() <= limit as usize));
        assert_eq!(pages.last().unwrap().next_token, None);
        assert_eq!(
            sim.requests().count("GET", "/wms/orders"),
            expected_pages as u64
        );
    }

    // and the item stream without filters walks all 2,500
    let all: Vec<TrackstarOrder> = client
        .list_orders(&demo_credentials(), ListFilter::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2_500);
    sim.shutdown().await;
}

#[tokio::test]
async fn items_convert_into_domain_orders() {
    // given
    let sim = trackstar_sim::spawn(fast_sim(30)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    let ctx = packr::trackstar::ConversionContext {
        tenant_id: packr::domain::TenantId::parse("t1").unwrap(),
        brand_id: None,
        connection_id: ConnectionId::parse("conn_demo").unwrap(),
        fallback_currency: Currency::parse("USD").unwrap(),
    };
    // when
    let orders: Vec<TrackstarOrder> = client
        .list_orders(&demo_credentials(), ListFilter::new())
        .try_collect()
        .await
        .unwrap();
    // then every simulated order converts
    assert_eq!(orders.len(), 30);
    for order in orders {
        let domain = order.into_domain(&ctx).unwrap();
        assert_eq!(domain.currency, domain.totals.price.map(|m| m.currency()));
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// errors and retries

#[tokio::test]
async fn every_error_status_maps_to_its_variant_and_only_retryable_ones_are_retried() {
    // given a sim that fails every request with one status at a time
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let secrets = demo_secrets();
    let client = client(fast_config(&sim), secrets.clone());
    let id = any_order_id(&sim);
    let order_id = OrderId::parse(id.clone()).unwrap();

    type Check = fn(&TrackstarError) -> bool;
    let cases: Vec<(u16, Check, u64)> = vec![
        (403, |e| matches!(e, TrackstarError::Forbidden { .. }), 1),
        (404, |e| matches!(e, TrackstarError::NotFound { .. }), 1),
        (409, |e| matches!(e, TrackstarError::Conflict { .. }), 1),
        (400, |e| matches!(e, TrackstarError::BadRequest { .. }), 1),
        (422, |e| matches!(e, TrackstarError::Validation { .. }), 1),
        (
            501,
            |e| matches!(e, TrackstarError::NotImplemented { .. }),
            1,
        ),
        (429, |e| matches!(e, TrackstarError::RateLimited { .. }), 3),
        (
            500,
            |e| matches!(e, TrackstarError::Upstream { status: 500, .. }),
            3,
        ),
        (
            502,
            |e| matches!(e, TrackstarError::Upstream { status: 502, .. }),
            3,
        ),
        (
            503,
            |e| matches!(e, TrackstarError::Upstream { status: 503, .. }),
            3,
        ),
        // a 401 is not retried, but the token is read afresh once and tried again
        (401, |e| matches!(e, TrackstarError::Unauthorized { .. }), 2),
    ];
    for (status, is_expected, expected_requests) in cases {
        sim.reset_requests();
        sim.set_faults("conn_demo", FaultSpec::error(status, None));
        // when
        let err = client
            .get_order(&demo_credentials(), &order_id)
            .await
            .unwrap_err();
        // then
        assert!(is_expected(&err), "{status} mapped to {err:?}");
        assert!(
            err.request_id().is_some_and(|r| r.starts_with("req_")),
            "{status}: no request id"
        );
        assert_eq!(
            sim.requests().count("GET", &order_path(&id)),
            expected_requests,
            "requests for {status}"
        );
    }
    assert_eq!(secrets.invalidation_count(), 1);
    // 4xx never tripped the breaker (and 5xx stayed under its threshold)
    assert_eq!(
        client
            .breaker_state(&ConnectionId::parse("conn_demo").unwrap())
            .state,
        BreakerState::Closed
    );
    sim.shutdown().await;
}

/// A plain HTTP listener on loopback that records the head of every request it gets and
/// answers `200 {}`: the "other host" a redirect points to.
async fn capture_server() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).to_lowercase());
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    });
    (base, heads)
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_credentials_never_reach_the_other_host() {
    // given a Trackstar that redirects every request to another host (a capture server)
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let (other_host, heads) = capture_server().await;
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            redirect_to: Some(other_host.clone()),
            ..FaultSpec::default()
        },
    );
    let client = client(fast_config(&sim), demo_secrets());
    let id = any_order_id(&sim);

    // when the client reads an order
    let err = client
        .get_order(&demo_credentials(), &OrderId::parse(id.clone()).unwrap())
        .await
        .unwrap_err();

    // then the redirect is an error, asked once (not retried, no breaker failure), and the
    // other host saw no request at all
    assert!(
        matches!(err, TrackstarError::Redirected { status: 307, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.trips_breaker());
    assert_eq!(sim.requests().count("GET", &order_path(&id)), 1);
    assert!(
        heads.lock().unwrap().is_empty(),
        "{:?}",
        heads.lock().unwrap()
    );

    // control: a client that follows redirects (reqwest's default policy) hands the
    // other host both credentials, which is what the refusal prevents
    let follower = reqwest::Client::builder()
        .use_preconfigured_tls(packr::runtime::tls::client_config().unwrap())
        .build()
        .unwrap();
    let answer = follower
        .get(format!("{}{}", sim.base_url, order_path(&id)))
        .header("x-trackstar-api-key", "sim_api_key")
        .header("x-trackstar-access-token", "tok_demo")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].contains("x-trackstar-api-key: sim_api_key"));
    assert!(heads[0].contains("x-trackstar-access-token: tok_demo"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_response_over_the_cap_is_refused_and_one_under_it_is_read() {
    // given a client capped at 64 KiB and a Trackstar answering with 1 MiB
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            oversize_bytes: Some(1024 * 1024),
            ..FaultSpec::default()
        },
    );
    let config = TrackstarConfig {
        max_response_bytes: 64 * 1024,
        ..fast_config(&sim)
    };
    let client = client(config, demo_secrets());
    let id = any_order_id(&sim);
    let order_id = OrderId::parse(id.clone()).unwrap();

    // when
    let err = client
        .get_order(&demo_credentials(), &order_id)
        .await
        .unwrap_err();

    // then a clear, non-retryable error naming the cap, asked once
    assert!(
        matches!(err, TrackstarError::ResponseTooLarge { limit: 65_536, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("65536-byte cap"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(sim.requests().count("GET", &order_path(&id)), 1);

    // and once the fault is gone the same capped client reads the order
    sim.clear_faults("conn_demo");
    let order = client
        .get_order(&demo_credentials(), &order_id)
        .await
        .unwrap();
    assert_eq!(order.id.as_deref(), Some(id.as_str()));
    sim.shutdown().await;
}

#[test]
fn a_client_for_a_plain_http_trackstar_off_loopback_is_refused() {
    // given / when
    let config = TrackstarConfig {
        base_url: "http://production.trackstarhq.com".into(),
        ..TrackstarConfig::default()
    };
    let built = TrackstarClient::new(config, SecretString::from("key"), demo_secrets());
    // then
    assert!(
        matches!(
            built,
            Err(packr::trackstar::ConfigError::InsecureBaseUrl { .. })
        ),
        "built a client that would send credentials in clear text"
    );
}

#[tokio::test]
async fn a_rejected_write_reports_its_fields_and_an_unknown_order_is_not_found() {
    // given
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    // when an order is created with nothing but a reference
    let request = CreateOrderRequest {
        fields: OrderFields {
            reference_id: Some("only-a-ref".into()),
            ..OrderFields::default()
        },
    };
    let err = client
        .create_order(&demo_credentials(), &request, &IdempotencyKey::generate())
        .await
        .unwrap_err();
    // then the missing fields come back by name
    let TrackstarError::Validation { details, meta } = &err else {
        panic!("expected a validation error, got {err:?}");
    };
    assert!(details.contains_key("order_number"), "{details:?}");
    assert!(meta.request_id.is_some());
    assert_eq!(sim.requests().count("POST", "/wms/orders"), 1);

    // and a real 404
    let missing = OrderId::parse("ord_does_not_exist").unwrap();
    let err = client
        .get_order(&demo_credentials(), &missing)
        .await
        .unwrap_err();
    assert!(matches!(err, TrackstarError::NotFound { .. }), "{err:?}");
    assert_eq!(
        sim.requests()
            .count("GET", &order_path("ord_does_not_exist")),
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_write_retried_after_a_timeout_is_created_once() {
    // given a sim whose first POST takes longer than the client waits
    let sim = Arc::new(trackstar_sim::spawn(fast_sim(5)).await.unwrap());
    let config = TrackstarConfig {
        request_timeout: Duration::from_millis(400),
        ..fast_config(&sim)
    };
    let client = client(config, demo_secrets());
    let before = sim.truth("conn_demo").unwrap().orders.len();
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            latency_ms: 1_200,
            methods: vec!["POST".into()],
            ..FaultSpec::default()
        },
    );
    let clearer = {
        let sim = Arc::clone(&sim);
        tokio::spawn(async move {
            while sim.requests().count("POST", "/wms/orders") == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sim.clear_faults("conn_demo");
        })
    };
    let key = IdempotencyKey::generate();
    // when
    let result = client
        .create_order(&demo_credentials(), &new_order_request("timeout-1"), &key)
        .await
        .unwrap();
    clearer.await.unwrap();
    // let the slow first attempt finish on the server, if it still runs
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // then
    let created = result.id.clone().expect("an id");
    assert!(sim.requests().count("POST", "/wms/orders") >= 2);
    assert_eq!(sim.requests().applied_to(&created), 1);
    assert_eq!(sim.truth("conn_demo").unwrap().orders.len(), before + 1);
}

#[tokio::test]
async fn a_write_whose_response_was_lost_is_replayed_not_repeated() {
    // given the first POST is applied but answered with a 502
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    let before = sim.truth("conn_demo").unwrap().orders.len();
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            status: Some(502),
            count: Some(1),
            after_apply: true,
            methods: vec!["POST".into()],
            ..FaultSpec::default()
        },
    );
    // when
    let result = client
        .create_order(
            &demo_credentials(),
            &new_order_request("lost-1"),
            &IdempotencyKey::generate(),
        )
        .await
        .unwrap();
    // then the retry with the same key got the stored first result
    assert!(result.replayed);
    assert_eq!(sim.requests().count("POST", "/wms/orders"), 2);
    assert_eq!(sim.truth("conn_demo").unwrap().orders.len(), before + 1);
    assert_eq!(sim.requests().applied_to(result.id.as_deref().unwrap()), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says_then_succeeds() {
    // given one 429 with `retry-after: 1`
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    let id = any_order_id(&sim);
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            rate_limit_storm: 1,
            ..FaultSpec::default()
        },
    );
    // when
    let started = Instant::now();
    let order = client
        .get_order(&demo_credentials(), &OrderId::parse(id.clone()).unwrap())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    // then
    assert_eq!(order.id.as_deref(), Some(id.as_str()));
    assert!(
        elapsed >= Duration::from_millis(950),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "waited {elapsed:?}");
    let requests = sim.requests();
    assert_eq!(requests.served(429), 1);
    assert_eq!(requests.count("GET", &order_path(&id)), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_configured_wait_is_returned_at_once() {
    // given one 429 with `retry-after: 1` and a client that waits at most 200 ms
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let mut config = fast_config(&sim);
    config.retry.max_rate_limit_wait = Duration::from_millis(200);
    let client = client(config, demo_secrets());
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            rate_limit_storm: 1,
            ..FaultSpec::default()
        },
    );
    // when
    let err = client
        .get_order(
            &demo_credentials(),
            &OrderId::parse(any_order_id(&sim)).unwrap(),
        )
        .await
        .unwrap_err();
    // then the caller learns how long to wait, after one request
    assert!(
        matches!(err, TrackstarError::RateLimited { retry_after: Some(d), .. } if d >= Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(sim.requests().total, 1);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// circuit breaker

#[tokio::test]
async fn the_breaker_opens_fails_fast_half_opens_and_closes_or_reopens() {
    // given a breaker that opens after 3 failures and probes after 400 ms, no retries
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let config = TrackstarConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..fast_config(&sim).retry
        },
        breaker: BreakerPolicy {
            failure_threshold: 3,
            window: Duration::from_secs(10),
            reset_timeout: Duration::from_millis(400),
        },
        ..fast_config(&sim)
    };
    let client = client(config, demo_secrets());
    let conn = ConnectionId::parse("conn_demo").unwrap();
    let id = any_order_id(&sim);
    let order_id = OrderId::parse(id.clone()).unwrap();
    let creds = demo_credentials();
    let get = || client.get_order(&creds, &order_id);

    // 4xx never trips it
    sim.set_faults("conn_demo", FaultSpec::error(404, None));
    for _ in 0..5 {
        assert!(matches!(get().await, Err(TrackstarError::NotFound { .. })));
    }
    assert_eq!(client.breaker_state(&conn).state, BreakerState::Closed);
    assert_eq!(client.breaker_state(&conn).failures_in_window, 0);

    // when three 503s arrive
    sim.set_faults("conn_demo", FaultSpec::error(503, None));
    for _ in 0..3 {
        assert!(matches!(
            get().await,
            Err(TrackstarError::Upstream { status: 503, .. })
        ));
    }
    // then it is open and fails fast without reaching the sim
    let snap = client.breaker_state(&conn);
    assert_eq!(snap.state, BreakerState::Open);
    assert!(snap.opened_at.is_some());
    sim.reset_requests();
    for _ in 0..10 {
        assert!(matches!(
            get().await,
            Err(TrackstarError::CircuitOpen { .. })
        ));
    }
    assert_eq!(sim.requests().total, 0);

    // after the reset timeout it half-opens; a failing probe re-opens it
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(client.breaker_state(&conn).state, BreakerState::HalfOpen);
    assert!(matches!(
        get().await,
        Err(TrackstarError::Upstream { status: 503, .. })
    ));
    assert_eq!(sim.requests().total, 1);
    assert_eq!(client.breaker_state(&conn).state, BreakerState::Open);
    assert!(matches!(
        get().await,
        Err(TrackstarError::CircuitOpen { .. })
    ));
    assert_eq!(sim.requests().total, 1);

    // a good probe closes it
    sim.clear_faults("conn_demo");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(get().await.is_ok());
    let snap = client.breaker_state(&conn);
    assert_eq!(snap.state, BreakerState::Closed);
    assert_eq!(snap.times_opened, 2);
    assert!(get().await.is_ok());
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// token refresh

/// Serves a stale token until invalidated, then the current one.
struct RotatedToken {
    rotated: AtomicBool,
    invalidations: AtomicUsize,
    current: &'static str,
}

#[async_trait]
impl SecretSource for RotatedToken {
    async fn get(&self, _name: &str) -> Result<SecretString, SecretError> {
        let value = if self.rotated.load(Ordering::SeqCst) {
            self.current
        } else {
            "tok_stale"
        };
        Ok(SecretString::from(value))
    }

    async fn invalidate(&self, _name: &str) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.rotated.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    // given a cached token that was rotated upstream
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let secrets = Arc::new(RotatedToken {
        rotated: AtomicBool::new(false),
        invalidations: AtomicUsize::new(0),
        current: "tok_demo",
    });
    let client = client(fast_config(&sim), secrets.clone());
    let id = any_order_id(&sim);
    // when
    let order = client
        .get_order(&demo_credentials(), &OrderId::parse(id.clone()).unwrap())
        .await
        .unwrap();
    // then
    assert_eq!(order.id.as_deref(), Some(id.as_str()));
    assert_eq!(secrets.invalidations.load(Ordering::SeqCst), 1);
    let requests = sim.requests();
    assert_eq!(requests.served(401), 1);
    assert_eq!(requests.served(200), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_still_rejected_after_refresh_is_unauthorized() {
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let secrets = Arc::new(RotatedToken {
        rotated: AtomicBool::new(false),
        invalidations: AtomicUsize::new(0),
        current: "tok_revoked",
    });
    let client = client(fast_config(&sim), secrets.clone());
    let err = client
        .get_order(
            &demo_credentials(),
            &OrderId::parse(any_order_id(&sim)).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackstarError::Unauthorized { .. }),
        "{err:?}"
    );
    assert_eq!(secrets.invalidations.load(Ordering::SeqCst), 1);
    assert_eq!(sim.requests().served(401), 2);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// link flow

#[tokio::test]
async fn the_link_flow_exchanges_a_code_for_a_token_and_reads_the_connection() {
    let sim = trackstar_sim::spawn(fast_sim(5)).await.unwrap();
    let client = client(fast_config(&sim), demo_secrets());
    let link = client.create_link_token(None).await.unwrap();
    assert!(!link.link_token.is_empty());
    assert!(!format!("{link:?}").contains(&link.link_token));

    let exchanged = client
        .exchange_auth_code(&SecretString::from("auth_conn_demo"), None)
        .await
        .unwrap();
    assert_eq!(exchanged.connection_id, "conn_demo");
    assert!(!format!("{exchanged:?}").contains("tok_demo"));
    use secrecy::ExposeSecret;
    assert_eq!(exchanged.access_token.expose_secret(), "tok_demo");

    let connection = client
        .get_connection(&ConnectionId::parse("conn_demo").unwrap())
        .await
        .unwrap();
    assert_eq!(connection.connection_id.as_deref(), Some("conn_demo"));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// rate limiting (real limits: the one long test)

#[tokio::test]
async fn a_burst_of_200_gets_stays_under_10_per_second_and_tokens_are_independent() {
    // given the sim's real limit of 10 GET/s per token, and two connections
    let mut config = SimConfig {
        orders_per_connection: 5,
        ..SimConfig::default()
    };
    config
        .connections
        .push(SimConnection::new("conn_b", "tok_b"));
    let sim = trackstar_sim::spawn(config).await.unwrap();
    let secrets = demo_secrets();
    secrets.set("trackstar/conn_b/token", "tok_b");
    let client = client(
        TrackstarConfig {
            base_url: sim.base_url.clone(),
            ..TrackstarConfig::default()
        },
        secrets,
    );
    let a = demo_credentials();
    let b = ConnectionCredentials::new(
        TenantId::parse("tenant_demo").unwrap(),
        ConnectionId::parse("conn_b").unwrap(),
        "trackstar/conn_b/token",
    );
    let a_id = OrderId::parse(any_order_id(&sim)).unwrap();
    let b_id = OrderId::parse(sim.truth("conn_b").unwrap().orders[0].id.clone()).unwrap();

    // when 200 GETs on token A and 20 on token B are all issued at once
    let started = Instant::now();
    let burst_a = futures::stream::iter(0..200)
        .map(|_| {
            let client = client.clone();
            let (a, a_id) = (a.clone(), a_id.clone());
            async move {
                client.get_order(&a, &a_id).await?;
                Ok::<Duration, TrackstarError>(started.elapsed())
            }
        })
        .buffer_unordered(200)
        .try_collect::<Vec<Duration>>();
    let burst_b = async {
        futures::stream::iter(0..20)
            .map(|_| {
                let client = client.clone();
                let (b, b_id) = (b.clone(), b_id.clone());
                async move { client.get_order(&b, &b_id).await }
            })
            .buffer_unordered(20)
            .try_collect::<Vec<_>>()
            .await?;
        Ok::<Duration, TrackstarError>(started.elapsed())
    };
    let (done_a, done_b) = tokio::join!(burst_a, burst_b);
    let mut done_a = done_a.unwrap();
    let b_elapsed = done_b.unwrap();
    let a_elapsed = started.elapsed();

    // then the sim (a sliding one-second window) never refused one
    let requests = sim.requests();
    assert_eq!(requests.served(429), 0);
    assert_eq!(requests.served(200), 220);
    // A needed at least 19.9 s at 10/s; B was not held up behind A
    assert!(a_elapsed >= Duration::from_millis(19_900), "{a_elapsed:?}");
    assert!(b_elapsed < Duration::from_secs(4), "B took {b_elapsed:?}");
    // and no one-second window of completions holds more than 10 (+1 for jitter)
    done_a.sort();
    let most_in_a_second = done_a
        .iter()
        .enumerate()
        .map(|(i, t)| {
            done_a[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most_in_a_second <= 11, "{most_in_a_second} in one second");
    let rate = 200.0 / a_elapsed.as_secs_f64();
    eprintln!(
        "200 GETs on one token: {a_elapsed:?} ({rate:.2}/s), busiest second {most_in_a_second}; \
         20 GETs on another token alongside: {b_elapsed:?}"
    );
    sim.shutdown().await;
}
