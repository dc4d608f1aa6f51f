//! The health of a tenant's connections, computed once for the API (`GET /sync/health`,
//! `GET /sync/lag/{brand_id}`) and the ops CLI (`packr health`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::figures::{figures, lookback_start, of_resource, Backlog, Percentiles, WebhookFigures};
use super::stats::WebhookStatsStore;
use super::status::{assess, HealthInputs, Reason, Status, Thresholds};
use crate::domain::{BrandId, Connection, ConnectionStatus, TenantId, Timestamp};
use crate::store::{ConnectionStore, StoreError};
use crate::sync::backfill::SHOWN_PER_CONNECTION;
use crate::sync::reconcile::ReconcileSummary;
use crate::sync::{
    BackfillStatus, BackfillStore, BackfillView, JobKey, Refusal, ResourceKind, SyncState,
    SyncStateStore,
};
use crate::trackstar::{BreakerState, DynamoBudget, SharedBreakerSnapshot};

/// Reads a connection's shared circuit breaker.
#[async_trait]
pub trait BreakerSource: Send + Sync {
    async fn breaker(
        &self,
        connection: &Connection,
    ) -> Result<SharedBreakerSnapshot, Box<dyn std::error::Error + Send + Sync>>;
}

#[async_trait]
impl BreakerSource for DynamoBudget {
    async fn breaker(
        &self,
        connection: &Connection,
    ) -> Result<SharedBreakerSnapshot, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DynamoBudget::breaker(self, &connection.tenant_id, &connection.connection_id).await?)
    }
}

/// Where the health figures come from.
#[derive(Clone)]
pub struct HealthSources {
    pub connections: Arc<dyn ConnectionStore>,
    pub sync_states: Arc<dyn SyncStateStore>,
    pub stats: Arc<dyn WebhookStatsStore>,
    /// Backfill records (one Query per connection).
    pub backfills: Arc<dyn BackfillStore>,
    pub breakers: Arc<dyn BreakerSource>,
    pub thresholds: Thresholds,
}

/// Which connections a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every connection of the tenant.
    Tenant,
    /// Only connections of these brands (tenant-wide connections are hidden).
    Brands(Vec<BrandId>),
}

impl Scope {
    pub fn sees(&self, c: &Connection) -> bool {
        match self {
            Scope::Tenant => true,
            Scope::Brands(brands) => c.brand_id.as_ref().is_some_and(|b| brands.contains(b)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthSummary {
    pub connections: u64,
    pub healthy: u64,
    pub degraded: u64,
    pub unhealthy: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BreakerView {
    /// `closed`, `open`, `half_open`, or `unknown` (it could not be read).
    pub state: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub opened_at: Option<Timestamp>,
    pub retry_after_seconds: Option<u64>,
    pub times_opened: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionErrorView {
    pub error_id: String,
    pub message: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StuckScheduleView {
    /// Trackstar's function, e.g. `get_orders`.
    pub function: String,
    /// How fresh Trackstar's own copy of that data is.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub latest_data: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Timestamp,
}

/// The last reconciliation of a resource (its report has the details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReconcileView {
    pub report_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub finished_at: Timestamp,
    pub complete: bool,
    pub dry_run: bool,
    pub drift: u64,
    pub missing_local: u64,
    pub repaired: u64,
}

impl From<&ReconcileSummary> for ReconcileView {
    fn from(r: &ReconcileSummary) -> Self {
        Self {
            report_id: r.report_id.clone(),
            finished_at: r.finished_at,
            complete: r.complete,
            dry_run: r.dry_run,
            drift: r.drift,
            missing_local: r.missing_local,
            repaired: r.repaired,
        }
    }
}

/// One resource's sync state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResourceHealth {
    pub resource: ResourceKind,
    /// Everything changed before this is stored.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub watermark: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<Timestamp>,
    /// now − watermark; absent when it never synced.
    pub sync_lag_seconds: Option<i64>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<Timestamp>,
    pub consecutive_failures: u32,
    pub last_reconcile: Option<ReconcileView>,
    /// Present when Trackstar refuses this resource for the connection (it is then left
    /// out of the connection's status: nothing to sync is not a lag).
    pub unavailable: Option<UnavailableView>,
}

/// A resource Trackstar refuses for a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnavailableView {
    /// `forbidden` (403: off until Trackstar enables it) or `not_implemented` (501: the
    /// integration lacks it).
    pub refusal: Refusal,
    pub message: String,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    /// The last time Trackstar was asked; the schedule asks again on a slow cadence, and
    /// `POST /sync/run` at once.
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionHealth {
    pub connection_id: String,
    pub brand_id: Option<String>,
    pub integration_name: String,
    /// `active`, `disconnected`, `reauth_required`.
    pub connection_status: String,
    pub status: Status,
    pub reasons: Vec<Reason>,
    pub resources: Vec<ResourceHealth>,
    pub webhooks: WebhookFigures,
    pub breaker: BreakerView,
    pub connection_errors: Vec<ConnectionErrorView>,
    pub stuck_schedules: Vec<StuckScheduleView>,
    /// Backfills asked of Trackstar (`POST /sync/backfill`) in the last 30 days, newest
    /// first, at most 20: open, completed, cancelled or stuck.
    pub backfills: Vec<BackfillView>,
}

/// `GET /sync/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: Timestamp,
    pub summary: HealthSummary,
    pub connections: Vec<ConnectionHealth>,
}

/// One resource of one connection in `GET /sync/lag/{brand_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResourceLag {
    pub connection_id: String,
    pub resource: ResourceKind,
    pub sync_lag_seconds: Option<i64>,
    pub webhook_lag_1h: Percentiles,
    pub webhook_lag_24h: Percentiles,
    /// Events of this resource taken up and not applied yet.
    pub unapplied: Backlog,
}

/// `GET /sync/lag/{brand_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LagReport {
    pub brand_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: Timestamp,
    pub resources: Vec<ResourceLag>,
}

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("reading the health figures")]
    Store(#[from] StoreError),
}

fn breaker_view(b: Option<&SharedBreakerSnapshot>) -> BreakerView {
    match b {
        None => BreakerView {
            state: "unknown".into(),
            opened_at: None,
            retry_after_seconds: None,
            times_opened: 0,
        },
        Some(b) => BreakerView {
            state: match b.state {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half_open",
            }
            .into(),
            opened_at: b.opened_at,
            retry_after_seconds: b.retry_after.map(|d| d.as_secs()),
            times_opened: b.times_opened,
        },
    }
}

fn sync_lag(state: Option<&SyncState>, now: Timestamp) -> Option<i64> {
    state
        .and_then(|s| s.watermark)
        .map(|w| (now.unix_seconds() - w.unix_seconds()).max(0))
}

fn resource_health(
    resource: ResourceKind,
    state: Option<&SyncState>,
    now: Timestamp,
) -> ResourceHealth {
    ResourceHealth {
        resource,
        watermark: state.and_then(|s| s.watermark),
        last_success_at: state.and_then(|s| s.last_success_at),
        sync_lag_seconds: sync_lag(state, now),
        last_error: state.and_then(|s| s.last_error.clone()),
        last_error_at: state.and_then(|s| s.last_error_at),
        consecutive_failures: state.map_or(0, |s| s.consecutive_failures),
        last_reconcile: state
            .and_then(|s| s.last_reconcile.as_ref())
            .map(ReconcileView::from),
        unavailable: state
            .and_then(|s| s.unavailable.as_ref())
            .map(|u| UnavailableView {
                refusal: u.refusal,
                message: u.message.clone(),
                since: u.since,
                checked_at: u.checked_at,
            }),
    }
}

async fn states(
    sources: &HealthSources,
    c: &Connection,
) -> Result<Vec<(ResourceKind, Option<SyncState>)>, StoreError> {
    let keys: Vec<JobKey> = ResourceKind::ALL
        .iter()
        .map(|r| JobKey {
            tenant_id: c.tenant_id.clone(),
            connection_id: c.connection_id.clone(),
            resource: *r,
        })
        .collect();
    let found = sources.sync_states.get_many(&keys).await?;
    Ok(ResourceKind::ALL
        .iter()
        .map(|r| (*r, found.iter().find(|s| s.resource == *r).cloned()))
        .collect())
}

/// The health of one connection.
pub async fn connection_health(
    sources: &HealthSources,
    c: &Connection,
    now: Timestamp,
) -> Result<ConnectionHealth, HealthError> {
    let states = states(sources, c).await?;
    let hours = sources
        .stats
        .hours(&c.tenant_id, &c.connection_id, lookback_start(now))
        .await?;
    let webhooks = figures(&hours, now, None);
    let backfills = sources
        .backfills
        .backfills(&c.tenant_id, &c.connection_id)
        .await?;
    let breaker = match sources.breakers.breaker(c).await {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(connection_id = %c.connection_id, error = %e, "could not read the breaker");
            None
        }
    };
    let resources: Vec<ResourceHealth> = states
        .iter()
        .map(|(r, s)| resource_health(*r, s.as_ref(), now))
        .collect();
    let inputs = HealthInputs {
        not_active: (c.status != ConnectionStatus::Active).then(|| c.status.as_str().to_owned()),
        breaker_open: breaker
            .as_ref()
            .is_some_and(|b| b.state == BreakerState::Open),
        breaker_half_open: breaker
            .as_ref()
            .is_some_and(|b| b.state == BreakerState::HalfOpen),
        sync_lag: resources
            .iter()
            .filter(|r| r.unavailable.is_none())
            .map(|r| {
                (
                    r.resource.as_str().to_owned(),
                    r.sync_lag_seconds.map(|s| Duration::from_secs(s as u64)),
                )
            })
            .collect(),
        webhook_lag_p95: webhooks.lag_1h.p95_ms.map(Duration::from_millis),
        error_rate_24h: webhooks.error_rate_24h,
        failures_24h: webhooks.failures_24h,
        open_connection_errors: c.errors.len(),
        stuck_schedules: c.stuck_schedules.len(),
        stuck_backfills: backfills
            .iter()
            .filter(|b| b.status == BackfillStatus::Stuck)
            .count(),
    };
    let (status, reasons) = assess(&inputs, &sources.thresholds);
    Ok(ConnectionHealth {
        connection_id: c.connection_id.to_string(),
        brand_id: c.brand_id.as_ref().map(|b| b.to_string()),
        integration_name: c.integration_name.clone(),
        connection_status: c.status.as_str().to_owned(),
        status,
        reasons,
        resources,
        webhooks,
        breaker: breaker_view(breaker.as_ref()),
        connection_errors: c
            .errors
            .iter()
            .map(|e| ConnectionErrorView {
                error_id: e.error_id.clone(),
                message: e.message.clone(),
                recorded_at: e.recorded_at,
            })
            .collect(),
        stuck_schedules: c
            .stuck_schedules
            .iter()
            .map(|s| StuckScheduleView {
                function: s.function.clone(),
                latest_data: s.latest_data,
                recorded_at: s.recorded_at,
            })
            .collect(),
        backfills: backfills
            .iter()
            .take(SHOWN_PER_CONNECTION)
            .map(BackfillView::from)
            .collect(),
    })
}

/// The health of every connection of `tenant` the scope lets the caller see.
pub async fn tenant_health(
    sources: &HealthSources,
    tenant: &TenantId,
    scope: &Scope,
    now: Timestamp,
) -> Result<HealthReport, HealthError> {
    let mut connections = sources.connections.list_connections(tenant).await?;
    connections.retain(|c| &c.tenant_id == tenant && scope.sees(c));
    connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    let mut summary = HealthSummary::default();
    let mut out = Vec::with_capacity(connections.len());
    for c in &connections {
        let h = connection_health(sources, c, now).await?;
        summary.connections += 1;
        match h.status {
            Status::Healthy => summary.healthy += 1,
            Status::Degraded => summary.degraded += 1,
            Status::Unhealthy => summary.unhealthy += 1,
        }
        out.push(h);
    }
    Ok(HealthReport {
        generated_at: now,
        summary,
        connections: out,
    })
}

/// Per resource of the brand's own connections (tenant-wide connections are not the
/// brand's and are left out, as they are for brand roles).
pub async fn brand_lag(
    sources: &HealthSources,
    tenant: &TenantId,
    brand: &BrandId,
    now: Timestamp,
) -> Result<LagReport, HealthError> {
    let mut connections = sources.connections.list_connections(tenant).await?;
    connections.retain(|c| &c.tenant_id == tenant && c.brand_id.as_ref() == Some(brand));
    connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    let mut resources = Vec::new();
    for c in &connections {
        let states = states(sources, c).await?;
        let hours = sources
            .stats
            .hours(&c.tenant_id, &c.connection_id, lookback_start(now))
            .await?;
        for (r, state) in &states {
            let f = figures(&hours, now, Some(of_resource(*r)));
            resources.push(ResourceLag {
                connection_id: c.connection_id.to_string(),
                resource: *r,
                sync_lag_seconds: sync_lag(state.as_ref(), now),
                webhook_lag_1h: f.lag_1h,
                webhook_lag_24h: f.lag_24h,
                unapplied: f.backlog,
            });
        }
    }
    Ok(LagReport {
        brand_id: brand.to_string(),
        generated_at: now,
        resources,
    })
}
