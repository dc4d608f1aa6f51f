//! Webhook receipts on conditional writes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{decode, encode, DynamoStore, Item};
use crate::domain::{ConnectionId, EventId, TenantId, Timestamp};
use crate::store::keys;
use crate::store::keys::Index;
use crate::store::StoreError;
use crate::webhook::envelope::QueuedEvent;
use crate::webhook::receipts::{
    Claim, FailedEvent, PriorReceipt, Receipt, ReceiptState, ReceiptStore, ReplayClaim,
};
use crate::webhook::stored_event::{self, StoredEventError};

const RECEIPT_SK: &str = "RECEIPT";

/// What a verdict update's `ALL_OLD` says of the receipt before it.
fn prior_of(old: &HashMap<String, AttributeValue>) -> PriorReceipt {
    PriorReceipt {
        state: state_of(old),
        processing_attempts: old
            .get("processing_attempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }
}
/// The kept event (gzip of the `QueuedEvent` JSON, a binary attribute).
const FAILED_EVENT: &str = "failed_event";
/// Why no event is kept on a failed receipt (`too_large`, `unencodable`).
const PAYLOAD_OMITTED: &str = "payload_omitted";
/// Reading the failed-events index: items per query page.
const FAILED_PAGE: i32 = 100;

/// How long one delivery may hold a receipt while it enqueues (ingest's timeout is 10 s).
const CLAIM_MILLIS: i64 = 15_000;

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn state_of(item: &Item) -> Option<ReceiptState> {
    match item.get("state") {
        Some(AttributeValue::S(v)) => {
            serde_json::from_value(serde_json::Value::from(v.clone())).ok()
        }
        _ => None,
    }
}

/// A receipt item with its kept event, decoded.
fn failed_event_of(mut item: Item) -> Result<FailedEvent, StoreError> {
    let stored = item.remove(FAILED_EVENT);
    let mut omitted = match item.remove(PAYLOAD_OMITTED) {
        Some(AttributeValue::S(why)) => Some(why),
        _ => None,
    };
    for attribute in [
        Index::ByTenantUpdated.pk(),
        Index::ByTenantUpdated.sk(),
        "claim_until_ms",
    ] {
        item.remove(attribute);
    }
    let receipt = decode::<Receipt>(item)?;
    let event = match stored {
        Some(AttributeValue::B(blob)) => match stored_event::decompress(blob.as_ref()) {
            Ok(event) => Some(event),
            Err(e) => {
                tracing::warn!(event_id = %receipt.event_id, error = %e, "kept event unreadable");
                omitted = Some("unreadable".to_owned());
                None
            }
        },
        _ => None,
    };
    Ok(FailedEvent {
        receipt,
        event,
        payload_omitted: omitted,
    })
}

fn state_str(state: ReceiptState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[async_trait]
impl ReceiptStore for DynamoStore {
    async fn claim(
        &self,
        tenant: &TenantId,
        event: &EventId,
        connection: &ConnectionId,
        event_type: &str,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let receipt = Receipt {
            tenant_id: tenant.clone(),
            event_id: event.clone(),
            connection_id: connection.clone(),
            event_type: event_type.to_owned(),
            state: ReceiptState::Received,
            received_at: now,
            updated_at: now,
            deliveries: 1,
            failure_reason: None,
            processing_attempts: 0,
        };
        let mut item = encode(&receipt)?;
        item.insert("pk".into(), s(keys::receipt_pk(tenant, event)));
        item.insert("sk".into(), s(RECEIPT_SK));
        item.insert("claim_until_ms".into(), n(now.unix_millis() + CLAIM_MILLIS));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :received AND claim_until_ms < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":received", s(state_str(ReceiptState::Received)))
            .expression_attribute_values(":now", n(now.unix_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(failed) => match failed.item {
                    Some(item) => item,
                    None => match self
                        .get_item(keys::receipt_pk(tenant, event), RECEIPT_SK)
                        .await?
                    {
                        Some(item) => item,
                        None => return Ok(Claim::Busy),
                    },
                },
                other => {
                    return Err(StoreError::dynamo(
                        "PutItem",
                        aws_sdk_dynamodb::Error::from(other),
                    ))
                }
            },
        };
        // Count the duplicate delivery (best effort: the verdict does not depend on it).
        let _ = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::receipt_pk(tenant, event), RECEIPT_SK)))
            .update_expression("ADD deliveries :one")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        Ok(match state_of(&existing) {
            Some(ReceiptState::Received) | None => Claim::Busy,
            Some(state) => Claim::AlreadyQueued(state),
        })
    }

    async fn mark_queued(
        &self,
        tenant: &TenantId,
        event: &EventId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::receipt_pk(tenant, event), RECEIPT_SK)))
            .update_expression("SET #state = :queued, updated_at = :now REMOVE claim_until_ms")
            .condition_expression("#state = :received")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":queued", s(state_str(ReceiptState::Queued)))
            .expression_attribute_values(":received", s(state_str(ReceiptState::Received)))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                // The processor got there first: the receipt is already further along.
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn release(&self, tenant: &TenantId, event: &EventId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::receipt_pk(tenant, event), RECEIPT_SK)))
            .update_expression("SET claim_until_ms = :zero")
            .condition_expression("#state = :received")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":received", s(state_str(ReceiptState::Received)))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn mark_processed(
        &self,
        tenant: &TenantId,
        event: &EventId,
        state: ReceiptState,
        failure_reason: Option<&str>,
        now: Timestamp,
    ) -> Result<PriorReceipt, StoreError> {
        let mut values = HashMap::from([
            (":state".to_owned(), s(state_str(state))),
            (":now".to_owned(), s(now.to_rfc3339())),
            (":one".to_owned(), n(1)),
        ]);
        let update = match failure_reason {
            Some(reason) => {
                let reason: String = reason.chars().take(500).collect();
                values.insert(":reason".to_owned(), s(reason));
                "SET #state = :state, updated_at = :now, failure_reason = :reason \
                 ADD processing_attempts :one"
            }
            None => {
                "SET #state = :state, updated_at = :now \
                 REMOVE failure_reason, failed_event, payload_omitted, gsi2pk, gsi2sk \
                 ADD processing_attempts :one"
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::receipt_pk(tenant, event), RECEIPT_SK)))
            .update_expression(update)
            // Never create a partial receipt (a replayed event whose receipt expired).
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            // The old state and attempt count, for the webhook stats (no extra write or
            // read units). ALL_OLD, not UPDATED_OLD: the state may be set to the value it
            // had (failed → failed), which UPDATED_OLD may leave out.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(prior_of(&out.attributes.unwrap_or_default())),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Err(StoreError::NotFound {
                    what: "webhook receipt",
                }),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn mark_failed(
        &self,
        event: &QueuedEvent,
        reason: &str,
        now: Timestamp,
    ) -> Result<PriorReceipt, StoreError> {
        let tenant = &event.tenant_id;
        let reason: String = reason.chars().take(500).collect();
        let mut values = HashMap::from([
            (":state".to_owned(), s(state_str(ReceiptState::Failed))),
            (":now".to_owned(), s(now.to_rfc3339())),
            (":one".to_owned(), n(1)),
            (":reason".to_owned(), s(reason)),
            (":fpk".to_owned(), s(keys::failed_events_pk(tenant))),
            (
                ":fsk".to_owned(),
                s(keys::failed_event_sk(event.received_at, &event.event_id)),
            ),
        ]);
        let kept = match stored_event::compress(event) {
            Ok(bytes) => {
                values.insert(
                    ":event".to_owned(),
                    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(bytes)),
                );
                "failed_event = :event REMOVE payload_omitted"
            }
            Err(e) => {
                tracing::warn!(error = %e, "the failed event is not kept for replay");
                let why = match e {
                    StoredEventError::TooLarge { .. } => "too_large",
                    _ => "unencodable",
                };
                values.insert(":omitted".to_owned(), s(why));
                "payload_omitted = :omitted REMOVE failed_event"
            }
        };
        let update = format!(
            "SET #state = :state, updated_at = :now, failure_reason = :reason, \
             gsi2pk = :fpk, gsi2sk = :fsk, {kept} ADD processing_attempts :one"
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::receipt_pk(tenant, &event.event_id),
                RECEIPT_SK,
            )))
            .update_expression(update)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            // The old state and attempt count, for the webhook stats (no extra units).
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(prior_of(&out.attributes.unwrap_or_default())),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Err(StoreError::NotFound {
                    what: "webhook receipt",
                }),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn get(&self, tenant: &TenantId, event: &EventId) -> Result<Option<Receipt>, StoreError> {
        Ok(self
            .get_for_replay(tenant, event)
            .await?
            .map(|found| found.receipt))
    }

    async fn get_for_replay(
        &self,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<Option<FailedEvent>, StoreError> {
        self.get_item(keys::receipt_pk(tenant, event), RECEIPT_SK)
            .await?
            .map(failed_event_of)
            .transpose()
    }

    async fn list_failed(
        &self,
        tenant: &TenantId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<FailedEvent>, StoreError> {
        let index = Index::ByTenantUpdated;
        let mut condition = "#p = :p".to_owned();
        let mut values = HashMap::from([(":p".to_owned(), s(keys::failed_events_pk(tenant)))]);
        let mut names = HashMap::from([("#p".to_owned(), index.pk().to_owned())]);
        if let Some(since) = since {
            condition.push_str(" AND #s >= :since");
            names.insert("#s".to_owned(), index.sk().to_owned());
            values.insert(":since".to_owned(), s(since.sort_key()));
        }
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < limit {
            let page = i32::try_from(limit - found.len())
                .unwrap_or(FAILED_PAGE)
                .min(FAILED_PAGE);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name())
                .key_condition_expression(&condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                // Only the tenant's own partition is read; check anyway.
                let found_event = failed_event_of(item)?;
                if &found_event.receipt.tenant_id == tenant {
                    found.push(found_event);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    async fn claim_replay(
        &self,
        tenant: &TenantId,
        event: &EventId,
        now: Timestamp,
    ) -> Result<ReplayClaim, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::receipt_pk(tenant, event), RECEIPT_SK)))
            .update_expression(
                "SET #state = :queued, updated_at = :now, replayed_at = :now \
                 REMOVE gsi2pk, gsi2sk ADD replays :one",
            )
            .condition_expression("#state = :failed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":queued", s(state_str(ReceiptState::Queued)))
            .expression_attribute_values(":failed", s(state_str(ReceiptState::Failed)))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":one", n(1))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ReplayClaim::Claimed),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(match failed.item.as_ref() {
                        None => ReplayClaim::Missing,
                        Some(item) => match state_of(item) {
                            Some(state) => ReplayClaim::NotFailed(state),
                            None => ReplayClaim::Missing,
                        },
                    })
                }
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn restore_failed(&self, event: &QueuedEvent, now: Timestamp) -> Result<(), StoreError> {
        let tenant = &event.tenant_id;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::receipt_pk(tenant, &event.event_id),
                RECEIPT_SK,
            )))
            .update_expression(
                "SET #state = :failed, updated_at = :now, gsi2pk = :fpk, gsi2sk = :fsk",
            )
            .condition_expression("#state = :queued AND attribute_exists(failed_event)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":queued", s(state_str(ReceiptState::Queued)))
            .expression_attribute_values(":failed", s(state_str(ReceiptState::Failed)))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":fpk", s(keys::failed_events_pk(tenant)))
            .expression_attribute_values(
                ":fsk",
                s(keys::failed_event_sk(event.received_at, &event.event_id)),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                // Processed meanwhile (the send may have reached SQS after all).
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn record_rejected(
        &self,
        event: &EventId,
        reason: &str,
        body_bytes: usize,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let day = now.as_datetime().format("%Y-%m-%d").to_string();
        let item = HashMap::from([
            ("pk".to_owned(), s(keys::rejected_pk(&day))),
            ("sk".to_owned(), s(format!("{}#{}", now.sort_key(), event))),
            ("event_id".to_owned(), s(event.as_str())),
            (
                "reason".to_owned(),
                s(reason.chars().take(500).collect::<String>()),
            ),
            (
                "body_bytes".to_owned(),
                n(i64::try_from(body_bytes).unwrap_or(i64::MAX)),
            ),
            ("received_at".to_owned(), s(now.to_rfc3339())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }
}
