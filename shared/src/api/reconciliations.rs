//! `GET /sync/reconciliations` and `GET /sync/reconciliations/{report_id}` (api-sync): the
//! tenant's reconciliation reports, newest first, keyset paginated. Brand roles see only
//! reports that concern one of their brands, and of those only their brands' share (ids,
//! counts, samples, repairs: a shared connection's report holds other brands' too); another
//! tenant's or brand's report is a 404.

use std::collections::{BTreeMap, BTreeSet};

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::request::{authenticated, path_param, require, Action, Ctx, Query, Reply};
use super::writes;
use super::ApiDeps;
use crate::domain::BrandId;
use crate::store::Page;
use crate::sync::reconcile::{DriftClass, ReconcileReport};
use crate::sync::ResourceKind;

/// One reconciliation run of one (connection, resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationView {
    pub id: String,
    pub connection_id: String,
    /// The brands of the run's objects (for a brand user, of theirs only).
    pub brand_ids: Vec<String>,
    pub resource: ResourceKind,
    /// Classified and reported only; nothing repaired.
    pub dry_run: bool,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    /// Both lists walked to their end (only then is anything marked deleted).
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// Per class (`missing_local`, `stale_local`, `ahead_local`, `missing_remote`,
    /// `in_sync`): how many ids. For a brand user, of their brands' objects only.
    pub counts: BTreeMap<String, u64>,
    /// Per drift class: up to 20 sample ids (for a brand user, of their brands' objects
    /// only: up to 5 per brand, unless every object of the run is theirs).
    pub samples: BTreeMap<String, Vec<String>>,
    /// Objects repaired (for a brand user, of their brands).
    pub repaired: u64,
    pub trackstar_gets: u64,
    pub duration_ms: u64,
}

impl ReconciliationView {
    /// The report as a caller sees it: whole for tenant-wide roles (`brands` `None`); for a
    /// brand user, only the share of `brands` in its brand ids, counts, samples and repairs.
    pub fn scoped(mut r: ReconcileReport, brands: Option<&BTreeSet<BrandId>>) -> Self {
        if let Some(brands) = brands {
            r.brand_ids.retain(|b| brands.contains(b));
            r.tally = r.tally.for_brands(brands);
        }
        Self::from(r)
    }
}

/// The brands a caller's view of reports is limited to: none for tenant-wide roles, else
/// `filter` (a listing's one brand) or the caller's brands.
fn view_scope(ctx: &Ctx, filter: Option<&BrandId>) -> Option<BTreeSet<BrandId>> {
    if ctx.principal.role.is_tenant_wide() {
        return None;
    }
    Some(match filter {
        Some(brand) => BTreeSet::from([brand.clone()]),
        None => ctx.principal.brands.clone(),
    })
}

impl From<ReconcileReport> for ReconciliationView {
    fn from(r: ReconcileReport) -> Self {
        let counts = DriftClass::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), r.tally.count(*c)))
            .collect();
        let samples = r
            .tally
            .samples
            .into_iter()
            .map(|(class, ids)| (class.as_str().to_owned(), ids))
            .collect();
        Self {
            id: r.id,
            connection_id: r.connection_id.to_string(),
            brand_ids: r.brand_ids.iter().map(ToString::to_string).collect(),
            resource: r.resource,
            dry_run: r.dry_run,
            started_at: r.started_at.to_rfc3339(),
            finished_at: r.finished_at.to_rfc3339(),
            complete: r.complete,
            incomplete_reason: r.incomplete_reason,
            counts,
            samples,
            repaired: r.tally.repaired,
            trackstar_gets: r.trackstar_gets,
            duration_ms: r.duration_ms,
        }
    }
}

/// Report ids are `run_…` (UUIDv7); anything else names no report.
fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `GET /sync/reconciliations?brand_id&limit&cursor` — newest first.
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::Read)?;
        let q = Query::parse(&req, &["brand_id", "limit", "cursor"])?;
        let brand = q.brand_filter(deps, &ctx).await?;
        let page = deps
            .reports
            .list_reports(&ctx.principal.tenant, brand.as_ref(), &q.page()?)
            .await?;
        let scope = view_scope(&ctx, brand.as_ref());
        Ok(Reply::page(Page {
            items: page
                .items
                .into_iter()
                .map(|r| ReconciliationView::scoped(r, scope.as_ref()))
                .collect::<Vec<_>>(),
            next_cursor: page.next_cursor,
        }))
    })
    .await
}

/// `GET /sync/reconciliations/{report_id}`.
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::Read)?;
        let id = path_param(&req, "/sync/reconciliations/{report_id}", "report_id")?;
        if !plausible_id(&id) {
            return Err(ApiError::not_found("reconciliation"));
        }
        let report = deps
            .reports
            .get_report(&ctx.principal.tenant, &id)
            .await?
            .filter(|r| {
                ctx.principal.role.is_tenant_wide()
                    || r.brand_ids
                        .iter()
                        .any(|b| ctx.principal.sees_brand(Some(b)))
            })
            .ok_or_else(|| ApiError::not_found("reconciliation"))?;
        let scope = view_scope(&ctx, None);
        Ok(Reply::ok(writes::to_json(&ReconciliationView::scoped(
            report,
            scope.as_ref(),
        ))?))
    })
    .await
}
