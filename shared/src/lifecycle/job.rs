//! PROVISIONAL stand-in for the lead's job record (COMMON.md's interface), so the export
//! compiles before the framework lands; replaced by main's `job.rs` at the merge.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{BrandId, ConnectionId, TenantId, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    ConnectionErasure { connection_id: ConnectionId },
    BrandOffboarding { brand_id: BrandId },
    TenantOffboarding,
    PersonErasure { erasure_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    pub resource: String,
    pub key: String,
    pub lines: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleJob {
    pub tenant_id: TenantId,
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub phase: String,
    pub checkpoint: Option<String>,
    pub state: serde_json::Value,
    pub counts: BTreeMap<String, u64>,
    pub exports: Vec<ExportFile>,
    pub requested_by: Option<String>,
    pub requested_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub error: Option<String>,
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
        Self {
            tenant_id,
            id: format!("lc_{}", uuid::Uuid::now_v7().simple()),
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    More,
    Done,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{what} failed")]
    Transient {
        what: &'static str,
        #[source]
        source: BoxError,
    },
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
}

#[async_trait]
pub trait JobSteps: Send + Sync {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError>;
}
