//! Steps 4–6: page by page — fetch, store through the one upsert path, checkpoint.

use super::*; // the runner's types and imports: these are its steps

/// What asking Trackstar for the next page came to.
pub(super) enum Fetched {
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
pub(super) async fn run_pages(
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

/// The next page of the run's window (both bounds and every filter on every page), or what
/// Trackstar's failure to give it means for the run.
pub(super) async fn fetch_page(
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
pub(super) async fn trackstar_failed(
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
pub(super) async fn store(
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

/// Converts and stores one page through the one upsert path.
pub(super) async fn store_page(
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
