//! Reading the changes feed (`crate::changes`): each shard of `gsi5` queried once, from the
//! cursor to the horizon, merged; then the admitted objects' current state in one strongly
//! consistent BatchGetItem. Bounded: a page reads at most `limit + 1` index entries per
//! shard and `limit` objects.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item};
use crate::changes::merge::{self, is_position, position_micros, START};
use crate::changes::{
    merge_shards, Change, ChangeAction, ChangeFeedConfig, ChangeFilter, ChangesPage, Entry,
    ShardRead, CHANGE_SHARDS,
};
use crate::domain::{TenantId, Timestamp};
use crate::store::keys::{self, Index};
use crate::store::timeline::number;
use crate::store::{CursorError, PageRequest, StoreError};

/// The key a feed cursor carries: the position it stands at.
const POSITION: &str = "p";

impl DynamoStore {
    /// One page of the tenant's changes after `page.cursor` (from the start without one).
    pub async fn changes_page(
        &self,
        tenant: &TenantId,
        filter: &ChangeFilter,
        page: &PageRequest,
        config: &ChangeFeedConfig,
    ) -> Result<ChangesPage, StoreError> {
        let codec = self.cursors.codec().await.map_err(StoreError::CursorKey)?;
        let description = filter.description();
        let now = Timestamp::now();
        let after = match &page.cursor {
            None => START.to_owned(),
            Some(cursor) => {
                let mut key = codec.decode(tenant, &description, cursor)?;
                let position = key.remove(POSITION).ok_or(CursorError::WrongQuery)?;
                if !key.is_empty() || !is_position(&position) {
                    return Err(CursorError::WrongQuery.into());
                }
                let oldest = now.unix_micros()
                    - i64::try_from(config.retention.as_micros()).unwrap_or(i64::MAX);
                if position_micros(&position) < oldest {
                    return Err(StoreError::CursorExpired {
                        retention_days: config.retention.as_secs() / 86_400,
                    });
                }
                position
            }
        };
        let horizon_us =
            now.unix_micros() - i64::try_from(config.horizon.as_micros()).unwrap_or(i64::MAX);
        let upper = merge::upper_bound(horizon_us);
        let limit = page.limit.get() as usize;
        let horizon = Timestamp::from_unix_micros(horizon_us).unwrap_or(now);
        if after.as_str() >= upper.as_str() {
            // A cursor at or past this reader's horizon (minted by an instance whose clock is
            // a little ahead, or `--since` a time to come): nothing is ready yet, and a
            // key condition whose lower bound passes its upper one is refused by DynamoDB.
            return Ok(ChangesPage {
                changes: Vec::new(),
                next_cursor: encode(codec, tenant, &description, &after),
                has_more: false,
                horizon,
            });
        }

        // The shards side by side: a page waits for the slowest query, not their sum.
        let reads = futures::future::try_join_all(
            (0..CHANGE_SHARDS).map(|shard| self.read_shard(tenant, shard, &after, &upper, limit)),
        )
        .await?;
        let merged = merge_shards(reads, &after, &upper, limit, |e| {
            filter.admits(e.kind, e.brand.as_deref())
        });

        let after_us = position_micros(&after);
        let mut current = self.current_items(tenant, &merged.entries).await?;
        let mut changes = Vec::with_capacity(merged.entries.len());
        for entry in merged.entries {
            let item = current.remove(&keys::object_pk(tenant, entry.kind.spec().key, &entry.id));
            let cursor = encode(codec, tenant, &description, &entry.sk);
            changes.push(change(entry, item, after_us, cursor)?);
        }
        Ok(ChangesPage {
            changes,
            next_cursor: encode(codec, tenant, &description, &merged.position),
            has_more: merged.has_more,
            horizon,
        })
    }

    /// A cursor standing before every change written at or after `since`: where a consumer
    /// that wants only what happens from then on starts (`packr changes tail`).
    pub async fn changes_cursor_since(
        &self,
        tenant: &TenantId,
        filter: &ChangeFilter,
        since: Timestamp,
    ) -> Result<String, StoreError> {
        let codec = self.cursors.codec().await.map_err(StoreError::CursorKey)?;
        let position = merge::upper_bound(since.unix_micros() - 1);
        Ok(encode(codec, tenant, &filter.description(), &position))
    }

    /// One shard from `after` (inclusive; the merge drops the entry at it) to `upper`:
    /// `limit + 1` entries at most.
    async fn read_shard(
        &self,
        tenant: &TenantId,
        shard: u32,
        after: &str,
        upper: &str,
        limit: usize,
    ) -> Result<ShardRead, StoreError> {
        let index = Index::Changes;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name())
            .key_condition_expression("#p = :p AND #s BETWEEN :after AND :upper")
            .expression_attribute_names("#p", index.pk())
            .expression_attribute_names("#s", index.sk())
            .expression_attribute_values(":p", AttributeValue::S(keys::change_pk(tenant, shard)))
            .expression_attribute_values(":after", AttributeValue::S(after.to_owned()))
            .expression_attribute_values(":upper", AttributeValue::S(upper.to_owned()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let entries: Vec<Entry> = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                Entry::parse(
                    text(item, index.sk())?,
                    text(item, "brand_id").map(str::to_owned),
                )
            })
            .collect();
        let stopped_at = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => {
                key.get(index.sk()).and_then(|v| v.as_s().ok()).cloned()
            }
            _ => None,
        };
        Ok(ShardRead {
            entries,
            stopped_at,
        })
    }

    /// The current items of the entries' objects, by partition key (strongly consistent:
    /// at least as new as the index said, so no state the entry stands for is missed).
    async fn current_items(
        &self,
        tenant: &TenantId,
        entries: &[Entry],
    ) -> Result<HashMap<String, Item>, StoreError> {
        let keys = entries
            .iter()
            .map(|e| {
                let key = e.kind.spec().key;
                DynamoStore::key(keys::object_pk(tenant, key, &e.id), key)
            })
            .collect();
        Ok(self
            .batch_get(keys)
            .await?
            .into_iter()
            .filter_map(|item| Some((text(&item, keys::PK)?.to_owned(), item)))
            .collect())
    }
}

fn text<'a>(item: &'a Item, attribute: &str) -> Option<&'a str> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn encode(
    codec: &crate::store::CursorCodec,
    tenant: &TenantId,
    description: &str,
    position: &str,
) -> String {
    codec.encode(
        tenant,
        description,
        BTreeMap::from([(POSITION.to_owned(), position.to_owned())]),
    )
}

/// The served change of `entry`, from the object's current `item` (absent: erased since).
fn change(
    entry: Entry,
    item: Option<Item>,
    after_us: i64,
    cursor: String,
) -> Result<Change, StoreError> {
    let changed_at = Timestamp::from_unix_micros(entry.written_us)
        .ok_or(StoreError::MissingAttribute("chgsk (write time)"))?;
    let (action, object, deleted_at) = match item {
        None => (ChangeAction::Deleted, None, None),
        Some(item) if item.contains_key("deleted_at") => (
            ChangeAction::Deleted,
            None,
            text(&item, "deleted_at").map(str::to_owned),
        ),
        Some(item) => {
            let created = number(&item, super::object_item::CREATED).is_some_and(|c| c > after_us);
            let object = (entry.kind.ops().decode_stored)(item)?;
            let json = object
                .erased()
                .to_json_bytes()
                .map_err(|_| StoreError::MissingAttribute("object"))?;
            let value: serde_json::Value = serde_json::from_slice(&json)
                .map_err(|_| StoreError::MissingAttribute("object"))?;
            let action = if created {
                ChangeAction::Created
            } else {
                ChangeAction::Updated
            };
            (action, Some(value), None)
        }
    };
    Ok(Change {
        cursor,
        kind: entry.kind,
        id: entry.id,
        action,
        brand_id: entry.brand,
        changed_at,
        object,
        deleted_at,
    })
}
