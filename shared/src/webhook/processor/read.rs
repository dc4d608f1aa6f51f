//! Reading the batch: each SQS message into a job, and the lookups its messages share
//! warmed once before they run side by side.

use std::time::Instant;

use aws_lambda_events::event::sqs::SqsMessage;
use tracing::error;

use super::order::object_kind;
use super::{Job, ProcessorDeps};
use crate::metrics::Metric;
use crate::webhook::envelope::QueuedEvent;

fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The message as a job, or its id when it cannot be read (it goes back to the queue and,
/// after its receives, to the DLQ, where ops see it: without a tenant there is no receipt
/// to record it on).
pub(super) fn read_message(deps: &ProcessorDeps, message: SqsMessage) -> Result<Job, String> {
    let message_id = message.message_id.clone().unwrap_or_default();
    let receives = receive_count(&message);
    let parsed = message
        .body
        .as_deref()
        .map(serde_json::from_str::<QueuedEvent>);
    match parsed {
        Some(Ok(event)) => Ok(Job {
            message_id,
            receives,
            event,
            received: Instant::now(),
        }),
        Some(Err(e)) => {
            let error = crate::redact::without_input(&e);
            error!(message_id = %message_id, %error, "unreadable queue message");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            Err(message_id)
        }
        None => {
            error!(message_id = %message_id, "queue message without a body");
            deps.metrics
                .emit(Metric::count("webhook.failures").with("reason", "unreadable"));
            Err(message_id)
        }
    }
}

/// Reads each distinct connection, tenant and warehouse customer of the batch once, one
/// after another, before the messages run side by side: with cached lookups, ten messages
/// of a cold instance then cost three reads, not thirty. Errors are left for the messages
/// to meet (and classify).
pub(super) async fn warm_lookups(deps: &ProcessorDeps, groups: &[Vec<Job>]) {
    use std::collections::{BTreeMap, BTreeSet};
    // (tenant, connection) → whether objects take their brand from the warehouse customer
    let mut connections: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut customers = BTreeSet::new();
    for job in groups.iter().flatten() {
        let event = &job.event;
        if object_kind(&event.event_type).is_none() {
            continue;
        }
        let key = (event.tenant_id.to_string(), event.connection_id.to_string());
        let by_customer = match connections.get(&key) {
            Some(by_customer) => *by_customer,
            None => {
                let found = deps
                    .connections
                    .get_connection(&event.tenant_id, &event.connection_id)
                    .await;
                let by_customer = matches!(&found, Ok(Some(c)) if c.brand_id.is_none());
                if matches!(found, Ok(Some(_))) {
                    let _ = deps.tenants.get_tenant(&event.tenant_id).await;
                }
                connections.insert(key, by_customer);
                by_customer
            }
        };
        let customer = event
            .payload
            .get("data")
            .and_then(|d| d.get("warehouse_customer_id"))
            .and_then(|v| v.as_str());
        if let (true, Some(customer)) = (by_customer, customer) {
            if customers.insert((event.tenant_id.to_string(), customer.to_owned())) {
                let _ = deps
                    .tenants
                    .brand_for_warehouse_customer(&event.tenant_id, customer)
                    .await;
            }
        }
    }
}
