//! Offboarding routes of api-connections (tenant_admin, admin quota, audited):
//! `DELETE /connections/{connection_id}` (Trackstar first, then the connection is offboarded
//! here: token deleted, webhooks refused, data erased after the grace period),
//! `DELETE /brands/{brand_id}` (`Idempotency-Key`; 202 with the job that exports, then erases
//! the brand) and `GET /offboardings/{job_id}` (the job's status, phase, counts and export
//! files with download links). See `lifecycle::offboard`.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, path_param, require, Action, Reply};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{BrandId, Connection, ConnectionId};
use crate::idempotency::Scope;
use crate::lifecycle::offboard::{ConnectionOffboarder, Presign};
use crate::lifecycle::{
    start_job, JobKind, JobStatus, LifecycleJob, LifecycleJobStore, LifecycleQueue,
};
use crate::trackstar::{ConnectionCredentials, TrackstarError};

/// What the offboarding routes use (api-connections only).
#[derive(Clone)]
pub struct OffboardApi {
    pub connections: ConnectionOffboarder,
    pub jobs: LifecycleJobStore,
    /// The lifecycle-jobs queue (`LIFECYCLE_JOBS_QUEUE_URL`): `DELETE /brands` needs it.
    pub queue: Option<Arc<dyn LifecycleQueue>>,
    /// Download links of export files (helper "export"'s presigner); absent: files are
    /// listed without a link.
    pub presign: Option<Arc<dyn Presign>>,
}

const BRAND_SCOPE: Scope = Scope::new("brands.offboard");

/// The answer of `DELETE /connections/{connection_id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedConnectionView {
    pub connection_id: String,
    /// `disconnected`.
    pub status: String,
    /// When it was deleted.
    pub deleted_at: Option<String>,
    /// When its data is erased unless it is linked again before (`null` once erased).
    pub erase_after: Option<String>,
    /// When its data was erased.
    pub erased_at: Option<String>,
}

impl From<&Connection> for DeletedConnectionView {
    fn from(c: &Connection) -> Self {
        Self {
            connection_id: c.connection_id.to_string(),
            status: c.status.as_str().to_owned(),
            deleted_at: c.marks.deleted_at.map(|t| t.to_rfc3339()),
            erase_after: c.marks.erase_after.map(|t| t.to_rfc3339()),
            erased_at: c.marks.erased_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// An exported file of an offboarding.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportFileView {
    pub resource: String,
    pub lines: u64,
    pub bytes: u64,
    /// A presigned download link (expires), once the export is done.
    pub url: Option<String>,
}

/// An offboarding job as served.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OffboardingView {
    pub job_id: String,
    /// `connection_erasure`, `brand_offboarding` or `tenant_offboarding`.
    pub kind: String,
    pub brand_id: Option<String>,
    pub connection_id: Option<String>,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// The step it is at (`export:<resource>`, `erase:<what>`, `done`).
    pub phase: String,
    /// What was exported and erased, by name (`exported.orders`, `erased.orders` …).
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub counts: std::collections::BTreeMap<String, u64>,
    pub exports: Vec<ExportFileView>,
    pub requested_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

fn offboarding(deps: &ApiDeps) -> Result<&OffboardApi, ApiError> {
    deps.offboarding.as_ref().ok_or_else(|| {
        tracing::error!("this function has no offboarding configured");
        ApiError::internal()
    })
}

fn kind_name(kind: &JobKind) -> Option<&'static str> {
    match kind {
        JobKind::ConnectionErasure { .. } => Some("connection_erasure"),
        JobKind::BrandOffboarding { .. } => Some("brand_offboarding"),
        JobKind::TenantOffboarding => Some("tenant_offboarding"),
        JobKind::PersonErasure { .. } => None,
    }
}

async fn view(api: &OffboardApi, job: &LifecycleJob) -> Result<OffboardingView, ApiError> {
    let mut exports = Vec::with_capacity(job.exports.len());
    for file in &job.exports {
        let url = match (
            &api.presign,
            job.status == JobStatus::Completed
                || job.phase.starts_with("erase")
                || job.phase == "done",
        ) {
            (Some(presign), true) => Some(
                presign
                    .url(file)
                    .await
                    .map_err(|e| ApiError::internal_from("presign an export file", &e))?,
            ),
            _ => None,
        };
        exports.push(ExportFileView {
            resource: file.resource.clone(),
            lines: file.lines,
            bytes: file.bytes,
            url,
        });
    }
    let (brand_id, connection_id) = match &job.kind {
        JobKind::BrandOffboarding { brand_id } => (Some(brand_id.to_string()), None),
        JobKind::ConnectionErasure { connection_id } => (None, Some(connection_id.to_string())),
        _ => (None, None),
    };
    Ok(OffboardingView {
        job_id: job.id.clone(),
        kind: kind_name(&job.kind).unwrap_or("other").to_owned(),
        brand_id,
        connection_id,
        status: serde_json::to_value(job.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        phase: job.phase.clone(),
        counts: job.counts.clone(),
        exports,
        requested_at: job.requested_at.to_rfc3339(),
        started_at: job.started_at.map(|t| t.to_rfc3339()),
        finished_at: job.finished_at.map(|t| t.to_rfc3339()),
        error: job.error.clone(),
    })
}

/// `DELETE /connections/{connection_id}`: Trackstar deletes it first (a failure there is an
/// error that changes nothing here; a connection Trackstar no longer knows counts as
/// deleted), then it is offboarded here. A connection offboarded already answers as it
/// stands (its offboarding completed again, nothing sent to Trackstar, no second entry).
pub async fn delete_connection(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        let api = offboarding(deps)?;
        let raw = path_param(&req, "/connections/{connection_id}", "connection_id")?;
        let id = ConnectionId::parse(raw).map_err(|_| ApiError::not_found("connection"))?;
        let tenant = &ctx.principal.tenant;
        let connection = deps
            .connections
            .get_connection(tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("connection"))?;
        if connection.is_offboarded() {
            api.connections
                .finish(&connection)
                .await
                .map_err(|e| ApiError::internal_from("offboard the connection", &e))?;
            return Ok(Reply::ok(writes::to_json(&DeletedConnectionView::from(&connection))?));
        }
        let credentials = ConnectionCredentials::new(
            tenant.clone(),
            id.clone(),
            connection.access_token_secret.clone(),
        );
        match deps.trackstar()?.delete_connection(&credentials).await {
            Ok(()) => {}
            Err(TrackstarError::NotFound { .. } | TrackstarError::Unauthorized { .. }) => {
                tracing::info!(connection_id = %id, "Trackstar no longer knows the connection: counted as deleted");
            }
            Err(e) => return Err(ApiError::from(e)),
        }
        // After Trackstar, before the local change: a retry after an audit failure finds
        // Trackstar's deletion done (401/404) and records then.
        audit::record(deps, &ctx, "connections.delete", format!("connection:{id}")).await?;
        let now = deps.now();
        let done = api
            .connections
            .offboard(tenant, &id, now, now)
            .await
            .map_err(|e| ApiError::internal_from("offboard the connection", &e))?
            .ok_or_else(|| ApiError::not_found("connection"))?;
        Ok(Reply::ok(writes::to_json(&DeletedConnectionView::from(&done.connection))?))
    })
    .await
}

/// `DELETE /brands/{brand_id}` (`Idempotency-Key`): 202 with the offboarding job (export,
/// then erasure of every object and message of the brand).
pub async fn delete_brand(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        let api = offboarding(deps)?;
        let key = request::idempotency_key(&req)?;
        let raw = path_param(&req, "/brands/{brand_id}", "brand_id")?;
        let brand = BrandId::parse(raw).map_err(|_| ApiError::not_found("brand"))?;
        let tenant = ctx.principal.tenant.clone();
        idempotent(
            deps,
            &ctx,
            BRAND_SCOPE,
            &key,
            &json!({ "brand_id": brand }),
            || async {
                deps.tenants
                    .get_brand(&tenant, &brand)
                    .await?
                    .ok_or_else(|| ApiError::not_found("brand"))?;
                let queue = api.queue.as_deref().ok_or_else(|| {
                    tracing::error!("this function has no lifecycle-jobs queue configured");
                    ApiError::internal()
                })?;
                let job = LifecycleJob::new(
                    tenant.clone(),
                    JobKind::BrandOffboarding {
                        brand_id: brand.clone(),
                    },
                    Some(ctx.principal.subject.to_string()),
                    deps.now(),
                );
                // Recorded before the job exists: a failure leaves nothing started unaudited.
                audit::record(deps, &ctx, "brands.offboard", format!("brand:{brand}")).await?;
                let (job, _) = start_job(&api.jobs, queue, job)
                    .await
                    .map_err(|e| ApiError::internal_from("start the brand offboarding", &e))?;
                Ok(Reply::accepted(writes::to_json(&view(api, &job).await?)?))
            },
        )
        .await
    })
    .await
}

/// `GET /offboardings/{job_id}`.
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        let api = offboarding(deps)?;
        let id = path_param(&req, "/offboardings/{job_id}", "job_id")?;
        if !LifecycleJob::valid_id(&id) {
            return Err(ApiError::not_found("offboarding"));
        }
        let job = api
            .jobs
            .get(&ctx.principal.tenant, &id)
            .await?
            .filter(|job| kind_name(&job.kind).is_some())
            .ok_or_else(|| ApiError::not_found("offboarding"))?;
        Ok(Reply::ok(writes::to_json(&view(api, &job).await?)?))
    })
    .await
}
