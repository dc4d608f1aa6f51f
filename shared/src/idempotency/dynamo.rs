//! The idempotency store on DynamoDB conditional writes.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::{
    Fingerprint, IdempotencyError, IdempotencyKey, IdempotencyPolicy, IdempotencyStore, Lease,
    NextAction, SavedResponse, Scope,
};
use crate::domain::{TenantId, Timestamp};
use crate::store::keys::{self, PK, SK, TTL_ATTRIBUTE};
use crate::store::StoreError;

const RECORD_SK: &str = "IDEM";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

#[derive(Debug, Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
    policy: IdempotencyPolicy,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>, policy: IdempotencyPolicy) -> Self {
        Self {
            client,
            table: table.into(),
            policy,
        }
    }

    fn key(lease_pk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(lease_pk)),
            (SK.to_owned(), AttributeValue::S(RECORD_SK.to_owned())),
        ])
    }

    async fn read(
        &self,
        pk: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(out.item)
    }
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Why a start lost the race, from the record that won it.
fn explain_existing(
    item: &HashMap<String, AttributeValue>,
    fingerprint: &Fingerprint,
    now: Timestamp,
) -> Result<NextAction, IdempotencyError> {
    if string(item, "fingerprint").as_deref() != Some(fingerprint.as_str()) {
        return Err(IdempotencyError::PayloadMismatch);
    }
    match string(item, "status").as_deref() {
        Some(COMPLETED) => {
            let response = item
                .get("response")
                .cloned()
                .ok_or(StoreError::MissingAttribute("response"))?;
            let saved: SavedResponse =
                serde_dynamo::from_attribute_value(response).map_err(StoreError::Corrupt)?;
            Ok(NextAction::ReturnSaved(saved))
        }
        _ => {
            let lease_ends = number(item, "lease_expires_ms").unwrap_or(0);
            let wait = (lease_ends - now.unix_millis()).max(0);
            Err(IdempotencyError::InProgress {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(0)),
            })
        }
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(
        &self,
        tenant: &TenantId,
        scope: Scope,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: Timestamp,
    ) -> Result<NextAction, IdempotencyError> {
        let digest = key.digest();
        let pk = keys::idempotency_pk(tenant, scope.as_str(), &digest);
        let token = uuid::Uuid::new_v4().to_string();
        let lease_expires = now.plus_millis(millis(self.policy.in_progress_expiry));
        let record_expires = now.plus_millis(millis(self.policy.record_ttl));

        let mut item = Self::key(pk.clone());
        item.insert("status".into(), AttributeValue::S(IN_PROGRESS.into()));
        item.insert(
            "fingerprint".into(),
            AttributeValue::S(fingerprint.as_str().into()),
        );
        item.insert("lease_token".into(), AttributeValue::S(token.clone()));
        item.insert(
            "lease_expires_ms".into(),
            AttributeValue::N(lease_expires.unix_millis().to_string()),
        );
        item.insert(
            TTL_ATTRIBUTE.into(),
            AttributeValue::N(record_expires.unix_seconds().to_string()),
        );

        // Free to start if: no record; the record outlived its TTL; or an in-progress
        // attempt with the same payload let its lease expire (it crashed).
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR #ttl < :now_s OR \
                 (#status = :in_progress AND lease_expires_ms < :now_ms AND fingerprint = :fp)",
            )
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":now_s",
                AttributeValue::N(now.unix_seconds().to_string()),
            )
            .expression_attribute_values(
                ":now_ms",
                AttributeValue::N(now.unix_millis().to_string()),
            )
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":fp", AttributeValue::S(fingerprint.as_str().into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;

        match result {
            Ok(_) => Ok(NextAction::Start(Lease {
                tenant: tenant.clone(),
                scope,
                key_digest: digest,
                token,
                expires_at: lease_expires,
            })),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    let existing = match failed.item {
                        Some(item) => item,
                        None => match self.read(pk).await? {
                            Some(item) => item,
                            // Deleted between the write and the read: an abandoned lease.
                            None => {
                                return Err(IdempotencyError::InProgress {
                                    retry_after: Duration::ZERO,
                                })
                            }
                        },
                    };
                    explain_existing(&existing, fingerprint, now)
                }
                other => {
                    Err(StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(other)).into())
                }
            },
        }
    }

    async fn complete(
        &self,
        lease: &Lease,
        response: &SavedResponse,
        now: Timestamp,
    ) -> Result<(), IdempotencyError> {
        let pk = keys::idempotency_pk(&lease.tenant, lease.scope.as_str(), &lease.key_digest);
        let saved = serde_dynamo::to_attribute_value(response).map_err(StoreError::Encode)?;
        let record_expires = now.plus_millis(millis(self.policy.record_ttl));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk)))
            .update_expression(
                "SET #status = :completed, #response = :response, #ttl = :ttl REMOVE lease_expires_ms",
            )
            .condition_expression("lease_token = :token AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#response", "response")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.into()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":response", saved)
            .expression_attribute_values(":ttl", AttributeValue::N(record_expires.unix_seconds().to_string()))
            .expression_attribute_values(":token", AttributeValue::S(lease.token.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => {
                    Err(IdempotencyError::LeaseLost)
                }
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )
                .into()),
            },
        }
    }

    async fn abandon(&self, lease: &Lease) -> Result<(), IdempotencyError> {
        let pk = keys::idempotency_pk(&lease.tenant, lease.scope.as_str(), &lease.key_digest);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk)))
            .condition_expression("lease_token = :token AND #status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":token", AttributeValue::S(lease.token.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                DeleteItemError::ConditionalCheckFailedException(_) => {
                    Err(IdempotencyError::LeaseLost)
                }
                other => Err(StoreError::dynamo(
                    "DeleteItem",
                    aws_sdk_dynamodb::Error::from(other),
                )
                .into()),
            },
        }
    }
}
