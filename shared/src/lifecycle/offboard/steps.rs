//! The steps of the offboarding jobs (`JobSteps` for `ConnectionErasure`,
//! `BrandOffboarding`, `TenantOffboarding`): one bounded unit per call — a page of one
//! partition and its deletes, one connection disconnected, a set of known keys — then the
//! job's `phase` / `checkpoint` say where the next call goes on. A step run again from the
//! same saved job (a crash before the runner saved it) deletes what is gone already (a
//! no-op) and reads the same page again.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::{info, warn};

use super::connection::{mark_offboarded, ConnectionOffboarder, OffboardConnectionError};
use super::eraser::{key, Eraser, Source};
use super::phases::{phases, Phase, Plan};
use super::{set_state, ExportPhase};
use crate::domain::{ConnectionId, ConnectionStatus, TenantId, Timestamp};
use crate::lifecycle::{JobKind, JobSteps, LifecycleError, LifecycleJob, Step};
use crate::metrics::Metric;
use crate::store::keys;
use crate::store::{modify_connection, Change, ConnectionStore, StoreError, TenantStore};
use crate::trackstar::{ConnectionCredentials, TrackstarClient, TrackstarError};

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Why a step failed (the runner records it and runs the job again later).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("the data store failed")]
    Store(#[from] StoreError),
    #[error("disconnecting a connection failed")]
    Connection(#[from] OffboardConnectionError),
    #[error("Trackstar refused to delete a connection")]
    Trackstar(#[from] TrackstarError),
    #[error("the job's phase `{0}` is not one of its kind's")]
    UnknownPhase(String),
    #[error("the job's checkpoint is not a number of connections")]
    Checkpoint,
    #[error("the export failed")]
    Export(#[source] LifecycleError),
}

/// Everything the offboarding steps use.
#[derive(Clone)]
pub struct OffboardDeps {
    pub eraser: Eraser,
    /// The table's connections, tenants and routes, and where tokens are deleted.
    pub connections: ConnectionOffboarder,
    /// The export run first by brand and tenant offboarding.
    pub export: Arc<dyn ExportPhase>,
    /// Deletes the tenant's connections at Trackstar when it is offboarded (absent: they
    /// are disconnected here only, and the job records `trackstar_not_told`).
    pub trackstar: Option<TrackstarClient>,
    pub clock: Clock,
}

/// The `JobSteps` of the three offboarding kinds.
#[derive(Clone)]
pub struct OffboardSteps {
    pub deps: OffboardDeps,
}

impl OffboardSteps {
    pub fn new(deps: OffboardDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl JobSteps for OffboardSteps {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        step(&self.deps, job).await.map_err(|e| match e {
            StepError::Store(e) => LifecycleError::Store(e),
            StepError::Export(e) => e,
            e @ (StepError::UnknownPhase(_) | StepError::Checkpoint) => {
                LifecycleError::Permanent(crate::errors::error_chain(&e))
            }
            e => LifecycleError::transient("an offboarding step", e),
        })
    }
}

fn plan_of(job: &LifecycleJob) -> Plan {
    job.state
        .get("plan")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default()
}

fn add(job: &mut LifecycleJob, count: &str, n: u64) {
    *job.counts.entry(format!("erased.{count}")).or_default() += n;
}

/// One step of an offboarding job.
pub async fn step(deps: &OffboardDeps, job: &mut LifecycleJob) -> Result<Step, StepError> {
    let tenant = job.tenant_id.clone();
    if let JobKind::ConnectionErasure { connection_id } = job.kind.clone() {
        if !still_due(deps, &tenant, &connection_id, job).await? {
            return Ok(Step::Done);
        }
    }
    let all = phases(&tenant, &job.kind, &plan_of(job));
    let found = if job.phase.is_empty() {
        Some(0).filter(|_| !all.is_empty())
    } else {
        all.iter().position(|p| p.is(&job.phase))
    };
    let Some(at) = found else {
        return Err(StepError::UnknownPhase(job.phase.clone()));
    };
    if job.phase.is_empty() {
        job.phase = all[at].name();
    }
    let finished = run_phase(deps, job, &tenant, &all[at]).await?;
    if !finished {
        return Ok(Step::More);
    }
    // The plan may have added phases: look the next one up in the list as it is now.
    let all = phases(&tenant, &job.kind, &plan_of(job));
    job.checkpoint = None;
    match all.get(at + 1) {
        Some(next) => {
            job.phase = next.name();
            Ok(Step::More)
        }
        None => {
            job.phase = "done".into();
            info!(job_id = %job.id, counts = ?job.counts, "offboarding finished");
            Ok(Step::Done)
        }
    }
}

/// A connection erasure goes on only while the connection is offboarded and due (a relink
/// clears `erase_after`: the job then ends and erases nothing more).
async fn still_due(
    deps: &OffboardDeps,
    tenant: &TenantId,
    connection: &ConnectionId,
    job: &mut LifecycleJob,
) -> Result<bool, StepError> {
    let now = (deps.clock)();
    let stored = deps
        .connections
        .store
        .get_connection(tenant, connection)
        .await?;
    let due = stored
        .as_ref()
        .and_then(|c| c.marks.erase_after)
        .is_some_and(|at| at <= now);
    if !due && job.phase != "done" {
        let erased = stored.as_ref().is_some_and(|c| c.marks.erased_at.is_some());
        if !erased {
            info!(job_id = %job.id, connection_id = %connection, "the connection was linked again: its erasure stops");
            set_state(job, "stopped", "relinked".into());
            job.counts.entry("cancelled.relinked".into()).or_insert(1);
        }
    }
    Ok(due)
}

/// Runs one unit of `phase`; whether the phase is finished.
async fn run_phase(
    deps: &OffboardDeps,
    job: &mut LifecycleJob,
    tenant: &TenantId,
    phase: &Phase,
) -> Result<bool, StepError> {
    match phase {
        Phase::Export => {
            let done = deps.export.step(job).await.map_err(StepError::Export)?;
            Ok(done == Step::Done)
        }
        Phase::Plan => {
            let plan = plan(deps, tenant, &job.kind).await?;
            set_state(job, "plan", serde_json::to_value(&plan).unwrap_or_default());
            Ok(true)
        }
        Phase::Disconnect => disconnect(deps, job, tenant).await,
        Phase::Query {
            count,
            source,
            connection,
            ..
        } => {
            let page = deps.eraser.page(source, job.checkpoint.as_deref()).await?;
            let mut doomed = page.keys;
            if let Some(c) = connection {
                doomed = deps
                    .eraser
                    .keep_where(doomed, "connection_id", c.as_str())
                    .await?;
            }
            let n = deps.eraser.delete(doomed).await?;
            add(job, count, n);
            emit(deps, count, n);
            job.checkpoint = page.next.clone();
            Ok(page.next.is_none())
        }
        Phase::Known { count, keys, .. } => {
            let doomed = keys.iter().map(|(pk, sk)| key(pk.clone(), sk)).collect();
            let n = deps.eraser.delete(doomed).await?;
            add(job, count, n);
            emit(deps, count, n);
            Ok(true)
        }
        Phase::ReconSeen => {
            let reports = Source::table(keys::reconcile_pk(tenant));
            let page = deps
                .eraser
                .page(&reports, job.checkpoint.as_deref())
                .await?;
            for report in &page.keys {
                let Some(run) = report.get(keys::SK).and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                let seen = Source::table(keys::reconcile_seen_pk(tenant, run));
                let mut start: Option<String> = None;
                loop {
                    let pages = deps.eraser.page(&seen, start.as_deref()).await?;
                    let n = deps.eraser.delete(pages.keys).await?;
                    add(job, "reconciliation_seen_pages", n);
                    match pages.next {
                        Some(next) => start = Some(next),
                        None => break,
                    }
                }
            }
            job.checkpoint = page.next.clone();
            Ok(page.next.is_none())
        }
        Phase::FinishConnection => {
            finish_connection(deps, job, tenant).await?;
            Ok(true)
        }
    }
}

fn emit(deps: &OffboardDeps, count: &str, n: u64) {
    if n > 0 {
        deps.connections
            .metrics
            .emit(Metric::count_of("lifecycle.erased", n as f64).with("what", count.to_owned()));
    }
}

/// What a brand's or tenant's offboarding will erase by known key.
async fn plan(deps: &OffboardDeps, tenant: &TenantId, kind: &JobKind) -> Result<Plan, StepError> {
    let store = &deps.connections.store;
    let connections = store.list_connections(tenant).await?;
    let mut plan = Plan::default();
    match kind {
        JobKind::BrandOffboarding { brand_id } => {
            plan.connections = connections
                .into_iter()
                .filter(|c| c.brand_id.as_ref() == Some(brand_id))
                .map(|c| c.connection_id)
                .collect();
            plan.brands = vec![brand_id.clone()];
            // Gone already when the plan runs again after the brand's erasure began: then
            // nothing more is known of its customers (the first plan saved them).
            if let Some(brand) = store.get_brand(tenant, brand_id).await? {
                plan.customers = brand
                    .warehouse_customer_ids
                    .iter()
                    .map(|w| w.as_str().to_owned())
                    .collect();
            }
        }
        _ => {
            plan.connections = connections.into_iter().map(|c| c.connection_id).collect();
            for brand in store.list_brands(tenant).await? {
                plan.customers.extend(
                    brand
                        .warehouse_customer_ids
                        .iter()
                        .map(|w| w.as_str().to_owned()),
                );
                plan.brands.push(brand.id);
            }
        }
    }
    Ok(plan)
}

/// Disconnects the next planned connection (checkpoint: how many are done). A brand's
/// own connections are offboarded as `DELETE /connections/{id}` does locally (grace and
/// later erasure of whatever is left of them); a tenant's are deleted at Trackstar (when a
/// client is configured), marked deleted with no erasure of their own (the tenant's
/// erasure takes everything), their route marked and their token deleted.
async fn disconnect(
    deps: &OffboardDeps,
    job: &mut LifecycleJob,
    tenant: &TenantId,
) -> Result<bool, StepError> {
    let plan = plan_of(job);
    let done: usize = match &job.checkpoint {
        None => 0,
        Some(n) => n.parse().map_err(|_| StepError::Checkpoint)?,
    };
    let Some(c) = plan.connections.get(done) else {
        return Ok(true);
    };
    let now = (deps.clock)();
    let offboarder = &deps.connections;
    match job.kind {
        JobKind::BrandOffboarding { .. } => {
            offboarder.offboard(tenant, c, now, now).await?;
        }
        _ => {
            if let Some(connection) = offboarder.store.get_connection(tenant, c).await? {
                tell_trackstar(deps, job, &connection).await?;
                let changed = modify_connection(&offboarder.store, tenant, c, |stored| {
                    if stored.status == ConnectionStatus::Disconnected
                        && stored.marks.deleted_at.is_some()
                    {
                        return Change::Keep(());
                    }
                    mark_offboarded(stored, now, None, now);
                    Change::Write(())
                })
                .await?;
                if let Some((stored, ())) = changed {
                    offboarder.finish(&stored).await?;
                }
            }
        }
    }
    add(job, "connections_disconnected", 1);
    job.checkpoint = Some((done + 1).to_string());
    Ok(done + 1 >= plan.connections.len())
}

/// Deletes a tenant's connection at Trackstar (a connection Trackstar no longer knows
/// counts as deleted); a connection offboarded already was deleted there before.
async fn tell_trackstar(
    deps: &OffboardDeps,
    job: &mut LifecycleJob,
    connection: &crate::domain::Connection,
) -> Result<(), StepError> {
    if connection.is_offboarded() || connection.marks.deleted_at.is_some() {
        return Ok(());
    }
    let Some(trackstar) = &deps.trackstar else {
        *job.counts.entry("trackstar_not_told".into()).or_default() += 1;
        warn!(connection_id = %connection.connection_id, "no Trackstar client: the connection is disconnected here only");
        return Ok(());
    };
    let credentials = ConnectionCredentials::new(
        connection.tenant_id.clone(),
        connection.connection_id.clone(),
        connection.access_token_secret.clone(),
    );
    match trackstar.delete_connection(&credentials).await {
        Ok(()) => Ok(()),
        Err(TrackstarError::NotFound { .. } | TrackstarError::Unauthorized { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The erased connection: no longer due (`erase_after` cleared: off the sweep's list),
/// `erased_at` set. Its record and its route (marked deleted) stay.
async fn finish_connection(
    deps: &OffboardDeps,
    job: &mut LifecycleJob,
    tenant: &TenantId,
) -> Result<(), StepError> {
    let JobKind::ConnectionErasure { connection_id } = &job.kind else {
        return Ok(());
    };
    let now = (deps.clock)();
    modify_connection(&deps.connections.store, tenant, connection_id, |c| {
        if c.marks.erase_after.is_none_or(|at| at > now) {
            return Change::Keep(());
        }
        c.marks.erase_after = None;
        c.marks.erased_at = Some(now);
        c.updated_at = now;
        Change::Write(())
    })
    .await?;
    info!(connection_id = %connection_id, "connection data erased");
    Ok(())
}

impl OffboardSteps {
    /// `registry` with these steps for the three offboarding kinds (the `data-lifecycle`
    /// function's and the CLI's registries).
    pub fn register(
        self: Arc<Self>,
        registry: crate::lifecycle::Registry,
    ) -> crate::lifecycle::Registry {
        use crate::lifecycle::JobKindTag;
        registry
            .with(JobKindTag::ConnectionErasure, self.clone())
            .with(JobKindTag::BrandOffboarding, self.clone())
            .with(JobKindTag::TenantOffboarding, self)
    }
}

/// The offboarding steps as a function has them: `TABLE_NAME`,
/// `CONNECTION_ERASURE_GRACE_DAYS`, and `TRACKSTAR_API_KEY_SECRET_ARN` (optional: a tenant's
/// connections are then deleted at Trackstar too); `export`: the export phase to run first.
pub fn deps_from_env(
    sdk: &aws_config::SdkConfig,
    env: &dyn crate::runtime::Env,
    export: Arc<dyn ExportPhase>,
    metrics: Arc<dyn crate::metrics::MetricsSink>,
) -> Result<OffboardDeps, crate::runtime::ConfigError> {
    let table = crate::runtime::required(env, "TABLE_NAME")?;
    let store = crate::webhook::wiring::store_without_cursors(sdk, table.clone());
    let secrets = Arc::new(crate::secrets::SecretsManagerSource::from_config(sdk));
    let trackstar = match env
        .var("TRACKSTAR_API_KEY_SECRET_ARN")
        .filter(|v| !v.trim().is_empty())
    {
        None => None,
        Some(key) => Some(crate::trackstar::from_env(
            env,
            key,
            secrets.clone(),
            store.client().clone(),
            table.clone(),
            crate::trackstar::Priority::Interactive,
        )?),
    };
    Ok(OffboardDeps {
        eraser: Eraser::new(store.client().clone(), table),
        connections: ConnectionOffboarder {
            store,
            secrets,
            grace: super::connection::grace_from_env(env)?,
            metrics,
        },
        export,
        trackstar,
        clock: Arc::new(Timestamp::now),
    })
}
