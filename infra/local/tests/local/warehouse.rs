//! What `make dev` shows of the whole warehouse: after the start-up full sync (and no
//! webhook at all), the API lists the simulator's inbound shipments, returns, warehouses
//! and shipping methods; a brand user sees only its brand's, and every role the tenant's
//! warehouses and shipping methods; the changes feed serves them.

use std::time::Duration;

use packr::resource::ResourceKind;
use packr::sync::SyncMode;
use packr_local::seed::{DEMO_CONNECTION, DEMO_TENANT};
use serde_json::Value;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_stack_serves_every_resource_after_its_start_up_sync_without_a_webhook() {
    // given the local stack with webhooks off, and the full sync `make dev` queues at start
    let (running, jwt) = crate::gateway_with_jwt(40).await;
    running.sim.set_webhook_target(None);
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &ResourceKind::ALL,
            SyncMode::Full,
            "dev-start",
        )
        .await
        .expect("enqueue");
    assert!(
        running.sync.wait_drained(Duration::from_secs(120)).await,
        "the full sync did not finish within 120 s"
    );
    let truth = running
        .sim
        .truth(DEMO_CONNECTION)
        .expect("the demo connection");
    let http = reqwest::Client::new();
    let list = |token: String, path: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}?limit=100", running.gateway_url);
        async move {
            let response = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answers");
            let status = response.status();
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(status, 200, "{path}: {body}");
            body["items"].as_array().cloned().unwrap_or_default()
        }
    };

    // when a tenant admin lists each resource: then it sees every object of the simulator
    let admin = jwt.mint("u-admin", DEMO_TENANT, "tenant_admin", &[], HOUR);
    for (path, expected) in [
        ("/inbound-shipments", truth.inbound_shipments.len()),
        ("/returns", truth.returns.len()),
        ("/warehouses", truth.warehouses.len()),
        ("/shipping-methods", truth.shipping_methods.len()),
    ] {
        assert!(expected > 0, "the simulator seeds {path}");
        assert_eq!(list(admin.clone(), path).await.len(), expected, "{path}");
    }

    // and a brand viewer sees only its own brand's inbound shipments and returns, and all
    // of the tenant's warehouses and shipping methods
    let own = running.demo.brands[0].0.clone();
    let viewer = jwt.mint(
        "u-viewer",
        DEMO_TENANT,
        "brand_viewer",
        std::slice::from_ref(&own),
        HOUR,
    );
    for path in ["/inbound-shipments", "/returns"] {
        let seen = list(viewer.clone(), path).await;
        let all = list(admin.clone(), path).await;
        assert!(!seen.is_empty(), "{path}: the viewer's brand has some");
        assert!(
            seen.len() < all.len(),
            "{path}: the other brand's are hidden"
        );
        assert!(
            seen.iter().all(|o| o["brand_id"] == own.as_str()),
            "{path}: {seen:?}"
        );
    }
    for (path, expected) in [
        ("/warehouses", truth.warehouses.len()),
        ("/shipping-methods", truth.shipping_methods.len()),
    ] {
        assert_eq!(list(viewer.clone(), path).await.len(), expected, "{path}");
    }

    // and the changes feed, once the sync's writes are older than its horizon, has every
    // warehouse and shipping method, oldest first, each created
    tokio::time::sleep(packr::changes::DEFAULT_HORIZON + Duration::from_millis(500)).await;
    let response = http
        .get(format!(
            "{}/changes?kinds=warehouses,shipping_methods&limit=100",
            running.gateway_url
        ))
        .bearer_auth(admin.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.expect("JSON");
    let changes = page["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        changes.len(),
        truth.warehouses.len() + truth.shipping_methods.len(),
        "{page}"
    );
    assert!(changes.iter().all(|c| c["action"] == "created"), "{page}");
    assert!(page["next_cursor"].is_string());
    running.shutdown().await;
}
