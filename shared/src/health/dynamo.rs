//! The webhook stats on the one table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::stats::{
    hour_of, hour_sk, parse_hour_sk, HourStats, WebhookStatsStore, STATS_TTL_HOURS,
};
use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::store::dynamo::DynamoStore;
use crate::store::keys;
use crate::store::StoreError;

#[async_trait]
impl WebhookStatsStore for DynamoStore {
    async fn add(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        delta: &HourStats,
    ) -> Result<(), StoreError> {
        let expires_at = delta.hour + 3600 + STATS_TTL_HOURS * 3600;
        let (expression, values) = delta.update_expression(expires_at);
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .key(
                keys::PK,
                AttributeValue::S(keys::webhook_stats_pk(tenant, connection)),
            )
            .key(keys::SK, AttributeValue::S(hour_sk(delta.hour)))
            .update_expression(expression);
        for (placeholder, attribute, v) in values {
            let name = placeholder.replacen(":v", "#n", 1);
            request = request
                .expression_attribute_names(name, attribute)
                .expression_attribute_values(placeholder, AttributeValue::N(v.to_string()));
        }
        request
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }

    async fn hours(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        since: Timestamp,
    ) -> Result<Vec<HourStats>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table_name())
                .key_condition_expression("#p = :p AND #s >= :s")
                .expression_attribute_names("#p", keys::PK)
                .expression_attribute_names("#s", keys::SK)
                .expression_attribute_values(
                    ":p",
                    AttributeValue::S(keys::webhook_stats_pk(tenant, connection)),
                )
                .expression_attribute_values(":s", AttributeValue::S(hour_sk(hour_of(since))))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                let Some(hour) = item
                    .get(keys::SK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| parse_hour_sk(s))
                else {
                    continue;
                };
                let numbers: HashMap<String, i64> = item
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse::<i64>().ok()?)))
                    .collect();
                found.push(HourStats::from_numbers(hour, &numbers));
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        found.sort_by_key(|h| h.hour);
        Ok(found)
    }
}
