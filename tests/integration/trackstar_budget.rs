//! The shared Trackstar rate budget and circuit breaker (one DynamoDB item per access
//! token) against the AWS emulator and the Trackstar simulator: several processes and
//! client instances on one token, priorities, the shared breaker, and failing open when
//! DynamoDB cannot be reached.

use std::num::NonZeroU32;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use futures::StreamExt;
use packr::domain::{ConnectionId, OrderId, TenantId};
use packr::secrets::InMemorySecretSource;
use packr::trackstar::{
    BreakerPolicy, BreakerState, ConnectionCredentials, DynamoBudget, Priority, RetryPolicy,
    TrackstarClient, TrackstarConfig, TrackstarError,
};
use secrecy::SecretString;
use trackstar_sim::{FaultSpec, SimConfig, SimHandle};

const TOKEN_SECRET: &str = "trackstar/conn_demo/token";
const CHILD_ROLE: &str = "PACKR_BUDGET_CHILD";
const THREE_PROCESSES: &str =
    "trackstar_budget::three_processes_on_one_token_share_its_10_gets_per_second_without_a_429";

fn credentials() -> ConnectionCredentials {
    ConnectionCredentials::new(
        TenantId::parse("tenant_budget").unwrap(),
        ConnectionId::parse("conn_demo").unwrap(),
        TOKEN_SECRET,
    )
}

fn secrets() -> Arc<InMemorySecretSource> {
    Arc::new(InMemorySecretSource::with(TOKEN_SECRET, "tok_demo"))
}

/// Trackstar's real limits (10 GET/s), the production client defaults otherwise.
fn real_config(base_url: &str) -> TrackstarConfig {
    TrackstarConfig {
        base_url: base_url.to_owned(),
        ..TrackstarConfig::default()
    }
}

/// One client instance (its own in-process limiter and breaker) on the shared budget.
fn instance(sdk: &SdkConfig, table: &str, config: TrackstarConfig) -> TrackstarClient {
    TrackstarClient::new(config, SecretString::from("sim_api_key"), secrets())
        .unwrap()
        .with_shared_budget(DynamoBudget::new(
            aws_sdk_dynamodb::Client::new(sdk),
            table.to_owned(),
        ))
}

fn any_order(sim: &SimHandle) -> OrderId {
    OrderId::parse(sim.truth("conn_demo").unwrap().orders[0].id.clone()).unwrap()
}

fn gets_served(sim: &SimHandle) -> u64 {
    sim.requests()
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/wms/orders/"))
        .map(|r| r.count)
        .sum()
}

async fn real_sim() -> SimHandle {
    trackstar_sim::spawn(SimConfig {
        orders_per_connection: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// three processes, one token

/// The child role: GETs on the token from `start` to `start + seconds`, with 8 callers,
/// then prints what it did on one line.
async fn run_child() {
    let var = |name: &str| std::env::var(name).unwrap();
    let sdk = packr_local::testing::emulator_config().await;
    let client = instance(
        &sdk,
        &var("BUDGET_TABLE"),
        real_config(&var("BUDGET_SIM_URL")),
    );
    let order = OrderId::parse(var("BUDGET_ORDER")).unwrap();
    let start_ms: i64 = var("BUDGET_START_MS").parse().unwrap();
    let seconds: i64 = var("BUDGET_SECONDS").parse().unwrap();
    let end_ms = start_ms + seconds * 1000;
    let wait = start_ms - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(wait.max(0).unsigned_abs())).await;
    let ok = Arc::new(AtomicU64::new(0));
    let in_window = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (client, order) = (client.clone(), order.clone());
            let (ok, in_window, failed) = (ok.clone(), in_window.clone(), failed.clone());
            tokio::spawn(async move {
                while chrono::Utc::now().timestamp_millis() < end_ms {
                    match client.get_order(&credentials(), &order).await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            if chrono::Utc::now().timestamp_millis() <= end_ms {
                                in_window.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    let stats = client.shared_budget().unwrap().stats();
    println!(
        "BUDGET_CHILD ok={} in_window={} failed={} updates={} refused={} reads={}",
        ok.load(Ordering::Relaxed),
        in_window.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        stats.updates,
        stats.refused,
        stats.reads
    );
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_token_share_its_10_gets_per_second_without_a_429() {
    if std::env::var_os(CHILD_ROLE).is_some() {
        run_child().await;
        return;
    }
    // given the simulator at Trackstar's real 10 GET/s, one budget table, and three
    // processes, each with its own client (own in-process limiter) and 8 callers
    let sim = real_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let seconds = 10_i64;
    let processes: usize = std::env::var("BUDGET_PROCESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let start_ms = chrono::Utc::now().timestamp_millis() + 4_000;

    // when they all GET on the one token for 10 s
    let children: Vec<_> = (0..processes)
        .map(|_| {
            tokio::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    THREE_PROCESSES,
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ROLE, "1")
                .env("BUDGET_TABLE", &table)
                .env("BUDGET_SIM_URL", &sim.base_url)
                .env("BUDGET_ORDER", any_order(&sim).as_str())
                .env("BUDGET_START_MS", start_ms.to_string())
                .env("BUDGET_SECONDS", seconds.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut lines = Vec::new();
    for child in children {
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("a child process did not finish in time")
            .unwrap();
        assert!(output.status.success(), "child failed: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let line = stdout
            .find("BUDGET_CHILD")
            .and_then(|at| stdout[at..].lines().next())
            .unwrap_or_else(|| panic!("no result line in {stdout:?}"))
            .to_owned();
        lines.push(line);
    }

    // then no 429 was served, and the combined rate is within 10 % of 10 GET/s
    let requests = sim.requests();
    let served = gets_served(&sim);
    let in_window: u64 = lines.iter().map(|l| field(l, "in_window")).sum();
    let rate = in_window as f64 / seconds as f64;
    let ok: u64 = lines.iter().map(|l| field(l, "ok")).sum();
    let failed: u64 = lines.iter().map(|l| field(l, "failed")).sum();
    let updates: u64 = lines.iter().map(|l| field(l, "updates")).sum();
    let refused: u64 = lines.iter().map(|l| field(l, "refused")).sum();
    let reads: u64 = lines.iter().map(|l| field(l, "reads")).sum();
    println!(
        "{processes} processes: {in_window} GETs answered within {seconds} s = {rate:.2}/s \
         ({served} served in all); 429 × {}; ok {ok}, failed {failed}; DynamoDB: {updates} UpdateItem ({refused} refused), \
         {reads} GetItem = {:.2} writes per Trackstar request; per process: {lines:?}",
        requests.served(429),
        updates as f64 / ok.max(1) as f64,
    );
    assert_eq!(requests.served(429), 0);
    assert_eq!(failed, 0);
    assert!(
        (9.0..=11.0).contains(&rate),
        "combined GET rate {rate:.2}/s"
    );
    assert!(
        lines.iter().all(|l| field(l, "ok") > 10),
        "every process got a share: {lines:?}"
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// priorities

#[tokio::test]
async fn an_interactive_call_gets_a_slot_within_a_few_background_slots_under_saturation() {
    // given two instances whose full-sync handles saturate the token with 8 callers each
    let sim = real_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let worker_a = instance(&sdk, &table, real_config(&sim.base_url));
    let worker_b = instance(&sdk, &table, real_config(&sim.base_url));
    let api = instance(&sdk, &table, real_config(&sim.base_url));
    let order = any_order(&sim);
    let background_done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..16)
        .map(|i| {
            let worker = if i % 2 == 0 { &worker_a } else { &worker_b };
            let full = worker.with_priority(Priority::Full);
            let (order, done, stop) = (order.clone(), background_done.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if full.get_order(&credentials(), &order).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // when interactive calls are made one after another on the same token, from another
    // instance and from one of the busy instances itself
    let mut overtaken = Vec::new();
    for i in 0..6 {
        let client = if i % 2 == 0 {
            api.clone()
        } else {
            worker_a.with_priority(Priority::Interactive)
        };
        let before = background_done.load(Ordering::Relaxed);
        client.get_order(&credentials(), &order).await.unwrap();
        overtaken.push(background_done.load(Ordering::Relaxed) - before);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    // then a typical one waited behind only the few slots full sync may book ahead (150 ms
    // ≈ 2 slots, plus the one in flight) and none behind all 16 queued background callers
    // (as a first-come-first-served queue would make it), and the token never saw a 429.
    // (Counted by completions, so a slow DynamoDB round trip on a loaded machine can add
    // one or two to a single call: hence the median.)
    let background = background_done.load(Ordering::Relaxed);
    println!("background requests completed during each interactive call: {overtaken:?}");
    assert!(background > 20, "the background load ran: {background}");
    let mut sorted = overtaken.clone();
    sorted.sort_unstable();
    assert!(sorted[3] <= 4, "{overtaken:?}");
    assert!(sorted[5] < 16, "{overtaken:?}");
    // Saturating the token from three instances on a loaded machine can let one request
    // arrive a DynamoDB round trip late and share a second with ten others; the client
    // retries it. The no-429 bound itself is the three-process test's.
    assert!(
        sim.requests().served(429) <= 2,
        "{}",
        sim.requests().served(429)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn incremental_sync_gets_the_slots_before_a_full_sync_on_the_same_token() {
    // given two instances on one token: one runs a full sync, the other an incremental one
    let sim = real_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let full = instance(&sdk, &table, real_config(&sim.base_url)).with_priority(Priority::Full);
    let incremental =
        instance(&sdk, &table, real_config(&sim.base_url)).with_priority(Priority::Incremental);
    let order = any_order(&sim);

    // when both saturate the token for 4 s
    let run = |client: TrackstarClient| {
        let order = order.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(4);
            let done = Arc::new(AtomicU64::new(0));
            let callers: Vec<_> = (0..8)
                .map(|_| {
                    let (client, order, done) = (client.clone(), order.clone(), done.clone());
                    tokio::spawn(async move {
                        while Instant::now() < deadline {
                            if client.get_order(&credentials(), &order).await.is_ok() {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for caller in callers {
                caller.await.unwrap();
            }
            done.load(Ordering::Relaxed)
        }
    };
    let (full_done, incremental_done) = tokio::join!(run(full), run(incremental));

    // then the incremental sync got most of the slots
    assert!(
        incremental_done > 3 * full_done,
        "incremental {incremental_done}, full {full_done}"
    );
    assert_eq!(sim.requests().served(429), 0);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// the shared breaker

fn breaker_config(base_url: &str) -> TrackstarConfig {
    TrackstarConfig {
        base_url: base_url.to_owned(),
        get_rate: NonZeroU32::new(1_000).unwrap(),
        write_rate: NonZeroU32::new(1_000).unwrap(),
        request_timeout: Duration::from_secs(3),
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        breaker: BreakerPolicy {
            failure_threshold: 3,
            window: Duration::from_secs(30),
            reset_timeout: Duration::from_millis(1_500),
        },
        ..TrackstarConfig::default()
    }
}

async fn fast_sim() -> SimHandle {
    trackstar_sim::spawn(SimConfig {
        orders_per_connection: 5,
        get_rate_per_sec: 10_000,
        write_rate_per_sec: 10_000,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn failures_seen_by_one_instance_open_the_breaker_for_another_and_one_probe_closes_it() {
    // given two client instances on one token, and a simulator failing with 503; their
    // DynamoDB calls go through a proxy that makes concurrent conditional writes of one
    // item atomic, as DynamoDB does and moto does not (without it two callers can both
    // win the probe lease on the emulator)
    let sim = fast_sim().await;
    let emulator = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&emulator).await;
    let (proxy, sdk) = packr_local::testing::through_fault_proxy(&emulator).await;
    let a = instance(&sdk, &table, breaker_config(&sim.base_url));
    let b = instance(&sdk, &table, breaker_config(&sim.base_url));
    let order = any_order(&sim);
    let tenant = credentials().tenant_id;
    let connection = credentials().connection_id;
    sim.set_faults("conn_demo", FaultSpec::error(503, None));

    // when instance A sees three 503s
    for _ in 0..3 {
        let error = a.get_order(&credentials(), &order).await.unwrap_err();
        assert!(matches!(
            error,
            TrackstarError::Upstream { status: 503, .. }
        ));
    }

    // then instance B fails fast without reaching the simulator
    let before = gets_served(&sim);
    let error = b.get_order(&credentials(), &order).await.unwrap_err();
    assert!(
        matches!(error, TrackstarError::CircuitOpen { .. }),
        "{error:?}"
    );
    assert_eq!(gets_served(&sim), before);
    let snapshot = b
        .shared_breaker(&tenant, &connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.state, BreakerState::Open);
    assert_eq!(snapshot.times_opened, 1);
    assert!(snapshot.opened_at.is_some());
    assert!(snapshot
        .retry_after
        .is_some_and(|r| r <= Duration::from_millis(1_500)));
    // B's in-process breaker never saw a failure: the shared one decided
    assert_eq!(b.breaker_state(&connection).state, BreakerState::Closed);

    // when the upstream recovers (holding the probe's answer until the other calls are
    // done) and, after the reset timeout, both instances send 5 calls each at once
    sim.set_faults(
        "conn_demo",
        FaultSpec {
            hold: true,
            ..FaultSpec::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let before = gets_served(&sim);
    let mut calls: futures::stream::FuturesUnordered<_> = (0..10)
        .map(|i| {
            let client = if i % 2 == 0 { a.clone() } else { b.clone() };
            let order = order.clone();
            tokio::spawn(async move { client.get_order(&credentials(), &order).await })
        })
        .collect();
    let mut results = Vec::new();
    while results.len() < 9 {
        let next = calls.next().await.expect("a call").expect("task");
        results.push(next);
    }
    sim.clear_faults("conn_demo");
    results.push(calls.next().await.expect("the probe").expect("task"));

    // then exactly one probe went out across both instances, the rest failed fast
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(TrackstarError::CircuitOpen { .. })))
        .count();
    assert_eq!((succeeded, refused), (1, 9), "{results:?}");
    assert_eq!(gets_served(&sim) - before, 1);

    // and its success closed the breaker for both instances
    let snapshot = a
        .shared_breaker(&tenant, &connection)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.state, BreakerState::Closed);
    assert_eq!(snapshot.failures_in_window, 0);
    assert_eq!(snapshot.times_opened, 1);
    a.get_order(&credentials(), &order).await.unwrap();
    b.get_order(&credentials(), &order).await.unwrap();
    proxy.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_probe_reopens_the_shared_breaker_for_another_reset_timeout() {
    // given an open shared breaker
    let sim = fast_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let a = instance(&sdk, &table, breaker_config(&sim.base_url));
    let b = instance(&sdk, &table, breaker_config(&sim.base_url));
    let order = any_order(&sim);
    sim.set_faults("conn_demo", FaultSpec::error(503, None));
    for _ in 0..3 {
        let _ = a.get_order(&credentials(), &order).await;
    }

    // when the reset timeout passes and B's probe fails too
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let probe = b.get_order(&credentials(), &order).await.unwrap_err();

    // then it is open again, for everyone, and counted as a second opening
    assert!(matches!(
        probe,
        TrackstarError::Upstream { status: 503, .. }
    ));
    let error = a.get_order(&credentials(), &order).await.unwrap_err();
    assert!(
        matches!(error, TrackstarError::CircuitOpen { .. }),
        "{error:?}"
    );
    let snapshot = a
        .shared_breaker(&credentials().tenant_id, &credentials().connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.state, BreakerState::Open);
    assert_eq!(snapshot.times_opened, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn client_errors_never_count_towards_the_shared_breaker() {
    // given two instances on one token
    let sim = fast_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let a = instance(&sdk, &table, breaker_config(&sim.base_url));
    let b = instance(&sdk, &table, breaker_config(&sim.base_url));
    let missing = OrderId::parse("ord_does_not_exist").unwrap();

    // when both get 404s, many more than the threshold
    for client in [&a, &b, &a, &b, &a, &b, &a, &b] {
        let error = client
            .get_order(&credentials(), &missing)
            .await
            .unwrap_err();
        assert!(matches!(error, TrackstarError::NotFound { .. }));
    }

    // then the shared breaker is closed with no failure counted, and calls still go out
    let snapshot = b
        .shared_breaker(&credentials().tenant_id, &credentials().connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.state, BreakerState::Closed);
    assert_eq!(snapshot.failures_in_window, 0);
    assert_eq!(snapshot.times_opened, 0);
    a.get_order(&credentials(), &any_order(&sim)).await.unwrap();
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// DynamoDB unreachable

#[tokio::test]
async fn with_dynamodb_unreachable_calls_still_go_out_paced_by_the_in_process_limiter() {
    // given a budget whose DynamoDB endpoint refuses connections (a closed loopback port)
    let sim = real_sim().await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sdk = packr_local::testing::emulator_config().await;
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("http://127.0.0.1:{closed_port}"))
            .build(),
    );
    let client = TrackstarClient::new(
        real_config(&sim.base_url),
        SecretString::from("sim_api_key"),
        secrets(),
    )
    .unwrap()
    .with_shared_budget(DynamoBudget::new(dynamo, "t-unreachable"));
    let order = any_order(&sim);

    // when 25 GETs are issued at once
    let started = Instant::now();
    let creds = credentials();
    let results =
        futures::future::join_all((0..25).map(|_| client.get_order(&creds, &order))).await;
    let elapsed = started.elapsed();

    // then every one succeeded, none was refused with a 429, and they were paced at the
    // token's rate by the in-process limiter (24 gaps of ~102 ms)
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(gets_served(&sim), 25);
    assert_eq!(sim.requests().served(429), 0);
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_with_metrics_counts_each_error_by_kind_and_the_breaker_opening_once() {
    // given a client emitting metrics, and a simulator failing with 503
    let sim = fast_sim().await;
    let sdk = packr_local::testing::emulator_config().await;
    let table = packr_local::testing::fresh_table(&sdk).await;
    let metrics = packr::metrics::RecordingSink::new();
    let client = instance(&sdk, &table, breaker_config(&sim.base_url))
        .with_metrics(Arc::new(metrics.clone()));
    let order = any_order(&sim);
    sim.set_faults("conn_demo", FaultSpec::error(503, None));

    // when it fails three times (the threshold) and is then refused by the open breaker
    for _ in 0..4 {
        assert!(client.get_order(&credentials(), &order).await.is_err());
    }

    // then three errors of their kind, one opening (a refusal is not an upstream error)
    let errors: Vec<_> = metrics
        .all()
        .into_iter()
        .filter(|m| m.name == "trackstar.errors")
        .collect();
    assert_eq!(errors.len(), 3);
    assert!(errors
        .iter()
        .all(|m| m.dimensions == vec![("kind", "upstream".to_owned())]));
    assert_eq!(metrics.total("trackstar.breaker_opened"), 1.0);
}
