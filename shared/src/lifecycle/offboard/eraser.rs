//! The erasure's DynamoDB work: one page of keys from a partition of the table or of an
//! index (a Query, never a Scan), and deletes in `BatchWriteItem`s of 25 whose unprocessed
//! items are sent again (with a backoff) until none is left.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::store::dynamo::{batch_get_consistent, unprocessed_backoff, UNPROCESSED_ROUNDS};
use crate::store::keys::{Index, PK, SK};
use crate::store::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// Items per `BatchWriteItem` (DynamoDB's limit).
pub const BATCH: usize = 25;
/// Items one step reads at most from a partition (4 batches of deletes).
pub const DEFAULT_PAGE: i32 = 100;

/// Where a phase finds its items: one partition of the table or of an index, optionally
/// filtered (the filter reads the partition's items all the same: used where the
/// partition is the owner's, e.g. a tenant's listing filtered on a connection).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub index: Option<Index>,
    pub partition: String,
    /// A filter expression over projected attributes, with its values (`:v…`).
    pub filter: Option<(String, Vec<(String, AttributeValue)>)>,
}

impl Source {
    pub fn table(partition: String) -> Self {
        Self {
            index: None,
            partition,
            filter: None,
        }
    }

    pub fn index(index: Index, partition: String) -> Self {
        Self {
            index: Some(index),
            partition,
            filter: None,
        }
    }

    pub fn filtered(mut self, expression: &str, values: Vec<(&str, AttributeValue)>) -> Self {
        self.filter = Some((
            expression.to_owned(),
            values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ));
        self
    }
}

/// A page of table keys (`pk`, `sk`) and where the next page starts (an opaque
/// checkpoint), `None` at the end of the partition.
#[derive(Debug, Default)]
pub struct KeyPage {
    pub keys: Vec<Item>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Eraser {
    client: Client,
    table: String,
    page: i32,
}

fn key_of(item: &Item) -> Option<Item> {
    let pk = item.get(PK)?.clone();
    let sk = item.get(SK)?.clone();
    Some(HashMap::from([(PK.to_owned(), pk), (SK.to_owned(), sk)]))
}

pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// A start key as a checkpoint: every key attribute of the table and its indexes is a
/// string.
fn encode_start(key: Item) -> String {
    let plain: HashMap<String, String> = key
        .into_iter()
        .filter_map(|(k, v)| match v {
            AttributeValue::S(s) => Some((k, s)),
            _ => None,
        })
        .collect();
    serde_json::to_string(&plain).unwrap_or_default()
}

fn decode_start(checkpoint: &str) -> Result<Item, StoreError> {
    let plain: HashMap<String, String> = serde_json::from_str(checkpoint)
        .map_err(|_| StoreError::MissingAttribute("offboarding checkpoint"))?;
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

impl Eraser {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page: DEFAULT_PAGE,
        }
    }

    /// The same eraser reading `page` items per step (tests use small pages to cross page
    /// boundaries).
    pub fn with_page(mut self, page: i32) -> Self {
        self.page = page.max(1);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One page of `source`'s keys from `start` (a previous page's `next`).
    pub async fn page(&self, source: &Source, start: Option<&str>) -> Result<KeyPage, StoreError> {
        let start = start.map(decode_start).transpose()?;
        let partition_attribute = source.index.map_or(PK, Index::pk);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(source.index.map(|i| i.name().to_owned()))
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", partition_attribute)
            .expression_attribute_values(":p", AttributeValue::S(source.partition.clone()))
            .projection_expression("#pk, #sk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .consistent_read(source.index.is_none())
            .limit(self.page)
            .set_exclusive_start_key(start);
        if let Some((expression, values)) = &source.filter {
            query = query.filter_expression(expression);
            for (name, value) in values {
                query = query.expression_attribute_values(name, value.clone());
            }
        }
        let out = query
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(KeyPage {
            keys: out
                .items
                .unwrap_or_default()
                .iter()
                .filter_map(key_of)
                .collect(),
            next: out
                .last_evaluated_key
                .filter(|k| !k.is_empty())
                .map(encode_start),
        })
    }

    /// The keys of `keys` whose item has `attribute` = `value` (strongly consistent
    /// `BatchGetItem`s of 100, projecting the keys and that attribute).
    pub async fn keep_where(
        &self,
        keys: Vec<Item>,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let items = batch_get_consistent(&self.client, &self.table, keys, |request| {
            request
                .projection_expression("#pk, #sk, #a")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#a", attribute)
        })
        .await?;
        Ok(items
            .iter()
            .filter(|item| matches!(item.get(attribute), Some(AttributeValue::S(v)) if v == value))
            .filter_map(key_of)
            .collect())
    }

    /// Deletes `keys` (absent ones are no-ops) in batches of [`BATCH`], resending
    /// unprocessed items; how many keys were sent.
    pub async fn delete(&self, keys: Vec<Item>) -> Result<u64, StoreError> {
        let total = keys.len() as u64;
        for chunk in keys.chunks(BATCH) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::dynamo("BatchWriteItem", e))
                })
                .collect::<Result<_, _>>()?;
            for round in 0..UNPROCESSED_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(unprocessed_backoff(round)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| {
                        StoreError::dynamo("BatchWriteItem", aws_sdk_dynamodb::Error::from(e))
                    })?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unprocessed {
                    operation: "BatchWriteItem",
                });
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_the_start_key_it_was_made_of() {
        let start = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("T#a#ORDER#1".into())),
            ("gsi2pk".to_owned(), AttributeValue::S("T#a#ORDER".into())),
        ]);
        let again = decode_start(&encode_start(start.clone())).unwrap();
        assert_eq!(again, start);
        assert!(decode_start("not json").is_err());
    }
}
