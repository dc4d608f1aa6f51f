//! `packr tenant offboard --tenant T` and `packr tenant offboard-status`: the tenant's one
//! offboarding job, run in-process to the end (audited), leaves only what retention keeps;
//! run again it resumes the same job and changes nothing more.

use std::process::ExitCode;

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Parser;
use packr::domain::Timestamp;

use crate::offboard_support::*;

async fn cli(w: &World, secret: &str, argv: &[&str]) -> (ExitCode, String) {
    let cli = packr_cli::Cli::try_parse_from(argv).unwrap();
    let (table, secret) = (w.s.table.clone(), secret.to_owned());
    let env = move |name: &str| match name {
        "TABLE_NAME" => Some(table.clone()),
        "AUDIT_SECRET_ARN" => Some(secret.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    let code = packr_cli::run(cli, &w.s.sdk, &env, &mut out).await.unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn packr_tenant_offboard_runs_the_tenants_job_to_the_end_and_resumes_it_when_run_again() {
    // given acme and globex, and the audit chain's key (acme's seeded chain removed: the
    // command appends to a real one)
    let w = world().await;
    seed(
        &w,
        "acme",
        &["b1", "b2"],
        &[("conn_a", None), ("conn_b", Some("b2"))],
    )
    .await;
    seed(&w, "globex", &["g1"], &[("conn_g", None)]).await;
    let client = aws_sdk_dynamodb::Client::new(&w.s.sdk);
    for (pk, sk) in [("T#acme#AUDIT", "0001#aud_1"), ("T#acme#AUDITHEAD", "HEAD")] {
        client
            .delete_item()
            .table_name(&w.s.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap();
    }
    let secret = format!(
        "packr/test/offboard-cli-audit-{}-{}",
        std::process::id(),
        Timestamp::now().unix_micros()
    );
    aws_sdk_secretsmanager::Client::new(&w.s.sdk)
        .create_secret()
        .name(&secret)
        .secret_string("offboard-cli-test-audit-chain-key-0123456789")
        .send()
        .await
        .unwrap();
    let globex_before = w.tenant_items("globex").await;

    // when the operator offboards acme
    let (code, text) = cli(
        &w,
        &secret,
        &["packr", "tenant", "offboard", "--tenant", "acme"],
    )
    .await;

    // then the job ran to the end, and only the job, the audit trail (with the command's
    // entry) and the TTL-bound records are left under acme's prefix
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(
        text.contains("offboarding of tenant acme started"),
        "{text}"
    );
    assert!(text.contains(": completed (phase done"), "{text}");
    assert!(text.contains("erased.messages"), "{text}");
    let left: Vec<String> = w
        .items_where(|p| p.starts_with("T#acme#"))
        .await
        .iter()
        .map(pk)
        .collect();
    assert_eq!(
        left,
        [
            "T#acme#AUDIT",
            "T#acme#AUDITHEAD",
            "T#acme#EVT#evt_ok",
            "T#acme#IDEM#orders.create#abc",
            "T#acme#LIFECYCLE"
        ]
    );
    let entry = &w.items_where(|p| p == "T#acme#AUDIT").await[0];
    assert_eq!(s_attr(entry, "action"), "tenant.offboard");
    assert!(
        w.tenant_items("globex").await == globex_before,
        "globex changed"
    );

    // and its status reads back; run again, it resumes the same job and changes nothing
    let (code, status) = cli(
        &w,
        &secret,
        &["packr", "tenant", "offboard-status", "--tenant", "acme"],
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{status}");
    assert!(
        status.contains("job lc_tenant_offboarding: completed"),
        "{status}"
    );
    // (the job's record is saved again by the run: its lease)
    let not_jobs = |p: &str| !p.ends_with("#LIFECYCLE");
    let everything = w.items_where(not_jobs).await;
    let (code, again) = cli(
        &w,
        &secret,
        &["packr", "tenant", "offboard", "--tenant", "acme"],
    )
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{again}");
    assert!(again.contains("resuming"), "{again}");
    assert!(
        w.items_where(not_jobs).await == everything,
        "the second run changed items"
    );

    // and a tenant that never was is an error, with nothing started
    let cli_args =
        packr_cli::Cli::try_parse_from(["packr", "tenant", "offboard", "--tenant", "nobody"])
            .unwrap();
    let table = w.s.table.clone();
    let env = move |name: &str| (name == "TABLE_NAME").then(|| table.clone());
    assert!(packr_cli::run(cli_args, &w.s.sdk, &env, &mut Vec::new())
        .await
        .is_err());
}
