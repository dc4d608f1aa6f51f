//! The audit log: who did what to which target, when, in which request. Tenant-scoped,
//! newest first; each tenant's entries form a hash chain (see `crate::audit`).

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

/// An entry's place in its tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// 1 for a tenant's first entry, then one more for each entry.
    pub seq: u64,
    /// The previous entry's `hash` (`audit::GENESIS` for the first).
    pub prev_hash: String,
    /// The previous entry's expiry (unix seconds): tells `verify` whether a missing
    /// predecessor may have expired rather than been deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_expires_at: Option<i64>,
    /// When DynamoDB's TTL removes the entry (unix seconds; the table's TTL attribute).
    pub expires_at: i64,
    /// HMAC-SHA256 of the entry and the fields above (`audit::ChainKey::entry_hash`).
    pub hash: String,
}

/// An entry as stored: the entry and its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedEntry {
    #[serde(flatten)]
    pub entry: AuditEntry,
    #[serde(flatten)]
    pub link: ChainLink,
}

/// A tenant's chain head: the last entry appended. Appends move it with a conditional
/// write, so concurrent appends get distinct sequence numbers; it never expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: u64,
    /// The last entry's hash.
    pub hash: String,
    /// The last entry's id (an append retried after a lost answer finds itself here).
    pub last_id: String,
    /// The last entry's expiry (unix seconds).
    pub last_expires_at: i64,
    /// `audit::ChainKey::head_mac` of the fields above.
    pub mac: String,
}

/// Everything stored of a tenant's chain, for verification: the head (if any) and every
/// entry, in no particular order.
#[derive(Debug, Clone, Default)]
pub struct StoredChain {
    pub head: Option<ChainHead>,
    pub entries: Vec<ChainedEntry>,
    /// Ids of items in the audit partition that carry no chain link (written before the
    /// chain existed, or by someone other than Packr).
    pub unchained: Vec<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `entry` at the end of its tenant's chain; its link.
    async fn append(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<ChainLink, StoreError>;
    /// Newest first.
    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
    /// The whole chain as stored (strongly consistent reads).
    async fn chain(&self, tenant: &TenantId) -> Result<StoredChain, StoreError>;
}
