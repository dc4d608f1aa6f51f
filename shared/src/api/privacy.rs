//! `POST /privacy/erasures` and `GET /privacy/erasures/{erasure_id}` (tenant_admin, admin
//! quota, the POST audited and idempotent): the erasure of a person (`crate::privacy`).
//!
//! The POST records the erasure — from then on every write of the tenant's objects and
//! messages is redacted — then creates and queues the lifecycle job that walks what is
//! stored (`PersonErasure`), delayed by the guard's wait, and answers 202. The identifier
//! never reaches the table, the idempotency record or the audit entry: only its keyed
//! hashes (the idempotency fingerprint is taken over them too).

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::Timestamp;
use crate::idempotency::Scope;
use crate::lifecycle::{JobKind, JobStatus, LifecycleJob, LifecycleJobStore, LifecycleMessage};
use crate::privacy::{
    walk_wait, ErasureRecord, ErasureStatus, ErasureSubject, SubjectError, WMS_NOTICE,
};

pub const ERASURE_SCOPE: Scope = Scope::new("api.privacy.erasures");

/// `POST /privacy/erasures`: whom to erase — `email`, or `name` with `postal_code`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureBody {
    /// The person's email address (alone).
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 320)]
    pub email: Value,
    /// The person's full name (with `postal_code`).
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 320)]
    pub name: Value,
    /// The postal code of the person's address (with `name`).
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 320)]
    pub postal_code: Value,
}

crate::redacted_debug!(ErasureBody {
    ;
    email, name, postal_code
});

/// An erasure as answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureView {
    pub erasure_id: String,
    pub status: ErasureStatus,
    /// The erasure time: every write of the person's data from then on is redacted; what
    /// was stored before is redacted by the walk (`status` `completed` when done).
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: Timestamp,
    /// Objects redacted per kind (`orders`, `returns`, `inbound_shipments`, `messages`,
    /// `failed_receipts` …).
    pub counts: BTreeMap<String, u64>,
    /// The lifecycle job of the walk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// The WMS keeps its own copy: erase the person there too.
    pub notice: String,
}

impl ErasureView {
    fn of(record: &ErasureRecord, job: Option<&LifecycleJob>) -> Self {
        let status = match job.map(|j| j.status) {
            Some(JobStatus::Failed) => ErasureStatus::Failed,
            _ => record.status,
        };
        Self {
            erasure_id: record.id.clone(),
            status,
            erased_at: record.erased_at,
            counts: record.counts.clone(),
            job_id: record.job_id.clone(),
            finished_at: record.finished_at,
            notice: WMS_NOTICE.to_owned(),
        }
    }
}

fn text<'a>(v: &mut Validator, field: &str, value: &'a Value) -> Option<&'a str> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.as_str()),
        _ => {
            v.error(field, "must be a string");
            None
        }
    }
}

/// The subject of a body; every error names its field.
pub fn subject_of(body: &ErasureBody) -> Result<ErasureSubject, ApiError> {
    let mut v = Validator::default();
    let email = text(&mut v, "email", &body.email);
    let name = text(&mut v, "name", &body.name);
    let postal = text(&mut v, "postal_code", &body.postal_code);
    v.finish()?;
    ErasureSubject::from_fields(email, name, postal).map_err(|e| {
        let mut v = Validator::default();
        match e {
            SubjectError::Ambiguous => v.error(
                "email",
                "give either email, or name with postal_code, not both",
            ),
            SubjectError::Invalid { field, reason } => v.error(field, reason),
        }
        v.finish().err().unwrap_or_else(ApiError::internal)
    })
}

fn not_configured(what: &str) -> ApiError {
    tracing::error!(what, "this function is not configured for erasures");
    ApiError::internal()
}

async fn start(deps: &ApiDeps, ctx: &Ctx, record: ErasureRecord) -> Result<Reply, ApiError> {
    let queue = deps
        .lifecycle_queue
        .as_deref()
        .ok_or_else(|| not_configured("LIFECYCLE_JOBS_QUEUE_URL"))?;
    let tenant = &ctx.principal.tenant;
    let job = LifecycleJob::new(
        tenant.clone(),
        JobKind::PersonErasure {
            erasure_id: record.id.clone(),
        },
        Some(ctx.principal.subject.to_string()),
        deps.now(),
    );
    let record = ErasureRecord {
        job_id: Some(job.id.clone()),
        ..record
    };
    // The record first: from it on, every write is redacted (within the guard's cache).
    deps.objects.create_erasure(&record).await?;
    let jobs = LifecycleJobStore::new((*deps.objects).clone());
    jobs.create(&job).await?;
    queue
        .enqueue(
            &LifecycleMessage {
                tenant_id: tenant.clone(),
                job_id: job.id.clone(),
                reason: "created".into(),
            },
            walk_wait(),
        )
        .await
        .map_err(|e| ApiError::internal_from("enqueueing the erasure's job", &e))?;
    audit::record_with(
        deps,
        ctx,
        "privacy.erasure",
        format!("erasure:{}", record.id),
        Some(json!({ "job_id": job.id, "form": if record.email_hash.is_some() { "email" } else { "name_postal_code" } })),
    )
    .await?;
    tracing::info!(erasure = %record.id, job = %job.id, "erasure of a person recorded");
    Ok(Reply::accepted(writes::to_json(&ErasureView::of(
        &record, None,
    ))?))
}

/// `POST /privacy/erasures` — requires `Idempotency-Key`; answers 202.
pub async fn create(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ErasePeople)?;
        let (body, _raw) = request::json_body::<ErasureBody>(deps, &req, None)?;
        let key = request::idempotency_key(&req)?;
        let subject = subject_of(&body)?;
        let guard = deps
            .objects
            .erasure_guard()
            .ok_or_else(|| not_configured("PRIVACY_HASH_SECRET_ARN"))?;
        let hash_key = guard
            .key()
            .get()
            .await
            .map_err(|e| ApiError::internal_from("reading the privacy hash key", &e))?;
        let tenant = ctx.principal.tenant.clone();
        let hashes = hash_key.subject(&tenant, &subject);
        // The fingerprint of a retry is taken over the hashes, never the identifier.
        let fingerprint = json!({
            "email": hashes.email, "name_postal_code": hashes.name_postal,
        });
        let record = ErasureRecord::new(
            tenant,
            hashes,
            Some(ctx.principal.subject.to_string()),
            deps.now(),
            walk_wait(),
        );
        idempotent(deps, &ctx, ERASURE_SCOPE, &key, &fingerprint, || {
            start(deps, &ctx, record)
        })
        .await
    })
    .await
}

/// `GET /privacy/erasures/{erasure_id}` — another tenant's id is a 404.
pub async fn get(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ErasePeople)?;
        let id = request::path_param(&req, "/privacy/erasures/{erasure_id}", "erasure_id")?;
        let valid = id.len() <= 68
            && id
                .strip_prefix(crate::privacy::record::ERASURE_ID_PREFIX)
                .is_some_and(|rest| {
                    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                });
        if !valid {
            return Err(ApiError::not_found("erasure"));
        }
        let tenant = &ctx.principal.tenant;
        let record = deps
            .objects
            .get_erasure(tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("erasure"))?;
        let job = match &record.job_id {
            Some(job_id) => {
                LifecycleJobStore::new((*deps.objects).clone())
                    .get(tenant, job_id)
                    .await?
            }
            None => None,
        };
        Ok(Reply::ok(writes::to_json(&ErasureView::of(
            &record,
            job.as_ref(),
        ))?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn fields(value: Value) -> Vec<String> {
        let body: ErasureBody = serde_json::from_value(value).expect("shape");
        let err = subject_of(&body).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        err.details.as_ref().expect("details")["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn each_invalid_body_names_its_field() {
        assert_eq!(fields(json!({})), vec!["email"]);
        assert_eq!(fields(json!({ "email": "nope" })), vec!["email"]);
        assert_eq!(fields(json!({ "email": 7 })), vec!["email"]);
        assert_eq!(fields(json!({ "name": "Jane Roe" })), vec!["postal_code"]);
        assert_eq!(fields(json!({ "postal_code": "12345" })), vec!["name"]);
        assert_eq!(
            fields(json!({ "name": " ", "postal_code": "1" })),
            vec!["name"]
        );
        assert_eq!(
            fields(json!({ "email": "a@b.co", "name": "x", "postal_code": "1" })),
            vec!["email"]
        );
        assert!(serde_json::from_value::<ErasureBody>(json!({ "phone": "1" })).is_err());
    }

    #[test]
    fn a_valid_body_is_normalised() {
        let body: ErasureBody =
            serde_json::from_value(json!({ "name": " Jane  ROE", "postal_code": "sw1a 1aa" }))
                .unwrap();
        assert_eq!(
            subject_of(&body).unwrap(),
            ErasureSubject::name_postal("jane roe", "SW1A1AA").unwrap()
        );
    }
}
