use trackstar_sim::SimConfig;

use crate::support::{sim_with, TOKEN};

#[tokio::test]
async fn exceeding_the_get_rate_is_429_with_every_header() {
    // given 5 GETs a second
    let s = sim_with(SimConfig {
        get_rate_per_sec: 5,
        ..SimConfig::default()
    })
    .await;
    // when 8 GETs go out at once
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let response = s.get("/wms/orders?limit=1").send().await.expect("response");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            limited = Some(response);
        } else {
            for header in [
                "x-ratelimit-limit",
                "x-ratelimit-remaining",
                "x-ratelimit-reset",
            ] {
                assert!(
                    response.headers().get(header).is_some(),
                    "{header} on a 200"
                );
            }
        }
    }
    // then the first 5 pass (generous: at least 4 within the second) and the rest are 429
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((4..=5).contains(&ok), "{statuses:?}");
    let limited = limited.expect("a 429");
    let header = |name: &str| {
        limited
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(header("x-ratelimit-limit"), 5);
    assert_eq!(header("x-ratelimit-remaining"), 0);
    assert!(header("retry-after") >= 1);
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(header("x-ratelimit-reset") >= now && header("x-ratelimit-reset") <= now + 2);
    let served = s.handle.requests();
    assert_eq!(
        served.served(429),
        statuses.iter().filter(|s| **s == 429).count() as u64
    );
    assert!(served.requests.iter().all(|r| r.token == TOKEN));

    // and after the window, requests pass again
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = s.get("/wms/orders?limit=1").send().await.expect("response");
    assert_eq!(again.status(), 200);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn writes_have_their_own_budget() {
    let s = sim_with(SimConfig {
        get_rate_per_sec: 1,
        write_rate_per_sec: 100,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    assert_eq!(
        s.get("/wms/orders?limit=1")
            .send()
            .await
            .expect("r")
            .status(),
        429
    );
    let item = s.handle.truth("conn_demo").expect("truth").inventory[0]
        .id
        .clone();
    let write = s
        .req(
            reqwest::Method::PUT,
            &format!("/wms/inventory/{item}/adjust"),
        )
        .json(&serde_json::json!({"quantity": 1, "adjustment_type": "increase"}))
        .send()
        .await
        .expect("response");
    assert_eq!(write.status(), 200);
    s.handle.shutdown().await;
}
