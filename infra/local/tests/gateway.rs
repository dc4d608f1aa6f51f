//! The local gateway and the dev stack's pieces. Needs `AWS_ENDPOINT_URL` (moto) for the
//! stack-backed tests; the emulator-process test starts its own moto from `.venv`.

use std::collections::BTreeMap;
use std::sync::Arc;

use packr_local::emulator::MotoProcess;
use packr_local::gateway::{router, serve, GatewayState};
use packr_local::local_env::local_environment;
use packr_local::stack::LocalStack;
use packr_local::template::{repo_root, Template};
use packr_local::testing::{emulator_config, fresh_stack};
use tokio::net::TcpListener;

async fn local_stack() -> LocalStack {
    let sdk = emulator_config().await;
    let resources = fresh_stack(&sdk).await;
    let template = Template::repo_default().expect("template");
    let environment =
        local_environment(&template, &resources, &BTreeMap::new()).expect("environment");
    assert!(
        environment.unresolved.is_empty(),
        "{:?}",
        environment.unresolved
    );
    LocalStack {
        aws_endpoint_url: std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
        region: "us-east-1".to_owned(),
        prefix: "test".to_owned(),
        resources,
        function_environment: environment.functions,
    }
}

#[tokio::test]
async fn function_environment_points_at_the_provisioned_resources() {
    // given / when
    let stack = local_stack().await;
    // then each function sees the variables the template gives it, with local values
    let ingest = &stack.function_environment["WebhookIngestFunction"];
    assert_eq!(ingest["TABLE_NAME"], stack.resources.table_name);
    assert_eq!(
        ingest["WEBHOOK_QUEUE_URL"],
        stack.resources.queue_urls["WebhookQueue"]
    );
    assert_eq!(
        ingest["WEBHOOK_SECRET_ARN"],
        stack.resources.secret_arns["WebhookSigningSecret"]
    );
    let processor = &stack.function_environment["WebhookProcessorFunction"];
    assert_eq!(
        processor["TRACKSTAR_API_KEY_SECRET_ARN"],
        stack.resources.secret_arns["TrackstarApiKeySecret"]
    );
    assert_eq!(
        processor["TRACKSTAR_BASE_URL"],
        "https://production.trackstarhq.com"
    );
    assert_eq!(
        processor["TRACKSTAR_CONNECTION_SECRET_PREFIX"],
        "packr/local/trackstar/connections/"
    );
    assert_eq!(processor["STAGE"], "local");
}

#[tokio::test]
async fn gateway_serves_health_and_the_stack_description() {
    // given a gateway on a free port
    let stack = Arc::new(local_stack().await);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        router(GatewayState::new(stack.clone())),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    // when
    let health: serde_json::Value = client
        .get(format!("{base}/_local/health"))
        .send()
        .await
        .expect("health answers")
        .json()
        .await
        .expect("JSON");
    let described: serde_json::Value = client
        .get(format!("{base}/_local/stack"))
        .send()
        .await
        .expect("stack answers")
        .json()
        .await
        .expect("JSON");
    // then
    assert_eq!(health, serde_json::json!({ "status": "ok" }));
    assert_eq!(
        described["resources"]["table_name"],
        stack.resources.table_name
    );
    assert_eq!(
        described["resources"]["queue_urls"]["WebhookQueue"],
        stack.resources.queue_urls["WebhookQueue"]
    );
    let _ = stop.send(());
    server
        .await
        .expect("server task")
        .expect("server ends cleanly");
}

#[tokio::test]
async fn emulator_process_starts_on_a_free_port_and_stops() {
    // given the repository's moto_server (infra/scripts/venv.sh installs it)
    let log =
        std::env::temp_dir().join(format!("packr-moto-{}.log", uuid::Uuid::new_v4().simple()));
    // when
    let moto = MotoProcess::start(&repo_root(), &log)
        .await
        .expect("moto starts");
    let port = moto.port();
    // then it answers, and after stop it is gone
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok());
    moto.stop().await.expect("moto stops");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn the_recording_holds_every_request_whole_on_its_own_line_when_large_requests_race() {
    // given a recording emulator of the repository (as `make test` starts it for the IAM
    // check) and a table
    let dir = std::env::temp_dir().join(format!("packr-rec-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let recording = dir.join("recording.jsonl");
    let moto = MotoProcess::start_recording(&repo_root(), &dir.join("moto.log"), &recording)
        .await
        .expect("moto starts");
    let sdk = packr_local::emulator::sdk_config(&moto.endpoint()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = packr_local::testing::fresh_table(&sdk).await;
    // when 8 clients put 20 items each at once, every body larger than a write buffer
    // (8 KiB), so a request's entry reaches the file in several writes
    const CLIENTS: usize = 8;
    const PUTS: usize = 20;
    let puts = (0..CLIENTS).map(|client| {
        let (dynamodb, table) = (dynamodb.clone(), table.clone());
        tokio::spawn(async move {
            for put in 0..PUTS {
                let item = [
                    ("pk", format!("T#race#{client}")),
                    ("sk", format!("ITEM#{put}")),
                    ("blob", "x".repeat(9_000 + 1_000 * put)),
                ]
                .map(|(name, value)| {
                    (
                        name.to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::S(value),
                    )
                });
                dynamodb
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(item.into_iter().collect()))
                    .send()
                    .await
                    .expect("put");
            }
        })
    });
    for put in futures::future::join_all(puts).await {
        put.expect("client task");
    }
    moto.stop().await.expect("moto stops");
    // then every line is one JSON object, and every put is there once
    let text = std::fs::read_to_string(&recording).expect("recording");
    let mut puts_recorded = 0;
    for (number, line) in text.lines().enumerate() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not one request: {e}", number + 1));
        let target = entry["headers"]["X-Amz-Target"]
            .as_str()
            .unwrap_or_default();
        if target.ends_with(".PutItem") {
            puts_recorded += 1;
        }
    }
    assert_eq!(puts_recorded, CLIENTS * PUTS);
    let _ = std::fs::remove_dir_all(dir);
}
