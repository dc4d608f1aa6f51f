//! Parked events (`PARKED#<connection>` / `<event id>`), listed for the expiry sweep by the
//! sparse `gsi2` partition `PARKED`, oldest first.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{DynamoStore, Item};
use crate::domain::{ConnectionId, EventId, Timestamp};
use crate::store::keys::{self, Index};
use crate::store::StoreError;
use crate::webhook::parked::{Park, ParkedEntry, ParkedEvent, ParkedEventStore, ParkedKey};
use crate::webhook::stored_event;

/// The compressed event (gzip of the `ParkedEvent` JSON, a binary attribute).
const EVENT: &str = "event";
const PARKED_AT: &str = "parked_at";
/// The largest compressed event parked: ingest takes bodies up to 200 KiB, which gzip
/// never grows past this, and the item stays under DynamoDB's 400 KB.
const MAX_PARKED_BYTES: usize = 300 * 1024;
/// Expired keys read per index page.
const SWEEP_PAGE: i32 = 100;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn string(item: &Item, name: &'static str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::MissingAttribute(name)),
    }
}

fn parked_at(item: &Item) -> Result<Timestamp, StoreError> {
    Timestamp::parse(&string(item, PARKED_AT)?).map_err(|_| StoreError::MissingAttribute(PARKED_AT))
}

fn event_id(item: &Item) -> Result<EventId, StoreError> {
    EventId::parse(string(item, keys::SK)?).map_err(|_| StoreError::MissingAttribute(keys::SK))
}

#[async_trait]
impl ParkedEventStore for DynamoStore {
    async fn park(&self, event: &ParkedEvent, now: Timestamp) -> Result<Park, StoreError> {
        let blob = stored_event::compress_within(event, MAX_PARKED_BYTES)
            .map_err(|e| StoreError::dynamo("PutItem", e))?;
        let item = HashMap::from([
            (
                keys::PK.to_owned(),
                s(keys::parked_pk(&event.connection_id)),
            ),
            (keys::SK.to_owned(), s(event.event_id.as_str())),
            ("connection_id".to_owned(), s(event.connection_id.as_str())),
            (PARKED_AT.to_owned(), s(now.to_rfc3339())),
            (EVENT.to_owned(), AttributeValue::B(Blob::new(blob))),
            (
                Index::ByTenantUpdated.pk().to_owned(),
                s(keys::PARKED_PARTITION),
            ),
            (
                Index::ByTenantUpdated.sk().to_owned(),
                s(keys::parked_sweep_sk(
                    now,
                    &event.connection_id,
                    &event.event_id,
                )),
            ),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Park::Parked),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(Park::AlreadyParked),
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn parked(&self, connection: &ConnectionId) -> Result<Vec<ParkedEntry>, StoreError> {
        self.query_partition(None, keys::parked_pk(connection))
            .await?
            .into_iter()
            .map(|item| {
                let event_id = event_id(&item)?;
                let event = match item.get(EVENT) {
                    Some(AttributeValue::B(blob)) => {
                        match stored_event::decompress_as::<ParkedEvent>(blob.as_ref()) {
                            Ok(event) => Some(event),
                            Err(e) => {
                                let error = crate::redact::without_input(&e);
                                tracing::warn!(event_id = %event_id, %error, "parked event unreadable");
                                None
                            }
                        }
                    }
                    _ => None,
                };
                Ok(ParkedEntry {
                    event_id,
                    parked_at: parked_at(&item)?,
                    event,
                })
            })
            .collect()
    }

    async fn parked_before(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ParkedKey>, StoreError> {
        let index = Index::ByTenantUpdated;
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < limit {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name())
                .key_condition_expression("#p = :p AND #s < :before")
                .expression_attribute_names("#p", index.pk())
                .expression_attribute_names("#s", index.sk())
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_names("#c", "connection_id")
                .expression_attribute_names("#at", PARKED_AT)
                .expression_attribute_values(":p", s(keys::PARKED_PARTITION))
                // Sort keys start with the parked time: everything below is older.
                .expression_attribute_values(":before", s(before.sort_key()))
                .projection_expression("#pk, #sk, #c, #at")
                .limit(SWEEP_PAGE)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                let connection = ConnectionId::parse(string(&item, "connection_id")?)
                    .map_err(|_| StoreError::MissingAttribute("connection_id"))?;
                found.push(ParkedKey {
                    connection_id: connection,
                    event_id: event_id(&item)?,
                    parked_at: parked_at(&item)?,
                });
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn remove(&self, connection: &ConnectionId, event: &EventId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::parked_pk(connection), event.as_str())))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("DeleteItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
