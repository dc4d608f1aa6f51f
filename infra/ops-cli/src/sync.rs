//! `packr sync run`: reads the tenant's connections from the table, queues the jobs on the
//! sync-jobs queue (reason `cli`) with the same rules as `POST /sync/run`, prints the table.

use std::io::Write;
use std::process::ExitCode;

use aws_config::SdkConfig;
use packr::domain::{Connection, ConnectionId, TenantId, Timestamp};
use packr::store::{ConnectionStore, StoreError, TenantStore};
use packr::sync::{
    request_sync, sync_targets, ResourceKind, SqsSyncJobQueue, SyncJob, SyncJobQueue, SyncMode,
    SyncQueueError, TargetError,
};

use crate::args::{ResourceArg, SyncRunArgs};
use crate::render;

/// The `reason` of the jobs this command queues.
pub const REASON: &str = "cli";

#[derive(Debug, thiserror::Error)]
pub enum SyncRunError {
    #[error("`packr sync run` needs the environment variable {0}")]
    MissingEnv(&'static str),
    #[error("`{0}` is not a tenant id")]
    InvalidTenant(String),
    #[error("tenant {0} not found")]
    UnknownTenant(TenantId),
    #[error("connection {connection} not found in tenant {tenant}")]
    UnknownConnection {
        tenant: TenantId,
        connection: String,
    },
    #[error("connection {connection} is {status}; it cannot sync")]
    NotActive {
        connection: ConnectionId,
        status: &'static str,
    },
    #[error("reading the table")]
    Store(#[from] StoreError),
    #[error("queueing the jobs of connection {connection} ({queued} jobs of earlier connections were queued)")]
    Queue {
        connection: ConnectionId,
        queued: usize,
        #[source]
        source: SyncQueueError,
    },
}

/// What `packr sync run` asks for, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub tenant: TenantId,
    pub connection: Option<String>,
    /// In [`ResourceKind::ALL`] order, without duplicates.
    pub resources: Vec<ResourceKind>,
    pub mode: SyncMode,
}

impl From<ResourceArg> for ResourceKind {
    fn from(arg: ResourceArg) -> Self {
        match arg {
            ResourceArg::Orders => ResourceKind::Orders,
            ResourceArg::Inventory => ResourceKind::Inventory,
            ResourceArg::Products => ResourceKind::Products,
        }
    }
}

/// The tenant named on the command line, and the resources asked for (every one when none
/// is named), in `ResourceKind` order without duplicates.
pub(crate) fn tenant_and_resources(
    tenant: &str,
    resources: &[ResourceArg],
) -> Result<(TenantId, Vec<ResourceKind>), SyncRunError> {
    let tenant = TenantId::parse(tenant.to_owned())
        .map_err(|_| SyncRunError::InvalidTenant(tenant.to_owned()))?;
    let mut resources: Vec<ResourceKind> = if resources.is_empty() {
        ResourceKind::ALL.to_vec()
    } else {
        resources.iter().map(|r| ResourceKind::from(*r)).collect()
    };
    resources.sort();
    resources.dedup();
    Ok((tenant, resources))
}

impl TryFrom<&SyncRunArgs> for SyncRequest {
    type Error = SyncRunError;

    fn try_from(args: &SyncRunArgs) -> Result<Self, Self::Error> {
        let (tenant, resources) = tenant_and_resources(&args.tenant, &args.resources)?;
        Ok(Self {
            tenant,
            connection: args.connection.clone(),
            resources,
            mode: if args.full {
                SyncMode::Full
            } else {
                SyncMode::Incremental
            },
        })
    }
}

/// What was queued, and the connections skipped (not active).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub jobs: Vec<SyncJob>,
    pub skipped: Vec<Connection>,
}

/// Queues the jobs: the named connection (unknown or inactive is an error), else every
/// active connection of the tenant (an unknown tenant is an error).
pub async fn enqueue(
    tenants: &dyn TenantStore,
    connections: &dyn ConnectionStore,
    queue: &dyn SyncJobQueue,
    request: &SyncRequest,
    now: Timestamp,
) -> Result<SyncReport, SyncRunError> {
    let tenant = &request.tenant;
    if tenants.get_tenant(tenant).await?.is_none() {
        return Err(SyncRunError::UnknownTenant(tenant.clone()));
    }
    let unknown = || SyncRunError::UnknownConnection {
        tenant: tenant.clone(),
        connection: request.connection.clone().unwrap_or_default(),
    };
    let named = match &request.connection {
        None => None,
        Some(raw) => Some(ConnectionId::parse(raw.clone()).map_err(|_| unknown())?),
    };
    let targets = sync_targets(connections, tenant, named.as_ref())
        .await
        .map_err(|e| match e {
            TargetError::NotFound => unknown(),
            TargetError::NotActive(c) => SyncRunError::NotActive {
                connection: c.connection_id.clone(),
                status: c.status.as_str(),
            },
            TargetError::Store(e) => SyncRunError::Store(e),
        })?;
    let mut jobs = Vec::new();
    for connection in &targets.active {
        let queued = request_sync(
            queue,
            tenant,
            &connection.connection_id,
            &request.resources,
            request.mode,
            REASON,
            now,
        )
        .await
        .map_err(|source| SyncRunError::Queue {
            connection: connection.connection_id.clone(),
            queued: jobs.len(),
            source,
        })?;
        jobs.extend(queued);
    }
    Ok(SyncReport {
        jobs,
        skipped: targets.skipped,
    })
}

fn required(
    env: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, SyncRunError> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(SyncRunError::MissingEnv(name))
}

pub async fn run(
    sdk: &SdkConfig,
    args: &SyncRunArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let request = SyncRequest::try_from(args)?;
    let table = required(env, "TABLE_NAME")?;
    let queue = SqsSyncJobQueue::new(
        aws_sdk_sqs::Client::new(sdk),
        required(env, "SYNC_JOBS_QUEUE_URL")?,
    );
    let store = packr::webhook::wiring::store_without_cursors(sdk, table);
    let report = enqueue(&store, &store, &queue, &request, Timestamp::now()).await?;
    let mut synced: Vec<&str> = report
        .jobs
        .iter()
        .map(|j| j.connection_id.as_str())
        .collect();
    synced.dedup();
    crate::audit::record(
        sdk,
        env,
        &request.tenant,
        "sync.run",
        format!("connections:{}", synced.join(",")),
        serde_json::json!({
            "mode": request.mode.as_str(),
            "jobs": report.jobs.len(),
            "skipped": report.skipped.len(),
        }),
    )
    .await?;
    render::sync_report(out, &request.tenant, &report)?;
    Ok(ExitCode::SUCCESS)
}
