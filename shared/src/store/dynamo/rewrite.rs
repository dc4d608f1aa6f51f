//! What the erasure walk (`crate::privacy::job`) needs of the table: a page of one index
//! partition with its resume key, and in-place rewrites of an object's body, a message's
//! body and a failed receipt's kept event — each conditional on the item being as it was
//! read, so a rewrite never overwrites a newer write (which passed the erasure guard).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::object_item::{deflate, BODY, UPDATED, WRITTEN_AT};
use super::{DynamoStore, Item};
use crate::domain::{TenantId, Timestamp};
use crate::resource::DomainObject;
use crate::store::keys::{self, Index, PK, SK};
use crate::store::StoreError;

/// A page's resume point, as text (an index's `LastEvaluatedKey`: string attributes only).
pub fn encode_start(key: &Item) -> Option<String> {
    let plain: HashMap<&String, &String> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s)))
        .collect();
    serde_json::to_string(&plain).ok()
}

pub fn decode_start(text: &str) -> Result<Item, StoreError> {
    let plain: HashMap<String, String> = serde_json::from_str(text)
        .map_err(|_| StoreError::MissingAttribute("checkpoint (not a page key)"))?;
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

impl DynamoStore {
    /// One page (≤ `limit` items) of index partition `partition`, its sort key below
    /// `below` when given, from `start`; the items and the next page's start.
    pub async fn index_page(
        &self,
        index: Index,
        partition: String,
        below: Option<String>,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name())
            .expression_attribute_names("#p", index.pk())
            .expression_attribute_values(":p", AttributeValue::S(partition))
            .limit(limit)
            .set_exclusive_start_key(start);
        query = match below {
            Some(below) => query
                .key_condition_expression("#p = :p AND #s < :below")
                .expression_attribute_names("#s", index.sk())
                .expression_attribute_values(":below", AttributeValue::S(below)),
            None => query.key_condition_expression("#p = :p"),
        };
        let out = query
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// One page of a table partition (strongly consistent), from `start`.
    pub async fn partition_page(
        &self,
        partition: String,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", PK)
            .expression_attribute_values(":p", AttributeValue::S(partition))
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// The items of these keys (`pk`, `sk`), strongly consistent.
    pub async fn items_of(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>, StoreError> {
        self.batch_get(
            keys.into_iter()
                .map(|(pk, sk)| DynamoStore::key(pk, &sk))
                .collect(),
        )
        .await
    }

    /// Replaces the body of a stored object (live or tombstone) by `object`'s, if the item
    /// is still as `read` (same version, same last write), and moves it to the end of the
    /// changes feed, so feed consumers receive the new state. `false` when it changed in
    /// between (that write went through the erasure guard) or is gone.
    pub async fn rewrite_object_body(
        &self,
        tenant: &TenantId,
        read: &Item,
        object: &DomainObject,
    ) -> Result<bool, StoreError> {
        let key = object.kind().spec().key;
        let body = object
            .erased()
            .to_json_bytes()
            .map_err(|_| StoreError::MissingAttribute("object"))?;
        let written_us = Timestamp::now().unix_micros();
        let (chgpk, chgsk) = keys::change_keys(tenant, key, object.id(), written_us);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(DynamoStore::key(
                keys::object_pk(tenant, key, object.id()),
                key,
            )))
            .update_expression("SET #b = :b, #w = :w, chgpk = :cp, chgsk = :cs")
            .expression_attribute_names("#b", BODY)
            .expression_attribute_names("#w", WRITTEN_AT)
            .expression_attribute_names("#u", UPDATED)
            .expression_attribute_values(":b", AttributeValue::B(Blob::new(deflate(&body)?)))
            .expression_attribute_values(":w", AttributeValue::N(written_us.to_string()))
            .expression_attribute_values(":cp", AttributeValue::S(chgpk))
            .expression_attribute_values(":cs", AttributeValue::S(chgsk));
        let version = read.get(UPDATED).cloned();
        let Some(version) = version else {
            return Ok(false);
        };
        update = update.expression_attribute_values(":u", version);
        update = match read.get(WRITTEN_AT) {
            Some(at) => update
                .condition_expression("#u = :u AND #w = :ow")
                .expression_attribute_values(":ow", at.clone()),
            None => update.condition_expression("#u = :u AND attribute_not_exists(#w)"),
        };
        let result = self.within_write_window("UpdateItem", update.send()).await;
        conditional(result)
    }

    /// Sets attribute `name` of item (`pk`, `sk`) to `new` if it still holds `old`.
    pub async fn replace_attribute(
        &self,
        pk: String,
        sk: &str,
        name: &str,
        old: AttributeValue,
        new: AttributeValue,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(DynamoStore::key(pk, sk)))
            .update_expression("SET #a = :new")
            .condition_expression("#a = :old")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":new", new)
            .expression_attribute_values(":old", old)
            .send()
            .await;
        conditional(Ok(result))
    }
}

fn conditional<T>(
    result: Result<Result<T, aws_sdk_dynamodb::error::SdkError<UpdateItemError>>, StoreError>,
) -> Result<bool, StoreError> {
    match result? {
        Ok(_) => Ok(true),
        Err(err) => match err.into_service_error() {
            UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
            other => Err(StoreError::dynamo(
                "UpdateItem",
                aws_sdk_dynamodb::Error::from(other),
            )),
        },
    }
}

/// The table keys of an item.
pub fn item_keys(item: &Item) -> Option<(String, String)> {
    match (item.get(PK), item.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}
