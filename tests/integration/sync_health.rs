//! `GET /sync/health` and `GET /sync/lag/{brand_id}` against the emulator: brand scoping,
//! foreign ids → 404, status transitions from real sync states and webhook stats,
//! disconnected connections and stuck schedules.

use packr::domain::{ConnectionId, ConnectionStatus, StuckSchedule, Timestamp};
use packr::health::{Observation, Outcome, StatsResource, WebhookStatsStore};
use packr::store::ConnectionStore;
use packr::sync::{
    DynamoSyncStateStore, JobKey, ResourceKind, RunCounts, RunSummary, SyncMode, SyncStateStore,
};
use serde_json::Value;

use crate::api_support::*;
use crate::helpers::*;

const CONN_B1: &str = "conn_b1";
const CONN_B2: &str = "conn_b2";

/// The API stack plus one connection per acme brand.
async fn health_stack() -> ApiStack {
    let s = api_stack().await;
    let t = tenant(ACME);
    for (id, b) in [(CONN_B1, "b1"), (CONN_B2, "b2")] {
        let mut c = connection(&t, id);
        c.brand_id = Some(brand(b));
        s.stack.store.create_connection(&t, &c).await.unwrap();
    }
    s
}

/// Every resource of the connection synced up to `lag_seconds` ago.
async fn synced(s: &ApiStack, tenant_id: &str, connection: &str, lag_seconds: i64) {
    let states = DynamoSyncStateStore::new(s.stack.store.clone());
    let now = Timestamp::now();
    for resource in ResourceKind::ALL {
        let key = JobKey {
            tenant_id: tenant(tenant_id),
            connection_id: ConnectionId::parse(connection).unwrap(),
            resource,
        };
        let (lease, _) = states
            .acquire(&key, "test", now, now.plus_seconds(60))
            .await
            .unwrap()
            .expect("the lease is free");
        let summary = RunSummary {
            run_id: "run_test".into(),
            mode: SyncMode::Incremental,
            started_at: now,
            finished_at: now,
            from: None,
            to: now.plus_seconds(-lag_seconds),
            counts: RunCounts::default(),
            chunks: 1,
        };
        states.complete(&lease, &summary, now).await.unwrap();
    }
}

/// Webhook outcomes of the connection, recorded as the processor would.
async fn webhooks(s: &ApiStack, tenant_id: &str, connection: &str, finished: usize, failed: usize) {
    let now = Timestamp::now();
    let mut batch = Vec::new();
    for i in 0..finished + failed {
        batch.push(Observation {
            tenant: tenant(tenant_id),
            connection: ConnectionId::parse(connection).unwrap(),
            resource: StatsResource::of_event_type("order.updated"),
            received_at: now.plus_millis(-500),
            outcome: if i < finished {
                Outcome::Finished {
                    was_failed: false,
                    was_dead_lettered: false,
                }
            } else {
                Outcome::Failed {
                    first: true,
                    dead_lettered: false,
                }
            },
            latency_ms: 30,
        });
    }
    for ((t, c), delta) in packr::health::stats::tally(&batch, now) {
        WebhookStatsStore::add(&s.stack.store, &t, &c, &delta)
            .await
            .unwrap();
    }
}

fn connection_ids(body: &Value) -> Vec<String> {
    body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection_id"].as_str().unwrap().to_owned())
        .collect()
}

fn of<'a>(body: &'a Value, connection: &str) -> &'a Value {
    body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connection_id"] == connection)
        .unwrap_or_else(|| panic!("{connection} not in {body}"))
}

fn reasons(c: &Value) -> Vec<String> {
    c["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn health_shows_each_role_only_its_tenants_and_brands_connections() {
    // given
    let s = health_stack().await;
    webhooks(&s, GLOBEX, CONN_GLOBEX, 3, 3).await;

    for (caller, expected) in [
        (Caller::admin(ACME), vec![CONN_ACME, CONN_B1, CONN_B2]),
        (
            Caller::new(ACME, "tenant_staff", &[]),
            vec![CONN_ACME, CONN_B1, CONN_B2],
        ),
        (Caller::new(ACME, "brand_manager", &["b1"]), vec![CONN_B1]),
        (Caller::new(ACME, "brand_viewer", &["b2"]), vec![CONN_B2]),
        (
            Caller::new(ACME, "brand_manager", &["b1", "b2"]),
            vec![CONN_B1, CONN_B2],
        ),
    ] {
        // when
        let r = s.get(&caller, "/sync/health").await;
        // then
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(connection_ids(&r.body), expected, "{:?}", caller.claims);
        assert_eq!(r.body["summary"]["connections"], expected.len() as u64);
        assert!(
            !r.body.to_string().contains("globex"),
            "another tenant leaked: {}",
            r.body
        );
    }
    let r = s.get(&Caller::admin(GLOBEX), "/sync/health").await;
    assert_eq!(connection_ids(&r.body), vec![CONN_GLOBEX]);
    assert_eq!(of(&r.body, CONN_GLOBEX)["webhooks"]["failures_24h"], 3);
}

#[tokio::test]
async fn lag_of_a_brand_the_caller_may_not_see_is_a_404() {
    let s = health_stack().await;
    synced(&s, ACME, CONN_B1, 30).await;
    webhooks(&s, ACME, CONN_B1, 4, 0).await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);

    let r = s.get(&manager, "/sync/lag/b1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["resources"].as_array().unwrap();
    assert_eq!(rows.len(), ResourceKind::ALL.len());
    assert!(rows.iter().all(|row| row["connection_id"] == CONN_B1));
    let orders = rows.iter().find(|row| row["resource"] == "orders").unwrap();
    let lag = orders["sync_lag_seconds"].as_i64().unwrap();
    assert!((30..40).contains(&lag), "{lag}");
    assert_eq!(orders["webhook_lag_1h"]["count"], 4);
    assert!(orders["webhook_lag_1h"]["p95_ms"].as_u64().unwrap() >= 500);
    assert_eq!(orders["unapplied"]["events"], 0);
    let inventory = rows
        .iter()
        .find(|row| row["resource"] == "inventory")
        .unwrap();
    assert_eq!(inventory["webhook_lag_1h"]["count"], 0);

    for (caller, path) in [
        (&manager, "/sync/lag/b2"),
        (&manager, "/sync/lag/g1"),
        (&Caller::admin(ACME), "/sync/lag/g1"),
        (&Caller::admin(ACME), "/sync/lag/nobody"),
        (&Caller::admin(ACME), "/sync/lag/b%23x"),
    ] {
        let r = s.get(caller, path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r = s.get(&Caller::admin(ACME), "/sync/lag/b2").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_status_follows_sync_lag_and_webhook_failures() {
    let s = health_stack().await;
    let admin = Caller::admin(ACME);
    let status = |body: &Value| of(body, CONN_B1)["status"].as_str().unwrap().to_owned();

    // never synced
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "degraded");
    assert!(reasons(of(&r.body, CONN_B1)).contains(&"never_synced".to_owned()));

    // synced within 5 minutes: healthy
    synced(&s, ACME, CONN_B1, 280).await;
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "healthy", "{}", r.body);
    assert_eq!(of(&r.body, CONN_B1)["breaker"]["state"], "closed");

    // over 5 minutes behind: degraded; over 15: unhealthy
    synced(&s, ACME, CONN_B1, 320).await;
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "degraded");
    assert_eq!(
        reasons(of(&r.body, CONN_B1)),
        vec!["sync_lag"; ResourceKind::ALL.len()]
    );
    synced(&s, ACME, CONN_B1, 920).await;
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "unhealthy");
    assert_eq!(r.body["summary"]["unhealthy"], 1);

    // fresh again, but 6 failures of 300 webhook attempts (2 %): degraded (failures and
    // error rate)
    synced(&s, ACME, CONN_B1, 10).await;
    webhooks(&s, ACME, CONN_B1, 294, 6).await;
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "degraded");
    assert_eq!(
        reasons(of(&r.body, CONN_B1)),
        vec!["error_rate", "failures"]
    );
    let w = &of(&r.body, CONN_B1)["webhooks"];
    assert_eq!(w["failures_24h"], 6);
    assert_eq!(w["backlog"]["events"], 6);
    assert!(w["last_applied_at"].is_string());
    // 21 failures: unhealthy
    webhooks(&s, ACME, CONN_B1, 0, 15).await;
    let r = s.get(&admin, "/sync/health").await;
    assert_eq!(status(&r.body), "unhealthy");
}

#[tokio::test]
async fn a_disconnected_connection_with_a_stuck_schedule_is_unhealthy_and_shows_both() {
    let s = health_stack().await;
    synced(&s, ACME, CONN_B2, 5).await;
    let t = tenant(ACME);
    let mut c = s
        .stack
        .store
        .get_connection(&t, &ConnectionId::parse(CONN_B2).unwrap())
        .await
        .unwrap()
        .unwrap();
    c.status = ConnectionStatus::Disconnected;
    c.stuck_schedules.push(StuckSchedule {
        function: "get_orders".into(),
        latest_data: Some(Timestamp::parse("2025-09-29T18:00:00Z").unwrap()),
        recorded_at: Timestamp::now(),
        event_at: None,
    });
    s.stack.store.update_connection(&t, &c).await.unwrap();

    let r = s
        .get(&Caller::new(ACME, "brand_viewer", &["b2"]), "/sync/health")
        .await;

    let b2 = of(&r.body, CONN_B2);
    assert_eq!(b2["status"], "unhealthy");
    assert_eq!(reasons(b2), vec!["connection_not_active", "schedule_stuck"]);
    assert_eq!(b2["connection_status"], "disconnected");
    assert_eq!(b2["stuck_schedules"][0]["function"], "get_orders");
    assert_eq!(
        b2["stuck_schedules"][0]["latest_data"],
        "2025-09-29T18:00:00Z"
    );
    assert_eq!(b2["brand_id"], "b2");
    assert_eq!(r.body["summary"]["unhealthy"], 1);
}
