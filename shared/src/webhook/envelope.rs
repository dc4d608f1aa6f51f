//! The Trackstar webhook body and the message Packr queues for the processor.

use serde::{Deserialize, Serialize};

use crate::domain::{BrandId, ConnectionId, CorrelationId, EventId, TenantId, Timestamp};

/// The body Trackstar (through Svix) posts. Unknown fields are tolerated. `Debug`: the
/// object (`data`, `previous_attributes`) and its URL redacted.
#[derive(Clone, Deserialize, Serialize)]
pub struct WebhookEnvelope {
    pub connection_id: ConnectionId,
    #[serde(default)]
    pub integration_name: Option<String>,
    #[serde(default)]
    pub integration_type: Option<String>,
    pub event_type: String,
    #[serde(default)]
    pub data: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_attributes: Option<serde_json::Value>,
    /// Oversized events carry only `data.id` and must be fetched through the API.
    #[serde(default)]
    pub data_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_url: Option<String>,
}

crate::redacted_debug!(WebhookEnvelope {
    connection_id, integration_name, integration_type, event_type, data_truncated;
    data, previous_attributes, data_url,
});

/// The connection event types Packr acts on. Events carrying an object are told by the
/// resources' declarations (`ResourceKind::of_event`); everything else is recorded and
/// acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    ConnectionCreated,
    ConnectionDeleted,
    ConnectionHistoricalSyncCompleted,
    ConnectionErrorCreated,
    ConnectionErrorUpdated,
    ConnectionErrorDeleted,
    /// A Trackstar sync schedule stopped progressing (`data.latest_data`: how fresh it is).
    ConnectionScheduleStuck,
    /// A force sync of one data type finished (clears a stuck schedule).
    ConnectionForceSyncCompleted,
    /// An on-demand sync job finished (clears a stuck schedule, marks the backfill
    /// completed, queues an incremental of its resource).
    ConnectionSyncJobCompleted,
    /// An on-demand sync job stopped progressing (marks the backfill stuck).
    ConnectionSyncJobStuck,
    Other(String),
}

impl EventKind {
    /// Parses an event type, accepting the older underscore spellings
    /// (`inbound_shipment.updated`, `connection_error.created`).
    pub fn parse(event_type: &str) -> Self {
        let normalized = Self::normalize(event_type);
        match normalized.as_str() {
            "connection.created" => Self::ConnectionCreated,
            "connection.deleted" => Self::ConnectionDeleted,
            "connection.historical-sync-completed" => Self::ConnectionHistoricalSyncCompleted,
            "connection-error.created" => Self::ConnectionErrorCreated,
            "connection-error.updated" => Self::ConnectionErrorUpdated,
            "connection-error.deleted" => Self::ConnectionErrorDeleted,
            "connection.schedule-stuck" => Self::ConnectionScheduleStuck,
            "connection.force-sync-completed" => Self::ConnectionForceSyncCompleted,
            "connection.sync-job-completed" => Self::ConnectionSyncJobCompleted,
            "connection.sync-job-stuck" => Self::ConnectionSyncJobStuck,
            _ => Self::Other(normalized),
        }
    }

    /// Lower case, underscores as hyphens: the one spelling used in metrics and records.
    pub fn normalize(event_type: &str) -> String {
        event_type.trim().to_ascii_lowercase().replace('_', "-")
    }
}

/// What webhook-ingest puts on the queue and webhook-processor takes off it. `Debug`: the
/// payload redacted.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub event_id: EventId,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<BrandId>,
    pub connection_id: ConnectionId,
    pub event_type: String,
    pub received_at: Timestamp,
    /// The `svix-timestamp` of the delivery ingest accepted (when Svix sent that attempt):
    /// the fallback time that orders connection events whose payload carries none (see
    /// `webhook::connection_events`). Absent on messages queued before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    pub correlation_id: CorrelationId,
    /// The webhook body as received (already verified).
    pub payload: serde_json::Value,
}

crate::redacted_debug!(QueuedEvent {
    event_id, tenant_id, brand_id, connection_id, event_type, received_at, delivered_at,
    correlation_id;
    payload,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_event_types_are_understood() {
        assert_eq!(
            EventKind::parse("connection_error.created"),
            EventKind::ConnectionErrorCreated
        );
        assert_eq!(
            EventKind::parse("connection.historical_sync_completed"),
            EventKind::ConnectionHistoricalSyncCompleted
        );
        assert_eq!(
            EventKind::parse("inbound_shipment.updated"),
            EventKind::Other("inbound-shipment.updated".into())
        );
        assert_eq!(
            crate::resource::ResourceKind::of_event("order.updated"),
            Some(crate::resource::ResourceKind::Orders)
        );
    }

    #[test]
    fn an_envelope_tolerates_unknown_fields_and_missing_optionals() {
        let e: WebhookEnvelope = serde_json::from_str(
            r#"{"connection_id":"c1","event_type":"order.created","data":{"id":"o1"},"brand_new_field":1}"#,
        )
        .unwrap();
        assert_eq!(e.connection_id.as_str(), "c1");
        assert!(!e.data_truncated);
    }

    #[test]
    fn a_queued_event_from_before_delivered_at_still_parses() {
        let e: QueuedEvent = serde_json::from_value(serde_json::json!({
            "event_id": "msg_1", "tenant_id": "acme", "connection_id": "c1",
            "event_type": "order.created", "received_at": "2025-09-30T00:00:00Z",
            "correlation_id": "cor_1", "payload": {}
        }))
        .unwrap();
        assert_eq!(e.delivered_at, None);
    }
}
