//! Webhook receipts on conditional writes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{decode, encode, DynamoStore, Item};
use crate::domain::{ConnectionId, EventId, TenantId, Timestamp};
use crate::store::keys;
use crate::store::StoreError;
use crate::webhook::receipts::{Claim, PriorReceipt, Receipt, ReceiptState, ReceiptStore};

const RECEIPT_SK: &str = "RECEIPT";
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
                "SET #state = :state, updated_at = :now REMOVE failure_reason \
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
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                Ok(PriorReceipt {
                    state: state_of(&old),
                    processing_attempts: old
                        .get("processing_attempts")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                })
            }
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
        self.get_item(keys::receipt_pk(tenant, event), RECEIPT_SK)
            .await?
            .map(decode::<Receipt>)
            .transpose()
    }

    async fn record_unroutable(
        &self,
        connection: &ConnectionId,
        event: &EventId,
        event_type: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("pk".to_owned(), s(keys::unroutable_pk(connection))),
            ("sk".to_owned(), s(event.as_str())),
            ("event_type".to_owned(), s(event_type)),
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
