//! The audit trail on the local gateway: a mutating route's function reads the chain key
//! from the secret the template gives it (`AUDIT_SECRET_ARN`) and records its entry, which
//! `GET /audit` lists.

use std::sync::Arc;
use std::time::Duration;

use packr_local::dev_jwt::DevJwt;
use packr_local::seed::DEMO_TENANT;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_through_the_gateway_is_audited_under_the_templates_chain_key() {
    // given the local stack as the template configures it
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let jwt = DevJwt::generate();
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            orders_per_connection: 1,
            pollers: 1,
            jwt: Some(jwt.clone()),
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    let http = reqwest::Client::new();
    let admin = jwt.mint("u-admin", DEMO_TENANT, "tenant_admin", &[], HOUR);

    // when the admin asks for a link token
    let linked = http
        .post(format!("{}/connections/link-token", running.gateway_url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(linked.status(), 200);

    // then the audit log lists that one entry
    let listed: serde_json::Value = http
        .get(format!("{}/audit", running.gateway_url))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["action"], "connections.link_token");
    assert_eq!(items[0]["actor"], "u-admin");
    running.shutdown().await;
}
