//! `packr health`: argument parsing, and the command against a fresh stack on the emulator
//! (connections, sync states and webhook stats in the table, the real queues and DLQs).

use std::process::ExitCode;

use clap::Parser;
use packr::domain::{ConnectionId, ConnectionStatus, Currency, Tenant, Timestamp};
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, CursorCodec, TenantStore};
use packr::sync::{
    DynamoSyncStateStore, JobKey, ResourceKind, RunCounts, RunSummary, SyncMode, SyncStateStore,
};
use packr_cli::{health_tenant, Cli, Command, HealthArgs, HealthCommandError};

use crate::helpers::*;

fn parse(argv: &[&str]) -> HealthArgs {
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Health(args) = cli.command else {
        panic!("not health");
    };
    args
}

#[test]
fn health_takes_an_optional_tenant() {
    assert_eq!(health_tenant(&parse(&["packr", "health"])).unwrap(), None);
    assert_eq!(
        health_tenant(&parse(&["packr", "health", "--tenant", "acme"])).unwrap(),
        Some(tenant("acme"))
    );
    assert!(matches!(
        health_tenant(&parse(&["packr", "health", "--tenant", "not a tenant!"])),
        Err(HealthCommandError::InvalidTenant(_))
    ));
    for argv in [
        vec!["packr", "health", "--tenant"],
        vec!["packr", "health", "acme"],
        vec!["packr", "health", "--connection", "c"],
    ] {
        assert!(Cli::try_parse_from(&argv).is_err(), "accepted {argv:?}");
    }
}

struct HealthStack {
    sdk: aws_config::SdkConfig,
    store: DynamoStore,
    provisioned: packr_local::provision::Provisioned,
}

impl HealthStack {
    async fn run(&self, argv: &[&str]) -> (ExitCode, String) {
        let cli = Cli::try_parse_from(argv).unwrap();
        let mut out = Vec::new();
        let p = &self.provisioned;
        let env = move |name: &str| match name {
            "TABLE_NAME" => Some(p.table_name.clone()),
            "WEBHOOK_QUEUE_URL" => p.queue_url("WebhookQueue").map(str::to_owned),
            "WEBHOOK_DLQ_URL" => p.queue_url("WebhookDeadLetterQueue").map(str::to_owned),
            "SYNC_JOBS_QUEUE_URL" => p.queue_url("SyncJobsQueue").map(str::to_owned),
            "SYNC_JOBS_DLQ_URL" => p.queue_url("SyncJobsDeadLetterQueue").map(str::to_owned),
            _ => None,
        };
        let code = packr_cli::run(cli, &self.sdk, &env, &mut out)
            .await
            .unwrap();
        (code, String::from_utf8(out).unwrap())
    }
}

async fn health_stack() -> HealthStack {
    let sdk = packr_local::testing::emulator_config().await;
    let provisioned = packr_local::testing::fresh_stack(&sdk).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        provisioned.table_name.clone(),
        CursorCodec::new(b"ops-health-test".to_vec()),
    );
    let t = tenant("acme");
    store
        .create_tenant(&Tenant {
            id: t.clone(),
            name: "Acme".into(),
            default_currency: Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    store
        .create_connection(&t, &connection(&t, "conn_a"))
        .await
        .unwrap();
    let states = DynamoSyncStateStore::new(store.clone());
    let now = Timestamp::now();
    for resource in ResourceKind::ALL {
        let key = JobKey {
            tenant_id: t.clone(),
            connection_id: ConnectionId::parse("conn_a").unwrap(),
            resource,
        };
        let (lease, _) = states
            .acquire(&key, "test", now, now.plus_seconds(60))
            .await
            .unwrap()
            .unwrap();
        let run = RunSummary {
            run_id: "r".into(),
            mode: SyncMode::Incremental,
            started_at: now,
            finished_at: now,
            from: None,
            to: now.plus_seconds(-20),
            counts: RunCounts::default(),
            chunks: 1,
        };
        states.complete(&lease, &run, now).await.unwrap();
    }
    HealthStack {
        sdk,
        store,
        provisioned,
    }
}

#[tokio::test]
async fn health_prints_every_tenant_and_the_queues_and_fails_on_unhealthy_or_dead_letters() {
    // given a healthy connection and empty queues
    let s = health_stack().await;

    // when every tenant with an active connection is checked
    let (code, out) = s.run(&["packr", "health"]).await;

    // then
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("conn_a") && out.contains("healthy"), "{out}");
    assert!(
        out.contains("acme             1 connections: 1 healthy"),
        "{out}"
    );
    for q in ["webhook ", "webhook-dlq", "sync-jobs ", "sync-jobs-dlq"] {
        assert!(out.contains(q), "no {q} row: {out}");
    }

    // given a dead-lettered message: non-zero, with the DLQ's oldest age
    let sqs = aws_sdk_sqs::Client::new(&s.sdk);
    sqs.send_message()
        .queue_url(s.provisioned.queue_url("WebhookDeadLetterQueue").unwrap())
        .message_body("{}")
        .message_group_id("acme")
        .send()
        .await
        .unwrap();
    let (code, out) = s.run(&["packr", "health", "--tenant", "acme"]).await;
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    let dlq_row = out.lines().find(|l| l.starts_with("webhook-dlq")).unwrap();
    assert!(
        dlq_row.contains(" 1 ") && dlq_row.trim_end().ends_with('s'),
        "{dlq_row}"
    );
    // and the peek left the message there
    let (_, again) = s.run(&["packr", "health", "--tenant", "acme"]).await;
    let dlq_row = again
        .lines()
        .find(|l| l.starts_with("webhook-dlq"))
        .unwrap();
    assert!(dlq_row.contains(" 1 "), "{dlq_row}");

    // given a disconnected connection of the tenant: unhealthy, non-zero
    sqs.purge_queue()
        .queue_url(s.provisioned.queue_url("WebhookDeadLetterQueue").unwrap())
        .send()
        .await
        .unwrap();
    let t = tenant("acme");
    let mut gone = connection(&t, "conn_gone");
    gone.status = ConnectionStatus::Disconnected;
    s.store.create_connection(&t, &gone).await.unwrap();
    let (code, out) = s.run(&["packr", "health", "--tenant", "acme"]).await;
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    let row = out.lines().find(|l| l.contains("conn_gone")).unwrap();
    assert!(
        row.contains("unhealthy") && row.contains("connection_not_active"),
        "{row}"
    );
}
