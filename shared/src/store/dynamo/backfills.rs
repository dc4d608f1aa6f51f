//! Backfill records (`T#<t>#BACKFILL#<connection>` / `<job id>`, TTL `expires_at`): one
//! PutItem when Trackstar accepted a job, one conditional UpdateItem per status event, one
//! Query per connection for `/sync/health`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item};
use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::store::keys::{self, PK, SK, TTL_ATTRIBUTE};
use crate::store::StoreError;
use crate::sync::backfill::{Backfill, BackfillStatus, BackfillStore, Marked, RETENTION_DAYS};

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn encode(backfill: &Backfill) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(backfill).map_err(StoreError::Encode)?;
    item.insert(
        PK.to_owned(),
        s(keys::backfill_pk(
            &backfill.tenant_id,
            &backfill.connection_id,
        )),
    );
    item.insert(SK.to_owned(), s(backfill.job_id.clone()));
    let expires = backfill.requested_at.unix_seconds() + RETENTION_DAYS * 24 * 3600;
    item.insert(
        TTL_ATTRIBUTE.to_owned(),
        AttributeValue::N(expires.to_string()),
    );
    Ok(item)
}

fn decode(mut item: Item) -> Result<Backfill, StoreError> {
    item.remove(PK);
    item.remove(SK);
    item.remove(TTL_ATTRIBUTE);
    serde_dynamo::from_item(item).map_err(StoreError::Corrupt)
}

#[async_trait]
impl BackfillStore for DynamoStore {
    async fn record_backfill(&self, backfill: &Backfill) -> Result<(), StoreError> {
        match self.put_new(encode(backfill)?, "backfill").await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn backfills(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Vec<Backfill>, StoreError> {
        let items = self
            .query_partition(None, keys::backfill_pk(tenant, connection))
            .await?;
        let mut found = items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by(|a, b| {
            b.requested_at
                .cmp(&a.requested_at)
                .then_with(|| a.job_id.cmp(&b.job_id))
        });
        Ok(found)
    }

    async fn mark_backfill(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        job_id: &str,
        status: BackfillStatus,
        at: Timestamp,
    ) -> Result<Marked, StoreError> {
        let from = status.reachable_from();
        if from.is_empty() {
            return Ok(Marked::Unchanged);
        }
        let names: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(DynamoStore::key(
                keys::backfill_pk(tenant, connection),
                job_id,
            )))
            .update_expression("SET #st = :to, updated_at = :at")
            .condition_expression(format!(
                "attribute_exists(pk) AND #st IN ({})",
                names.join(", ")
            ))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":to", s(status.as_str()))
            .expression_attribute_values(":at", s(at.to_rfc3339()));
        for (name, previous) in names.iter().zip(from) {
            request = request.expression_attribute_values(name, s(previous.as_str()));
        }
        match request.send().await {
            Ok(_) => Ok(Marked::Changed),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(Marked::Unchanged),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }
}
