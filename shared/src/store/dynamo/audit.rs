//! The audit log on DynamoDB: entries at `T#<tenant>#AUDIT` / `<at>#<id>` (listed newest
//! first), the tenant's chain head at `T#<tenant>#AUDITHEAD` / `HEAD`.
//!
//! An append reads the head (strongly consistent), seals the entry as the next link and
//! writes head and entry in one transaction: the head only if it is still at the sequence
//! number read (or absent, for the first entry), the entry only if new. Of concurrent
//! appends from any number of Lambda instances one wins each sequence number; the others'
//! transactions are cancelled and they try again from the new head. Neither item is
//! written without the other, so the chain has no gaps and no forks.
//!
//! An answer lost after the transaction took effect: on DynamoDB the SDK's retry carries
//! the same `ClientRequestToken` and is answered as the first was; where it is not (or the
//! retry comes later), the cancelled retry reads a head whose `last_id` is this entry's,
//! so the entry is not appended twice.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::query::KeysetQuery;
use super::{decode, encode, DynamoStore, Item};
use crate::audit::{ChainKeys, LinkFields, GENESIS};
use crate::domain::TenantId;
use crate::store::audit::{
    AuditEntry, AuditStore, ChainHead, ChainLink, ChainedEntry, StoredChain,
};
use crate::store::keys;
use crate::store::{Page, PageRequest, StoreError};

/// The retention of audit entries unless configured: one year.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Attempts at one append before it gives up (`StoreError::Conflict`): each lost attempt
/// means another append won, so this bounds waiting behind a burst of that many.
const MAX_APPEND_ATTEMPTS: u32 = 40;
const HEAD_SK: &str = "HEAD";

/// The audit log: the table, the chain key and the entries' retention.
#[derive(Debug, Clone)]
pub struct DynamoAuditLog {
    store: DynamoStore,
    keys: ChainKeys,
    retention_days: u32,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: ChainedEntry,
}

/// An entry as listed: the link's attributes are ignored, and an entry without them (one
/// written before the chain) still lists.
#[derive(Deserialize)]
struct ListedEntry {
    #[serde(flatten)]
    entry: AuditEntry,
}

#[derive(Serialize, Deserialize)]
struct StoredHead {
    pk: String,
    sk: String,
    #[serde(flatten)]
    head: ChainHead,
}

impl DynamoAuditLog {
    pub fn new(store: DynamoStore, keys: ChainKeys) -> Self {
        Self {
            store,
            keys,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }

    /// Entries expire (DynamoDB TTL) this many days after they were recorded.
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// Verifies `tenant`'s chain as stored now (`audit::verify`).
    pub async fn verify(
        &self,
        tenant: &TenantId,
        now: crate::domain::Timestamp,
    ) -> Result<crate::audit::VerifyReport, StoreError> {
        let key = self.keys.key().await.map_err(StoreError::AuditKey)?;
        let chain = self.chain(tenant).await?;
        Ok(crate::audit::verify(tenant, &chain, key, now))
    }

    async fn head(&self, tenant: &TenantId) -> Result<Option<ChainHead>, StoreError> {
        self.store
            .get_item(keys::audit_head_pk(tenant), HEAD_SK)
            .await?
            .map(|item| decode::<StoredHead>(item).map(|s| s.head))
            .transpose()
    }

    fn entry_sk(entry: &AuditEntry) -> String {
        format!("{}#{}", entry.at.sort_key(), entry.id)
    }

    /// The link of `entry` if it is stored already (an earlier attempt took effect).
    async fn stored_link(
        &self,
        tenant: &TenantId,
        entry: &AuditEntry,
    ) -> Result<Option<ChainLink>, StoreError> {
        self.store
            .get_item(keys::audit_pk(tenant), &Self::entry_sk(entry))
            .await?
            .map(|item| decode::<StoredEntry>(item).map(|s| s.entry.link))
            .transpose()
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        Put::builder()
            .table_name(self.store.table_name())
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(|e| StoreError::dynamo("TransactWriteItems", e))
    }

    /// One attempt: `Ok(false)` when another append moved the head first.
    async fn try_append(
        &self,
        tenant: &TenantId,
        head: Option<&ChainHead>,
        stored: StoredEntry,
        new_head: StoredHead,
    ) -> Result<bool, StoreError> {
        let mut head_put = Put::builder()
            .table_name(self.store.table_name())
            .set_item(Some(encode(&new_head)?));
        head_put = match head {
            None => head_put.condition_expression("attribute_not_exists(pk)"),
            Some(h) => head_put
                .condition_expression("#seq = :seq")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":seq", AttributeValue::N(h.seq.to_string())),
        };
        let head_write = head_put
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
        let entry_write = self.put(encode(&stored)?, "attribute_not_exists(pk)")?;
        let result = self
            .store
            .client()
            .transact_write_items()
            .transact_items(head_write)
            .transact_items(entry_write)
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(_) => {
                    tracing::debug!(tenant_id = %tenant, "audit append lost the race for the head");
                    Ok(false)
                }
                other => Err(StoreError::dynamo(
                    "TransactWriteItems",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }
}

#[async_trait]
impl AuditStore for DynamoAuditLog {
    async fn append(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<ChainLink, StoreError> {
        if &entry.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let key = self.keys.key().await.map_err(StoreError::AuditKey)?;
        let retention = i64::from(self.retention_days) * 24 * 3600;
        for attempt in 0..MAX_APPEND_ATTEMPTS {
            let head = self.head(tenant).await?;
            if head.as_ref().is_some_and(|h| h.last_id == entry.id) {
                // An earlier attempt took effect and its answer was lost.
                if let Some(link) = self.stored_link(tenant, entry).await? {
                    return Ok(link);
                }
            }
            let link = LinkFields {
                seq: head.as_ref().map_or(0, |h| h.seq) + 1,
                prev_hash: head
                    .as_ref()
                    .map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone()),
                prev_expires_at: head.as_ref().map(|h| h.last_expires_at),
                expires_at: entry.at.unix_seconds() + retention,
            }
            .sealed(key, entry);
            let new_head = ChainHead {
                seq: link.seq,
                hash: link.hash.clone(),
                last_id: entry.id.clone(),
                last_expires_at: link.expires_at,
                mac: key.head_mac(tenant, link.seq, &link.hash, &entry.id, link.expires_at),
            };
            let stored = StoredEntry {
                pk: keys::audit_pk(tenant),
                sk: Self::entry_sk(entry),
                entry: ChainedEntry {
                    entry: entry.clone(),
                    link: link.clone(),
                },
            };
            let stored_head = StoredHead {
                pk: keys::audit_head_pk(tenant),
                sk: HEAD_SK.to_owned(),
                head: new_head,
            };
            if self
                .try_append(tenant, head.as_ref(), stored, stored_head)
                .await?
            {
                return Ok(link);
            }
            // Another append won this sequence number: try again from the new head, after
            // a short random pause so the losers do not collide again in step.
            let pause = rand::rng().random_range(5..=20 + 10 * u64::from(attempt.min(10)));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Err(StoreError::Conflict {
            what: "audit chain head",
        })
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let query = KeysetQuery {
            index: None,
            partition: keys::audit_pk(tenant),
            sort_key_min: None,
            filter: None,
            description: "AUDIT".to_owned(),
        };
        let page = self.store.query_page(tenant, &query, page).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|item| decode::<ListedEntry>(item).map(|s| s.entry))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn chain(&self, tenant: &TenantId) -> Result<StoredChain, StoreError> {
        let head = self.head(tenant).await?;
        let mut chain = StoredChain {
            head,
            ..StoredChain::default()
        };
        for item in self
            .store
            .query_partition(None, keys::audit_pk(tenant))
            .await?
        {
            match decode::<StoredEntry>(item.clone()) {
                Ok(stored) => chain.entries.push(stored.entry),
                // Not a chained entry: written before the chain, or by someone else.
                Err(_) => chain.unchained.push(
                    decode::<ListedEntry>(item)
                        .map_or_else(|_| "(unreadable item)".to_owned(), |l| l.entry.id),
                ),
            }
        }
        Ok(chain)
    }
}
