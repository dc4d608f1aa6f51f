//! How one job runs — the correctness core of the sync engine.
//!
//! 1. The connection must exist and be active; else the job stops without a lease.
//! 2. The lease is taken by conditional write (fencing token). A duplicate or concurrent
//!    message finds it held and exits without touching Trackstar.
//! 3. The run resumes its checkpoint, or starts a new window (`window::plan`).
//! 4. Page by page: fetch (both window bounds and every filter on every page), store every
//!    object through the one only-if-newer upsert path (`apply`), checkpoint (fenced). A
//!    worker that dies after page k resumes at page k+1.
//! 5. Before the chunk's end (the invocation deadline, or the chunk budget that lets other
//!    tenants interleave) it releases the lease and enqueues a continuation.
//! 6. After the last page the watermark moves to the window's end and the lease is released.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use futures::FutureExt;
use tracing::{info, warn};

use super::config::SyncConfig;
use super::job::{SyncJob, SyncJobQueue, SyncMode, SyncQueueError};
use super::reconcile::run::{self as reconcile_run, LocalPhase};
use super::reconcile::{ReconcileProgress, ReportStore};
use super::source::{SourcePage, SyncSource};
use super::state::{
    Checkpoint, JobKey, Lease, Refusal, RunCounts, RunSummary, StateError, SyncState,
    SyncStateStore, Unavailable,
};
use super::window::{self, Window};
use crate::apply::{ContextResolver, Freshness, ObjectStores};
use crate::domain::{Connection, ConnectionStatus, Timestamp};
use crate::metrics::{Metric, MetricsSink};
use crate::store::{ConnectionStore, ObjectStore, StoreError, TenantStore, UpsertOutcome};
use crate::trackstar::TrackstarError;
use crate::webhook::ingest::Clock;

/// Everything a sync worker needs; built once per cold start.
pub struct WorkerDeps {
    pub states: Arc<dyn SyncStateStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub tenants: Arc<dyn TenantStore>,
    /// The synced objects of every kind (the one upsert path).
    pub objects: Arc<dyn ObjectStore>,
    pub source: Arc<dyn SyncSource>,
    pub queue: Arc<dyn SyncJobQueue>,
    /// Reconciliation reports and the ids a reconciliation walk has seen.
    pub reports: Arc<dyn ReportStore>,
    pub metrics: Arc<dyn MetricsSink>,
    pub config: SyncConfig,
    pub clock: Clock,
    /// Names this worker in leases (diagnostics only; the fencing token decides).
    pub worker_id: String,
}

impl WorkerDeps {
    pub(crate) fn object_stores(&self) -> ObjectStores<'_> {
        ObjectStores {
            objects: self.objects.as_ref(),
        }
    }
}

/// Why a job did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Another worker holds the lease (a duplicate or concurrent message).
    Leased,
    /// The connection is unknown, disconnected or needs re-authentication.
    ConnectionInactive,
    /// A continuation of a run that has already finished.
    StaleContinuation,
    /// The lease was taken over mid-run; the new holder goes on.
    Fenced,
    /// A scheduled job of a resource Trackstar refused for the connection (re-checked on
    /// the schedule's slow cadence, or at once on demand).
    Unavailable,
}

/// Why a job stopped without finishing; the message is done with (not retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Trackstar rejected the access token even after a refresh.
    ReauthRequired,
    /// A failure that retrying cannot fix (recorded on the job state).
    Permanent(String),
    /// The connection was deleted or disconnected while the run was going on.
    ConnectionGone,
    /// Trackstar refuses this resource for the connection (403 "disabled by policy", 501
    /// the integration lacks it): recorded on the job, shown in `/sync/health`; the other
    /// resources are not affected.
    Unavailable(Refusal),
}

/// What one invocation did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    Completed {
        run_id: String,
        counts: RunCounts,
        /// A full sync was asked for during this run and is now queued.
        full_enqueued: bool,
    },
    /// The chunk ended before the run did; a continuation is queued.
    Continued {
        run_id: String,
        counts: RunCounts,
    },
    /// Trackstar is unavailable (breaker open, rate limited for long): re-queued with
    /// this delay instead of burning receives.
    Deferred {
        retry_after: Duration,
    },
    Skipped(Skip),
    Stopped(Stop),
}

/// A failure the queue should retry (the message is reported in `batchItemFailures`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the data store failed")]
    Store(#[from] StoreError),
    #[error("trackstar failed after the client's retries")]
    Trackstar(#[source] TrackstarError),
    #[error("the sync-jobs queue failed")]
    Queue(#[from] SyncQueueError),
}

impl From<StateError> for SyncError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Store(s) => SyncError::Store(s),
            // Callers handle `Fenced` before converting; as a failure it retries harmlessly.
            StateError::Fenced => SyncError::Store(StoreError::NotFound { what: "lease" }),
        }
    }
}

enum Classified {
    /// Trackstar refuses this resource for the connection (not a failure of the run).
    Unavailable(Refusal),
    Defer(Duration),
    Reauth,
    RefusedToken,
    Permanent(String),
    Transient,
}

fn classify(error: &TrackstarError, had_token: bool) -> Classified {
    match error {
        TrackstarError::CircuitOpen { retry_after } => Classified::Defer(*retry_after),
        TrackstarError::RateLimited { retry_after, .. } => {
            Classified::Defer(retry_after.unwrap_or(Duration::from_secs(5)))
        }
        TrackstarError::Unauthorized { .. } => Classified::Reauth,
        TrackstarError::BadRequest { .. } if had_token => Classified::RefusedToken,
        TrackstarError::Forbidden { .. } => Classified::Unavailable(Refusal::Forbidden),
        TrackstarError::NotImplemented { .. } => Classified::Unavailable(Refusal::NotImplemented),
        TrackstarError::BadRequest { .. }
        | TrackstarError::NotFound { .. }
        | TrackstarError::Validation { .. }
        | TrackstarError::Decode { .. }
        | TrackstarError::Protocol { .. }
        | TrackstarError::InvalidRequest { .. } => Classified::Permanent(error.to_string()),
        _ => Classified::Transient,
    }
}

fn new_run_id() -> String {
    format!("run_{}", uuid::Uuid::now_v7().simple())
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.plus_millis(i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2))
}

fn metric(name: &'static str, job: &SyncJob, mode: SyncMode) -> Metric {
    Metric::count(name)
        .with("resource", job.resource.as_str())
        .with("mode", mode.as_str())
}

/// Runs (a chunk of) one job until it finishes, its chunk ends, or it must stop.
/// `deadline` is the invocation's deadline.
pub async fn run_chunk(
    deps: &WorkerDeps,
    job: &SyncJob,
    deadline: Instant,
) -> Result<ChunkOutcome, SyncError> {
    let span = tracing::info_span!(
        "sync_job",
        tenant_id = %job.tenant_id,
        connection_id = %job.connection_id,
        resource = job.resource.as_str(),
        mode = job.mode.as_str(),
        reason = %job.reason,
        run_id = tracing::field::Empty,
    );
    tracing::Instrument::instrument(run_chunk_inner(deps, job, deadline, span.clone()), span).await
}

async fn active_connection(
    deps: &WorkerDeps,
    job: &SyncJob,
) -> Result<Option<Connection>, StoreError> {
    Ok(deps
        .connections
        .get_connection(&job.tenant_id, &job.connection_id)
        .await?
        .filter(|c| c.status == ConnectionStatus::Active))
}

async fn run_chunk_inner(
    deps: &WorkerDeps,
    job: &SyncJob,
    deadline: Instant,
    span: tracing::Span,
) -> Result<ChunkOutcome, SyncError> {
    let started = Instant::now();
    let chunk_end = (started + deps.config.max_chunk).min(
        deadline
            .checked_sub(deps.config.deadline_margin)
            .unwrap_or(started),
    );
    let mut run = match start(deps, job).await? {
        Start::Run(run) => *run,
        Start::Done(outcome) => return Ok(outcome),
    };
    span.record("run_id", run.checkpoint.run_id.as_str());
    if run
        .checkpoint
        .reconcile
        .as_ref()
        .is_some_and(|r| r.remote_done)
    {
        return reconcile_local(
            deps,
            job,
            &run.lease,
            &run.connection,
            &mut run.checkpoint,
            chunk_end,
        )
        .await;
    }
    run_pages(deps, job, run, chunk_end).await
}

/// A run this chunk works on: its connection, lease and checkpoint.
struct Run {
    connection: Connection,
    lease: Lease,
    checkpoint: Checkpoint,
    /// How Trackstar refused the resource last time, if it did.
    unavailable: Option<Unavailable>,
}

/// What starting a chunk found: a run to work on, or an outcome without one.
enum Start {
    Run(Box<Run>),
    Done(ChunkOutcome),
}

/// Steps 1–3: the connection, the lease, then the checkpoint to resume or a new window.
async fn start(deps: &WorkerDeps, job: &SyncJob) -> Result<Start, SyncError> {
    let now = (deps.clock)();
    let Some(connection) = active_connection(deps, job).await? else {
        info!("connection unknown or not active: job skipped");
        deps.metrics
            .emit(metric("sync.skipped", job, job.mode).with("why", "connection"));
        return Ok(Start::Done(ChunkOutcome::Skipped(Skip::ConnectionInactive)));
    };

    let key = JobKey {
        tenant_id: job.tenant_id.clone(),
        connection_id: job.connection_id.clone(),
        resource: job.resource,
    };
    let Some((lease, state)) = deps
        .states
        .acquire(&key, &deps.worker_id, now, later(now, deps.config.lease))
        .await?
    else {
        if job.mode == SyncMode::Full && job.run_id.is_none() {
            // Not lost: the holder enqueues it when its run is done.
            deps.states.request_full(&key, job.requested_at).await?;
        }
        if job.mode == SyncMode::Reconcile && job.run_id.is_none() {
            // Not lost either: it comes back once the running job is likely done.
            deps.queue
                .enqueue(std::slice::from_ref(job), RECONCILE_RETRY)
                .await?;
        }
        info!("job is leased by another worker: nothing to do");
        deps.metrics
            .emit(metric("sync.skipped", job, job.mode).with("why", "leased"));
        return Ok(Start::Done(ChunkOutcome::Skipped(Skip::Leased)));
    };

    // A scheduled job of a resource Trackstar refused for this connection, queued before
    // the refusal was recorded: the schedule's own re-check comes later.
    let refused = state
        .unavailable
        .as_ref()
        .is_some_and(|u| u.recently_checked(now, deps.config.unavailable_recheck));
    if refused && job.reason == "schedule" && job.run_id.is_none() {
        deps.states.release(&lease, None, now).await.ok();
        info!("resource unavailable for this connection: scheduled job skipped");
        deps.metrics
            .emit(metric("sync.skipped", job, job.mode).with("why", "unavailable"));
        return Ok(Start::Done(ChunkOutcome::Skipped(Skip::Unavailable)));
    }

    let resumed = match (&state.checkpoint, &job.run_id) {
        // A continuation resumes the run in progress (its own, or one that superseded it).
        (Some(cp), Some(_)) => Some(cp.clone()),
        (None, Some(_)) => {
            deps.states.release(&lease, None, now).await.ok();
            info!("continuation of a finished run: nothing to do");
            return Ok(Start::Done(ChunkOutcome::Skipped(Skip::StaleContinuation)));
        }
        // A fresh full request supersedes an incremental run, and a full run that started
        // before it was asked for (e.g. Trackstar's historical sync completed since).
        (Some(cp), None)
            if job.mode == SyncMode::Full
                && (cp.mode == SyncMode::Incremental || job.requested_at > cp.started_at) =>
        {
            None
        }
        // A fresh reconciliation waits for a sync run in progress to finish.
        (Some(cp), None) if job.mode == SyncMode::Reconcile && cp.mode != SyncMode::Reconcile => {
            deps.queue
                .enqueue(std::slice::from_ref(job), RECONCILE_RETRY)
                .await?;
            Some(cp.clone())
        }
        (Some(cp), None) => Some(cp.clone()),
        (None, None) => None,
    };
    let mut checkpoint = resumed.unwrap_or_else(|| new_run(deps, job, &state, now));
    checkpoint.chunks += 1;
    match deps
        .states
        .checkpoint(&lease, &checkpoint, later(now, deps.config.lease))
        .await
    {
        Ok(()) => {}
        Err(StateError::Fenced) => return Ok(Start::Done(ChunkOutcome::Skipped(Skip::Fenced))),
        Err(StateError::Store(e)) => return Err(e.into()),
    }
    Ok(Start::Run(Box::new(Run {
        connection,
        lease,
        checkpoint,
        unavailable: state.unavailable,
    })))
}

/// A new run's checkpoint: its mode (an incremental without a watermark is a full) and
/// window.
fn new_run(deps: &WorkerDeps, job: &SyncJob, state: &SyncState, now: Timestamp) -> Checkpoint {
    let mode = if state.watermark.is_none() && job.mode == SyncMode::Incremental {
        SyncMode::Full
    } else {
        job.mode
    };
    let Window { from, to } = window::plan(
        mode,
        state.watermark,
        now,
        deps.config.overlap,
        deps.config.clock_skew,
    );
    Checkpoint {
        run_id: new_run_id(),
        mode,
        from,
        to,
        page_token: None,
        started_at: now,
        counts: RunCounts::default(),
        restarts: 0,
        chunks: 0,
        reconcile: (mode == SyncMode::Reconcile).then(|| ReconcileProgress {
            dry_run: job.dry_run,
            ..ReconcileProgress::default()
        }),
    }
}

/// What asking Trackstar for the next page came to.
enum Fetched {
    Page {
        page: SourcePage,
        read_at: Timestamp,
    },
    /// The window was restarted (a refused page token): ask again.
    Again,
    /// The chunk ends here, with this outcome.
    End(Result<ChunkOutcome, SyncError>),
}

/// Steps 4–6: page by page — fetch, store through the one upsert path, checkpoint — until
/// the run is done, the chunk's time is up, or it must stop.
async fn run_pages(
    deps: &WorkerDeps,
    job: &SyncJob,
    mut run: Run,
    chunk_end: Instant,
) -> Result<ChunkOutcome, SyncError> {
    let mut chunk_counts = RunCounts::default();
    let mut longest_page = Duration::ZERO;
    let mut pages_this_chunk = 0_u32;
    loop {
        // Start no page that cannot finish inside the chunk.
        let need = deps.config.min_page_time.max(longest_page.mul_f32(1.5));
        let remaining = chunk_end.saturating_duration_since(Instant::now());
        if remaining < need {
            return continue_later(deps, job, &run.lease, &run.checkpoint, chunk_counts).await;
        }
        if pages_this_chunk > 0 {
            match active_connection(deps, job).await? {
                Some(current) => run.connection = current,
                None => return connection_gone(deps, job, &run).await,
            }
        }

        let page_started = Instant::now();
        let (page, read_at) = match fetch_page(deps, job, &mut run, remaining, chunk_counts).await {
            Fetched::Page { page, read_at } => (page, read_at),
            Fetched::Again => continue,
            Fetched::End(outcome) => return outcome,
        };
        let counts = store(deps, job, &mut run, page.clone(), read_at).await?;
        chunk_counts.add(&counts);
        run.checkpoint.counts.add(&counts);
        deps.metrics.emit(Metric {
            value: counts.applied as f64,
            ..metric("sync.records", job, run.checkpoint.mode)
        });
        deps.metrics
            .emit(metric("sync.pages", job, run.checkpoint.mode));
        pages_this_chunk += 1;
        longest_page = longest_page.max(page_started.elapsed());

        match page.next_token {
            None if run.checkpoint.mode == SyncMode::Reconcile => {
                if let Some(progress) = run.checkpoint.reconcile.as_mut() {
                    progress.remote_done = true;
                }
                return reconcile_local(
                    deps,
                    job,
                    &run.lease,
                    &run.connection,
                    &mut run.checkpoint,
                    chunk_end,
                )
                .await;
            }
            None => return complete(deps, job, &run.lease, &run.checkpoint).await,
            Some(next) => {
                run.checkpoint.page_token = Some(next);
                if let Err(e) = deps
                    .states
                    .checkpoint(
                        &run.lease,
                        &run.checkpoint,
                        later((deps.clock)(), deps.config.lease),
                    )
                    .await
                {
                    return fenced_or(e);
                }
            }
        }
    }
}

/// The connection was deleted or disconnected mid-run: the run stops for good.
async fn connection_gone(
    deps: &WorkerDeps,
    job: &SyncJob,
    run: &Run,
) -> Result<ChunkOutcome, SyncError> {
    report_incomplete(deps, None, job, &run.checkpoint, "connection gone").await;
    deps.states
        .abandon(
            &run.lease,
            "connection deleted or disconnected",
            (deps.clock)(),
        )
        .await
        .ok();
    info!("connection gone mid-sync: run stopped");
    deps.metrics
        .emit(metric("sync.stopped", job, run.checkpoint.mode).with("why", "connection"));
    Ok(ChunkOutcome::Stopped(Stop::ConnectionGone))
}

/// The next page of the run's window (both bounds and every filter on every page), or what
/// Trackstar's failure to give it means for the run.
async fn fetch_page(
    deps: &WorkerDeps,
    job: &SyncJob,
    run: &mut Run,
    remaining: Duration,
    chunk_counts: RunCounts,
) -> Fetched {
    // Before the request: what the page's copies may replace (`Freshness::Current`).
    let read_at = Timestamp::now();
    let window = Window {
        from: run.checkpoint.from,
        to: run.checkpoint.to,
    };
    let fetched = tokio::time::timeout(
        remaining,
        deps.source.page(
            &run.connection,
            job.resource,
            run.checkpoint.mode,
            &window,
            run.checkpoint.page_token.as_deref(),
            deps.config.page_limit,
        ),
    )
    .await;
    match fetched {
        // The page did not come back inside the chunk: the next chunk asks again.
        Err(_) => {
            warn!("a page did not arrive before the chunk's end; continuing later");
            Fetched::End(continue_later(deps, job, &run.lease, &run.checkpoint, chunk_counts).await)
        }
        Ok(Ok(page)) => Fetched::Page { page, read_at },
        Ok(Err(error)) => trackstar_failed(deps, job, run, error).await,
    }
}

/// Trackstar refused a page: restart the window, stop, defer, or retry, by the failure.
async fn trackstar_failed(
    deps: &WorkerDeps,
    job: &SyncJob,
    run: &mut Run,
    error: TrackstarError,
) -> Fetched {
    let had_token = run.checkpoint.page_token.is_some();
    let checkpoint = &mut run.checkpoint;
    let lease = &run.lease;
    let outcome = match classify(&error, had_token) {
        Classified::RefusedToken if checkpoint.restarts < deps.config.max_window_restarts => {
            warn!(error = %error, "trackstar refused the page token: restarting the window");
            checkpoint.page_token = None;
            checkpoint.restarts += 1;
            if let Err(e) = deps
                .states
                .checkpoint(lease, checkpoint, later((deps.clock)(), deps.config.lease))
                .await
            {
                return Fetched::End(fenced_or(e));
            }
            deps.metrics
                .emit(metric("sync.window_restarts", job, checkpoint.mode));
            return Fetched::Again;
        }
        Classified::RefusedToken => {
            stop_permanent(deps, job, lease, checkpoint, &error.to_string()).await
        }
        Classified::Permanent(reason) => {
            stop_permanent(deps, job, lease, checkpoint, &reason).await
        }
        Classified::Unavailable(refusal) => {
            let prior = run.unavailable.as_ref();
            unavailable(deps, job, lease, checkpoint, refusal, &error, prior).await
        }
        Classified::Defer(retry_after) => {
            defer(deps, job, lease, checkpoint, retry_after, &error).await
        }
        Classified::Reauth => {
            reauth_required(deps, job, lease, run.connection.clone(), &error).await
        }
        Classified::Transient => {
            warn!(error = %error, "trackstar failed; the job will be retried");
            deps.states
                .release(lease, Some(&error.to_string()), (deps.clock)())
                .await
                .ok();
            deps.metrics
                .emit(metric("sync.failures", job, checkpoint.mode).with("reason", "trackstar"));
            Err(SyncError::Trackstar(error))
        }
    };
    Fetched::End(outcome)
}

/// Stores one page (a reconciliation classifies and repairs it); a failure releases the
/// lease with the checkpoint kept, and the job is retried.
async fn store(
    deps: &WorkerDeps,
    job: &SyncJob,
    run: &mut Run,
    page: SourcePage,
    read_at: Timestamp,
) -> Result<RunCounts, SyncError> {
    let stored = if run.checkpoint.mode == SyncMode::Reconcile {
        reconcile_run::remote_page(
            deps,
            &run.connection,
            job,
            &mut run.checkpoint,
            page,
            read_at,
        )
        .await
    } else {
        store_page(deps, &run.connection, page, read_at)
            .await
            .map_err(SyncError::from)
    };
    if let Err(e) = &stored {
        warn!(error = %e, "storing a page failed; the job will be retried");
        deps.states
            .release(&run.lease, Some("storing a page failed"), (deps.clock)())
            .await
            .ok();
        deps.metrics
            .emit(metric("sync.failures", job, run.checkpoint.mode).with("reason", "store"));
    }
    stored
}

/// How long a reconciliation waits when a sync run holds its job.
const RECONCILE_RETRY: Duration = Duration::from_secs(300);

/// A reconciliation's local phase, then its end: report, summary, lease released.
async fn reconcile_local(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    connection: &Connection,
    checkpoint: &mut Checkpoint,
    chunk_end: Instant,
) -> Result<ChunkOutcome, SyncError> {
    let margin = deps.config.min_page_time;
    let phase = reconcile_run::local_phase(deps, connection, job, checkpoint, || {
        chunk_end.saturating_duration_since(Instant::now()) < margin
    })
    .await;
    match phase {
        Ok(LocalPhase::MoreToDo) => {
            if let Err(e) = deps
                .states
                .checkpoint(lease, checkpoint, later((deps.clock)(), deps.config.lease))
                .await
            {
                return fenced_or(e);
            }
            continue_later(deps, job, lease, checkpoint, RunCounts::default()).await
        }
        Ok(LocalPhase::Done) => {
            let summary =
                reconcile_run::finish(deps, Some(connection), job, checkpoint, true, None).await?;
            if let Err(e) = deps
                .states
                .complete_reconcile(lease, &summary, (deps.clock)())
                .await
            {
                return fenced_or(e);
            }
            Ok(ChunkOutcome::Completed {
                run_id: checkpoint.run_id.clone(),
                counts: checkpoint.counts,
                full_enqueued: false,
            })
        }
        Err(e) => {
            // The checkpoint (remote walk done) stays: a retry resumes the local phase.
            deps.states
                .release(
                    lease,
                    Some("the local phase of a reconciliation failed"),
                    (deps.clock)(),
                )
                .await
                .ok();
            Err(e)
        }
    }
}

/// A reconciliation that stops for good writes its report as incomplete (nothing was
/// tombstoned: only the local phase of a complete walk tombstones).
async fn report_incomplete(
    deps: &WorkerDeps,
    connection: Option<&Connection>,
    job: &SyncJob,
    checkpoint: &Checkpoint,
    reason: &str,
) {
    if checkpoint.mode != SyncMode::Reconcile {
        return;
    }
    if let Err(e) =
        reconcile_run::finish(deps, connection, job, checkpoint, false, Some(reason)).await
    {
        warn!(error = %e, "the incomplete reconciliation's report could not be stored");
    }
}

fn fenced_or(e: StateError) -> Result<ChunkOutcome, SyncError> {
    match e {
        StateError::Fenced => {
            warn!("the lease was taken over mid-run: stopping without further writes");
            Ok(ChunkOutcome::Skipped(Skip::Fenced))
        }
        StateError::Store(s) => Err(s.into()),
    }
}

/// Converts and stores one page through the one upsert path.
async fn store_page(
    deps: &WorkerDeps,
    connection: &Connection,
    page: SourcePage,
    read_at: Timestamp,
) -> Result<RunCounts, StoreError> {
    let mut counts = RunCounts {
        pages: 1,
        fetched: page.objects.len() as u64,
        ..RunCounts::default()
    };
    let mut resolver = ContextResolver::new(deps.tenants.as_ref(), connection);
    let mut objects = Vec::with_capacity(page.objects.len());
    for wire in page.objects {
        let ctx = resolver.context(&wire).await?;
        match wire.into_domain(&ctx) {
            Ok(object) => objects.push(object),
            Err(reason) => {
                counts.invalid += 1;
                warn!(reason = %reason, "an object from Trackstar could not be converted; skipped");
            }
        }
    }
    let stores = deps.object_stores();
    let tenant = &connection.tenant_id;
    // The upserts are built (and boxed) before they are streamed: a closure inside the
    // stream, or an opaque future type, would make this future `Send` only for one
    // lifetime, and callers could not spawn it (rustc's "implementation of `Send` is not
    // general enough").
    let upserts: Vec<_> = objects
        .iter()
        .map(|object| {
            stores
                .upsert(tenant, object, Freshness::Current { read_at })
                .boxed()
        })
        .collect();
    let outcomes: Vec<Result<UpsertOutcome, StoreError>> = stream::iter(upserts)
        .buffer_unordered(deps.config.write_concurrency.max(1))
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            UpsertOutcome::Applied => counts.applied += 1,
            UpsertOutcome::Stale
            | UpsertOutcome::Duplicate
            | UpsertOutcome::SameVersionDiffers
            | UpsertOutcome::Tombstoned => counts.unchanged += 1,
            // A webhook stored a same-second copy while the page was asked for; that
            // event's processing settles it with Trackstar if it was not the latest.
            UpsertOutcome::ChangedSinceRead => counts.unchanged += 1,
        }
    }
    Ok(counts)
}

async fn complete(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
) -> Result<ChunkOutcome, SyncError> {
    let now = (deps.clock)();
    let summary = RunSummary {
        run_id: checkpoint.run_id.clone(),
        mode: checkpoint.mode,
        started_at: checkpoint.started_at,
        finished_at: now,
        from: checkpoint.from,
        to: checkpoint.to,
        counts: checkpoint.counts,
        chunks: checkpoint.chunks,
    };
    let state = match deps.states.complete(lease, &summary, now).await {
        Ok(state) => state,
        Err(e) => return fenced_or(e),
    };
    // A full sync asked for while this run held the lease, and not yet served by a full
    // run that started after the request (a full run's checkpoints set
    // `last_full_started_at`, so this covers a request during a full run too).
    let full_wanted = state.full_requested_at.is_some_and(|at| {
        state
            .last_full_started_at
            .is_none_or(|started| at > started)
    });
    if full_wanted {
        let full = SyncJob::new(
            job.tenant_id.clone(),
            job.connection_id.clone(),
            job.resource,
            SyncMode::Full,
            "requested-during-run",
            now,
        );
        deps.queue.enqueue(&[full], Duration::ZERO).await?;
    }
    deps.metrics
        .emit(metric("sync.runs", job, checkpoint.mode).with("outcome", "completed"));
    let lag_ms = (now.unix_millis() - checkpoint.to.unix_millis()).max(0);
    deps.metrics.emit(
        Metric::millis("sync.lag_ms", lag_ms as f64)
            .with("resource", job.resource.as_str())
            .with("mode", checkpoint.mode.as_str()),
    );
    info!(
        pages = checkpoint.counts.pages,
        fetched = checkpoint.counts.fetched,
        applied = checkpoint.counts.applied,
        unchanged = checkpoint.counts.unchanged,
        invalid = checkpoint.counts.invalid,
        chunks = checkpoint.chunks,
        watermark = %checkpoint.to,
        "sync run completed"
    );
    Ok(ChunkOutcome::Completed {
        run_id: checkpoint.run_id.clone(),
        counts: checkpoint.counts,
        full_enqueued: full_wanted,
    })
}

/// The chunk is over: release first, then enqueue the continuation (the other order
/// would let the continuation find the lease still held and exit).
async fn continue_later(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
    chunk_counts: RunCounts,
) -> Result<ChunkOutcome, SyncError> {
    if let Err(e) = deps.states.release(lease, None, (deps.clock)()).await {
        return fenced_or(e);
    }
    let next = job.continuation(&checkpoint.run_id, "continuation");
    // If this fails the message is retried, and the retry resumes the checkpoint.
    deps.queue.enqueue(&[next], Duration::ZERO).await?;
    deps.metrics
        .emit(metric("sync.continuations", job, checkpoint.mode));
    info!(
        pages = checkpoint.counts.pages,
        chunk_pages = chunk_counts.pages,
        "chunk ended before the run: continuation queued"
    );
    Ok(ChunkOutcome::Continued {
        run_id: checkpoint.run_id.clone(),
        counts: checkpoint.counts,
    })
}

async fn defer(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
    retry_after: Duration,
    error: &TrackstarError,
) -> Result<ChunkOutcome, SyncError> {
    let delay = retry_after.clamp(Duration::from_secs(1), super::job::MAX_DELAY);
    if let Err(e) = deps
        .states
        .release(lease, Some(&error.to_string()), (deps.clock)())
        .await
    {
        return fenced_or(e);
    }
    let next = job.continuation(&checkpoint.run_id, "deferred");
    deps.queue.enqueue(&[next], delay).await?;
    warn!(error = %error, delay_s = delay.as_secs(), "trackstar unavailable: job deferred");
    deps.metrics
        .emit(metric("sync.deferred", job, checkpoint.mode));
    Ok(ChunkOutcome::Deferred { retry_after: delay })
}

/// Trackstar refused the resource for this connection: recorded (not as a failure), the
/// run dropped, nothing retried or dead-lettered.
async fn unavailable(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
    refusal: Refusal,
    error: &TrackstarError,
    prior: Option<&Unavailable>,
) -> Result<ChunkOutcome, SyncError> {
    let now = (deps.clock)();
    let record = Unavailable {
        refusal,
        message: error.to_string().chars().take(300).collect(),
        since: prior.map_or(now, |p| p.since),
        checked_at: now,
    };
    report_incomplete(deps, None, job, checkpoint, "resource unavailable").await;
    if let Err(e) = deps.states.mark_unavailable(lease, &record).await {
        return fenced_or(e);
    }
    info!(refusal = ?refusal, "trackstar refuses this resource for the connection: marked unavailable");
    deps.metrics
        .emit(metric("sync.unavailable", job, checkpoint.mode).with(
            "refusal",
            match refusal {
                Refusal::Forbidden => "forbidden",
                Refusal::NotImplemented => "not_implemented",
            },
        ));
    Ok(ChunkOutcome::Stopped(Stop::Unavailable(refusal)))
}

async fn stop_permanent(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
    reason: &str,
) -> Result<ChunkOutcome, SyncError> {
    warn!(
        reason,
        "the job failed in a way retrying cannot fix; recorded"
    );
    report_incomplete(deps, None, job, checkpoint, reason).await;
    if let Err(e) = deps.states.abandon(lease, reason, (deps.clock)()).await {
        return fenced_or(e);
    }
    deps.metrics
        .emit(metric("sync.failures", job, checkpoint.mode).with("reason", "permanent"));
    Ok(ChunkOutcome::Stopped(Stop::Permanent(reason.to_owned())))
}

async fn reauth_required(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    connection: Connection,
    error: &TrackstarError,
) -> Result<ChunkOutcome, SyncError> {
    warn!(error = %error, "trackstar rejected the access token after a refresh: connection needs re-authentication");
    let now = (deps.clock)();
    // Through the one conditional write path: a connection event applied meanwhile (an
    // error, a deletion) is kept, not overwritten by this run's older copy.
    crate::store::modify_connection(
        deps.connections.as_ref(),
        &job.tenant_id,
        &connection.connection_id,
        |c| {
            if c.status != ConnectionStatus::Active {
                // Deleted (or already marked) meanwhile: nothing to add.
                return crate::store::Change::Keep(());
            }
            c.status = ConnectionStatus::ReauthRequired;
            c.updated_at = now;
            crate::store::Change::Write(())
        },
    )
    .await?;
    if let Err(e) = deps
        .states
        .release(
            lease,
            Some("access token rejected: re-authentication required"),
            now,
        )
        .await
    {
        return fenced_or(e);
    }
    deps.metrics
        .emit(metric("sync.failures", job, job.mode).with("reason", "reauth"));
    Ok(ChunkOutcome::Stopped(Stop::ReauthRequired))
}
