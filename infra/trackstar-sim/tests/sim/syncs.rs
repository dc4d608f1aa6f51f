//! Force syncs and on-demand syncs (backfills) and their admin webhooks.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{sim, Receiver, Sim, CONN};

async fn post(s: &Sim, path: &str, body: &Value) -> (u16, Value) {
    let response = s
        .req(Method::POST, path)
        .json(body)
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn control(s: &Sim, path: &str) -> (u16, Value) {
    let response = s
        .http
        .post(s.handle.url(path))
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn hooks(s: &Sim, receiver: &Receiver) -> Vec<Value> {
    assert!(s.handle.wait_webhooks_idle(Duration::from_secs(5)).await);
    receiver.received().iter().map(|r| r.json()).collect()
}

fn backfill(function: &str) -> Value {
    json!({"function_name": function, "start_time": "2025-09-01T00:00:00Z", "end_time": "2025-09-30T00:00:00Z"})
}

#[tokio::test]
async fn a_completed_backfill_rereads_its_window_and_sends_sync_job_completed() {
    // given a receiver and orders the WMS last changed in September
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let truth = s.handle.truth(CONN).expect("truth");
    let in_window: Vec<String> = truth
        .orders
        .iter()
        .filter(|o| {
            let day = o.updated_date.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            ("2025-09-01T00:00:00Z"..="2025-09-30T00:00:00Z").contains(&day.as_str())
        })
        .map(|o| o.id.clone())
        .collect();
    assert!(!in_window.is_empty() && in_window.len() < truth.orders.len());
    let since = trackstar_sim::data::now()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    // when a backfill of September's orders is asked for
    let (status, created) = post(&s, "/connections/on-demand-syncs", &backfill("get_orders")).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["data"]["status"], "open");
    // then it is open and no order moved on Trackstar's clock yet
    let (_, job) = s
        .get_json(&format!("/connections/on-demand-syncs/{id}"))
        .await;
    assert_eq!(job["data"]["status"], "open");
    let (_, page) = s
        .get_json(&format!("/wms/orders?trackstar_updated_date[gte]={since}"))
        .await;
    assert_eq!(page["total_count"], 0);
    // when Trackstar completes it
    let (status, done) = control(&s, &format!("/_sim/on-demand-syncs/{id}/complete")).await;
    // then exactly the window's orders carry a fresh trackstar_updated_date
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["data"]["status"], "completed");
    let mut reread: Vec<String> = serde_json::from_value(done["object_ids"].clone()).expect("ids");
    reread.sort();
    let mut expected = in_window.clone();
    expected.sort();
    assert_eq!(reread, expected);
    let (_, page) = s
        .get_json(&format!("/wms/orders?trackstar_updated_date[gte]={since}"))
        .await;
    assert_eq!(page["total_count"], in_window.len());
    let (_, page) = s
        .get_json(&format!("/wms/orders?updated_date[gte]={since}"))
        .await;
    assert_eq!(page["total_count"], 0);
    // and one connection.sync-job-completed names the job, function and window, with no resource webhooks
    let received = hooks(&s, &receiver).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["event_type"], "connection.sync-job-completed");
    assert_eq!(received[0]["connection_id"], CONN);
    assert_eq!(
        received[0]["data"],
        json!({"sync_job_id": id, "function_name": "get_orders", "resource": "orders",
               "start_time": "2025-09-01T00:00:00Z", "end_time": "2025-09-30T00:00:00Z", "status": "completed"})
    );
    // and a completed job can be neither completed again nor cancelled
    assert_eq!(
        control(&s, &format!("/_sim/on-demand-syncs/{id}/complete"))
            .await
            .0,
        409
    );
    assert_eq!(
        post(
            &s,
            &format!("/connections/on-demand-syncs/{id}/cancel"),
            &json!({})
        )
        .await
        .0,
        409
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn cancelled_and_stuck_jobs_reread_nothing_and_stuck_ones_say_so() {
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let before = s.handle.truth(CONN).expect("truth").trackstar_seen;
    let (_, first) = post(&s, "/connections/on-demand-syncs", &backfill("get_returns")).await;
    let (_, second) = post(
        &s,
        "/connections/on-demand-syncs",
        &backfill("get_inbound_shipments"),
    )
    .await;
    let (first, second) = (
        first["id"].as_str().expect("id"),
        second["id"].as_str().expect("id"),
    );
    // when one is cancelled and the other gets stuck
    let (status, cancelled) = post(
        &s,
        &format!("/connections/on-demand-syncs/{first}/cancel"),
        &json!({}),
    )
    .await;
    let (stuck_status, stuck) = control(&s, &format!("/_sim/on-demand-syncs/{second}/stuck")).await;
    // then their statuses say so, nothing was re-read, and only the stuck one raised a webhook
    assert_eq!((status, stuck_status), (200, 200));
    assert_eq!(cancelled["data"]["status"], "cancelled");
    assert_eq!(stuck["data"]["status"], "stuck");
    assert_eq!(
        s.get_json(&format!("/connections/on-demand-syncs/{first}"))
            .await
            .1["data"]["status"],
        "cancelled"
    );
    assert_eq!(s.handle.truth(CONN).expect("truth").trackstar_seen, before);
    let received = hooks(&s, &receiver).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["event_type"], "connection.sync-job-stuck");
    assert_eq!(received[0]["data"]["sync_job_id"], second);
    assert_eq!(received[0]["data"]["status"], "stuck");
    // and an unknown job is a 404
    assert_eq!(
        s.get_json("/connections/on-demand-syncs/sync_job_nope")
            .await
            .0,
        404
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn on_demand_requests_trackstar_refuses_name_why() {
    let s = sim().await;
    // inventory is always a full snapshot: 400
    let (status, body) = post(
        &s,
        "/connections/on-demand-syncs",
        &backfill("get_inventory"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .expect("error")
        .contains("not supported"));
    // a function Trackstar knows but does not run on demand: 400 "not enabled"
    let (status, body) = post(
        &s,
        "/connections/on-demand-syncs",
        &backfill("get_warehouses"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .expect("error")
        .contains("not enabled"));
    // an unknown function, a bad date, a missing field, an end before the start: 422 naming it
    let mut reversed = backfill("get_orders");
    reversed["end_time"] = json!("2025-08-01T00:00:00Z");
    for (body, field) in [
        (backfill("get_parcels"), "function_name"),
        (
            json!({"function_name": "get_orders", "start_time": "May", "end_time": "2025-09-30T00:00:00Z"}),
            "start_time",
        ),
        (
            json!({"function_name": "get_orders", "start_time": "2025-08-31T00:00:00Z"}),
            "end_time",
        ),
        (reversed, "end_time"),
    ] {
        let (status, answer) = post(&s, "/connections/on-demand-syncs", &body).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert!(
            answer["detail"]["body"].get(field).is_some(),
            "{field}: {answer}"
        );
    }
    // a resource refused for the connection cannot be backfilled either
    s.handle.set_resource_policy(
        CONN,
        trackstar_sim::ResourceKind::Bills,
        trackstar_sim::ResourcePolicy::Forbidden,
    );
    assert_eq!(
        post(&s, "/connections/on-demand-syncs", &backfill("get_bills"))
            .await
            .0,
        400
    );
    // and without an access token it is a 401
    let response = s
        .http
        .post(s.handle.url("/connections/on-demand-syncs"))
        .header("x-trackstar-api-key", crate::support::API_KEY)
        .json(&backfill("get_orders"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 401);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn jobs_complete_on_their_own_after_the_configured_delay() {
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let response = s
        .http
        .put(s.handle.url("/_sim/on-demand-syncs/options"))
        .json(&json!({"auto_complete_ms": 50}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    let (_, created) = post(
        &s,
        "/connections/on-demand-syncs",
        &backfill("get_products"),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = s
            .get_json(&format!("/connections/on-demand-syncs/{id}"))
            .await
            .1["data"]["status"]
            .clone();
        if status == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "completed");
    let received = hooks(&s, &receiver).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["data"]["function_name"], "get_products");
    s.handle.shutdown().await;
}

#[tokio::test]
async fn a_force_sync_sends_force_sync_completed_per_function() {
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    // when two functions are force-synced
    let (status, body) = post(
        &s,
        "/connections/sync",
        &json!({"functions_to_sync": ["get_orders", "get_returns"]}),
    )
    .await;
    // then Trackstar's answer names them, and one webhook per function follows
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": CONN, "syncing": true, "functions_to_sync": ["get_orders", "get_returns"]})
    );
    let received = hooks(&s, &receiver).await;
    let functions: Vec<&str> = received
        .iter()
        .map(|h| {
            assert_eq!(h["event_type"], "connection.force-sync-completed");
            h["data"]["function_name"].as_str().expect("function")
        })
        .collect();
    assert_eq!(functions, vec!["get_orders", "get_returns"]);
    assert_eq!(received[1]["data"]["resource"], "returns");
    // when everything is force-synced, every resource the simulator serves completes
    let (status, body) = post(&s, "/connections/sync", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["functions_to_sync"], json!([]));
    assert_eq!(
        hooks(&s, &receiver).await.len(),
        2 + trackstar_sim::ResourceKind::ALL.len()
    );
    // and an unknown function is a 422 naming it
    let (status, body) = post(
        &s,
        "/connections/sync",
        &json!({"functions_to_sync": ["get_orders", "get_everything"]}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body["detail"]["body"].get("functions_to_sync.1").is_some());
    s.handle.shutdown().await;
}
