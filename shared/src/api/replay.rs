//! `POST /sync/replay` (tenant_admin, api-sync): re-enqueue the tenant's failed webhook
//! events from the copies kept on their receipts ([`crate::webhook::replay`], the same
//! code as `packr replay`), or queue an incremental or full sync of a brand's connections
//! ([`request_sync`]). Idempotent by `Idempotency-Key`; every call is audited.

use std::time::Duration;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::sync::{QueuedSyncJob, SkippedConnection};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{BrandId, EventId};
use crate::idempotency::Scope;
use crate::sync::{request_sync, sync_targets, ResourceKind, SyncMode};
use crate::webhook::replay::{
    self as webhook_replay, ReplayError, ReplayRequest, SkippedEvent, MAX_EVENT_IDS, MAX_REPLAY,
};

pub const REPLAY_SCOPE: Scope = Scope::new("api.sync.replay");

/// The `reason` of the sync jobs a replay of type `sync` enqueues.
pub const REPLAY_REASON: &str = "replay";

/// The longest `max_age_hours`: the DLQ keeps messages 14 days.
pub const MAX_AGE_HOURS: u64 = 14 * 24;

/// What to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayType {
    /// Re-enqueue failed (and dead-lettered) webhook events from their kept copies.
    Webhook,
    /// Queue a sync of the brand's connections (or every connection).
    Sync,
}

/// `POST /sync/replay`. Fields are read as raw JSON and checked one by one, so every error
/// names its field.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(rename = "type", default)]
    #[schema(value_type = ReplayType, required = true)]
    pub kind: Value,
    /// Only this brand's events (the event's brand, else its connection's) or connections
    /// (the brand's own and the tenant-wide ones).
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::BrandId>)]
    pub brand_id: Option<Value>,
    /// `webhook` only: these events (at most 100).
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::domain::EventId>>, min_items = 1, max_items = 100)]
    pub event_ids: Option<Value>,
    /// `webhook` only: events received at most this many hours ago (1–336).
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 336)]
    pub max_age_hours: Option<Value>,
    /// Count (and list) what would be replayed; enqueue nothing.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub dry_run: Option<Value>,
    /// `sync` only: `incremental` (default) or `full`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::sync::RunSyncMode>)]
    pub mode: Option<Value>,
}

/// A validated body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPlan {
    pub kind: ReplayType,
    pub brand: Option<BrandId>,
    pub event_ids: Vec<EventId>,
    pub max_age_hours: Option<u64>,
    pub dry_run: bool,
    pub mode: SyncMode,
}

/// The answer: `202` when work was queued, `200` for a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplayAnswer {
    #[serde(rename = "type")]
    pub kind: ReplayType,
    pub dry_run: bool,
    /// Events (type `webhook`) or jobs (type `sync`) that matched.
    pub matched: usize,
    /// Re-enqueued events or queued jobs (0 in a dry run).
    pub enqueued: usize,
    /// Events not replayed, and why (`not_found`, `already_applied`, `already_processed`,
    /// `not_failed`, `filtered_out`, `payload_missing`, `enqueue_failed`).
    pub skipped: Vec<SkippedEvent>,
    /// More failed events match than the 1,000 replayed per call.
    pub truncated: bool,
    /// Seconds over which the enqueued events become visible (the delay spread).
    pub spread_seconds: u64,
    /// Type `sync`: the jobs queued (or, in a dry run, that would be).
    #[serde(default)]
    pub jobs: Vec<QueuedSyncJob>,
    /// Type `sync`: connections not synced (not active).
    #[serde(default)]
    pub skipped_connections: Vec<SkippedConnection>,
}

fn optional(value: &Option<Value>) -> Option<&Value> {
    value.as_ref().filter(|v| !v.is_null())
}

/// Checks every field, naming each failure.
pub fn validate(body: &ReplayBody) -> Result<ReplayPlan, ApiError> {
    let mut v = Validator::default();
    let kind = match &body.kind {
        Value::Null => {
            v.error("type", "is required");
            None
        }
        Value::String(s) if s == "webhook" => Some(ReplayType::Webhook),
        Value::String(s) if s == "sync" => Some(ReplayType::Sync),
        _ => {
            v.error("type", "must be webhook or sync");
            None
        }
    };
    let brand = match optional(&body.brand_id) {
        None => None,
        Some(Value::String(raw)) => v.parse("brand_id", BrandId::parse(raw.clone())),
        Some(_) => {
            v.error("brand_id", "must be a string");
            None
        }
    };
    let mut event_ids = Vec::new();
    if let Some(value) = optional(&body.event_ids) {
        if kind == Some(ReplayType::Sync) {
            v.error("event_ids", "is only for type webhook");
        }
        match value {
            Value::Array(items) => {
                if items.is_empty() {
                    v.error("event_ids", "must name at least one event");
                } else if items.len() > MAX_EVENT_IDS {
                    v.error(
                        "event_ids",
                        format!("must name at most {MAX_EVENT_IDS} events"),
                    );
                }
                for (i, item) in items.iter().enumerate().take(MAX_EVENT_IDS) {
                    match item.as_str().map(|s| EventId::parse(s.to_owned())) {
                        Some(Ok(id)) => event_ids.push(id),
                        _ => v.error(format!("event_ids[{i}]"), "must be an event id"),
                    }
                }
            }
            _ => v.error("event_ids", "must be an array of event ids"),
        }
    }
    let max_age_hours = match optional(&body.max_age_hours) {
        None => None,
        Some(value) => {
            if kind == Some(ReplayType::Sync) {
                v.error("max_age_hours", "is only for type webhook");
            }
            // any JSON number without a fraction is an integer (3.0 included)
            let whole = value.as_u64().or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..1e6).contains(f))
                    .map(|f| f as u64)
            });
            match whole.filter(|h| (1..=MAX_AGE_HOURS).contains(h)) {
                Some(h) => Some(h),
                None => {
                    v.error(
                        "max_age_hours",
                        format!("must be an integer from 1 to {MAX_AGE_HOURS}"),
                    );
                    None
                }
            }
        }
    };
    let dry_run = match optional(&body.dry_run) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            v.error("dry_run", "must be true or false");
            false
        }
    };
    let mode = match optional(&body.mode) {
        None => SyncMode::Incremental,
        Some(value) => {
            if kind == Some(ReplayType::Webhook) {
                v.error("mode", "is only for type sync");
            }
            match value.as_str().and_then(SyncMode::parse) {
                Some(mode) => mode,
                None => {
                    v.error("mode", "must be incremental or full");
                    SyncMode::Incremental
                }
            }
        }
    };
    v.finish()?;
    Ok(ReplayPlan {
        kind: kind.ok_or_else(ApiError::internal)?,
        brand,
        event_ids,
        max_age_hours,
        dry_run,
        mode,
    })
}

fn filter_details(plan: &ReplayPlan) -> Value {
    json!({
        "brand_id": plan.brand,
        "event_ids": plan.event_ids,
        "max_age_hours": plan.max_age_hours,
        "dry_run": plan.dry_run,
        "mode": (plan.kind == ReplayType::Sync).then_some(plan.mode),
    })
}

async fn replay_webhooks(
    deps: &ApiDeps,
    ctx: &Ctx,
    plan: &ReplayPlan,
) -> Result<ReplayAnswer, ApiError> {
    let queue = if plan.dry_run {
        None
    } else {
        Some(deps.webhook_queue()?)
    };
    let request = ReplayRequest {
        tenant: ctx.principal.tenant.clone(),
        brand: plan.brand.clone(),
        event_ids: plan.event_ids.clone(),
        max_age: plan.max_age_hours.map(|h| Duration::from_secs(h * 3600)),
        max: MAX_REPLAY,
        dry_run: plan.dry_run,
    };
    let report = webhook_replay::replay(
        deps.receipts.as_ref(),
        deps.connections.as_ref(),
        queue,
        &request,
        deps.now(),
    )
    .await
    .map_err(|e| match e {
        ReplayError::Store { source, .. } => ApiError::from(source),
        ReplayError::NoQueue => ApiError::internal(),
    })?;
    Ok(ReplayAnswer {
        kind: ReplayType::Webhook,
        dry_run: report.dry_run,
        matched: report.matched,
        enqueued: report.enqueued,
        skipped: report.skipped,
        truncated: report.truncated,
        spread_seconds: report.spread_seconds,
        jobs: Vec::new(),
        skipped_connections: Vec::new(),
    })
}

/// The brand's connections: its own and the tenant-wide ones (which serve every brand).
async fn replay_sync(
    deps: &ApiDeps,
    ctx: &Ctx,
    plan: &ReplayPlan,
) -> Result<ReplayAnswer, ApiError> {
    let tenant = &ctx.principal.tenant;
    let targets = sync_targets(deps.connections.as_ref(), tenant, None)
        .await
        .map_err(|e| ApiError::internal_from("sync targets", &e))?;
    let serves = |c: &crate::domain::Connection| match (&plan.brand, &c.brand_id) {
        (None, _) | (Some(_), None) => true,
        (Some(b), Some(own)) => b == own,
    };
    let skipped_connections = targets
        .skipped
        .iter()
        .filter(|c| serves(c))
        .map(|c| SkippedConnection {
            connection_id: c.connection_id.to_string(),
            reason: "connection_not_active".to_owned(),
            status: c.status.as_str().to_owned(),
        })
        .collect();
    let mut jobs = Vec::new();
    let now = deps.now();
    for connection in targets.active.iter().filter(|c| serves(c)) {
        if plan.dry_run {
            jobs.extend(ResourceKind::ALL.iter().map(|r| QueuedSyncJob {
                connection_id: connection.connection_id.to_string(),
                resource: *r,
                mode: plan.mode,
            }));
            continue;
        }
        let queued = request_sync(
            deps.sync_jobs()?,
            tenant,
            &connection.connection_id,
            &ResourceKind::ALL,
            plan.mode,
            REPLAY_REASON,
            now,
        )
        .await
        .map_err(|e| ApiError::internal_from("enqueue sync jobs", &e))?;
        jobs.extend(queued.into_iter().map(|job| QueuedSyncJob {
            connection_id: job.connection_id.to_string(),
            resource: job.resource,
            mode: job.mode,
        }));
    }
    Ok(ReplayAnswer {
        kind: ReplayType::Sync,
        dry_run: plan.dry_run,
        matched: jobs.len(),
        enqueued: if plan.dry_run { 0 } else { jobs.len() },
        skipped: Vec::new(),
        truncated: false,
        spread_seconds: 0,
        jobs,
        skipped_connections,
    })
}

/// `POST /sync/replay` — requires `Idempotency-Key`.
pub async fn replay(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::Replay)?;
        let (body, raw) = request::json_body::<ReplayBody>(deps, &req, None)?;
        let key = request::idempotency_key(&req)?;
        let plan = validate(&body)?;
        if let Some(brand) = &plan.brand {
            // Another tenant's brand is a 404, as a missing one.
            deps.tenants
                .get_brand(&ctx.principal.tenant, brand)
                .await?
                .ok_or_else(|| ApiError::not_found("brand"))?;
        }
        idempotent(deps, &ctx, REPLAY_SCOPE, &key, &raw, || async {
            let answer = match plan.kind {
                ReplayType::Webhook => replay_webhooks(deps, &ctx, &plan).await?,
                ReplayType::Sync => replay_sync(deps, &ctx, &plan).await?,
            };
            audit::record_with(
                deps,
                &ctx,
                "sync.replay",
                match plan.kind {
                    ReplayType::Webhook => "webhook-events".to_owned(),
                    ReplayType::Sync => "connections".to_owned(),
                },
                Some(json!({
                    "type": plan.kind,
                    "filter": filter_details(&plan),
                    "matched": answer.matched,
                    "enqueued": answer.enqueued,
                    "skipped": answer.skipped.len(),
                    "truncated": answer.truncated,
                })),
            )
            .await?;
            let body = writes::to_json(&answer)?;
            Ok(if plan.dry_run {
                Reply::ok(body)
            } else {
                Reply {
                    status: StatusCode::ACCEPTED,
                    body,
                    headers: Vec::new(),
                }
            })
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> ReplayBody {
        serde_json::from_value(value).expect("the body's shape")
    }

    fn fields(err: ApiError) -> Vec<String> {
        err.details.expect("field details")["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn a_webhook_replay_reads_its_filters() {
        let plan = validate(&body(json!({
            "type": "webhook", "brand_id": "b1", "event_ids": ["msg_1"], "max_age_hours": 24, "dry_run": true
        })))
        .unwrap();
        assert_eq!(plan.kind, ReplayType::Webhook);
        assert_eq!(plan.brand, Some(BrandId::parse("b1").unwrap()));
        assert_eq!(plan.event_ids.len(), 1);
        assert_eq!(plan.max_age_hours, Some(24));
        assert!(plan.dry_run);
        let plan = validate(&body(json!({ "type": "sync", "mode": "full" }))).unwrap();
        assert_eq!(plan.mode, SyncMode::Full);
        assert!(!plan.dry_run);
    }

    #[test]
    fn every_invalid_field_is_named() {
        let ids: Vec<String> = (0..101).map(|i| format!("msg_{i}")).collect();
        let err = validate(&body(json!({
            "type": "webhook", "brand_id": 3, "event_ids": ids, "max_age_hours": 0,
            "dry_run": "yes", "mode": "full"
        })))
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            fields(err),
            vec!["brand_id", "dry_run", "event_ids", "max_age_hours", "mode"]
        );
        let err = validate(&body(json!({ "event_ids": [7] }))).unwrap_err();
        assert_eq!(fields(err), vec!["event_ids[0]", "type"]);
        let err = validate(&body(
            json!({ "type": "sync", "event_ids": ["a"], "mode": "reconcile" }),
        ))
        .unwrap_err();
        assert_eq!(fields(err), vec!["event_ids", "mode"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(
            serde_json::from_value::<ReplayBody>(json!({ "type": "webhook", "all": true }))
                .is_err()
        );
    }
}
