//! `packr replay`: the same [`packr::webhook::replay`] as `POST /sync/replay`, for ops; and
//! `packr reconcile`: reconcile jobs of one connection on the sync-jobs queue.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::SdkConfig;
use packr::domain::{BrandId, ConnectionId, EventId, TenantId, Timestamp};
use packr::store::{ConnectionStore, TenantStore};
use packr::sync::{
    sync_targets, ResourceKind, SqsSyncJobQueue, SyncJob, SyncJobQueue, SyncMode, TargetError,
};
use packr::webhook::queue::{EventQueue, SqsEventQueue};
use packr::webhook::replay::{replay, ReplayReport, ReplayRequest, SkipReason, MAX_REPLAY};

use crate::args::{ReconcileArgs, ReplayArgs};
use crate::render;
use crate::sync::{SyncRunError, REASON};

#[derive(Debug, thiserror::Error)]
pub enum ReplayArgsError {
    #[error("`{0}` is not a tenant id")]
    Tenant(String),
    #[error("`{0}` is not a brand id")]
    Brand(String),
    #[error("`{0}` is not an event id")]
    Event(String),
    #[error("at most 100 --event")]
    TooManyEvents,
    #[error("tenant {0} not found")]
    UnknownTenant(TenantId),
}

impl TryFrom<&ReplayArgs> for ReplayRequest {
    type Error = ReplayArgsError;

    fn try_from(args: &ReplayArgs) -> Result<Self, Self::Error> {
        if args.events.len() > packr::webhook::replay::MAX_EVENT_IDS {
            return Err(ReplayArgsError::TooManyEvents);
        }
        Ok(ReplayRequest {
            tenant: TenantId::parse(args.tenant.clone())
                .map_err(|_| ReplayArgsError::Tenant(args.tenant.clone()))?,
            brand: args
                .brand
                .as_ref()
                .map(|b| BrandId::parse(b.clone()).map_err(|_| ReplayArgsError::Brand(b.clone())))
                .transpose()?,
            event_ids: args
                .events
                .iter()
                .map(|e| EventId::parse(e.clone()).map_err(|_| ReplayArgsError::Event(e.clone())))
                .collect::<Result<_, _>>()?,
            max_age: args.max_age_hours.map(|h| Duration::from_secs(h * 3600)),
            max: args.max.map_or(MAX_REPLAY, |n| n as usize),
            dry_run: args.dry_run,
        })
    }
}

pub(crate) fn required(
    env: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> anyhow::Result<String> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("this command needs the environment variable {name}"))
}

/// The tenant audit log of the table TABLE_NAME, its chain key the secret AUDIT_SECRET_ARN.
pub(crate) fn audit_log(
    sdk: &SdkConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<packr::store::dynamo::DynamoAuditLog> {
    let store = packr::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    Ok(packr::audit::log_with_secret(
        sdk,
        store,
        env("AUDIT_SECRET_ARN"),
    ))
}

/// The details of a replay's audit entry: the filter and what it did.
fn replay_details(request: &ReplayRequest, report: &ReplayReport) -> serde_json::Value {
    serde_json::json!({
        "type": "webhook",
        "filter": {
            "brand_id": request.brand,
            "event_ids": request.event_ids,
            "max_age_hours": request.max_age.map(|d| d.as_secs() / 3600),
            "dry_run": request.dry_run,
            "max": request.max,
        },
        "matched": report.matched,
        "enqueued": report.enqueued,
        "skipped": report.skipped.len(),
        "truncated": report.truncated,
    })
}

/// `packr replay`: non-zero exit when an event could not be enqueued.
pub async fn run_replay(
    sdk: &SdkConfig,
    args: &ReplayArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let request = ReplayRequest::try_from(args)?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    if store.get_tenant(&request.tenant).await?.is_none() {
        return Err(ReplayArgsError::UnknownTenant(request.tenant).into());
    }
    let queue = match request.dry_run {
        true => None,
        false => Some(SqsEventQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            required(env, "WEBHOOK_QUEUE_URL")?,
        )),
    };
    let bar = crate::dlq::progress_bar();
    bar.set_message("replaying the tenant's failed events");
    let report = replay(
        &store,
        &store,
        queue.as_ref().map(|q| q as &dyn EventQueue),
        &request,
        Timestamp::now(),
    )
    .await;
    bar.finish_and_clear();
    let report = report?;
    crate::audit::record(
        sdk,
        env,
        &request.tenant,
        "sync.replay",
        "webhook-events".to_owned(),
        replay_details(&request, &report),
    )
    .await?;
    render::replay_report(out, &request.tenant, &report)?;
    let failed = report
        .skipped
        .iter()
        .any(|s| s.reason == SkipReason::EnqueueFailed);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// What `packr reconcile` asks for, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRequest {
    pub tenant: TenantId,
    pub connection: String,
    pub resources: Vec<ResourceKind>,
    pub dry_run: bool,
}

impl TryFrom<&ReconcileArgs> for ReconcileRequest {
    type Error = SyncRunError;

    fn try_from(args: &ReconcileArgs) -> Result<Self, Self::Error> {
        let (tenant, resources) = crate::sync::tenant_and_resources(&args.tenant, &args.resources)?;
        Ok(Self {
            tenant,
            connection: args.connection.clone(),
            resources,
            dry_run: args.dry_run,
        })
    }
}

/// Queues one reconcile job per resource of the named connection (which must be the
/// tenant's and active).
pub async fn enqueue_reconcile(
    tenants: &dyn TenantStore,
    connections: &dyn ConnectionStore,
    queue: &dyn SyncJobQueue,
    request: &ReconcileRequest,
    now: Timestamp,
) -> Result<Vec<SyncJob>, SyncRunError> {
    let tenant = &request.tenant;
    if tenants.get_tenant(tenant).await?.is_none() {
        return Err(SyncRunError::UnknownTenant(tenant.clone()));
    }
    let unknown = || SyncRunError::UnknownConnection {
        tenant: tenant.clone(),
        connection: request.connection.clone(),
    };
    let id = ConnectionId::parse(request.connection.clone()).map_err(|_| unknown())?;
    let targets = sync_targets(connections, tenant, Some(&id))
        .await
        .map_err(|e| match e {
            TargetError::NotFound => unknown(),
            TargetError::NotActive(c) => SyncRunError::NotActive {
                connection: c.connection_id.clone(),
                status: c.status.as_str(),
            },
            TargetError::Store(e) => SyncRunError::Store(e),
        })?;
    let jobs: Vec<SyncJob> = targets
        .active
        .iter()
        .flat_map(|c| {
            request.resources.iter().map(|r| {
                let mut job = SyncJob::new(
                    tenant.clone(),
                    c.connection_id.clone(),
                    *r,
                    SyncMode::Reconcile,
                    REASON,
                    now,
                );
                job.dry_run = request.dry_run;
                job
            })
        })
        .collect();
    queue
        .enqueue(&jobs, Duration::ZERO)
        .await
        .map_err(|source| SyncRunError::Queue {
            connection: id.clone(),
            queued: 0,
            source,
        })?;
    Ok(jobs)
}

pub async fn run_reconcile(
    sdk: &SdkConfig,
    args: &ReconcileArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let request = ReconcileRequest::try_from(args)?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    let queue = SqsSyncJobQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        required(env, "SYNC_JOBS_QUEUE_URL")?,
    );
    let jobs = enqueue_reconcile(&store, &store, &queue, &request, Timestamp::now()).await?;
    crate::audit::record(
        sdk,
        env,
        &request.tenant,
        "sync.reconcile",
        format!("connection:{}", request.connection),
        serde_json::json!({
            "dry_run": request.dry_run,
            "jobs": jobs.len(),
            "resources": jobs.iter().map(|j| j.resource.as_str()).collect::<Vec<_>>(),
        }),
    )
    .await?;
    render::reconcile_jobs(out, &request.tenant, &jobs)?;
    Ok(ExitCode::SUCCESS)
}
