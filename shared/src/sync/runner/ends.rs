//! How a chunk ends: the run completed, continued in a queued continuation, deferred,
//! or stopped (and what each records).

use super::*; // the runner's types and imports: these are its steps

/// The connection was deleted or disconnected mid-run: the run stops for good.
pub(super) async fn connection_gone(
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

/// How long a reconciliation waits when a sync run holds its job.
pub(super) const RECONCILE_RETRY: Duration = Duration::from_secs(300);

/// A reconciliation's local phase, then its end: report, summary, lease released.
pub(super) async fn reconcile_local(
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
pub(super) async fn report_incomplete(
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

pub(super) fn fenced_or(e: StateError) -> Result<ChunkOutcome, SyncError> {
    match e {
        StateError::Fenced => {
            warn!("the lease was taken over mid-run: stopping without further writes");
            Ok(ChunkOutcome::Skipped(Skip::Fenced))
        }
        StateError::Store(s) => Err(s.into()),
    }
}

pub(super) async fn complete(
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
pub(super) async fn continue_later(
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

pub(super) async fn defer(
    deps: &WorkerDeps,
    job: &SyncJob,
    lease: &Lease,
    checkpoint: &Checkpoint,
    retry_after: Duration,
    error: &TrackstarError,
) -> Result<ChunkOutcome, SyncError> {
    let delay = retry_after.clamp(Duration::from_secs(1), crate::sync::job::MAX_DELAY);
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
pub(super) async fn unavailable(
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

pub(super) async fn stop_permanent(
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

pub(super) async fn reauth_required(
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
