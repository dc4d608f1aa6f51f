use std::time::{Duration, Instant};

use serde_json::json;
use trackstar_sim::FaultSpec;

use crate::support::{sim, CONN};

#[tokio::test]
async fn injected_errors_stop_after_their_count_and_clear() {
    // given two injected 503s set through the control API
    let s = sim().await;
    let set = s
        .http
        .post(s.handle.url(&format!("/_sim/faults/{CONN}")))
        .json(&json!({"status": 503, "rate": 1.0, "count": 2}))
        .send()
        .await
        .expect("response");
    assert_eq!(set.status(), 200);
    // when
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            s.get("/wms/orders?limit=1")
                .send()
                .await
                .expect("r")
                .status()
                .as_u16(),
        );
    }
    // then
    assert_eq!(statuses, vec![503, 503, 200]);

    // and a cleared fault stops failing
    s.handle.set_faults(CONN, FaultSpec::error(500, None));
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        500
    );
    let cleared = s
        .http
        .delete(s.handle.url(&format!("/_sim/faults/{CONN}")))
        .send()
        .await
        .expect("response");
    assert_eq!(cleared.status(), 200);
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn rate_zero_never_fails_and_storms_send_429s() {
    let s = sim().await;
    s.handle.set_faults(
        CONN,
        FaultSpec {
            rate: 0.0,
            ..FaultSpec::error(500, None)
        },
    );
    for _ in 0..5 {
        assert_eq!(
            s.get("/wms/orders?limit=1")
                .send()
                .await
                .expect("r")
                .status(),
            200
        );
    }
    s.handle.set_faults(
        CONN,
        FaultSpec {
            rate_limit_storm: 3,
            ..FaultSpec::default()
        },
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = s.get("/wms/orders?limit=1").send().await.expect("r");
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![429, 429, 429, 200]);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn latency_delays_and_hang_never_answers() {
    let s = sim().await;
    s.handle.set_faults(
        CONN,
        FaultSpec {
            latency_ms: 300,
            ..FaultSpec::default()
        },
    );
    let start = Instant::now();
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    assert!(start.elapsed() >= Duration::from_millis(300));

    s.handle.set_faults(
        CONN,
        FaultSpec {
            hang: true,
            ..FaultSpec::default()
        },
    );
    let hung = s
        .get("/wms/orders?limit=1")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    s.handle.clear_all_faults();
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    s.handle.shutdown().await;
}

#[tokio::test]
async fn a_held_request_is_answered_only_after_the_faults_change() {
    // given a connection whose requests are held
    let s = sim().await;
    s.handle.set_faults(
        CONN,
        FaultSpec {
            hold: true,
            ..FaultSpec::default()
        },
    );
    let held = tokio::spawn(s.get("/wms/orders?limit=1").send());

    // when nothing changes, it is not answered
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished());

    // then clearing the faults releases it, and it is handled normally
    s.handle.clear_faults(CONN);
    let response = held.await.expect("task").expect("response");
    assert_eq!(response.status(), 200);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn control_api_reports_truth_and_request_counts() {
    let s = sim().await;
    let _ = s.get("/wms/orders?limit=1").send().await.expect("r");
    let truth: serde_json::Value = s
        .http
        .get(s.handle.url(&format!("/_sim/truth/{CONN}")))
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_eq!(truth["orders"].as_array().map(Vec::len), Some(50));
    let requests: serde_json::Value = s
        .http
        .get(s.handle.url("/_sim/requests"))
        .send()
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    assert_eq!(requests["total"], 1);
    assert_eq!(requests["requests"][0]["path"], "/wms/orders");
    assert_eq!(requests["statuses"]["200"], 1);
    s.handle.shutdown().await;
}
