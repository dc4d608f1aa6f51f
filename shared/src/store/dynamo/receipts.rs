//! Webhook receipts on conditional writes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{decode, DynamoStore, Item};
use crate::domain::{EventId, TenantId, Timestamp};
use crate::store::keys;
use crate::store::keys::Index;
use crate::store::StoreError;
use crate::webhook::envelope::QueuedEvent;
use crate::webhook::receipts::{
    FailedEvent, PriorReceipt, Receipt, ReceiptState, ReceiptStore, ReplayClaim, Verdict,
    RECEIPT_RETENTION_DAYS,
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
        "expires_at",
    ] {
        item.remove(attribute);
    }
    let receipt = decode::<Receipt>(item)?;
    let event = match stored {
        Some(AttributeValue::B(blob)) => match stored_event::decompress(blob.as_ref()) {
            Ok(event) => Some(event),
            Err(e) => {
                let error = crate::redact::without_input(&e);
                tracing::warn!(event_id = %receipt.event_id, %error, "kept event unreadable");
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

/// The receipt's own attributes, set by every verdict (the receipt may not exist yet).
const IDENTITY: &str = "tenant_id = :tenant, event_id = :event_id, connection_id = :connection, \
     event_type = :event_type, received_at = if_not_exists(received_at, :received), \
     updated_at = :now";

fn identity_values(event: &QueuedEvent, now: Timestamp) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":tenant".to_owned(), s(event.tenant_id.as_str())),
        (":event_id".to_owned(), s(event.event_id.as_str())),
        (":connection".to_owned(), s(event.connection_id.as_str())),
        (":event_type".to_owned(), s(event.event_type.as_str())),
        (":received".to_owned(), s(event.received_at.to_rfc3339())),
        (":now".to_owned(), s(now.to_rfc3339())),
        (":one".to_owned(), n(1)),
        (":applied".to_owned(), s(state_str(ReceiptState::Applied))),
        (":stale".to_owned(), s(state_str(ReceiptState::Stale))),
        (":ignored".to_owned(), s(state_str(ReceiptState::Ignored))),
    ])
}

impl DynamoStore {
    /// One conditional `UpdateItem` of a receipt: never over a final verdict. `ALL_OLD`
    /// reads back what it said (no extra units); on a refused condition, the final state.
    async fn write_verdict(
        &self,
        event: &QueuedEvent,
        update: String,
        values: HashMap<String, AttributeValue>,
    ) -> Result<Verdict, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::receipt_pk(&event.tenant_id, &event.event_id),
                RECEIPT_SK,
            )))
            .update_expression(update)
            .condition_expression(
                "attribute_not_exists(#state) OR NOT (#state IN (:applied, :stale, :ignored))",
            )
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Verdict::Recorded(prior_of(
                &out.attributes.unwrap_or_default(),
            ))),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Verdict::AlreadyFinal(
                        failed
                            .item
                            .as_ref()
                            .and_then(state_of)
                            .unwrap_or(ReceiptState::Applied),
                    ))
                }
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }
}

#[async_trait]
impl ReceiptStore for DynamoStore {
    async fn record_verdict(
        &self,
        event: &QueuedEvent,
        state: ReceiptState,
        now: Timestamp,
    ) -> Result<Verdict, StoreError> {
        let mut values = identity_values(event, now);
        values.insert(":state".to_owned(), s(state_str(state)));
        values.insert(
            ":exp".to_owned(),
            n(now.unix_seconds() + RECEIPT_RETENTION_DAYS * 24 * 3600),
        );
        self.write_verdict(
            event,
            format!(
                "SET {IDENTITY}, #state = :state, expires_at = :exp \
                 REMOVE failure_reason, failure_permanent, failed_event, payload_omitted, \
                 gsi2pk, gsi2sk ADD processing_attempts :one"
            ),
            values,
        )
        .await
    }

    async fn mark_failed(
        &self,
        event: &QueuedEvent,
        reason: &str,
        permanent: bool,
        now: Timestamp,
    ) -> Result<Verdict, StoreError> {
        let tenant = &event.tenant_id;
        let reason: String = reason.chars().take(500).collect();
        let mut values = identity_values(event, now);
        values.extend([
            (":state".to_owned(), s(state_str(ReceiptState::Failed))),
            (":reason".to_owned(), s(reason)),
            (":permanent".to_owned(), AttributeValue::Bool(permanent)),
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
                "failed_event = :event REMOVE payload_omitted, expires_at"
            }
            Err(e) => {
                tracing::warn!(error = %e, "the failed event is not kept for replay");
                let why = match e {
                    StoredEventError::TooLarge { .. } => "too_large",
                    _ => "unencodable",
                };
                values.insert(":omitted".to_owned(), s(why));
                "payload_omitted = :omitted REMOVE failed_event, expires_at"
            }
        };
        self.write_verdict(
            event,
            format!(
                "SET {IDENTITY}, #state = :state, failure_reason = :reason, \
                 failure_permanent = :permanent, gsi2pk = :fpk, gsi2sk = :fsk, {kept} \
                 ADD processing_attempts :one"
            ),
            values,
        )
        .await
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
            // `REJECTED_DELIVERY_RETENTION_DAYS` (TTL).
            (
                keys::TTL_ATTRIBUTE.to_owned(),
                n(self.expiry.rejected_expires_at(now)),
            ),
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
