use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use trackstar_sim::{verify_webhook, DeliveryOptions, MutateRequest, MutationKind, SimConfig};

use crate::support::{sim_with, Receiver, Sim, CONN};

const IDLE: Duration = Duration::from_secs(10);

async fn sim_sending_to(receiver: &Receiver) -> Sim {
    sim_with(SimConfig {
        webhook: Some(receiver.target.clone()),
        get_rate_per_sec: 1000,
        ..SimConfig::default()
    })
    .await
}

fn mutate(kind: MutationKind, count: usize) -> MutateRequest {
    MutateRequest {
        connection_id: CONN.to_owned(),
        kind,
        count,
    }
}

#[tokio::test]
async fn mutation_sends_a_webhook_whose_signature_verifies() {
    // given
    let receiver = Receiver::start(0).await;
    let s = sim_sending_to(&receiver).await;
    // when an order moves on
    let outcome = s
        .handle
        .mutate(&mutate(MutationKind::Order, 1))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    // then
    let received = receiver.received();
    assert_eq!(received.len(), outcome.changes.len());
    let hook = &received[0];
    let id = hook.header("svix-id");
    let timestamp: i64 = hook.header("svix-timestamp").parse().expect("timestamp");
    assert!(id.starts_with("msg_"));
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert!(verify_webhook(
        &receiver.target.secret,
        &id,
        timestamp,
        &hook.body,
        &hook.header("svix-signature"),
    ));
    let body = hook.json();
    assert_eq!(body["connection_id"], CONN);
    assert_eq!(body["integration_name"], "sandbox");
    assert_eq!(body["integration_type"], "wms");
    assert_eq!(body["event_type"], outcome.changes[0].0.as_str());
    assert_eq!(body["data"]["id"], outcome.changes[0].1.as_str());
    assert!(body["previous_attributes"]["status"].is_string());
    // and the truth shows the change
    let truth = s.handle.truth(CONN).expect("truth");
    let order = truth
        .orders
        .iter()
        .find(|o| o.id == outcome.changes[0].1)
        .expect("order");
    assert_eq!(body["data"]["status"], order.status.as_str());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_svix_id() {
    let receiver = Receiver::start(2).await;
    let s = sim_sending_to(&receiver).await;
    s.handle
        .mutate(&mutate(MutationKind::Inventory, 1))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let ids: BTreeSet<String> = received.iter().map(|r| r.header("svix-id")).collect();
    assert_eq!(ids.len(), 1, "one event, one id");
    let stats = s.handle.webhook_stats();
    assert_eq!(
        (stats.delivered, stats.failed_attempts, stats.pending),
        (1, 2, 0)
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn delivery_gives_up_after_the_schedule() {
    let receiver = Receiver::start(u32::MAX).await;
    let s = sim_sending_to(&receiver).await;
    s.handle.set_webhook_options(DeliveryOptions {
        retry_schedule_ms: vec![0, 10, 10],
        ..DeliveryOptions::default()
    });
    s.handle
        .mutate(&mutate(MutationKind::Product, 1))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    let stats = s.handle.webhook_stats();
    assert_eq!(
        (stats.gave_up, stats.failed_attempts, stats.delivered),
        (1, 3, 0)
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn one_at_a_time_by_default_waits_for_each_answer() {
    // given a receiver that takes 30 ms per webhook and default options
    let receiver = Receiver::start_slow(Duration::from_millis(30)).await;
    let s = sim_sending_to(&receiver).await;
    // when five changes are raised together
    s.handle
        .mutate(&mutate(MutationKind::Product, 5))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    // then they were delivered one after another
    assert_eq!(receiver.received().len(), 5);
    assert_eq!(receiver.max_in_flight(), 1);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn concurrency_delivers_several_webhooks_at_once_and_loses_none() {
    // given a slow receiver and four deliveries allowed in flight
    let receiver = Receiver::start_slow(Duration::from_millis(100)).await;
    let s = sim_sending_to(&receiver).await;
    s.handle.set_webhook_options(DeliveryOptions {
        concurrency: 4,
        ..DeliveryOptions::default()
    });
    // when twelve changes are raised together
    s.handle
        .mutate(&mutate(MutationKind::Product, 12))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    // then up to four were in flight at once, never more, and each arrived once
    let received = receiver.received();
    let ids: BTreeSet<String> = received.iter().map(|r| r.header("svix-id")).collect();
    assert_eq!((received.len(), ids.len()), (12, 12));
    assert!(receiver.max_in_flight() > 1, "{}", receiver.max_in_flight());
    assert!(
        receiver.max_in_flight() <= 4,
        "{}",
        receiver.max_in_flight()
    );
    let stats = s.handle.webhook_stats();
    assert_eq!((stats.delivered, stats.pending), (12, 0));
    s.handle.shutdown().await;
}

#[tokio::test]
async fn duplicates_repeat_the_same_svix_id() {
    let receiver = Receiver::start(0).await;
    let s = sim_sending_to(&receiver).await;
    s.handle.set_webhook_options(DeliveryOptions {
        duplicates: true,
        ..DeliveryOptions::default()
    });
    s.handle
        .mutate(&mutate(MutationKind::Product, 1))
        .expect("mutated");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("svix-id"), received[1].header("svix-id"));
    assert_eq!(received[0].body, received[1].body);
    let stats = s.handle.webhook_stats();
    assert_eq!((stats.delivered, stats.deliveries), (1, 2));
    s.handle.shutdown().await;
}

/// Raises `n` inventory changes one by one; the changed ids in raising order.
fn raise_inventory_changes(s: &Sim, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let outcome = s
                .handle
                .mutate(&mutate(MutationKind::Inventory, 1))
                .expect("mutated");
            outcome.changes[0].1.clone()
        })
        .collect()
}

/// For each delivery in arrival order: (svix-id, changed object's id).
fn arrivals(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let id = r.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (r.header("svix-id"), id)
        })
        .collect()
}

#[tokio::test]
async fn a_duplicate_rate_delivers_a_seeded_share_of_events_twice() {
    async fn run(seed: u64) -> (Vec<bool>, trackstar_sim::WebhookStats) {
        // given a 20 % duplicate rate with a seed
        let receiver = Receiver::start(0).await;
        let s = sim_sending_to(&receiver).await;
        s.handle.set_webhook_options(DeliveryOptions {
            duplicate_rate: 0.2,
            seed: Some(seed),
            ..DeliveryOptions::default()
        });
        // when 100 events are raised
        raise_inventory_changes(&s, 100);
        assert!(s.handle.wait_webhooks_idle(IDLE).await);
        // then each event arrives once or twice, the copy right after the first
        let got = arrivals(&receiver);
        let mut twice = Vec::new();
        let mut i = 0;
        while i < got.len() {
            let again = got.get(i + 1).is_some_and(|next| next.0 == got[i].0);
            twice.push(again);
            i += if again { 2 } else { 1 };
        }
        let stats = s.handle.webhook_stats();
        s.handle.shutdown().await;
        (twice, stats)
    }
    let (twice, stats) = run(11).await;
    assert_eq!(twice.len(), 100);
    let duplicated = twice.iter().filter(|t| **t).count();
    assert_eq!(duplicated as u64, stats.duplicated);
    assert_eq!(
        (stats.delivered, stats.deliveries),
        (100, 100 + stats.duplicated)
    );
    assert!((8..=35).contains(&duplicated), "{duplicated} of 100");
    // and the same seed picks the same events
    let (again, _) = run(11).await;
    assert_eq!(twice, again);
}

#[tokio::test]
async fn a_reorder_rate_holds_a_share_of_events_behind_later_ones() {
    // given a 10 % reorder rate, a window of 3, a seed
    let receiver = Receiver::start(0).await;
    let s = sim_sending_to(&receiver).await;
    s.handle.set_webhook_options(DeliveryOptions {
        reorder_rate: 0.1,
        reorder_window: 3,
        seed: Some(5),
        ..DeliveryOptions::default()
    });
    // when 100 events are raised back to back
    let raised = raise_inventory_changes(&s, 100);
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    // then every event arrives once, not in raising order, and the held ones were late
    let got = arrivals(&receiver);
    let ids: BTreeSet<&String> = got.iter().map(|(svix, _)| svix).collect();
    assert_eq!((got.len(), ids.len()), (100, 100));
    let mut sorted_raised = raised.clone();
    sorted_raised.sort();
    let mut sorted_got: Vec<String> = got.iter().map(|(_, id)| id.clone()).collect();
    sorted_got.sort();
    assert_eq!(sorted_raised, sorted_got);
    let delivered: Vec<String> = got.into_iter().map(|(_, id)| id).collect();
    assert_ne!(raised, delivered, "some events overtaken");
    let stats = s.handle.webhook_stats();
    assert!((3..=25).contains(&stats.held_back), "{}", stats.held_back);
    assert_eq!((stats.delivered, stats.pending), (100, 0));
    s.handle.shutdown().await;
}

#[tokio::test]
async fn reorder_delivers_events_raised_together_out_of_order() {
    // given reordering set through the control API
    let receiver = Receiver::start(0).await;
    let s = sim_sending_to(&receiver).await;
    let set = s
        .http
        .put(s.handle.url("/_sim/webhooks/options"))
        .json(&json!({"reorder": true}))
        .send()
        .await
        .expect("response");
    assert_eq!(set.status(), 200);
    // when five inventory items change at once (mutated through the control API)
    let outcome: serde_json::Value = s
        .http
        .post(s.handle.url("/_sim/mutate"))
        .json(&json!({"connection_id": CONN, "kind": "inventory", "count": 5}))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    // then all arrive, in another order
    let raised: Vec<String> = outcome["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c[1].as_str().expect("id").to_owned())
        .collect();
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("svix-id"))
        .collect();
    let updated_dates: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 5);
    let mut sorted_raised = raised.clone();
    sorted_raised.sort();
    let mut sorted_got = updated_dates.clone();
    sorted_got.sort();
    assert_eq!(sorted_raised, sorted_got);
    assert_ne!(raised, updated_dates, "delivered out of order");
    s.handle.shutdown().await;
}

#[tokio::test]
async fn api_writes_raise_webhooks_and_samples_can_be_emitted() {
    let receiver = Receiver::start(0).await;
    let s = sim_sending_to(&receiver).await;
    let created = s
        .req(reqwest::Method::POST, "/wms/orders")
        .json(&crate::writes::order_body())
        .send()
        .await
        .expect("response");
    assert_eq!(created.status(), 200);
    let emitted = s
        .http
        .post(s.handle.url("/_sim/webhooks/emit"))
        .json(&json!({"connection_id": CONN, "event_type": "connection.historical-sync-completed"}))
        .send()
        .await
        .expect("response");
    assert_eq!(emitted.status(), 200);
    assert!(s.handle.wait_webhooks_idle(IDLE).await);
    let types: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["event_type"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        vec!["order.created", "connection.historical-sync-completed"]
    );
    s.handle.shutdown().await;
}
