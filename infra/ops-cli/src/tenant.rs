//! `packr tenant offboard --tenant T` and `packr tenant offboard-status --tenant T`: the
//! tenant's offboarding job (one per tenant: started once, resumed by every later call),
//! run here in-process by the lifecycle runner, a bounded run at a time, with a progress
//! line; at the end its counts and the export files with their download links.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use packr::domain::{TenantId, Timestamp};
use packr::lifecycle::offboard::{
    connection::grace_from_env, ConnectionOffboarder, Eraser, ExportPhase, OffboardDeps,
    OffboardSteps, Presign,
};
use packr::lifecycle::{
    run_job, JobKind, JobKindTag, JobStatus, LifecycleJob, LifecycleJobStore, MemoryLifecycleQueue,
    Registry, RunOutcome, RunnerDeps,
};
use packr::secrets::SecretsManagerSource;
use packr::store::TenantStore;

use crate::args::TenantArgs;
use crate::replay::required;

/// The one offboarding job of a tenant (its partition is the tenant's: one id serves all).
pub const TENANT_OFFBOARDING_JOB: &str = "lc_tenant_offboarding";

/// Failed runs in a row before the command gives up (the job keeps its checkpoint: run
/// the command again).
const MAX_FAILED_RUNS: u32 = 5;
/// How long one run may take before the bar is updated (the runner saves after every
/// step; a run is a batch of steps).
const RUN_SLICE: Duration = Duration::from_secs(5);

/// What the command plugs in beyond the table: the export phase and its presigner (the
/// exporter of `EXPORT_BUCKET`; without it the job records `export: not_configured`).
#[derive(Clone, Default)]
pub struct Hooks {
    pub export: Option<Arc<dyn ExportPhase>>,
    pub presign: Option<Arc<dyn Presign>>,
}

impl Hooks {
    /// The exporter of the bucket `EXPORT_BUCKET` names (and `TABLE_NAME`'s table), when
    /// both are set.
    pub fn from_env(sdk: &aws_config::SdkConfig, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let (Some(bucket), Some(table)) = (set("EXPORT_BUCKET"), set("TABLE_NAME")) else {
            return Self::default();
        };
        let exporter = Arc::new(packr::lifecycle::Exporter::new(
            packr::webhook::wiring::store_without_cursors(sdk, table),
            packr::lifecycle::wiring::s3_client(sdk),
            bucket,
        ));
        Self {
            export: Some(exporter.clone()),
            presign: Some(exporter),
        }
    }
}

/// The command's settings as the library's `Env` (the Trackstar client reads the rest of
/// its `TRACKSTAR_*` settings from the process environment).
struct EnvLookup(std::collections::HashMap<String, String>);

impl EnvLookup {
    fn of(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let names = [
            "CONNECTION_ERASURE_GRACE_DAYS",
            "TRACKSTAR_BASE_URL",
            "TRACKSTAR_API_KEY_SECRET_ARN",
            "TRACKSTAR_CONNECTION_SECRET_PREFIX",
        ];
        Self(
            names
                .iter()
                .filter_map(|n| env(n).map(|v| ((*n).to_owned(), v)))
                .collect(),
        )
    }
}

impl packr::runtime::Env for EnvLookup {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn tenant_of(args: &TenantArgs) -> anyhow::Result<TenantId> {
    TenantId::parse(args.tenant.clone()).map_err(|e| anyhow::anyhow!("--tenant: {e}"))
}

/// `packr tenant offboard`.
pub async fn offboard(
    sdk: &SdkConfig,
    args: &TenantArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hooks: &Hooks,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let tenant = tenant_of(args)?;
    let table = required(env, "TABLE_NAME")?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, table.clone());
    let jobs = LifecycleJobStore::new(store.clone());
    let existing = jobs.get(&tenant, TENANT_OFFBOARDING_JOB).await?;
    if existing.is_none() {
        if store.get_tenant(&tenant).await?.is_none() {
            anyhow::bail!("tenant {tenant} does not exist (and has no offboarding to resume)");
        }
        let job = LifecycleJob::with_id(
            tenant.clone(),
            TENANT_OFFBOARDING_JOB.to_owned(),
            JobKind::TenantOffboarding,
            Some("packr-cli".to_owned()),
            Timestamp::now(),
        );
        // Recorded before anything is erased (the audit trail stays through it).
        crate::audit::record(
            sdk,
            env,
            &tenant,
            "tenant.offboard",
            format!("tenant:{tenant}"),
            serde_json::json!({ "job_id": job.id }),
        )
        .await?;
        if jobs.create(&job).await? {
            writeln!(
                out,
                "offboarding of tenant {tenant} started: job {}",
                job.id
            )?;
        }
    } else {
        writeln!(out, "resuming the offboarding of tenant {tenant}")?;
    }

    let settings = EnvLookup::of(env);
    let secrets = Arc::new(SecretsManagerSource::from_config(sdk));
    let trackstar = match env("TRACKSTAR_API_KEY_SECRET_ARN").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(key) => Some(
            packr::trackstar::from_env(
                &settings,
                key,
                secrets.clone(),
                store.client().clone(),
                table.clone(),
                packr::trackstar::Priority::Interactive,
            )
            .context("the Trackstar client (TRACKSTAR_API_KEY_SECRET_ARN, TRACKSTAR_BASE_URL)")?,
        ),
    };
    let metrics = Arc::new(packr::metrics::RecordingSink::new());
    let steps = Arc::new(OffboardSteps::new(OffboardDeps {
        eraser: Eraser::new(store.client().clone(), table),
        connections: ConnectionOffboarder {
            store: store.clone(),
            secrets,
            grace: grace_from_env(&settings)?,
            metrics: metrics.clone(),
        },
        export: hooks
            .export
            .clone()
            .unwrap_or_else(packr::lifecycle::offboard::no_export),
        trackstar,
        clock: Arc::new(Timestamp::now),
    }));
    let runner = RunnerDeps {
        jobs: jobs.clone(),
        registry: Registry::new().with(JobKindTag::TenantOffboarding, steps),
        queue: Arc::new(MemoryLifecycleQueue::new()),
        metrics,
        owner: format!("packr-cli:{}", std::process::id()),
        lease_hold: RunnerDeps::DEFAULT_LEASE_HOLD,
        deadline_margin: Duration::from_millis(500),
    };

    let bar = crate::dlq::progress_bar();
    let mut failed_runs = 0;
    let status = loop {
        let outcome = run_job(
            &runner,
            &tenant,
            TENANT_OFFBOARDING_JOB,
            Instant::now() + RUN_SLICE,
        )
        .await;
        if let Some(job) = jobs.get(&tenant, TENANT_OFFBOARDING_JOB).await? {
            let erased: u64 = job
                .counts
                .iter()
                .filter(|(k, _)| k.starts_with("erased."))
                .map(|(_, v)| v)
                .sum();
            bar.set_position(job.steps);
            bar.set_message(format!("{} · {erased} items erased", job.phase));
        }
        match outcome {
            Ok(RunOutcome::Finished(status)) => break status,
            Ok(RunOutcome::Continue) => failed_runs = 0,
            Ok(RunOutcome::Busy) => tokio::time::sleep(Duration::from_secs(2)).await,
            Err(e) => {
                failed_runs += 1;
                if failed_runs >= MAX_FAILED_RUNS {
                    bar.finish_and_clear();
                    return Err(anyhow::Error::new(e).context(
                        "the offboarding keeps failing; its progress is saved: run the command again",
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500 * u64::from(failed_runs))).await;
            }
        }
    };
    bar.finish_and_clear();
    let job = jobs
        .get(&tenant, TENANT_OFFBOARDING_JOB)
        .await?
        .context("the offboarding job vanished")?;
    print_job(&job, hooks, out).await?;
    Ok(match status {
        JobStatus::Completed => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// `packr tenant offboard-status`: non-zero when the tenant has no offboarding.
pub async fn status(
    sdk: &SdkConfig,
    args: &TenantArgs,
    env: &dyn Fn(&str) -> Option<String>,
    hooks: &Hooks,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let tenant = tenant_of(args)?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    match LifecycleJobStore::new(store)
        .get(&tenant, TENANT_OFFBOARDING_JOB)
        .await?
    {
        None => {
            writeln!(out, "tenant {tenant} has no offboarding")?;
            Ok(ExitCode::FAILURE)
        }
        Some(job) => {
            print_job(&job, hooks, out).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn print_job(job: &LifecycleJob, hooks: &Hooks, out: &mut dyn Write) -> anyhow::Result<()> {
    let status = serde_json::to_value(job.status)?;
    writeln!(
        out,
        "job {}: {} (phase {}, {} steps)",
        job.id,
        status.as_str().unwrap_or("?"),
        job.phase,
        job.steps
    )?;
    if let Some(error) = &job.error {
        writeln!(out, "last error: {error}")?;
    }
    for (name, n) in &job.counts {
        writeln!(out, "  {name:<40} {n:>8}")?;
    }
    if job.exports.is_empty() {
        writeln!(out, "exports: none")?;
    }
    for file in &job.exports {
        let url = match &hooks.presign {
            Some(presign) => presign
                .url(file)
                .await
                .unwrap_or_else(|e| format!("(no link: {e})")),
            None => "(no presigner configured)".to_owned(),
        };
        writeln!(
            out,
            "export {}: {} lines, {} bytes, {}\n  {url}",
            file.resource, file.lines, file.bytes, file.key
        )?;
    }
    Ok(())
}
