//! Runs a lifecycle job: takes its lease, calls its kind's steps until they are done or the
//! invocation's deadline nears, and saves the job after every step (fenced by the lease, and
//! renewing it). Each step is also bounded by the deadline: a step cut short is not saved
//! and runs again next time, which its idempotence allows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::dispatch::{Registry, Step};
use super::job::{JobLease, JobStatus, LifecycleError, LifecycleJob, LifecycleJobStore};
use super::queue::LifecycleQueue;
use crate::domain::{TenantId, Timestamp};
use crate::metrics::{Metric, MetricsSink};

/// What running a job needs.
#[derive(Clone)]
pub struct RunnerDeps {
    pub jobs: LifecycleJobStore,
    pub registry: Registry,
    pub queue: Arc<dyn LifecycleQueue>,
    pub metrics: Arc<dyn MetricsSink>,
    /// This worker's name in leases (function and request id, or the CLI's host and pid).
    pub owner: String,
    /// How long a lease is held past each save: a worker that died frees its job after
    /// this.
    pub lease_hold: Duration,
    /// Time kept free before the deadline: no step starts inside it.
    pub deadline_margin: Duration,
}

impl RunnerDeps {
    pub const DEFAULT_LEASE_HOLD: Duration = Duration::from_secs(60);
    pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(10);
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The job is completed or failed (now or before).
    Finished(JobStatus),
    /// The deadline came first: run it again (a continuation).
    Continue,
    /// Another worker holds the job's lease.
    Busy,
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.plus_millis(i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4))
}

fn metric(name: &'static str, job: &LifecycleJob) -> Metric {
    Metric::count(name).with("kind", job.kind.tag().as_str())
}

/// Runs job `job_id` of `tenant` until it is finished or `deadline` (less the margin)
/// nears. An error is a step's or the store's failure that a later run may cure (the job
/// stays running, its `error` says what happened), or [`LifecycleError::LeaseLost`].
pub async fn run_job(
    deps: &RunnerDeps,
    tenant: &TenantId,
    job_id: &str,
    deadline: Instant,
) -> Result<RunOutcome, LifecycleError> {
    let Some((mut job, lease)) = deps
        .jobs
        .take(
            tenant,
            job_id,
            &deps.owner,
            Timestamp::now(),
            deps.lease_hold,
        )
        .await?
    else {
        return Ok(RunOutcome::Busy);
    };
    if job.status.is_final() {
        deps.jobs.save(&job, &lease, None).await?;
        return Ok(RunOutcome::Finished(job.status));
    }
    let steps = match deps.registry.steps(job.kind.tag()) {
        Ok(steps) => steps,
        Err(error) => return fail(deps, job, &lease, error).await,
    };
    if job.status == JobStatus::Queued {
        job.status = JobStatus::Running;
        job.started_at = Some(Timestamp::now());
        deps.metrics.emit(metric("lifecycle.jobs_started", &job));
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left <= deps.deadline_margin {
            deps.jobs.save(&job, &lease, None).await?;
            info!(job = %job.id, phase = %job.phase, steps = job.steps, "lifecycle job continues in a later invocation");
            return Ok(RunOutcome::Continue);
        }
        let before = job.clone();
        let step =
            tokio::time::timeout(left - deps.deadline_margin / 2, steps.step(&mut job)).await;
        let now = Timestamp::now();
        match step {
            Err(_elapsed) => {
                // Cut by the deadline: not saved; the next run does the step again.
                job = before;
                deps.jobs.save(&job, &lease, None).await?;
                return Ok(RunOutcome::Continue);
            }
            Ok(Ok(next)) => {
                job.steps += 1;
                job.updated_at = now;
                job.error = None;
                deps.metrics.emit(metric("lifecycle.steps", &job));
                if next == Step::Done {
                    job.status = JobStatus::Completed;
                    job.finished_at = Some(now);
                    deps.jobs.save(&job, &lease, None).await?;
                    deps.metrics.emit(metric("lifecycle.jobs_completed", &job));
                    info!(job = %job.id, kind = job.kind.tag().as_str(), steps = job.steps, "lifecycle job completed");
                    return Ok(RunOutcome::Finished(JobStatus::Completed));
                }
                deps.jobs
                    .save(&job, &lease, Some(later(now, deps.lease_hold)))
                    .await?;
            }
            Ok(Err(error)) if error.is_permanent() => {
                return fail(deps, before, &lease, error).await;
            }
            Ok(Err(LifecycleError::LeaseLost)) => return Err(LifecycleError::LeaseLost),
            Ok(Err(error)) => {
                // Kept on the job for its status; the run is retried from the last save.
                let mut kept = before;
                kept.error = Some(crate::errors::error_chain(&error));
                kept.updated_at = now;
                if let Err(save) = deps.jobs.save(&kept, &lease, None).await {
                    warn!(job = %kept.id, error = %crate::errors::error_chain(&save), "could not record a lifecycle job's error");
                }
                deps.metrics.emit(metric("lifecycle.step_failures", &kept));
                return Err(error);
            }
        }
    }
}

async fn fail(
    deps: &RunnerDeps,
    mut job: LifecycleJob,
    lease: &JobLease,
    error: LifecycleError,
) -> Result<RunOutcome, LifecycleError> {
    let now = Timestamp::now();
    job.status = JobStatus::Failed;
    job.error = Some(crate::errors::error_chain(&error));
    job.finished_at = Some(now);
    job.updated_at = now;
    deps.jobs.save(&job, lease, None).await?;
    deps.metrics.emit(metric("lifecycle.jobs_failed", &job));
    warn!(job = %job.id, kind = job.kind.tag().as_str(), error = %job.error.as_deref().unwrap_or(""), "lifecycle job failed");
    Ok(RunOutcome::Finished(JobStatus::Failed))
}

/// Creates `job` (or finds the one with its id) and enqueues its first run: the job as
/// stored, and whether it was created now.
pub async fn start_job(
    jobs: &LifecycleJobStore,
    queue: &dyn LifecycleQueue,
    job: LifecycleJob,
) -> Result<(LifecycleJob, bool), LifecycleError> {
    let created = jobs.create(&job).await?;
    let stored = if created {
        job
    } else {
        jobs.get(&job.tenant_id, &job.id)
            .await?
            .ok_or_else(|| LifecycleError::NotFound(job.id.clone()))?
    };
    if !stored.status.is_final() {
        queue
            .enqueue(
                &super::queue::LifecycleMessage {
                    tenant_id: stored.tenant_id.clone(),
                    job_id: stored.id.clone(),
                    reason: if created {
                        "created"
                    } else {
                        "requested_again"
                    }
                    .to_owned(),
                },
                Duration::ZERO,
            )
            .await
            .map_err(|e| LifecycleError::transient("enqueueing the lifecycle job", e))?;
    }
    Ok((stored, created))
}
