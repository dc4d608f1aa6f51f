//! The audit log: who did what to which target, when, in which request. Tenant-scoped,
//! newest first.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::page::{Page, PageRequest};
use super::StoreError;
use crate::domain::{TenantId, Timestamp, UserId};

/// One audited action. Holds ids and names only, never secrets or personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// `aud_<uuid v7>`, so entries of one instant still sort by creation.
    pub id: String,
    pub tenant_id: TenantId,
    pub actor: UserId,
    pub actor_role: String,
    /// e.g. `connections.exchange`.
    pub action: String,
    /// e.g. `connection:conn_123`.
    pub target: String,
    pub at: Timestamp,
    pub request_id: String,
    /// What else the action was about (e.g. a sync's mode and resources); ids and names
    /// only, like the rest of the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl AuditEntry {
    pub fn new_id() -> String {
        format!("aud_{}", uuid::Uuid::now_v7().simple())
    }
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
}
