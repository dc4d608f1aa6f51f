//! `packr sync run`: argument parsing, and the command against a fresh stack on the
//! emulator (the tenant's connections from the table, the jobs on the real sync-jobs queue).

use std::process::ExitCode;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use clap::Parser;
use packr::domain::{ConnectionStatus, Currency, Tenant};
use packr::store::dynamo::DynamoStore;
use packr::store::{AuditStore, ConnectionStore, CursorCodec, PageRequest, TenantStore};
use packr::sync::{ResourceKind, SyncJob, SyncMode};
use packr_cli::{Cli, Command, SyncCommand, SyncRequest, SyncRunArgs, SyncRunError};

use crate::api_support::audit_secret;
use crate::helpers::*;

fn parse(argv: &[&str]) -> SyncRunArgs {
    let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Sync(SyncCommand::Run(args)) = cli.command else {
        panic!("not a sync run");
    };
    args
}

#[test]
fn defaults_are_every_connection_every_resource_incremental() {
    let request =
        SyncRequest::try_from(&parse(&["packr", "sync", "run", "--tenant", "acme"])).unwrap();
    assert_eq!(request.tenant, tenant("acme"));
    assert_eq!(request.connection, None);
    assert_eq!(request.resources, ResourceKind::ALL.to_vec());
    assert_eq!(request.mode, SyncMode::Incremental);
}

#[test]
fn resources_repeat_and_collapse_and_full_is_a_flag() {
    let args = parse(&[
        "packr",
        "sync",
        "run",
        "--tenant",
        "acme",
        "--connection",
        "conn_1",
        "--resource",
        "products",
        "--resource",
        "orders",
        "--resource",
        "products",
        "--full",
    ]);
    let request = SyncRequest::try_from(&args).unwrap();
    assert_eq!(request.connection.as_deref(), Some("conn_1"));
    assert_eq!(
        request.resources,
        vec![ResourceKind::Orders, ResourceKind::Products]
    );
    assert_eq!(request.mode, SyncMode::Full);
}

#[test]
fn bad_arguments_are_refused() {
    for argv in [
        vec!["packr", "sync", "run"],
        vec![
            "packr",
            "sync",
            "run",
            "--tenant",
            "acme",
            "--resource",
            "returns",
        ],
        vec!["packr", "sync", "run", "--tenant", "acme", "--mode", "full"],
        vec!["packr", "sync", "run", "--tenant", "acme", "--full", "yes"],
        vec!["packr", "sync"],
    ] {
        assert!(Cli::try_parse_from(&argv).is_err(), "accepted {argv:?}");
    }
    let args = parse(&["packr", "sync", "run", "--tenant", "not a tenant!"]);
    assert!(matches!(
        SyncRequest::try_from(&args),
        Err(SyncRunError::InvalidTenant(_))
    ));
}

struct SyncStack {
    sdk: aws_config::SdkConfig,
    sqs: aws_sdk_sqs::Client,
    table: String,
    queue_url: String,
    /// The audit chain key's secret; `None` runs the CLI without AUDIT_SECRET_ARN.
    audit_key: Option<String>,
}

impl SyncStack {
    fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| match name {
            "TABLE_NAME" => Some(self.table.clone()),
            "SYNC_JOBS_QUEUE_URL" => Some(self.queue_url.clone()),
            "AUDIT_SECRET_ARN" => self.audit_key.clone(),
            _ => None,
        }
    }

    async fn run(&self, argv: &[&str]) -> (anyhow::Result<ExitCode>, String) {
        let cli = Cli::try_parse_from(argv).unwrap();
        let mut out = Vec::new();
        let env = self.env();
        let result = packr_cli::run(cli, &self.sdk, &env, &mut out).await;
        (result, String::from_utf8(out).unwrap())
    }

    /// The tenant's audit entries written by the CLI, oldest first: (action, target).
    async fn cli_audit(&self) -> Vec<(String, String)> {
        let store = packr::webhook::wiring::store_without_cursors(&self.sdk, self.table.clone());
        let log = packr::audit::log_with_secret(&self.sdk, store, self.audit_key.clone());
        let page = log
            .list(&tenant("acme"), &PageRequest::default())
            .await
            .unwrap();
        let mut entries: Vec<_> = page
            .items
            .iter()
            .filter(|e| e.actor.to_string() == "packr-cli")
            .map(|e| (e.action.clone(), e.target.clone()))
            .collect();
        entries.reverse();
        entries
    }

    async fn drain(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let batch = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }
}

/// A fresh stack with tenant acme: connections conn_a, conn_b (active), conn_old
/// (reauth required).
async fn sync_stack() -> SyncStack {
    let sdk = packr_local::testing::emulator_config().await;
    let provisioned = packr_local::testing::fresh_stack(&sdk).await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        provisioned.table_name.clone(),
        CursorCodec::new(b"ops-sync-test".to_vec()),
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
    for (id, status) in [
        ("conn_a", ConnectionStatus::Active),
        ("conn_b", ConnectionStatus::Active),
        ("conn_old", ConnectionStatus::ReauthRequired),
    ] {
        let mut c = connection(&t, id);
        c.status = status;
        store.create_connection(&t, &c).await.unwrap();
    }
    SyncStack {
        audit_key: Some(audit_secret(&sdk).await),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: provisioned.queue_url("SyncJobsQueue").unwrap().to_owned(),
        table: provisioned.table_name.clone(),
        sdk,
    }
}

#[tokio::test]
async fn sync_run_queues_jobs_prints_the_table_and_fails_on_what_cannot_sync() {
    // given a tenant with two active connections and one that needs a reinstall
    let s = sync_stack().await;

    // when every connection's orders and inventory are synced in full
    let (result, out) = s
        .run(&[
            "packr",
            "sync",
            "run",
            "--tenant",
            "acme",
            "--resource",
            "orders",
            "--resource",
            "inventory",
            "--full",
        ])
        .await;

    // then it succeeds and prints one row per job, and the skipped connection
    assert_eq!(result.unwrap(), ExitCode::SUCCESS, "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["conn_a", "orders", "full"],
            vec!["conn_a", "inventory", "full"],
            vec!["conn_b", "orders", "full"],
            vec!["conn_b", "inventory", "full"],
        ],
        "{out}"
    );
    assert!(out.contains("skipped conn_old (reauth_required"), "{out}");
    assert!(out.contains("4 jobs queued for tenant acme"), "{out}");
    // and the four jobs are on the queue, reason cli, in the tenant's group
    let messages = s.drain().await;
    assert_eq!(messages.len(), 4);
    for m in &messages {
        let job: SyncJob = serde_json::from_str(m.body().unwrap()).unwrap();
        assert_eq!(
            (job.tenant_id.as_str(), job.reason.as_str()),
            ("acme", "cli")
        );
        assert_eq!(job.mode, SyncMode::Full);
        assert_eq!(
            m.attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .map(String::as_str),
            Some("acme")
        );
    }

    // an unknown tenant, an unknown or another tenant's connection, a named inactive
    // connection: errors (non-zero exit in main), nothing queued
    for (argv, expected) in [
        (
            vec!["packr", "sync", "run", "--tenant", "nobody"],
            "tenant nobody not found",
        ),
        (
            vec![
                "packr",
                "sync",
                "run",
                "--tenant",
                "acme",
                "--connection",
                "conn_zzz",
            ],
            "connection conn_zzz not found",
        ),
        (
            vec![
                "packr",
                "sync",
                "run",
                "--tenant",
                "acme",
                "--connection",
                "conn_old",
            ],
            "conn_old is reauth_required",
        ),
    ] {
        let (result, out) = s.run(&argv).await;
        let error = result.expect_err(&format!("{argv:?} succeeded: {out}"));
        assert!(
            format!("{error:#}").contains(expected),
            "{argv:?}: {error:#}"
        );
    }
    assert!(s.drain().await.is_empty());

    // one named active connection, incremental by default
    let (result, out) = s
        .run(&[
            "packr",
            "sync",
            "run",
            "--tenant",
            "acme",
            "--connection",
            "conn_b",
        ])
        .await;
    assert_eq!(result.unwrap(), ExitCode::SUCCESS, "{out}");
    assert!(
        out.contains(&format!("{} jobs queued", ResourceKind::ALL.len())),
        "{out}"
    );
    let jobs: Vec<SyncJob> = s
        .drain()
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(jobs.len(), ResourceKind::ALL.len());
    assert!(jobs
        .iter()
        .all(|j| j.connection_id.as_str() == "conn_b" && j.mode == SyncMode::Incremental));

    // and each run that queued jobs is in the tenant's audit log, the refused ones are not
    assert_eq!(
        s.cli_audit().await,
        vec![
            (
                "sync.run".to_owned(),
                "connections:conn_a,conn_b".to_owned()
            ),
            ("sync.run".to_owned(), "connections:conn_b".to_owned()),
        ]
    );
}

#[tokio::test]
async fn reconcile_from_the_cli_is_audited_and_without_the_audit_key_the_run_fails_loudly() {
    // given the tenant's stack
    let mut s = sync_stack().await;

    // when ops reconcile one connection
    let (result, out) = s
        .run(&[
            "packr",
            "reconcile",
            "--tenant",
            "acme",
            "--connection",
            "conn_a",
            "--resource",
            "orders",
            "--dry-run",
        ])
        .await;

    // then the job is queued and the action audited
    assert_eq!(result.unwrap(), ExitCode::SUCCESS, "{out}");
    assert_eq!(s.drain().await.len(), 1);
    assert_eq!(
        s.cli_audit().await,
        vec![("sync.reconcile".to_owned(), "connection:conn_a".to_owned())]
    );

    // when the CLI runs without the audit key
    s.audit_key = None;
    let (result, out) = s
        .run(&[
            "packr",
            "sync",
            "run",
            "--tenant",
            "acme",
            "--connection",
            "conn_a",
        ])
        .await;

    // then it fails saying the action ran but was not recorded (its jobs are queued)
    let error = result.expect_err(&format!("succeeded without the audit key: {out}"));
    assert!(
        format!("{error:#}").contains("sync.run ran but could not be recorded"),
        "{error:#}"
    );
    assert_eq!(s.drain().await.len(), ResourceKind::ALL.len());
}

#[tokio::test]
async fn sync_run_without_its_environment_says_which_variable_is_missing() {
    let sdk = packr_local::testing::emulator_config().await;
    let cli = Cli::try_parse_from(["packr", "sync", "run", "--tenant", "acme"]).unwrap();
    let env = |name: &str| (name == "TABLE_NAME").then(|| "t".to_owned());
    let error = packr_cli::run(cli, &sdk, &env, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("SYNC_JOBS_QUEUE_URL"),
        "{error:#}"
    );
}
