//! api-connections on its real AWS adapters, configured from its environment in
//! template.yaml as its binary configures itself: linking a connection stores the access
//! token in Secrets Manager and queues the initial full sync on the sync-jobs queue. The
//! other API tests keep tokens and jobs in memory; this one lets the IAM check
//! (`infra/iam-check`) see those requests against the function's role.

use packr::domain::{Currency, Tenant};
use packr::store::TenantStore;
use packr_local::provision::DEV_TRACKSTAR_API_KEY;
use packr_local::testing::{emulator_config, fresh_local_stack, function_config};
use serde_json::json;
use trackstar_sim::SimConfig;

use crate::api_support::{call, event, Caller};
use crate::helpers::*;

#[tokio::test]
async fn linking_a_connection_stores_its_token_in_secrets_manager_and_queues_its_full_sync() {
    // given api-connections as its binary builds itself, against the simulator
    let sdk = emulator_config().await;
    let stack = fresh_local_stack(&sdk).await;
    let sim = trackstar_sim::spawn(SimConfig {
        api_key: DEV_TRACKSTAR_API_KEY.to_owned(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut env = stack.function_environment["ApiConnectionsFunction"].clone();
    env.insert("TRACKSTAR_BASE_URL".into(), sim.base_url.clone());
    let deps = packr::api::wiring::from_env(&function_config(&sdk, "api-connections"), &env)
        .await
        .unwrap();
    let setup = packr::webhook::wiring::store_without_cursors(&sdk, env["TABLE_NAME"].clone());
    setup
        .create_tenant(&Tenant {
            id: tenant("acme"),
            name: "Acme".into(),
            default_currency: Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    // Secret names are global on the emulator: a connection id of this run only.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let connection = format!("conn_iam{nanos}");
    let admin = Caller::admin("acme");

    // when an admin links it
    let body = json!({ "auth_code": format!("auth_{connection}") }).to_string();
    let r = call(
        &deps,
        event("POST", "/connections/exchange", &admin, Some(&body), &[]),
    )
    .await;

    // then the token is in Secrets Manager under the template's prefix and the tenant
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = format!(
        "{}acme/{connection}",
        env["TRACKSTAR_CONNECTION_SECRET_PREFIX"]
    );
    let stored = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .unwrap();
    assert!(stored.secret_string().unwrap().starts_with("tok_"));
    // and a full sync of every resource is queued
    let queued = aws_sdk_sqs::Client::new(&sdk)
        .receive_message()
        .queue_url(env["SYNC_JOBS_QUEUE_URL"].clone())
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        queued.len(),
        packr::sync::ResourceKind::ALL.len(),
        "{queued:?}"
    );
    sim.shutdown().await;
}
