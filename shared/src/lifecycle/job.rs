//! A lifecycle job's record and its store: one item per job (`T#<t>#LIFECYCLE`,
//! `<job id>`), written whole after every step under a lease (`lease_owner`, `fence`,
//! `lease_until_us`) so that two workers never interleave their steps and a worker that
//! lost its lease cannot save over the one that took it (its save is fenced).
//!
//! Jobs are kept for the audit retention (TTL `expires_at`): the record of a tenant's
//! offboarding outlives the tenant's data.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{BrandId, ConnectionId, TenantId, Timestamp};
use crate::store::dynamo::{DynamoStore, Item};
use crate::store::keys::{self, PK, SK, TTL_ATTRIBUTE};
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Erase every object of a deleted connection whose grace period ended.
    ConnectionErasure { connection_id: ConnectionId },
    /// Export, then erase, every object and message of one brand.
    BrandOffboarding { brand_id: BrandId },
    /// Export, then erase, everything the tenant has.
    TenantOffboarding,
    /// Redact a person's personal data in everything the tenant holds.
    PersonErasure { erasure_id: String },
}

/// A [`JobKind`] without its data: what the [`crate::lifecycle::Registry`] keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKindTag {
    ConnectionErasure,
    BrandOffboarding,
    TenantOffboarding,
    PersonErasure,
}

impl JobKindTag {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKindTag::ConnectionErasure => "connection_erasure",
            JobKindTag::BrandOffboarding => "brand_offboarding",
            JobKindTag::TenantOffboarding => "tenant_offboarding",
            JobKindTag::PersonErasure => "person_erasure",
        }
    }
}

impl JobKind {
    pub fn tag(&self) -> JobKindTag {
        match self {
            JobKind::ConnectionErasure { .. } => JobKindTag::ConnectionErasure,
            JobKind::BrandOffboarding { .. } => JobKindTag::BrandOffboarding,
            JobKind::TenantOffboarding => JobKindTag::TenantOffboarding,
            JobKind::PersonErasure { .. } => JobKindTag::PersonErasure,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, not started.
    Queued,
    /// Started; runs again from its checkpoint until done.
    Running,
    Completed,
    /// Stopped for good; `error` says why.
    Failed,
}

impl JobStatus {
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed)
    }
}

/// One exported file (JSON Lines) of an offboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExportFile {
    /// `orders`, `messages`, …
    pub resource: String,
    /// The object key in the export bucket.
    pub key: String,
    pub lines: u64,
    pub bytes: u64,
}

/// A lifecycle job. `phase`, `checkpoint` and `state` belong to the kind's steps; the runner
/// only saves them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleJob {
    pub tenant_id: TenantId,
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    /// The kind's own step name (`export:orders`, `erase:messages` …); empty before the
    /// first step.
    #[serde(default)]
    pub phase: String,
    /// The kind's own resume point within the phase (a page cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The kind's own extra state (e.g. multipart upload ids).
    #[serde(default)]
    pub state: serde_json::Value,
    /// What was done, by name (`exported.orders`, `erased.orders`, `redacted.orders` …).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    #[serde(default)]
    pub exports: Vec<ExportFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub requested_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Why the job failed, or the last error a run met (it is retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Steps run so far.
    #[serde(default)]
    pub steps: u64,
}

impl LifecycleJob {
    /// A new job with a fresh id (`lc_<uuid v7>`).
    pub fn new(
        tenant_id: TenantId,
        kind: JobKind,
        requested_by: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self::with_id(
            tenant_id,
            format!("lc_{}", uuid::Uuid::now_v7().simple()),
            kind,
            requested_by,
            now,
        )
    }

    /// A new job with a chosen id (one job per subject: e.g. per connection).
    pub fn with_id(
        tenant_id: TenantId,
        id: String,
        kind: JobKind,
        requested_by: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            tenant_id,
            id,
            kind,
            status: JobStatus::Queued,
            phase: String::new(),
            checkpoint: None,
            state: serde_json::Value::Null,
            counts: BTreeMap::new(),
            exports: Vec::new(),
            requested_by,
            requested_at: now,
            started_at: None,
            updated_at: now,
            finished_at: None,
            error: None,
            steps: 0,
        }
    }

    /// Adds `n` to the count `name`.
    pub fn add(&mut self, name: impl Into<String>, n: u64) {
        *self.counts.entry(name.into()).or_insert(0) += n;
    }

    /// A job id as accepted from a path or a message: `lc_` and up to 64 of `[A-Za-z0-9_-]`.
    pub fn valid_id(id: &str) -> bool {
        id.len() <= 67
            && id.strip_prefix("lc_").is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no steps are registered for {0} jobs")]
    Unsupported(&'static str),
    #[error("lifecycle job {0} was not found")]
    NotFound(String),
    /// Another worker took the job's lease: this worker stops without saving.
    #[error("the job's lease was taken over")]
    LeaseLost,
    /// A step's failure that a retry may cure (a dependency's error).
    #[error("{what} failed")]
    Transient {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    /// A failure no retry cures: the job is marked failed with this reason.
    #[error("{0}")]
    Permanent(String),
}

impl LifecycleError {
    pub fn transient(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Transient {
            what,
            source: source.into(),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            LifecycleError::Permanent(_) | LifecycleError::Unsupported(_)
        )
    }
}

/// Who holds a job now: the fence is raised by every take, and every save is conditional
/// on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub owner: String,
    pub fence: i64,
}

/// The jobs on the one table.
#[derive(Debug, Clone)]
pub struct LifecycleJobStore {
    store: DynamoStore,
    retention_days: u32,
}

const LEASE_OWNER: &str = "lease_owner";
const LEASE_UNTIL: &str = "lease_until_us";
const FENCE: &str = "fence";

impl LifecycleJobStore {
    pub fn new(store: DynamoStore) -> Self {
        Self {
            store,
            retention_days: crate::store::dynamo::DEFAULT_RETENTION_DAYS,
        }
    }

    /// How long a job's record is kept after it was requested (the audit retention).
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    fn key(tenant: &TenantId, id: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(keys::lifecycle_pk(tenant))),
            (SK.to_owned(), AttributeValue::S(id.to_owned())),
        ])
    }

    fn item(&self, job: &LifecycleJob) -> Result<Item, StoreError> {
        let mut item: Item = serde_dynamo::to_item(job).map_err(StoreError::Encode)?;
        item.extend(Self::key(&job.tenant_id, &job.id));
        let expires = job.requested_at.unix_seconds() + i64::from(self.retention_days) * 86_400;
        item.insert(
            TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N(expires.to_string()),
        );
        Ok(item)
    }

    fn decode(mut item: Item) -> Result<LifecycleJob, StoreError> {
        for attribute in [PK, SK, TTL_ATTRIBUTE, LEASE_OWNER, LEASE_UNTIL, FENCE] {
            item.remove(attribute);
        }
        serde_dynamo::from_item(item).map_err(StoreError::Corrupt)
    }

    /// Stores a new job; `Ok(false)` when a job with its id exists already (nothing
    /// changed: the caller reads and reports the existing one).
    pub async fn create(&self, job: &LifecycleJob) -> Result<bool, StoreError> {
        let result = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table_name())
            .set_item(Some(self.item(job)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    /// One job, strongly consistent.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<LifecycleJob>, StoreError> {
        let out = self
            .store
            .client()
            .get_item()
            .table_name(self.store.table_name())
            .set_key(Some(Self::key(tenant, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", aws_sdk_dynamodb::Error::from(e)))?;
        out.item.map(Self::decode).transpose()
    }

    /// Every job of the tenant, oldest first (a tenant has few).
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<LifecycleJob>, StoreError> {
        let mut jobs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .store
                .client()
                .query()
                .table_name(self.store.table_name())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(keys::lifecycle_pk(tenant)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                jobs.push(Self::decode(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        jobs.sort_by(|a, b| a.requested_at.cmp(&b.requested_at).then(a.id.cmp(&b.id)));
        Ok(jobs)
    }

    /// Takes the job's lease for `hold` when it is free (never taken, released or
    /// expired): the job as stored and the lease, or `None` when another worker holds it.
    pub async fn take(
        &self,
        tenant: &TenantId,
        id: &str,
        owner: &str,
        now: Timestamp,
        hold: Duration,
    ) -> Result<Option<(LifecycleJob, JobLease)>, LifecycleError> {
        let until = now.unix_micros() + i64::try_from(hold.as_micros()).unwrap_or(i64::MAX / 4);
        let result = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table_name())
            .set_key(Some(Self::key(tenant, id)))
            .update_expression(
                "SET #owner = :owner, #until = :until, #fence = if_not_exists(#fence, :zero) + :one",
            )
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#until) OR #until <= :now)",
            )
            .expression_attribute_names("#owner", LEASE_OWNER)
            .expression_attribute_names("#until", LEASE_UNTIL)
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.unix_micros().to_string()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(err) => {
                return match err.into_service_error() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => {
                        match self.get(tenant, id).await? {
                            Some(_) => Ok(None),
                            None => Err(LifecycleError::NotFound(id.to_owned())),
                        }
                    }
                    other => Err(StoreError::dynamo(
                        "UpdateItem",
                        aws_sdk_dynamodb::Error::from(other),
                    )
                    .into()),
                }
            }
        };
        let fence = match item.get(FENCE) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        let job = Self::decode(item)?;
        Ok(Some((
            job,
            JobLease {
                owner: owner.to_owned(),
                fence,
            },
        )))
    }

    /// Saves the whole job under `lease`, holding it until `until` (or releasing it with
    /// `None`): [`LifecycleError::LeaseLost`] when another worker took it meanwhile.
    pub async fn save(
        &self,
        job: &LifecycleJob,
        lease: &JobLease,
        until: Option<Timestamp>,
    ) -> Result<(), LifecycleError> {
        let mut item = self.item(job)?;
        item.insert(FENCE.to_owned(), AttributeValue::N(lease.fence.to_string()));
        if let Some(until) = until {
            item.insert(
                LEASE_OWNER.to_owned(),
                AttributeValue::S(lease.owner.clone()),
            );
            item.insert(
                LEASE_UNTIL.to_owned(),
                AttributeValue::N(until.unix_micros().to_string()),
            );
        }
        let result = self
            .store
            .client()
            .put_item()
            .table_name(self.store.table_name())
            .set_item(Some(item))
            .condition_expression("#fence = :fence AND #owner = :owner")
            .expression_attribute_names("#fence", FENCE)
            .expression_attribute_names("#owner", LEASE_OWNER)
            .expression_attribute_values(":fence", AttributeValue::N(lease.fence.to_string()))
            .expression_attribute_values(":owner", AttributeValue::S(lease.owner.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(LifecycleError::LeaseLost),
                other => {
                    Err(StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(other)).into())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_through_json_with_its_kind_tagged() {
        let job = LifecycleJob::new(
            TenantId::parse("acme").unwrap(),
            JobKind::BrandOffboarding {
                brand_id: BrandId::parse("b1").unwrap(),
            },
            Some("user_1".into()),
            Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        );
        let text = serde_json::to_value(&job).unwrap();
        assert_eq!(text["kind"]["type"], "brand_offboarding");
        assert_eq!(text["kind"]["brand_id"], "b1");
        assert_eq!(serde_json::from_value::<LifecycleJob>(text).unwrap(), job);
        assert!(LifecycleJob::valid_id(&job.id), "{}", job.id);
        assert_eq!(job.kind.tag().as_str(), "brand_offboarding");
    }

    #[test]
    fn job_ids_from_outside_are_checked() {
        for bad in [
            "",
            "lc_",
            "x_1",
            "lc_a/b",
            "lc_ä",
            &format!("lc_{}", "a".repeat(65)),
        ] {
            assert!(!LifecycleJob::valid_id(bad), "{bad}");
        }
        assert!(LifecycleJob::valid_id("lc_conn_1"));
    }

    #[test]
    fn counts_add_up() {
        let mut job = LifecycleJob::new(
            TenantId::parse("acme").unwrap(),
            JobKind::TenantOffboarding,
            None,
            Timestamp::now(),
        );
        job.add("erased.orders", 2);
        job.add("erased.orders", 3);
        assert_eq!(job.counts["erased.orders"], 5);
    }
}
