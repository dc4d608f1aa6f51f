//! A second floor of the lag stage: the bare pipeline making Packr's own requests. Packr's
//! requests are recorded by the emulator during the unloaded run (webhook-ingest's
//! `SendMessage` bodies; webhook-processor's object `UpdateItem`s, receipt `UpdateItem`s
//! and its other writes), then re-sent by a bare producer and bare consumers at the load
//! run's rate: the same `SendMessage` (body, message attributes, group, through
//! `SqsEventQueue`), the same receive (every attribute, as the event source mapping asks),
//! per message the recorded object and receipt writes (same expression, condition, names and
//! values, on fresh keys) at once, per batch one recorded stats write, then one
//! `DeleteMessageBatch`. What it costs the emulator per event is what Packr's requests
//! cost; what Packr takes beyond it is the pipeline's own.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use base64::Engine as _;

use packr::webhook::envelope::QueuedEvent;

use crate::recorder::{object_update, to_attribute};

/// Packr's requests, as recorded.
#[derive(Debug, Clone, Default)]
pub struct RecordedCalls {
    /// Bodies of the events ingest queued.
    pub queued: Vec<String>,
    /// The processor's object writes, receipt writes and other writes (stats, budget).
    pub objects: Vec<Update>,
    pub receipts: Vec<Update>,
    pub others: Vec<Update>,
}

/// One recorded `UpdateItem`, re-sendable on another key.
#[derive(Debug, Clone)]
pub struct Update {
    key: HashMap<String, AttributeValue>,
    expression: String,
    condition: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl Update {
    fn of(request: &serde_json::Value) -> Option<Self> {
        let map_of = |v: &serde_json::Value| v.as_object().cloned();
        Some(Self {
            key: map_of(&request["Key"])?
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
            expression: request["UpdateExpression"].as_str()?.to_owned(),
            condition: request["ConditionExpression"].as_str().map(str::to_owned),
            names: map_of(&request["ExpressionAttributeNames"]).map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            }),
            values: map_of(&request["ExpressionAttributeValues"]).map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), to_attribute(v)))
                    .collect()
            }),
        })
    }

    /// Sends it on partition key `pk` (`None`: its own key); `Ok(())` also when its
    /// condition failed (Packr counts those as answers too).
    pub async fn send(
        &self,
        ddb: &aws_sdk_dynamodb::Client,
        table: &str,
        pk: Option<String>,
    ) -> Result<(), String> {
        let mut key = self.key.clone();
        if let Some(pk) = pk {
            key.insert("pk".to_owned(), AttributeValue::S(pk));
        }
        let sent = ddb
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(&self.expression)
            .set_condition_expression(self.condition.clone())
            .set_expression_attribute_names(self.names.clone())
            .set_expression_attribute_values(self.values.clone())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("{e:?}")),
        }
    }
}

/// Packr's requests among the emulator's recorded entries (one JSON object each): the
/// `SendMessage`s of queued events, and the `UpdateItem`s signed by webhook-processor's key.
pub fn recorded_calls(entries: &str) -> anyhow::Result<RecordedCalls> {
    let processor_key = crate::emulator::function_access_key("webhook-processor");
    let mut calls = RecordedCalls::default();
    for line in entries.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)?;
        let header = |name: &str| {
            entry["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let target = header("X-Amz-Target");
        let body = entry["body"].as_str().unwrap_or("");
        let raw = if entry["body_encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD.decode(body)?
        } else {
            body.as_bytes().to_vec()
        };
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        if target == "AmazonSQS.SendMessage" {
            if let Some(body) = request["MessageBody"].as_str() {
                if serde_json::from_str::<QueuedEvent>(body).is_ok() {
                    calls.queued.push(body.to_owned());
                }
            }
        } else if target == "DynamoDB_20120810.UpdateItem"
            && header("Authorization").contains(&format!("Credential={processor_key}/"))
        {
            let Some(update) = Update::of(&request) else {
                continue;
            };
            let expression = request["UpdateExpression"].as_str().unwrap_or("");
            if object_update(&request).is_some() {
                calls.objects.push(update);
            } else if expression.contains("processing_attempts") {
                calls.receipts.push(update);
            } else {
                calls.others.push(update);
            }
        }
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str, key: &str, body: serde_json::Value) -> String {
        serde_json::json!({
            "headers": {
                "X-Amz-Target": target,
                "Authorization": format!("AWS4-HMAC-SHA256 Credential={key}/20261207/us-east-1/dynamodb/aws4_request"),
            },
            "body": body.to_string(),
            "body_encoded": false,
        })
        .to_string()
    }

    #[test]
    fn packr_requests_are_sorted_into_queued_object_receipt_and_other_writes() {
        // Given a recording with ingest's SendMessage, the processor's three kinds of
        // UpdateItem, and requests that are not the pipeline's
        let processor = crate::emulator::function_access_key("webhook-processor");
        let queued = serde_json::json!({
            "event_id": "msg_1", "tenant_id": "acme", "connection_id": "c1",
            "event_type": "order.updated", "received_at": "2026-12-07T15:00:00Z",
            "correlation_id": "cor_1", "payload": {"data": {"id": "o1"}}
        });
        let object = serde_json::json!({
            "Key": {"pk": {"S": "T#t1#ORDER#o1"}, "sk": {"S": "ORDER"}},
            "UpdateExpression": "SET #a0 = :a0, #created = if_not_exists(#created, :created)",
            "ConditionExpression": "attribute_not_exists(#pk) OR #u < :u",
            "ExpressionAttributeNames": {"#a0": "status", "#created": "created_us", "#pk": "pk", "#u": "updated_us"},
            "ExpressionAttributeValues": {":a0": {"S": "shipped"}, ":created": {"N": "1"}, ":u": {"N": "2"}}
        });
        let receipt = serde_json::json!({
            "Key": {"pk": {"S": "T#t1#EVT#msg_1"}, "sk": {"S": "RECEIPT"}},
            "UpdateExpression": "SET #state = :state ADD processing_attempts :one",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":state": {"S": "applied"}, ":one": {"N": "1"}}
        });
        let stats = serde_json::json!({
            "Key": {"pk": {"S": "T#t1#STATS"}, "sk": {"S": "WEBHOOKS"}},
            "UpdateExpression": "ADD received :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}}
        });
        let lines = [
            entry(
                "AmazonSQS.SendMessage",
                "PACKRFN-webhook-ingest",
                serde_json::json!({"QueueUrl": "q", "MessageBody": queued.to_string()}),
            ),
            entry(
                "AmazonSQS.SendMessage",
                "PACKRFN-webhook-ingest",
                serde_json::json!({"QueueUrl": "q", "MessageBody": "not an event"}),
            ),
            entry("DynamoDB_20120810.UpdateItem", &processor, object),
            entry("DynamoDB_20120810.UpdateItem", &processor, receipt.clone()),
            entry("DynamoDB_20120810.UpdateItem", &processor, stats),
            // Another function's write is not the processor's.
            entry(
                "DynamoDB_20120810.UpdateItem",
                "PACKRFN-sync-worker",
                receipt,
            ),
            entry(
                "DynamoDB_20120810.GetItem",
                &processor,
                serde_json::json!({}),
            ),
        ]
        .join("\n");
        // When sorted
        let calls = recorded_calls(&lines).expect("recorded");
        // Then
        assert_eq!(calls.queued.len(), 1);
        assert_eq!(calls.objects.len(), 1);
        assert_eq!(calls.receipts.len(), 1);
        assert_eq!(calls.others.len(), 1);
        assert!(calls.objects[0].expression.contains("if_not_exists"));
        assert_eq!(calls.receipts[0].names.as_ref().map(|n| n.len()), Some(1));
    }
}
