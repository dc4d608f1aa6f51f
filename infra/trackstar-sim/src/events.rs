//! Webhook bodies: `{connection_id, integration_name, integration_type, event_type, data,
//! previous_attributes?}` as in the `webhooks` section of Trackstar's spec.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// One event, ready to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub event_type: String,
    pub body: Value,
}

/// Builds an event body. `previous_attributes` is included when given (Trackstar sends
/// it on `*.updated` and `order.shipment.created`).
pub fn event(
    connection_id: &str,
    integration_name: &str,
    event_type: &str,
    data: &impl Serialize,
    previous_attributes: Option<Value>,
) -> WebhookEvent {
    let mut body = json!({
        "connection_id": connection_id,
        "integration_name": integration_name,
        "integration_type": "wms",
        "event_type": event_type,
        "data": serde_json::to_value(data).unwrap_or(Value::Null),
    });
    if let (Some(previous), Some(obj)) = (previous_attributes, body.as_object_mut()) {
        obj.insert("previous_attributes".to_owned(), previous);
    }
    WebhookEvent {
        event_type: event_type.to_owned(),
        body,
    }
}

/// The old values of the top-level fields that changed between two versions of an object.
pub fn previous_attributes(old: &impl Serialize, new: &impl Serialize) -> Value {
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    let new = serde_json::to_value(new).unwrap_or(Value::Null);
    let mut changed = Map::new();
    if let (Value::Object(old), Value::Object(new)) = (old, new) {
        for (key, old_value) in old {
            if new.get(&key) != Some(&old_value) {
                changed.insert(key, old_value);
            }
        }
    }
    Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_hold_only_changed_fields_with_old_values() {
        let old = json!({"id": "o1", "status": "open", "n": 1});
        let new = json!({"id": "o1", "status": "picked", "n": 1});
        assert_eq!(previous_attributes(&old, &new), json!({"status": "open"}));
    }
}
