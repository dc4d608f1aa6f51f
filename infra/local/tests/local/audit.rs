//! The audit trail on the local gateway: a mutating route's function reads the chain key
//! from the secret the template gives it (`AUDIT_SECRET_ARN`) and records its entry, which
//! `GET /audit` lists.

use std::time::Duration;

use packr_local::seed::DEMO_TENANT;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_through_the_gateway_is_audited_under_the_templates_chain_key() {
    // given the local stack as the template configures it
    let (running, jwt) = crate::gateway_with_jwt(1).await;
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
