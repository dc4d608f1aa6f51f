//! What the retention sweep (`crate::lifecycle::sweep`) reads and writes: it finds its
//! work in sparse index partitions, oldest first, and every write is conditional on the
//! item still being where the index said, so a sweep run again (or racing a revival or a
//! replay) changes nothing more. Never a Scan.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::object_item::{deflate, BODY, CREATED, DELETED, UPDATED, WRITTEN_AT};
use super::{DynamoStore, Item};
use crate::domain::{TenantId, Timestamp};
use crate::resource::ResourceKind;
use crate::store::keys::{self, Index};
use crate::store::{ConnectionStore, StoreError};
use crate::webhook::receipts::RECEIPT_RETENTION_DAYS;

/// Where a page of an index partition stopped (DynamoDB's `LastEvaluatedKey`), to read the
/// next one from.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPosition(Item);

/// What one page of the sweep did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepPage {
    /// Items changed (a tombstone stripped, a payload dropped).
    pub changed: u64,
    /// Items listed but left alone: changed meanwhile (revived, replayed, already done —
    /// the index lags the table) or unreadable (logged with their key's id only).
    pub skipped: u64,
    /// More of the partition is due: read from here.
    pub next: Option<SweepPosition>,
}

/// The attributes a stripped tombstone keeps besides its (stripped) body: keys, version,
/// dates, the attributes listings and the feed read. Anything else on the item (the
/// flattened object of an item written before `body` existed, the sweep's own index keys)
/// is removed.
const TOMBSTONE_KEEPS: [&str; 17] = [
    keys::PK,
    keys::SK,
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    UPDATED,
    "id",
    "connection_id",
    "status",
    "warehouse_id",
    "brand_id",
    "chgpk",
    "chgsk",
    WRITTEN_AT,
    CREATED,
    DELETED,
];

/// Set on a tombstone when its personal fields were dropped (RFC 3339).
const STRIPPED_AT: &str = "personal_data_dropped_at";
/// What a failed receipt's `payload_omitted` says once the sweep dropped its event.
pub const PAYLOAD_EXPIRED: &str = "expired";
const RECEIPT_SK: &str = "RECEIPT";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn text<'a>(item: &'a Item, attribute: &str) -> Option<&'a str> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

impl DynamoStore {
    /// One page (at most `limit`) of an index partition whose sort key is below `before`,
    /// oldest first.
    async fn due_page(
        &self,
        index: Index,
        partition: String,
        before: String,
        limit: u32,
        start: Option<SweepPosition>,
    ) -> Result<(Vec<Item>, Option<SweepPosition>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name())
            .key_condition_expression("#p = :p AND #s < :before")
            .expression_attribute_names("#p", index.pk())
            .expression_attribute_names("#s", index.sk())
            .expression_attribute_values(":p", s(partition))
            .expression_attribute_values(":before", s(before))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.map(|p| p.0))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(SweepPosition(key)),
            _ => None,
        };
        Ok((out.items.unwrap_or_default(), next))
    }

    /// Drops the personal fields of one page of the tombstones of sweep shard `shard`
    /// deleted before `before`: each tombstone's body is rewritten without them
    /// (`Resource::drop_personal_fields`), and it leaves the sweep's index. Its id, kind,
    /// dates, feed position and the attributes listings read stay; a tombstone revived or
    /// stripped since it was listed is left alone.
    pub async fn strip_tombstones(
        &self,
        shard: u32,
        before: Timestamp,
        limit: u32,
        start: Option<SweepPosition>,
        now: Timestamp,
    ) -> Result<SweepPage, StoreError> {
        let (items, next) = self
            .due_page(
                Index::SyncSchedule,
                keys::tombstone_sweep_pk(shard),
                before.sort_key(),
                limit,
                start,
            )
            .await?;
        let mut page = SweepPage {
            next,
            ..SweepPage::default()
        };
        for item in items {
            if self.strip_tombstone(item, now).await? {
                page.changed += 1;
            } else {
                page.skipped += 1;
            }
        }
        Ok(page)
    }

    /// One tombstone, as the sweep's index holds it (its projection is the whole item).
    async fn strip_tombstone(&self, item: Item, now: Timestamp) -> Result<bool, StoreError> {
        let id = text(&item, "id").unwrap_or_default().to_owned();
        let (Some(pk), Some(sk), Some(deleted), Some(sweep_sk)) = (
            text(&item, keys::PK).map(str::to_owned),
            text(&item, keys::SK).map(str::to_owned),
            text(&item, DELETED).map(str::to_owned),
            text(&item, Index::SyncSchedule.sk()).map(str::to_owned),
        ) else {
            tracing::warn!(
                id,
                "a tombstone in the sweep's index lacks its keys: left alone"
            );
            return Ok(false);
        };
        let Some(kind) = ResourceKind::ALL.into_iter().find(|k| k.spec().key == sk) else {
            tracing::warn!(id, kind = sk, "a tombstone of an unknown kind: left alone");
            return Ok(false);
        };
        let ops = kind.ops();
        let object = match (ops.decode_stored)(item.clone()) {
            Ok(object) => (ops.without_personal_fields)(object),
            Err(e) => {
                let error = crate::redact::without_input(&e);
                tracing::warn!(id, %kind, %error, "a tombstone's object is unreadable: left alone");
                return Ok(false);
            }
        };
        let json = object
            .erased()
            .to_json_bytes()
            .map_err(|_| StoreError::MissingAttribute("object"))?;
        let body = deflate(&json)?;
        let mut names = HashMap::from([
            ("#body".to_owned(), BODY.to_owned()),
            ("#stripped".to_owned(), STRIPPED_AT.to_owned()),
            ("#deleted".to_owned(), DELETED.to_owned()),
            ("#ssk".to_owned(), Index::SyncSchedule.sk().to_owned()),
        ]);
        // The sweep's index keys and anything else not kept (a legacy flattened object).
        let removed: BTreeSet<&str> = item
            .keys()
            .map(String::as_str)
            .filter(|a| !TOMBSTONE_KEEPS.contains(a) && *a != BODY && *a != keys::TTL_ATTRIBUTE)
            .chain([Index::SyncSchedule.pk(), Index::SyncSchedule.sk()])
            .collect();
        let mut remove = Vec::with_capacity(removed.len());
        for (n, attribute) in removed.into_iter().enumerate() {
            remove.push(format!("#r{n}"));
            names.insert(format!("#r{n}"), attribute.to_owned());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, &sk)))
            .update_expression(format!(
                "SET #body = :body, #stripped = :now REMOVE {}",
                remove.join(", ")
            ))
            .condition_expression("#deleted = :deleted AND #ssk = :ssk")
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(
                ":body",
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(body)),
            )
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":deleted", s(deleted))
            .expression_attribute_values(":ssk", s(sweep_sk))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                // Revived, re-deleted or stripped since the index listed it.
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    /// Drops the kept event of one page of `tenant`'s failed receipts received before
    /// `before` (its failed-events partition of `gsi2`, oldest first): the receipt stays,
    /// `failed` with its reason, says `payload_omitted: expired`, leaves the failed-events
    /// index (it can no longer be replayed) and expires like a final receipt
    /// ([`RECEIPT_RETENTION_DAYS`] from now). A receipt replayed or applied since it was
    /// listed is left alone.
    pub async fn drop_expired_payloads(
        &self,
        tenant: &TenantId,
        before: Timestamp,
        limit: u32,
        start: Option<SweepPosition>,
        now: Timestamp,
    ) -> Result<SweepPage, StoreError> {
        let (items, next) = self
            .due_page(
                Index::ByTenantUpdated,
                keys::failed_events_pk(tenant),
                before.sort_key(),
                limit,
                start,
            )
            .await?;
        let mut page = SweepPage {
            next,
            ..SweepPage::default()
        };
        let prefix = keys::tenant_prefix(tenant);
        for item in items {
            let (Some(pk), Some(listed)) = (
                text(&item, keys::PK).filter(|pk| pk.starts_with(&prefix)),
                text(&item, Index::ByTenantUpdated.sk()),
            ) else {
                page.skipped += 1;
                continue;
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk.to_owned(), RECEIPT_SK)))
                .update_expression(
                    "SET payload_omitted = :why, payload_dropped_at = :now, expires_at = :exp \
                     REMOVE failed_event, gsi2pk, gsi2sk",
                )
                .condition_expression("#state = :failed AND gsi2sk = :listed")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":listed", s(listed))
                .expression_attribute_values(":why", s(PAYLOAD_EXPIRED))
                .expression_attribute_values(":now", s(now.to_rfc3339()))
                .expression_attribute_values(
                    ":exp",
                    AttributeValue::N(
                        (now.unix_seconds() + RECEIPT_RETENTION_DAYS * 86_400).to_string(),
                    ),
                )
                .send()
                .await;
            match result {
                Ok(_) => page.changed += 1,
                Err(err) => match err.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(_) => page.skipped += 1,
                    other => {
                        return Err(StoreError::dynamo(
                            "UpdateItem",
                            aws_sdk_dynamodb::Error::from(other),
                        ))
                    }
                },
            }
        }
        Ok(page)
    }

    /// Every tenant the sweep goes through: the registry of tenants (`gsi4` `TENANTS`), and
    /// the tenants of the active connections (the sync schedule's partition), which also
    /// covers tenants created before the registry existed. Sorted, each once.
    pub async fn sweep_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut tenants = BTreeSet::new();
        for item in self
            .query_all(
                Index::SyncSchedule,
                keys::TENANT_REGISTRY_PARTITION.to_owned(),
            )
            .await?
        {
            if let Some(tenant) = text(&item, Index::SyncSchedule.sk())
                .and_then(|t| TenantId::parse(t.to_owned()).ok())
            {
                tenants.insert(tenant);
            }
        }
        for connection in self.list_active().await? {
            tenants.insert(connection.tenant_id);
        }
        Ok(tenants.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stripped_tombstone_keeps_its_keys_dates_and_listing_attributes_only() {
        // given the attributes of the one item layout
        // then keys, version and dates are kept, and nothing personal is in the list
        for kept in [
            keys::PK,
            keys::SK,
            "id",
            UPDATED,
            CREATED,
            DELETED,
            WRITTEN_AT,
        ] {
            assert!(TOMBSTONE_KEEPS.contains(&kept), "{kept}");
        }
        for dropped in ["gsi4pk", "gsi4sk", "ship_to_address", "notes", "address"] {
            assert!(!TOMBSTONE_KEEPS.contains(&dropped), "{dropped}");
        }
    }
}
