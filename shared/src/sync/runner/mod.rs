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
//!
//! Steps 1–3 are here ([`run_chunk`]); the pages in [`pages`]; how a chunk ends (done,
//! continued, deferred, stopped) in [`ends`].

mod ends;
mod pages;

use ends::{
    complete, connection_gone, continue_later, defer, fenced_or, reauth_required, reconcile_local,
    stop_permanent, unavailable, RECONCILE_RETRY,
};
use pages::run_pages;

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
    /// A reconciliation that a complete run started since it was asked for has done: a
    /// second delivery of its message (SQS delivers at least once), or the one queued
    /// again while that run held the lease.
    Served,
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
        (None, None) if job.mode == SyncMode::Reconcile && served(&state, job) => {
            deps.states.release(&lease, None, now).await.ok();
            info!("a reconciliation started since this one was asked for is done: nothing to do");
            deps.metrics
                .emit(metric("sync.skipped", job, job.mode).with("why", "served"));
            return Ok(Start::Done(ChunkOutcome::Skipped(Skip::Served)));
        }
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

/// Whether the newest reconciliation of the job, complete and of the same kind (dry run or
/// repairing), started at or after `job` was asked for, so it did what `job` asks.
fn served(state: &SyncState, job: &SyncJob) -> bool {
    state.last_reconcile.as_ref().is_some_and(|last| {
        last.complete
            && last.dry_run == job.dry_run
            && last.started_at.is_some_and(|at| at >= job.requested_at)
    })
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
