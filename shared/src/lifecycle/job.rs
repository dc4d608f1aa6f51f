//! PLACEHOLDER (see `mod.rs`): the job record of COMMON.md.

use std::collections::BTreeMap;

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

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("a step of the job failed")]
    Step(#[source] Box<dyn std::error::Error + Send + Sync>),
}
