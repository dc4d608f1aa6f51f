//! sync-scheduler: the target of the incremental-sync schedule. Lists the active
//! connections through the sparse scheduling index (no table scan) and enqueues one job per
//! (connection, resource), skipping jobs whose previous run still holds its lease.
//!
//! Resources Trackstar refused for a connection (403 "disabled by policy", 501) are left
//! out until their re-check is due (`SYNC_UNAVAILABLE_RECHECK_SECONDS`, default 6 h).
//!
//! It also consumes the connection's durable "full sync requested" record (written by the
//! webhook processor on `connection.created` and `connection.historical-sync-completed`):
//! a job whose last full run started before that request is enqueued as a full sync.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::job::{SyncJob, SyncJobQueue, SyncMode};
use super::runner::SyncError;
use super::state::{JobKey, SyncState, SyncStateStore};
use crate::metrics::{Metric, MetricsSink};
use crate::resource::ResourceKind;
use crate::store::ConnectionStore;
use crate::webhook::ingest::Clock;
use crate::webhook::parked::{ParkedSweeper, SweepReport};

pub struct SchedulerDeps {
    pub connections: Arc<dyn ConnectionStore>,
    pub states: Arc<dyn SyncStateStore>,
    pub queue: Arc<dyn SyncJobQueue>,
    pub metrics: Arc<dyn MetricsSink>,
    pub clock: Clock,
    pub resources: Vec<ResourceKind>,
    /// How long a resource Trackstar refused for a connection is left out of the schedule
    /// before it is asked for again (`SyncConfig::unavailable_recheck`).
    pub unavailable_recheck: Duration,
    /// The expiry sweep of parked webhook events (its own schedule, `{"kind":
    /// "parked-sweep"}`); absent without `WEBHOOK_QUEUE_URL`.
    pub parked_sweep: Option<ParkedSweeper>,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleReport {
    pub connections: usize,
    pub incremental: usize,
    pub full: usize,
    /// Jobs whose previous run still held its lease.
    pub skipped_leased: usize,
    /// Jobs of resources Trackstar refused for the connection, not due for a re-check.
    pub skipped_unavailable: usize,
    /// What the parked-events sweep did (that schedule only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parked: Option<SweepReport>,
}

/// One tick of the schedule.
pub async fn run_schedule(deps: &SchedulerDeps) -> Result<ScheduleReport, SyncError> {
    let now = (deps.clock)();
    let connections = deps.connections.list_active().await?;
    let keys: Vec<JobKey> = connections
        .iter()
        .flat_map(|c| {
            deps.resources.iter().map(|r| JobKey {
                tenant_id: c.tenant_id.clone(),
                connection_id: c.connection_id.clone(),
                resource: *r,
            })
        })
        .collect();
    let states: HashMap<JobKey, SyncState> = deps
        .states
        .get_many(&keys)
        .await?
        .into_iter()
        .map(|s| {
            (
                JobKey {
                    tenant_id: s.tenant_id.clone(),
                    connection_id: s.connection_id.clone(),
                    resource: s.resource,
                },
                s,
            )
        })
        .collect();
    let by_id: HashMap<_, _> = connections
        .iter()
        .map(|c| ((c.tenant_id.clone(), c.connection_id.clone()), c))
        .collect();

    let mut report = ScheduleReport {
        connections: connections.len(),
        ..ScheduleReport::default()
    };
    let mut jobs = Vec::new();
    for key in keys {
        let connection = by_id[&(key.tenant_id.clone(), key.connection_id.clone())];
        let state = states.get(&key);
        let full_requested = connection.full_sync_requested_at.filter(|requested| {
            state
                .and_then(|s| s.last_full_started_at)
                .is_none_or(|started| started < *requested)
        });
        if state.is_some_and(|s| s.leased_at(now)) {
            report.skipped_leased += 1;
            if let Some(requested) = full_requested {
                deps.states.request_full(&key, requested).await?;
            }
            continue;
        }
        // A refused resource is asked for again on the slow cadence (or at once on a full
        // sync request, `POST /sync/run`, `packr sync run`), not every tick.
        let refused = state
            .and_then(|s| s.unavailable.as_ref())
            .is_some_and(|u| u.recently_checked(now, deps.unavailable_recheck));
        if refused && full_requested.is_none() {
            report.skipped_unavailable += 1;
            continue;
        }
        let never_synced = state.is_none_or(|s| s.watermark.is_none() && s.checkpoint.is_none());
        let (mode, reason) = if full_requested.is_some() {
            (SyncMode::Full, "full-sync-requested")
        } else if never_synced {
            (SyncMode::Full, "never-synced")
        } else {
            (SyncMode::Incremental, "schedule")
        };
        match mode {
            SyncMode::Incremental => report.incremental += 1,
            SyncMode::Full | SyncMode::Reconcile => report.full += 1,
        }
        jobs.push(SyncJob::new(
            key.tenant_id,
            key.connection_id,
            key.resource,
            mode,
            reason,
            full_requested.unwrap_or(now),
        ));
    }
    deps.queue.enqueue(&jobs, Duration::ZERO).await?;
    deps.metrics.emit(Metric {
        value: jobs.len() as f64,
        ..Metric::count("sync.jobs_enqueued")
    });
    deps.metrics.emit(Metric {
        value: report.skipped_leased as f64,
        ..Metric::count("sync.jobs_skipped_leased")
    });
    info!(
        connections = report.connections,
        incremental = report.incremental,
        full = report.full,
        skipped_leased = report.skipped_leased,
        "sync schedule tick"
    );
    Ok(report)
}

/// What a schedule asks for: the incremental sync tick (an EventBridge scheduled event), the
/// nightly reconciliation (the rule's constant input `{"kind": "reconcile"}`), or the
/// parked-events sweep (`{"kind": "parked-sweep"}`).
pub async fn handle_event(
    deps: &SchedulerDeps,
    event: &serde_json::Value,
) -> Result<ScheduleReport, SyncError> {
    match event.get("kind").and_then(|k| k.as_str()) {
        Some("parked-sweep") => run_parked_sweep(deps).await,
        Some("reconcile") => {
            let dry_run = event
                .get("dry_run")
                .and_then(|d| d.as_bool())
                .unwrap_or(false);
            run_reconcile_schedule(deps, dry_run).await
        }
        _ => run_schedule(deps).await,
    }
}

/// The parked-events sweep: expired events of connections never linked are deleted and
/// reported (`webhook.parked_expired`), see `webhook::parked`.
pub async fn run_parked_sweep(deps: &SchedulerDeps) -> Result<ScheduleReport, SyncError> {
    let Some(sweeper) = &deps.parked_sweep else {
        tracing::error!("the parked-events sweep is not configured (WEBHOOK_QUEUE_URL)");
        return Ok(ScheduleReport::default());
    };
    let report = sweeper
        .sweep(
            deps.connections.as_ref(),
            deps.metrics.as_ref(),
            (deps.clock)(),
        )
        .await?;
    info!(
        expired = report.expired,
        connections = report.connections,
        released = report.released.queued,
        "parked-events sweep"
    );
    Ok(ScheduleReport {
        parked: Some(report),
        ..ScheduleReport::default()
    })
}

/// The nightly reconciliation: one reconcile job per active (connection, resource). A job
/// whose sync run holds the lease is retried by the worker later, so none is skipped here.
pub async fn run_reconcile_schedule(
    deps: &SchedulerDeps,
    dry_run: bool,
) -> Result<ScheduleReport, SyncError> {
    let now = (deps.clock)();
    let connections = deps.connections.list_active().await?;
    let jobs: Vec<SyncJob> = connections
        .iter()
        .flat_map(|c| {
            deps.resources.iter().map(|r| SyncJob {
                dry_run,
                ..SyncJob::new(
                    c.tenant_id.clone(),
                    c.connection_id.clone(),
                    *r,
                    SyncMode::Reconcile,
                    "reconcile-schedule",
                    now,
                )
            })
        })
        .collect();
    deps.queue.enqueue(&jobs, Duration::ZERO).await?;
    deps.metrics.emit(Metric {
        value: jobs.len() as f64,
        ..Metric::count("sync.jobs_enqueued")
    });
    info!(
        connections = connections.len(),
        jobs = jobs.len(),
        "reconciliation schedule tick"
    );
    Ok(ScheduleReport {
        connections: connections.len(),
        full: jobs.len(),
        ..ScheduleReport::default()
    })
}
