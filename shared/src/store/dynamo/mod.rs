//! The DynamoDB adapter of every data-layer port: one table, tenant-prefixed keys.

mod audit;
pub use audit::{DynamoAuditLog, DEFAULT_RETENTION_DAYS};
mod backfills;
mod changes;
mod connections;
mod lifecycle;
pub use lifecycle::{SweepPage, SweepPosition};
mod messages;
mod object_item;
mod parked;
mod query;
pub(crate) use query::{Filter, KeysetQuery};
mod receipts;
pub mod rewrite;
mod synced;
pub(crate) use object_item::decode_object;

/// A stored object's body inflated back to JSON (ops tools and tests read items whole).
pub fn inflate_body(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    object_item::inflate(bytes)
}

/// An object's JSON deflated as the store writes its body (tools that model items).
pub fn deflate_body(json: &[u8]) -> Result<Vec<u8>, StoreError> {
    object_item::deflate(json)
}

/// The attribute holding a synced object's deflated JSON.
pub fn object_body_attribute() -> &'static str {
    object_item::BODY
}
mod tenants;

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::KeysAndAttributesBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::cursor::{CursorCodec, CursorKeys};
use super::keys::{Index, PK, SK};
use super::StoreError;
use crate::lifecycle::retention::ItemExpiry;

/// Rounds of asking again for what a batch call left unprocessed before it fails.
pub(crate) const UNPROCESSED_ROUNDS: u32 = 8;

/// The wait before round `round` of asking again for unprocessed requests: 100 ms, 200 ms,
/// 400 ms … at most 2 s (about 7 s over all rounds). AWS's advice for batch calls is an
/// exponential backoff; the SDK's own retries do not cover a call that succeeded in part.
pub(crate) fn unprocessed_backoff(round: u32) -> std::time::Duration {
    std::time::Duration::from_millis((50u64 << round.min(6)).min(2000))
}

pub type Item = HashMap<String, AttributeValue>;

/// Strongly consistent reads of many items by key (BatchGetItem, 100 keys a call, each
/// call's request shaped by `shape`, e.g. a projection); absent ones are left out.
/// Unprocessed keys (DynamoDB leaves some when a batch exceeds the throughput) are asked
/// for again after a growing wait ([`unprocessed_backoff`]); keys still unprocessed after
/// [`UNPROCESSED_ROUNDS`] fail the read, because a key left out would read as absent.
pub(crate) async fn batch_get_consistent(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    shape: impl Fn(KeysAndAttributesBuilder) -> KeysAndAttributesBuilder,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut pending: Vec<Item> = chunk.to_vec();
        for round in 0..UNPROCESSED_ROUNDS {
            if pending.is_empty() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(unprocessed_backoff(round)).await;
            }
            let request = shape(
                KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true),
            )
            .build()
            .map_err(|e| StoreError::dynamo("BatchGetItem", e))?;
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| {
                    StoreError::dynamo("BatchGetItem", aws_sdk_dynamodb::Error::from(e))
                })?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(table))
                    .unwrap_or_default(),
            );
            if let Some(left) = out.unprocessed_keys.and_then(|mut u| u.remove(table)) {
                pending = left.keys;
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::Unprocessed {
                operation: "BatchGetItem",
            });
        }
    }
    Ok(found)
}

/// The table and everything needed to talk to it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    cursors: CursorKeys,
    /// How long a write carrying a changes-feed position may take (`crate::changes`).
    write_window: std::time::Duration,
    /// Redacts erased people's data in every object write and message post
    /// (`crate::privacy::guard`); `None` in stores that never write them.
    erasures: Option<std::sync::Arc<crate::privacy::ErasureGuard>>,
    /// The TTL stamps of the items that expire as a whole (bills, messages, rejected
    /// deliveries): `crate::lifecycle::retention`.
    expiry: ItemExpiry,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, cursors: CursorCodec) -> Self {
        Self {
            client,
            table: table.into(),
            cursors: CursorKeys::Given(cursors),
            write_window: crate::changes::WRITE_WINDOW,
            erasures: None,
            expiry: ItemExpiry::default(),
        }
    }

    /// The same store with another write window: a feed read with a horizon of `h` needs
    /// every writer's window below `h` (`crate::changes::ChangeFeedConfig`).
    pub fn with_write_window(mut self, window: std::time::Duration) -> Self {
        self.write_window = window;
        self
    }

    /// The same store stamping items with these retentions (`ItemExpiry::from_env`).
    pub fn with_expiry(mut self, expiry: ItemExpiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// A store whose cursor key is the secret `name`, read through `secrets` on the first
    /// listing and kept (see `CursorKeys`).
    pub fn with_cursor_secret(
        client: Client,
        table: impl Into<String>,
        secrets: std::sync::Arc<dyn crate::secrets::SecretSource>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            cursors: CursorKeys::from_secret(secrets, name.into()),
            write_window: crate::changes::WRITE_WINDOW,
            erasures: None,
            expiry: ItemExpiry::default(),
        }
    }

    /// The same store with the erasure guard: every object write and message post is
    /// redacted for the tenant's erasures of a person (`crate::privacy`).
    pub fn with_erasure_guard(
        mut self,
        guard: std::sync::Arc<crate::privacy::ErasureGuard>,
    ) -> Self {
        self.erasures = Some(guard);
        self
    }

    pub fn erasure_guard(&self) -> Option<&std::sync::Arc<crate::privacy::ErasureGuard>> {
        self.erasures.as_ref()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub(crate) fn key(pk: String, sk: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk)),
            (SK.to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    /// A strongly consistent read of one item.
    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(out.item)
    }
}

impl DynamoStore {
    /// Every item of one index partition (small collections: brands, connections, SKUs).
    pub(crate) async fn query_all(
        &self,
        index: Index,
        partition: String,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_partition(Some(index), partition).await
    }

    /// Every item of one partition of the table (strongly consistent) or of an index.
    pub(crate) async fn query_partition(
        &self,
        index: Option<Index>,
        partition: String,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(|i| i.name().to_owned()))
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", index.map_or(PK, Index::pk))
                .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
                // Index reads cannot be strongly consistent; table reads are.
                .consistent_read(index.is_none())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            found.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// Strongly consistent reads of many items by key; see [`batch_get_consistent`].
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        batch_get_consistent(&self.client, &self.table, keys, |request| request).await
    }

    /// Writes an item that must not exist yet; `AlreadyExists { what }` if it does.
    pub(crate) async fn put_new(&self, item: Item, what: &'static str) -> Result<(), StoreError> {
        self.put_if(
            item,
            "attribute_not_exists(pk)",
            StoreError::AlreadyExists { what },
        )
        .await
    }

    /// Writes an item if `condition` holds on the stored one, else fails with `conflict`.
    pub(crate) async fn put_if(
        &self,
        item: Item,
        condition: &str,
        conflict: StoreError,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(conflict),
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    /// Writes all items atomically, none of which may exist yet; `AlreadyExists { what }`
    /// if any does (and then nothing is written).
    pub(crate) async fn put_all_new(
        &self,
        items: Vec<Item>,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let writes = items
            .into_iter()
            .map(|item| {
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| StoreError::dynamo("TransactWriteItems", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(_) => {
                    Err(StoreError::AlreadyExists { what })
                }
                other => Err(StoreError::dynamo(
                    "TransactWriteItems",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(StoreError::Corrupt)
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(StoreError::Encode)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_wait_for_unprocessed_requests_doubles_and_is_capped() {
        let waits: Vec<_> = (1..UNPROCESSED_ROUNDS).map(unprocessed_backoff).collect();
        assert_eq!(waits[0], Duration::from_millis(100));
        assert_eq!(waits[1], Duration::from_millis(200));
        assert_eq!(unprocessed_backoff(20), Duration::from_millis(2000));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    }
}
