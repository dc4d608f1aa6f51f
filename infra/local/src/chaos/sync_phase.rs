//! The sync phase of `make chaos` (after the webhook phase, on the same stack; alone with
//! `CHAOS_PHASE=sync`): incremental syncs on the schedule (sped up), full syncs of every
//! resource, a reconciliation, all while changes of every kind are raised and their
//! webhooks flow (with the simulator's duplicates and reordering). During full runs' pages
//! ([`super::sync_faults`]): a worker killed between its page read and its checkpoint, a
//! worker held past its lease until another takes the job over (its late writes meet the
//! fence), a DynamoDB burst for the sync functions, Trackstar 5xx and 429 bursts. Then the
//! checks of [`super::sync_checks`] and a dry-run reconciliation that must find no drift.
//!
//! sync-worker and sync-scheduler are built from their template environment (as their
//! binaries are), their AWS endpoint a fault proxy of their own (the DynamoDB burst) in
//! front of the run's proxy (which serialises conditional writes and taps accepted writes
//! into the [`Ledger`]): every write of every writer passes the one tap.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use chrono::Utc;
use packr::domain::{ConnectionId, TenantId, Timestamp};
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::store::CursorCodec;
use packr::sync::wiring::{scheduler_from_env, worker_from_env};
use packr::sync::{
    DynamoSyncStateStore, JobKey, ResourceKind, SchedulerDeps, SyncMode, SyncStateStore,
};
use tokio::sync::watch;
use trackstar_sim::{MutateRequest, MutationKind};

use super::ledger::Ledger;
use super::sync_checks;
use super::sync_driver::{drive_faults, lock, Faults, Pollers};
use super::sync_faults::{FaultySource, PagePlan};
use super::sync_report::SyncReport;
use super::truth;
use crate::emulator::{function_config, with_endpoint};
use crate::esm::{self, EsmConfig, Poller};
use crate::faultproxy::{self, FaultConfig, FaultProxy, Service};
use crate::schedule::{ScheduleRunner, ScheduledRule};
use crate::sync::{INCREMENTAL_RULE, JOBS_QUEUE, SCHEDULER_FUNCTION, WORKER_FUNCTION};
use crate::webhooks::WebhookStack;

/// What the phase does. `Default` is `make chaos`'s.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncPhaseOptions {
    pub seed: u64,
    /// How long changes are raised (webhooks flow) while the syncs run.
    pub duration: Duration,
    pub raise_per_second: f64,
    /// The incremental schedule's tick: the template's `rate(10 minutes)` sped up 60×.
    pub tick: Duration,
    /// Pollers of the sync-jobs queue (the template's `MaximumConcurrency` is 5).
    pub pollers: usize,
    /// `SYNC_LEASE_SECONDS` (the template's 180 s, shortened so a takeover comes soon).
    pub lease: Duration,
    /// Visibility timeout of the sync pollers' receives (the queue's is 720 s). Longer
    /// than a chunk, as on AWS: a message redelivered while its chunk still runs is a
    /// duplicate (a fresh reconcile job that finds its job leased comes back 5 min later).
    pub visibility: Duration,
    /// `SYNC_MAX_CHUNK_SECONDS` (the template's 60 s): shorter than the visibility.
    pub max_chunk: Duration,
    /// `SYNC_PAGE_LIMIT`: small pages, so full runs have many.
    pub page_limit: u32,
    /// Pages between the faults of the page plan.
    pub fault_spacing: usize,
    pub dynamo_burst: Duration,
    pub trackstar_burst: Duration,
    /// Failed invocations within this of a fault are explained by it (the SDK's and the
    /// Trackstar client's retries, a page in progress).
    pub explain_slack: Duration,
    /// Changes go on being raised at least this long after the reconciliation started.
    pub reconcile_overlap: Duration,
    pub settle_timeout: Duration,
}

impl Default for SyncPhaseOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            duration: Duration::from_secs(120),
            raise_per_second: 4.0,
            tick: Duration::from_secs(10),
            pollers: 3,
            lease: Duration::from_secs(10),
            // Longer than a chunk (a shorter one cuts a held page off at the chunk's end, with
            // no late write to fence); a killed or held job is taken over sooner by a tick's
            // job once its lease is over.
            visibility: Duration::from_secs(90),
            max_chunk: Duration::from_secs(60),
            page_limit: 25,
            fault_spacing: 5,
            dynamo_burst: Duration::from_secs(6),
            trackstar_burst: Duration::from_secs(3),
            explain_slack: Duration::from_secs(20),
            reconcile_overlap: Duration::from_secs(20),
            settle_timeout: Duration::from_secs(600),
        }
    }
}

/// One tick of the incremental schedule: sync-scheduler invoked with the event EventBridge
/// sends; how many jobs it queued.
async fn tick(scheduler: &SchedulerDeps, rule: &ScheduledRule) -> anyhow::Result<usize> {
    let event = serde_json::to_value(ScheduleRunner::event(rule, Utc::now()))?;
    let report = packr::sync::handle_event(scheduler, &event).await?;
    Ok(report.incremental + report.full)
}

/// No sync job queued or in flight (nor delayed, unless `delayed_ok`), none leased and no
/// run in progress.
async fn quiet(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    states: &DynamoSyncStateStore,
    keys: &[JobKey],
) -> anyhow::Result<bool> {
    quiet_but(sqs, queue_url, states, keys, false).await
}

async fn quiet_but(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    states: &DynamoSyncStateStore,
    keys: &[JobKey],
    delayed_ok: bool,
) -> anyhow::Result<bool> {
    let depth = esm::queue_depths(sqs, queue_url).await?;
    if depth.visible + depth.in_flight > 0 || (!delayed_ok && depth.delayed > 0) {
        return Ok(false);
    }
    let now = Timestamp::now();
    let states = states.get_many(keys).await?;
    Ok(states
        .iter()
        .all(|s| !s.leased_at(now) && s.checkpoint.is_none()))
}

async fn wait_quiet(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    states: &DynamoSyncStateStore,
    keys: &[JobKey],
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if quiet(sqs, queue_url, states, keys).await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(false)
}

/// Runs the phase on the running stack. `proxy` is the run's (its tap feeds `ledger`).
pub async fn run(
    sdk: &SdkConfig,
    running: &WebhookStack,
    proxy: &FaultProxy,
    ledger: &Ledger,
    options: SyncPhaseOptions,
) -> anyhow::Result<SyncReport> {
    let started = Instant::now();
    let since = Timestamp::now();
    eprintln!(
        "chaos sync: {} s of changes at {}/s with incremental ticks every {} s, full syncs of {} resources and a reconciliation",
        options.duration.as_secs(),
        options.raise_per_second,
        options.tick.as_secs(),
        ResourceKind::ALL.len()
    );
    // The run's proxy taps and serialises; the faults of this phase are its own.
    proxy.set_rate(0.0);
    running.sim.reset_requests();
    let burst_proxy = Arc::new(
        faultproxy::start(
            &proxy.url,
            FaultConfig {
                rate: 0.0,
                seed: options.seed,
                serialize_conditional_writes: false,
                partial_batch_gets: 0.0,
            },
            None,
        )
        .await
        .context("starting the sync functions' fault proxy")?,
    );

    let stack = &running.stack;
    let env = |function: &str| -> anyhow::Result<BTreeMap<String, String>> {
        stack
            .function_environment
            .get(function)
            .cloned()
            .with_context(|| format!("template.yaml has no {function}"))
    };
    let mut worker_env = env(WORKER_FUNCTION)?;
    worker_env.insert(
        "SYNC_LEASE_SECONDS".into(),
        options.lease.as_secs().to_string(),
    );
    worker_env.insert("SYNC_PAGE_LIMIT".into(), options.page_limit.to_string());
    worker_env.insert(
        "SYNC_MAX_CHUNK_SECONDS".into(),
        options.max_chunk.as_secs().to_string(),
    );
    let worker_sdk = with_endpoint(&function_config(sdk, "sync-worker"), &burst_proxy.url);
    let mut worker = worker_from_env(&worker_sdk, &worker_env, "sync-worker")
        .await
        .context("configuring sync-worker")?;
    let worker_metrics = RecordingSink::new();
    worker.metrics = Arc::new(worker_metrics.clone());
    let plan = PagePlan::seeded(options.seed, options.fault_spacing);
    let (source, due) = FaultySource::new(Arc::clone(&worker.source), &plan);
    let source = Arc::new(source);
    worker.source = source.clone();
    let worker = Arc::new(worker);
    let scheduler_sdk = with_endpoint(&function_config(sdk, "sync-scheduler"), &burst_proxy.url);
    let scheduler: SchedulerDeps =
        scheduler_from_env(&scheduler_sdk, &env(SCHEDULER_FUNCTION)?, "sync-scheduler")
            .context("configuring sync-scheduler")?;

    let tenant = TenantId::parse(running.demo.tenant_id.clone())?;
    let connection = ConnectionId::parse(running.demo.connection_id.clone())?;
    let key = {
        let (tenant, connection) = (tenant.clone(), connection.clone());
        move |resource| JobKey {
            tenant_id: tenant.clone(),
            connection_id: connection.clone(),
            resource,
        }
    };
    let keys: Vec<JobKey> = ResourceKind::ALL.iter().map(|r| key(*r)).collect();
    let direct = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        stack.resources.table_name.clone(),
        CursorCodec::new(vec![7; 32]),
    );
    let states = DynamoSyncStateStore::new(direct.clone());
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url = running.sync.queue_url.clone();

    let (stop, stopped) = watch::channel(false);
    let pollers = Arc::new(Pollers {
        sqs: aws_sdk_sqs::Client::new(&worker_sdk),
        queue_url: queue_url.clone(),
        queue_arn: stack
            .resources
            .queue_arns
            .get(JOBS_QUEUE)
            .context("SyncJobsQueue has no ARN")?
            .clone(),
        esm: EsmConfig {
            batch_size: running.sync.batch_size,
            visibility_timeout: Some(options.visibility),
            ..EsmConfig::default()
        },
        worker: Arc::clone(&worker),
        timeout: running.sync.timeout,
        invocations: Arc::default(),
        stop: stopped,
        running: Mutex::new(Vec::new()),
    });
    {
        let spawned: Vec<Poller> = (0..options.pollers).map(|i| pollers.spawn(i)).collect();
        *lock(&pollers.running) = spawned;
    }
    let faults = Arc::new(Mutex::new(Faults::default()));
    let driver = tokio::spawn(drive_faults(
        due,
        Arc::clone(&pollers),
        Arc::clone(&burst_proxy),
        Arc::clone(running.sim.state()),
        states.clone(),
        key.clone(),
        options.clone(),
        Arc::clone(&faults),
    ));

    // The schedule's event, as EventBridge sends it to sync-scheduler.
    let rule = running
        .sync
        .schedules
        .rules()
        .iter()
        .find(|r| r.spec.logical_id == INCREMENTAL_RULE)
        .context("template.yaml has no IncrementalSyncSchedule")?
        .clone();
    let full_round = |reason: &'static str| {
        let (tenant, connection) = (tenant.clone(), connection.clone());
        let queue = &running.sync.queue;
        async move {
            packr::sync::request_sync(
                queue,
                &tenant,
                &connection,
                &ResourceKind::ALL,
                SyncMode::Full,
                reason,
                Timestamp::now(),
            )
            .await
            .context("requesting full syncs")
        }
    };

    // Full syncs of every resource, then changes of every kind raised while incremental
    // ticks, a second round of full syncs and a reconciliation run.
    full_round("chaos-full-1").await?;
    let kinds = MutationKind::ALL;
    let raise_started = Instant::now();
    let (mut raised, mut ticks, mut scheduled, mut failed_ticks) =
        (0_usize, 0_usize, 0_usize, 0_usize);
    let mut next_tick = Instant::now() + options.tick;
    let (second_full_at, reconcile_at) = (options.duration / 3, options.duration * 3 / 5);
    let (mut second_full, mut reconciling, mut reconcile_fired) = (false, false, false);
    let mut progress_at = Instant::now();
    // Changes go on being raised until the reconciliation has started, so it walks while
    // webhooks flow.
    let raise_limit = options.duration + options.settle_timeout;
    let mut reconcile_started: Option<Instant> = None;
    while raise_started.elapsed() < options.duration
        || (reconcile_started.is_none_or(|at| at.elapsed() < options.reconcile_overlap)
            && raise_started.elapsed() < raise_limit)
    {
        let elapsed = raise_started.elapsed();
        if !second_full && elapsed >= second_full_at {
            full_round("chaos-full-2").await?;
            second_full = true;
        }
        // The reconciliation starts when no job holds a lease (one that found its job leased
        // would wait 5 minutes), ticks held meanwhile; webhooks flow on throughout.
        if !reconcile_fired && elapsed >= reconcile_at {
            reconciling = true;
            if quiet_but(&sqs, &queue_url, &states, &keys, true).await? {
                match packr::sync::handle_event(
                    &scheduler,
                    &serde_json::json!({"kind": "reconcile"}),
                )
                .await
                {
                    Ok(_) => {
                        reconcile_fired = true;
                        reconcile_started = Some(Instant::now());
                        eprintln!("chaos sync: reconciliation of every resource started");
                    }
                    Err(error) => eprintln!("chaos sync: the reconcile schedule failed: {error}"),
                }
            }
        }
        if reconciling && reconcile_fired && quiet(&sqs, &queue_url, &states, &keys).await? {
            reconciling = false;
        }
        // Ticks stop when the reconciliation is due, so its jobs find their jobs free, and
        // resume once it is done (a tick's job would take the lease it needs).
        if Instant::now() >= next_tick && !reconciling {
            // A tick during the DynamoDB burst fails, as sync-scheduler's would: the next
            // one comes on the schedule.
            match tick(&scheduler, &rule).await {
                Ok(jobs) => scheduled += jobs,
                Err(error) => {
                    failed_ticks += 1;
                    eprintln!("chaos sync: a schedule tick failed: {error:#}");
                }
            }
            ticks += 1;
            next_tick = Instant::now() + options.tick;
        }
        let due = raise_started + Duration::from_secs_f64(raised as f64 / options.raise_per_second);
        tokio::time::sleep_until(due.into()).await;
        running
            .sim
            .mutate(&MutateRequest {
                connection_id: connection.to_string(),
                kind: kinds[raised % kinds.len()],
                count: 1,
            })
            .map_err(|e| anyhow::anyhow!("mutating the simulator: {e:?}"))?;
        raised += 1;
        if progress_at.elapsed() > Duration::from_secs(15) {
            progress_at = Instant::now();
            eprintln!(
                "chaos sync: {raised} raised, {ticks} ticks, {} full pages read, faults pending {:?}",
                source.pages(),
                source.pending()
            );
        }
    }
    let raise_elapsed = raise_started.elapsed();
    eprintln!("chaos sync: {raised} raised; settling webhooks and jobs");
    let mut settled = running.wait_settled(options.settle_timeout).await;
    settled =
        wait_quiet(&sqs, &queue_url, &states, &keys, options.settle_timeout).await? && settled;
    // A last tick picks up what changed since the last one, then the dry run.
    scheduled += tick(&scheduler, &rule).await?;
    ticks += 1;
    settled =
        wait_quiet(&sqs, &queue_url, &states, &keys, options.settle_timeout).await? && settled;
    let reconcile_since = Timestamp::now();
    packr::sync::handle_event(
        &scheduler,
        &serde_json::json!({"kind": "reconcile", "dry_run": true}),
    )
    .await?;
    settled =
        wait_quiet(&sqs, &queue_url, &states, &keys, options.settle_timeout).await? && settled;
    eprintln!("chaos sync: settled {settled}; checking");

    // The checks.
    let final_states = states.get_many(&keys).await?;
    let summaries: Vec<_> = ResourceKind::ALL
        .iter()
        .map(|r| {
            let summary = final_states
                .iter()
                .find(|s| s.resource == *r)
                .and_then(|s| s.last_reconcile.clone());
            (*r, summary)
        })
        .collect();
    let drift = sync_checks::drift_after(&summaries, reconcile_since);
    let fault_log = std::mem::take(&mut *lock(&faults));
    let invocations = lock(&pollers.invocations).clone();
    let jobs = sync_checks::tally_jobs(
        &invocations,
        &super::sync_failures::logged(),
        &fault_log.windows,
        options.explain_slack,
        &final_states,
        &ResourceKind::ALL,
        since,
        Timestamp::now(),
        true,
    );
    let dlq_url = stack
        .resources
        .queue_url("SyncJobsDeadLetterQueue")
        .context("SyncJobsDeadLetterQueue was not provisioned")?;
    let dlq = {
        let depth = esm::queue_depths(&sqs, dlq_url).await?;
        depth.visible + depth.in_flight + depth.delayed
    };
    let truth_data = running
        .sim
        .truth(connection.as_str())
        .context("the simulator has no such connection")?;
    let every_kind = truth::compare_every_kind(&direct, &tenant, &truth_data).await?;
    let all_ids: BTreeSet<String> = truth_data
        .orders
        .iter()
        .map(|o| o.id.clone())
        .chain(truth_data.inventory.iter().map(|i| i.id.clone()))
        .chain(truth_data.products.iter().map(|p| p.id.clone()))
        .collect();
    let fields = truth::compare(&direct, &tenant, &truth_data, &all_ids).await?;
    let requests = running.sim.requests();
    let busiest = sync_checks::busiest_second(&requests.get_arrivals_ms);
    let wire = ledger.snapshot();

    let _ = stop.send(true);
    let handles: Vec<Poller> = std::mem::take(&mut *lock(&pollers.running));
    for poller in handles {
        let _ = tokio::time::timeout(Duration::from_secs(10), poller.task).await;
    }
    driver.abort();
    let burst_answers = burst_proxy
        .stats()
        .outage_answers
        .get(&Service::DynamoDb)
        .copied()
        .unwrap_or(0);
    let stalled_fenced = fault_log.stall.as_ref().map_or(0, |s| {
        let pk = packr::store::keys::sync_state_pk(&tenant, &connection, s.resource.as_str());
        wire.fenced.get(&pk).copied().unwrap_or(0)
    });
    if let Ok(proxy) = Arc::try_unwrap(burst_proxy) {
        proxy.shutdown().await;
    }
    Ok(SyncReport {
        options,
        elapsed: started.elapsed(),
        raise_elapsed,
        raised,
        ticks,
        failed_ticks,
        reconciled_while_raising: reconcile_fired,
        scheduled,
        full_pages: source.pages(),
        plan,
        pending: source.pending(),
        fired: fault_log.fired,
        windows: fault_log.windows,
        stall: fault_log.stall,
        stalled_fenced,
        burst_answers,
        trackstar_statuses: requests.statuses,
        every_kind,
        fields,
        version_regressions: sync_checks::version_regressions(&wire.versions),
        versioned_items: wire.versions.len(),
        versioned_writes: wire.versions.values().map(Vec::len).sum(),
        watermark_regressions: sync_checks::watermark_regressions(&wire.watermarks),
        watermark_moves: wire.watermarks.values().map(Vec::len).sum(),
        fenced: wire.fenced.values().sum(),
        leases: wire.leases,
        jobs,
        runs_completed: worker_metrics.total("sync.runs") as u64,
        reconciles_requeued: worker_metrics
            .all()
            .iter()
            .filter(|m| {
                m.name == "sync.skipped"
                    && m.dimensions.contains(&("why", "leased".to_owned()))
                    && m.dimensions.contains(&("mode", "reconcile".to_owned()))
            })
            .count(),
        dlq,
        busiest,
        drift,
        settled,
    })
}
