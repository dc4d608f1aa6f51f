//! One reconciliation run, as the sync worker drives it (`sync::runner`).
//!
//! Remote phase, page by page of Trackstar's full list: the page's ids are recorded (for
//! the local phase), the local copies read in one batch (strongly consistent), every id
//! classified, and — unless it is a dry run — `missing_local` and `stale_local` objects
//! stored through the one upsert path, `ahead_local` ones refetched (one `ids[in]` call per
//! page) and stored if Trackstar's copy settles it.
//!
//! Local phase, after the walk of Trackstar's list completed: the connection's local ids
//! last updated before the window's end are compared with the recorded remote ids. An id
//! Trackstar's walk did not return is asked for once more by id (it may have changed
//! upstream during the walk and left the window): only what Trackstar still does not have
//! is `missing_remote`, tombstoned after the complete walk. A walk that fails or is cut
//! short never tombstones anything.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::report::{DriftClass, DriftTally, ReconcileReport, ReconcileSummary};
use crate::apply::{ContextResolver, Freshness};
use crate::domain::{BrandId, Connection, Timestamp};
use crate::resource::DomainObject;
use crate::store::{StoreError, UpsertOutcome};
use crate::sync::runner::{SyncError, WorkerDeps};
use crate::sync::source::SourcePage;
use crate::sync::state::{Checkpoint, RunCounts};
use crate::sync::SyncJob;
use crate::trackstar::MAX_IN_VALUES;

/// A reconciliation run's progress, kept in its checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileProgress {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub tally: DriftTally,
    #[serde(default)]
    pub brands: BTreeSet<BrandId>,
    /// Trackstar GETs spent (pages and refetches).
    #[serde(default)]
    pub gets: u64,
    /// Remote pages recorded so far.
    #[serde(default)]
    pub remote_pages: u32,
    /// Trackstar's list has been walked to its end: the local phase is on.
    #[serde(default)]
    pub remote_done: bool,
    /// Where the local phase goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_start: Option<String>,
}

/// Converts a page of wire objects into domain objects, noting their brands.
async fn convert(
    deps: &WorkerDeps,
    connection: &Connection,
    page: SourcePage,
    progress: &mut ReconcileProgress,
    counts: &mut RunCounts,
) -> Result<Vec<DomainObject>, StoreError> {
    let mut resolver = ContextResolver::new(deps.tenants.as_ref(), connection);
    let mut objects = Vec::with_capacity(page.objects.len());
    for wire in page.objects {
        let ctx = resolver.context(&wire).await?;
        match wire.into_domain(&ctx) {
            Ok(object) => {
                if let Some(brand) = object.brand_id() {
                    progress.brands.insert(brand.clone());
                }
                objects.push(object);
            }
            Err(reason) => {
                counts.invalid += 1;
                warn!(reason = %reason, "an object from Trackstar could not be converted; skipped");
            }
        }
    }
    Ok(objects)
}

/// The remote phase: one page of Trackstar's full list.
pub(crate) async fn remote_page(
    deps: &WorkerDeps,
    connection: &Connection,
    job: &SyncJob,
    checkpoint: &mut Checkpoint,
    page: SourcePage,
    read_at: Timestamp,
) -> Result<RunCounts, SyncError> {
    let tenant = &connection.tenant_id;
    let mut progress = checkpoint.reconcile.clone().unwrap_or_default();
    let mut counts = RunCounts {
        pages: 1,
        fetched: page.objects.len() as u64,
        ..RunCounts::default()
    };
    progress.gets += 1;
    let ids: Vec<String> = page
        .objects
        .iter()
        .filter_map(|o| o.id().map(str::to_owned))
        .collect();
    let remote = convert(deps, connection, page, &mut progress, &mut counts).await?;
    deps.reports
        .put_seen(tenant, &checkpoint.run_id, progress.remote_pages, &ids)
        .await?;
    progress.remote_pages += 1;

    let stores = deps.object_stores();
    let local = stores.get_many(tenant, job.resource, &ids).await?;
    let mut ahead = Vec::new();
    for object in &remote {
        let id = object.id();
        let class = match local.get(id) {
            None => DriftClass::MissingLocal,
            Some(mine) if mine.updated_date() < object.updated_date() => DriftClass::StaleLocal,
            Some(mine) if mine.updated_date() > object.updated_date() => DriftClass::AheadLocal,
            Some(mine) if mine.same_as(object) => DriftClass::InSync,
            // Same second, other content: Trackstar's current state wins.
            Some(_) => DriftClass::StaleLocal,
        };
        progress.tally.record(class, id, object.brand_id());
        if progress.dry_run {
            continue;
        }
        match class {
            DriftClass::MissingLocal | DriftClass::StaleLocal => {
                if stores
                    .upsert(tenant, object, Freshness::Current { read_at })
                    .await?
                    == UpsertOutcome::Applied
                {
                    progress.tally.repaired_for(object.brand_id());
                    counts.applied += 1;
                }
            }
            DriftClass::AheadLocal => ahead.push(id.to_owned()),
            _ => counts.unchanged += 1,
        }
    }
    if !ahead.is_empty() {
        // Packr's copy is newer than the list's: ask Trackstar for those objects now.
        for chunk in ahead.chunks(MAX_IN_VALUES) {
            let read_at = Timestamp::now();
            let page = deps
                .source
                .objects(connection, job.resource, chunk)
                .await
                .map_err(SyncError::Trackstar)?;
            progress.gets += 1;
            for object in convert(deps, connection, page, &mut progress, &mut counts).await? {
                if stores
                    .upsert(tenant, &object, Freshness::Current { read_at })
                    .await?
                    == UpsertOutcome::Applied
                {
                    progress.tally.repaired_for(object.brand_id());
                    counts.applied += 1;
                }
            }
        }
    }
    checkpoint.reconcile = Some(progress);
    Ok(counts)
}

/// What the local phase did in this chunk.
pub(crate) enum LocalPhase {
    Done,
    /// Out of time: the checkpoint holds where to go on.
    MoreToDo,
}

/// The local phase: the connection's local ids against the walk's remote ids.
pub(crate) async fn local_phase(
    deps: &WorkerDeps,
    connection: &Connection,
    job: &SyncJob,
    checkpoint: &mut Checkpoint,
    out_of_time: impl Fn() -> bool,
) -> Result<LocalPhase, SyncError> {
    let tenant = &connection.tenant_id;
    let mut progress = checkpoint.reconcile.clone().unwrap_or_default();
    let seen: HashSet<String> = deps.reports.seen(tenant, &checkpoint.run_id).await?;
    let stores = deps.object_stores();
    loop {
        if out_of_time() {
            checkpoint.reconcile = Some(progress);
            return Ok(LocalPhase::MoreToDo);
        }
        let (ids, next) = stores
            .connection_ids(
                tenant,
                job.resource,
                &connection.connection_id,
                checkpoint.to,
                progress.local_start.as_deref(),
            )
            .await?;
        let unseen: Vec<String> = ids.into_iter().filter(|id| !seen.contains(id)).collect();
        for chunk in unseen.chunks(MAX_IN_VALUES) {
            // Not in the walk: changed upstream meanwhile (out of the window), or deleted.
            let read_at = Timestamp::now();
            let page = deps
                .source
                .objects(connection, job.resource, chunk)
                .await
                .map_err(SyncError::Trackstar)?;
            progress.gets += 1;
            let mut counts = RunCounts::default();
            let found = convert(deps, connection, page, &mut progress, &mut counts).await?;
            let found_ids: HashSet<&str> = found.iter().map(DomainObject::id).collect();
            let local = stores.get_many(tenant, job.resource, chunk).await?;
            for object in &found {
                let class = match local.get(object.id()) {
                    Some(mine) if mine.updated_date() < object.updated_date() => {
                        DriftClass::StaleLocal
                    }
                    _ => DriftClass::InSync,
                };
                progress.tally.record(class, object.id(), object.brand_id());
                if class == DriftClass::StaleLocal
                    && !progress.dry_run
                    && stores
                        .upsert(tenant, object, Freshness::Current { read_at })
                        .await?
                        == UpsertOutcome::Applied
                {
                    progress.tally.repaired_for(object.brand_id());
                }
            }
            for id in chunk.iter().filter(|id| !found_ids.contains(id.as_str())) {
                // Its brand is the local copy's (Trackstar no longer has it).
                let brand = local.get(id.as_str()).and_then(|mine| mine.brand_id());
                if let Some(brand) = brand {
                    progress.brands.insert(brand.clone());
                }
                progress.tally.record(DriftClass::MissingRemote, id, brand);
                if !progress.dry_run
                    && stores
                        .tombstone(tenant, job.resource, id, (deps.clock)())
                        .await?
                {
                    progress.tally.repaired_for(brand);
                }
            }
        }
        progress.local_start = next;
        if progress.local_start.is_none() {
            checkpoint.reconcile = Some(progress);
            return Ok(LocalPhase::Done);
        }
    }
}

/// Builds, stores and reports on a finished (or abandoned) run. Returns its summary.
pub(crate) async fn finish(
    deps: &WorkerDeps,
    connection: Option<&Connection>,
    job: &SyncJob,
    checkpoint: &Checkpoint,
    complete: bool,
    incomplete_reason: Option<&str>,
) -> Result<ReconcileSummary, StoreError> {
    let progress = checkpoint.reconcile.clone().unwrap_or_default();
    let now = (deps.clock)();
    let mut brand_ids: Vec<BrandId> = progress.brands.iter().cloned().collect();
    if let Some(brand) = connection.and_then(|c| c.brand_id.clone()) {
        brand_ids = vec![brand];
    }
    let report = ReconcileReport {
        id: checkpoint.run_id.clone(),
        tenant_id: job.tenant_id.clone(),
        connection_id: job.connection_id.clone(),
        brand_ids,
        resource: job.resource,
        dry_run: progress.dry_run,
        started_at: checkpoint.started_at,
        finished_at: now,
        complete,
        incomplete_reason: incomplete_reason.map(str::to_owned),
        tally: progress.tally.clone(),
        trackstar_gets: progress.gets,
        duration_ms: u64::try_from(now.unix_millis() - checkpoint.started_at.unix_millis())
            .unwrap_or(0),
    };
    deps.reports.put_report(&report).await?;
    super::emit_report_metrics(deps.metrics.as_ref(), &report);
    info!(
        report_id = %report.id,
        complete,
        dry_run = report.dry_run,
        drift = report.tally.drift(),
        missing_local = report.tally.count(DriftClass::MissingLocal),
        repaired = report.tally.repaired,
        gets = report.trackstar_gets,
        "reconciliation finished"
    );
    Ok(ReconcileSummary::from(&report))
}
