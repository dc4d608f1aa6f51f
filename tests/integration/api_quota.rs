//! Per-tenant quotas (`packr::api::quota`) against the emulator: a flooding tenant gets 429s
//! with Retry-After while another is served, the admin quota is smaller and separate, the
//! bound holds across two independently built instances sharing the table, and a quota store
//! that cannot be reached fails open for the api class and closed for admin actions.
//! Limits refill once a minute, so what a test admits is counted, not timed.

use std::sync::Arc;
use std::time::Duration;

use packr::api::quota::{Limit, QuotaConfig, TenantQuotas};
use packr::api::ApiDeps;
use packr::metrics::RecordingSink;
use serde_json::json;

use crate::api_support::*;

const MINUTE: Duration = Duration::from_secs(60);

fn config(api: Limit, admin: Limit, block: u32) -> QuotaConfig {
    QuotaConfig {
        api,
        admin,
        block,
        timeout: Duration::from_millis(500),
    }
}

fn per_minute(count: u32, burst: u32) -> Limit {
    Limit::new(count, MINUTE, burst).unwrap()
}

/// `function`'s deps with quotas of their own (one "instance"), signing as the function
/// (so the IAM check holds the quota's requests to its role), recording metrics.
fn instance(s: &ApiStack, function: &str, config: QuotaConfig) -> (ApiDeps, RecordingSink) {
    let metrics = RecordingSink::new();
    let mut deps = s.deps_as(function);
    deps.metrics = Arc::new(metrics.clone());
    deps.quota = Some(Arc::new(TenantQuotas::new(
        aws_sdk_dynamodb::Client::new(&s.stack.sdk_as(function)),
        s.stack.table.clone(),
        config,
        deps.metrics.clone(),
    )));
    (deps, metrics)
}

fn get(path: &str, caller: &Caller) -> lambda_http::Request {
    event("GET", path, caller, None, &[])
}

fn sync_run(caller: &Caller, key: &str) -> lambda_http::Request {
    let body = json!({ "mode": "full" }).to_string();
    event(
        "POST",
        "/sync/run",
        caller,
        Some(&body),
        &[("Idempotency-Key", key)],
    )
}

/// Every refusal is a 429 `quota_exceeded` whose envelope's `retry_after` is its header's.
fn assert_refused(answer: &Answer) {
    assert_eq!(answer.status, 429, "{:?}", answer.body);
    assert_eq!(answer.code(), "quota_exceeded");
    let header: u64 = answer
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!(header >= 1);
    assert_eq!(answer.body["error"]["retry_after"], json!(header));
}

#[tokio::test]
async fn a_tenant_flooding_past_its_quota_gets_429s_while_another_tenant_is_served() {
    // given a quota of 10 requests at once, refilled once a minute, taken one per call
    let s = api_stack().await;
    let (deps, metrics) = instance(
        &s,
        "api-orders",
        config(per_minute(1, 10), per_minute(1, 1), 1),
    );
    let acme = Caller::admin(ACME);
    let globex = Caller::admin(GLOBEX);
    // when acme sends 30 requests and globex 10, interleaved
    let (mut acme_ok, mut acme_refused, mut globex_ok) = (0, 0, 0);
    for i in 0..30 {
        let answer = call(&deps, get("/orders?limit=5", &acme)).await;
        if answer.status == 200 {
            acme_ok += 1;
        } else {
            assert_refused(&answer);
            acme_refused += 1;
        }
        if i % 3 == 0 {
            let answer = call(&deps, get("/orders?limit=5", &globex)).await;
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            globex_ok += 1;
        }
    }
    // then acme got exactly its burst and 429s for the rest; globex was served every time
    assert_eq!((acme_ok, acme_refused), (10, 20));
    assert_eq!(globex_ok, 10);
    // and each refusal was counted with acme as a property, never a dimension
    let refusals = metrics
        .all()
        .into_iter()
        .filter(|m| m.name == "api.quota_exceeded")
        .collect::<Vec<_>>();
    assert_eq!(refusals.len(), 20);
    assert!(refusals
        .iter()
        .all(|m| m.properties == vec![("tenant_id", ACME.to_owned())]
            && m.dimensions == vec![("class", "api".to_owned())]));
    // and once the window was found used up, refusals cost no DynamoDB call
    let stats = deps.quota.as_ref().unwrap().stats();
    assert_eq!(stats.checks, 40);
    assert!(stats.updates <= 21, "{stats:?}");
}

#[tokio::test]
async fn the_admin_quota_is_smaller_and_separate_from_reads() {
    // given a generous api quota and 2 admin actions at once per minute
    let s = api_stack().await;
    let (deps, metrics) = instance(
        &s,
        "api-sync",
        config(per_minute(1, 200), per_minute(1, 2), 10),
    );
    let admin = Caller::admin(ACME);
    // when the admin floods POST /sync/run (each a new Idempotency-Key)
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..6 {
        let answer = call(&deps, sync_run(&admin, &format!("quota-run-{i}"))).await;
        if answer.status == 202 {
            accepted += 1;
        } else {
            assert_refused(&answer);
            assert!(answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("admin"));
            refused += 1;
        }
    }
    // then two ran and four were refused before any work: only two runs' jobs were queued
    assert_eq!((accepted, refused), (2, 4));
    let per_run = s.sync_jobs.jobs().len() / 2;
    assert!(per_run > 0);
    assert_eq!(s.sync_jobs.jobs().len(), 2 * per_run);
    assert_eq!(metrics.total("api.quota_exceeded"), 4.0);
    // and reads meanwhile all pass: the api quota is another one
    for _ in 0..10 {
        let answer = call(&deps, get("/sync/health", &admin)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    // and another tenant's admin is not held by acme's quota
    let answer = call(&deps, sync_run(&Caller::admin(GLOBEX), "quota-run-globex")).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
}

#[tokio::test]
async fn the_bound_holds_across_two_instances_sharing_the_table() {
    // given two instances built independently (their own clients, caches and blocks of up
    // to 10 tokens), sharing one quota of 12 requests at once per minute
    let s = api_stack().await;
    let quota = config(per_minute(1, 12), per_minute(1, 1), 10);
    let (orders, _) = instance(&s, "api-orders", quota.clone());
    let (inventory, _) = instance(&s, "api-inventory", quota);
    let acme = Caller::admin(ACME);
    // when acme floods both, alternating
    let mut admitted = 0;
    let mut refused = 0;
    for _ in 0..30 {
        for (deps, path) in [
            (&orders, "/orders?limit=2"),
            (&inventory, "/inventory?limit=2"),
        ] {
            let answer = call(deps, get(path, &acme)).await;
            if answer.status == 200 {
                admitted += 1;
            } else {
                assert_refused(&answer);
                refused += 1;
            }
        }
    }
    // then together they admitted no more than the one shared burst (each alone would
    // have admitted 12), and both drew on it
    assert!(admitted <= 12, "admitted {admitted}");
    assert!(admitted >= 2, "admitted {admitted}");
    assert_eq!(admitted + refused, 60);
    let (a, b) = (
        orders.quota.as_ref().unwrap().stats(),
        inventory.quota.as_ref().unwrap().stats(),
    );
    assert!(a.updates >= 1 && b.updates >= 1, "{a:?} {b:?}");
    // and blocks kept the writes below one per request
    assert!(a.updates + b.updates < 60, "{a:?} {b:?}");
}

#[tokio::test]
async fn an_unreachable_quota_store_fails_open_for_reads_and_closed_for_admin_actions() {
    // given quotas whose DynamoDB endpoint does not answer (nothing listens there)
    let s = api_stack().await;
    let metrics = RecordingSink::new();
    let mut deps = s.deps_as("api-sync");
    deps.metrics = Arc::new(metrics.clone());
    let unreachable = aws_sdk_dynamodb::config::Builder::from(&s.stack.sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    deps.quota = Some(Arc::new(TenantQuotas::new(
        aws_sdk_dynamodb::Client::from_conf(unreachable),
        s.stack.table.clone(),
        config(per_minute(1, 3), per_minute(1, 5), 10),
        deps.metrics.clone(),
    )));
    let admin = Caller::admin(ACME);
    // when acme reads five times
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = call(&deps, get("/sync/health", &admin)).await;
        if answer.status != 200 {
            assert_refused(&answer);
        }
        statuses.push(answer.status);
    }
    // then reads are served (fail open), still bounded by the quota on this instance alone
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert!(metrics.total("api.quota_unavailable") >= 1.0);
    // and after the first failed call, the store is left alone for a while
    assert_eq!(deps.quota.as_ref().unwrap().stats().updates, 1);
    // and every one of the five was answered by the in-process fallback
    assert_eq!(deps.quota.as_ref().unwrap().stats().fallbacks, 5);
    // and another tenant's reads are served too
    let answer = call(&deps, get("/sync/health", &Caller::admin(GLOBEX))).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // when the admin asks for a sync run
    let answer = call(&deps, sync_run(&admin, "quota-run-outage")).await;
    // then it is refused with 503 and Retry-After, and nothing was queued
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.code(), "quota_unavailable");
    assert!(answer.header("retry-after").is_some());
    assert!(answer.body["error"]["retry_after"].as_u64().unwrap() >= 1);
    assert!(s.sync_jobs.jobs().is_empty());
}
