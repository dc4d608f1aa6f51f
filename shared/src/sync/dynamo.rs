//! The sync state on DynamoDB: conditional `UpdateItem`s, one per step of a run.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Serialize;

use super::state::{
    Checkpoint, JobKey, Lease, RunSummary, StateError, SyncState, SyncStateStore, Unavailable,
};
use crate::domain::Timestamp;
use crate::store::dynamo::{DynamoStore, Item};
use crate::store::keys::{self, PK, SK};
use crate::store::StoreError;

const STATE_SK: &str = "SYNC";

fn key_of(key: &JobKey) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(keys::sync_state_pk(
                &key.tenant_id,
                &key.connection_id,
                key.resource.as_str(),
            )),
        ),
        (SK.to_owned(), AttributeValue::S(STATE_SK.to_owned())),
    ])
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn value<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(StoreError::Encode)
}

fn decode_state(mut item: Item) -> Result<SyncState, StoreError> {
    item.remove(PK);
    item.remove(SK);
    serde_dynamo::from_item(item).map_err(StoreError::Corrupt)
}

/// The sync state adapter over the one table.
#[derive(Debug, Clone)]
pub struct DynamoSyncStateStore {
    store: DynamoStore,
}

impl DynamoSyncStateStore {
    pub fn new(store: DynamoStore) -> Self {
        Self { store }
    }

    /// A conditional update; `Ok(None)` when the condition failed.
    async fn update(
        &self,
        key: &JobKey,
        expression: &str,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
        returns: ReturnValue,
    ) -> Result<Option<Item>, StoreError> {
        let mut request = self
            .store
            .client()
            .update_item()
            .table_name(self.store.table_name())
            .set_key(Some(key_of(key)))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .return_values(returns);
        if expression.contains("#res") {
            // `resource` is a reserved word.
            request = request.expression_attribute_names("#res", "resource");
        }
        for (name, v) in values {
            request = request.expression_attribute_values(name, v);
        }
        match request.send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(None),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    /// An update fenced by the lease's token: `Fenced` when another holder took over.
    async fn fenced(
        &self,
        lease: &Lease,
        expression: &str,
        mut values: Vec<(&str, AttributeValue)>,
        returns: ReturnValue,
    ) -> Result<Item, StateError> {
        values.push((":token", n(lease.token)));
        values.push((":owner", s(lease.owner.clone())));
        self.update(
            &lease.key,
            expression,
            Some("fence = :token AND lease_owner = :owner"),
            values,
            returns,
        )
        .await?
        .ok_or(StateError::Fenced)
    }
}

fn identity(key: &JobKey) -> Result<Vec<(&'static str, AttributeValue)>, StoreError> {
    Ok(vec![
        (":tenant", s(key.tenant_id.as_str())),
        (":conn", s(key.connection_id.as_str())),
        (":res", value(&key.resource)?),
    ])
}

#[async_trait]
impl SyncStateStore for DynamoSyncStateStore {
    async fn acquire(
        &self,
        key: &JobKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<(Lease, SyncState)>, StoreError> {
        let mut values = identity(key)?;
        values.extend([
            (":owner", s(owner)),
            (":until", n(lease_until.unix_micros())),
            (":now", n(now.unix_micros())),
            (":zero", n(0)),
            (":one", n(1)),
        ]);
        let Some(item) = self
            .update(
                key,
                "SET tenant_id = :tenant, connection_id = :conn, #res = :res, \
                 lease_owner = :owner, lease_expires_us = :until, \
                 fence = if_not_exists(fence, :zero) + :one",
                Some("attribute_not_exists(lease_expires_us) OR lease_expires_us <= :now"),
                values,
                ReturnValue::AllNew,
            )
            .await?
        else {
            return Ok(None);
        };
        let state = decode_state(item)?;
        let lease = Lease {
            key: key.clone(),
            owner: owner.to_owned(),
            token: state.fence,
        };
        Ok(Some((lease, state)))
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        checkpoint: &Checkpoint,
        lease_until: Timestamp,
    ) -> Result<(), StateError> {
        let mut expression = "SET checkpoint = :cp, lease_expires_us = :until".to_owned();
        let mut values = vec![
            (":cp", value(checkpoint)?),
            (":until", n(lease_until.unix_micros())),
        ];
        if checkpoint.mode == super::job::SyncMode::Full {
            expression.push_str(", last_full_started_at = :started");
            values.push((":started", value(&checkpoint.started_at)?));
        }
        self.fenced(lease, &expression, values, ReturnValue::None)
            .await
            .map(|_| ())
    }

    async fn complete(
        &self,
        lease: &Lease,
        summary: &RunSummary,
        now: Timestamp,
    ) -> Result<SyncState, StateError> {
        let item = self
            .fenced(
                lease,
                "SET watermark = :w, last_run = :run, last_success_at = :now, \
                 consecutive_failures = :zero \
                 REMOVE checkpoint, lease_owner, lease_expires_us, last_error, last_error_at, \
                 unavailable",
                vec![
                    (":w", value(&summary.to)?),
                    (":run", value(summary)?),
                    (":now", value(&now)?),
                    (":zero", n(0)),
                ],
                ReturnValue::AllNew,
            )
            .await?;
        Ok(decode_state(item)?)
    }

    async fn complete_reconcile(
        &self,
        lease: &Lease,
        summary: &crate::sync::reconcile::ReconcileSummary,
        now: Timestamp,
    ) -> Result<(), StateError> {
        self.fenced(
            lease,
            "SET last_reconcile = :r, last_success_at = :now \
             REMOVE checkpoint, lease_owner, lease_expires_us, unavailable",
            vec![(":r", value(summary)?), (":now", value(&now)?)],
            ReturnValue::None,
        )
        .await
        .map(|_| ())
    }

    async fn release(
        &self,
        lease: &Lease,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StateError> {
        match error {
            None => self
                .fenced(
                    lease,
                    "REMOVE lease_owner, lease_expires_us",
                    Vec::new(),
                    ReturnValue::None,
                )
                .await
                .map(|_| ()),
            Some(reason) => self
                .fenced(
                    lease,
                    "SET last_error = :e, last_error_at = :now, \
                     consecutive_failures = if_not_exists(consecutive_failures, :zero) + :one \
                     REMOVE lease_owner, lease_expires_us",
                    vec![
                        (":e", s(reason.chars().take(500).collect::<String>())),
                        (":now", value(&now)?),
                        (":zero", n(0)),
                        (":one", n(1)),
                    ],
                    ReturnValue::None,
                )
                .await
                .map(|_| ()),
        }
    }

    async fn abandon(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<(), StateError> {
        self.fenced(
            lease,
            "SET last_error = :e, last_error_at = :now \
             REMOVE checkpoint, lease_owner, lease_expires_us",
            vec![
                (":e", s(reason.chars().take(500).collect::<String>())),
                (":now", value(&now)?),
            ],
            ReturnValue::None,
        )
        .await
        .map(|_| ())
    }

    async fn mark_unavailable(
        &self,
        lease: &Lease,
        unavailable: &Unavailable,
    ) -> Result<(), StateError> {
        self.fenced(
            lease,
            "SET unavailable = :u REMOVE checkpoint, lease_owner, lease_expires_us",
            vec![(":u", value(unavailable)?)],
            ReturnValue::None,
        )
        .await
        .map(|_| ())
    }

    async fn request_full(&self, key: &JobKey, at: Timestamp) -> Result<(), StoreError> {
        let mut values = identity(key)?;
        values.push((":at", value(&at)?));
        self.update(
            key,
            "SET tenant_id = :tenant, connection_id = :conn, #res = :res, full_requested_at = :at",
            None,
            values,
            ReturnValue::None,
        )
        .await
        .map(|_| ())
    }

    async fn get(&self, key: &JobKey) -> Result<Option<SyncState>, StoreError> {
        self.store
            .get_item(
                keys::sync_state_pk(&key.tenant_id, &key.connection_id, key.resource.as_str()),
                STATE_SK,
            )
            .await?
            .map(decode_state)
            .transpose()
    }

    async fn get_many(&self, job_keys: &[JobKey]) -> Result<Vec<SyncState>, StoreError> {
        self.store
            .batch_get(job_keys.iter().map(key_of).collect())
            .await?
            .into_iter()
            .map(decode_state)
            .collect()
    }
}
