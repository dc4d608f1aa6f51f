//! `packr privacy reapply --tenant T [--records-from TABLE] [--no-wait]`: re-runs every
//! erasure of a person of the tenant against TABLE_NAME, in-process (the hash key from
//! PRIVACY_HASH_SECRET_ARN). The restore runbook's step: after a point-in-time restore the
//! table holds data from before the erasures made since; `--records-from` first copies the
//! erasure records from the table the restore replaces (records have no TTL and are kept
//! there), then each is walked again. `--no-wait` skips the guard's wait, for a restored
//! table no function writes to yet. Recorded in the tenant's audit log (AUDIT_SECRET_ARN).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use packr::domain::{TenantId, Timestamp};
use packr::lifecycle::{
    run_job, JobKind, JobKindTag, JobStatus, LifecycleJob, LifecycleJobStore, MemoryLifecycleQueue,
    Registry, RunOutcome, RunnerDeps,
};
use packr::privacy::job::ErasureSteps;
use packr::privacy::{walk_wait, ErasureStatus};

use crate::args::PrivacyReapplyArgs;
use crate::replay::required;

pub async fn reapply(
    sdk: &SdkConfig,
    args: &PrivacyReapplyArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let tenant = TenantId::parse(args.tenant.clone())
        .map_err(|_| anyhow::anyhow!("`{}` is not a tenant id", args.tenant))?;
    let table = required(env, "TABLE_NAME")?;
    let key = Arc::new(packr::privacy::wiring::key_from_sdk(
        sdk,
        required(env, packr::privacy::wiring::SECRET_VARIABLE)?,
    ));
    let store = packr::webhook::wiring::store_without_cursors(sdk, table);
    if let Some(source) = &args.records_from {
        let old = packr::webhook::wiring::store_without_cursors(sdk, source.clone());
        let records = old.list_erasures(&tenant).await?;
        for record in &records {
            store.put_erasure(record).await?;
        }
        writeln!(
            out,
            "copied {} erasure records from {source}",
            records.len()
        )?;
    }
    let records = store.list_erasures(&tenant).await?;
    let wait = if args.no_wait {
        Duration::ZERO
    } else {
        walk_wait()
    };
    let deps = RunnerDeps {
        jobs: LifecycleJobStore::new(store.clone()),
        registry: Registry::new().with(
            JobKindTag::PersonErasure,
            Arc::new(ErasureSteps::new(store.clone(), key)),
        ),
        queue: Arc::new(MemoryLifecycleQueue::new()),
        metrics: Arc::new(packr::metrics::RecordingSink::new()),
        owner: format!("packr-cli-{}", std::process::id()),
        lease_hold: RunnerDeps::DEFAULT_LEASE_HOLD,
        deadline_margin: Duration::from_secs(1),
    };
    let bar = crate::dlq::progress_bar();
    let mut failed = 0;
    for record in records {
        bar.set_message(format!("re-applying {}", record.id));
        let now = Timestamp::now();
        let job = LifecycleJob::new(
            tenant.clone(),
            JobKind::PersonErasure {
                erasure_id: record.id.clone(),
            },
            Some("packr-cli".into()),
            now,
        );
        let again = packr::privacy::ErasureRecord {
            status: ErasureStatus::Pending,
            walk_after: now.plus_millis(i64::try_from(wait.as_millis()).unwrap_or(0)),
            finished_at: None,
            job_id: Some(job.id.clone()),
            counts: Default::default(),
            ..record
        };
        store.put_erasure(&again).await?;
        deps.jobs.create(&job).await?;
        let status = loop {
            let deadline = Instant::now() + Duration::from_secs(300);
            match run_job(&deps, &tenant, &job.id, deadline).await? {
                RunOutcome::Finished(status) => break status,
                RunOutcome::Continue | RunOutcome::Busy => {
                    bar.tick();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let done = store.get_erasure(&tenant, &again.id).await?;
        let counts = done
            .map(|r| {
                r.counts
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        bar.println(format!(
            "{} ({}): {:?}; redacted: {counts}",
            again.id, job.id, status
        ));
        writeln!(out, "{} {:?} redacted: {counts}", again.id, status)?;
        if status != JobStatus::Completed {
            failed += 1;
        }
    }
    bar.finish_and_clear();
    crate::audit::record(
        sdk,
        env,
        &tenant,
        "privacy.reapply",
        format!("tenant:{tenant}"),
        serde_json::json!({ "records_from": args.records_from, "failed": failed }),
    )
    .await?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
