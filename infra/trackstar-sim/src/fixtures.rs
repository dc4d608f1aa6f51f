//! Sample webhook bodies built from the simulator's own serializers: the files in the
//! repository's `events/` directory (`trackstar-webhook-<event-type>.json`) and the
//! events `POST /_sim/webhooks/emit` sends.

use std::path::{Path, PathBuf};

use chrono::Duration;
use serde_json::{json, Value};

use crate::config::SimConnection;
use crate::data::model::Timestamp;
use crate::data::mutate::{created, next_status, updated};
use crate::data::seed::{self, anchor, SeedSizes};
use crate::data::ConnectionData;
use crate::events::{event, previous_attributes, WebhookEvent};

/// Every event type with a fixture: those Packr handles, plus one it does not.
pub const FIXTURE_EVENT_TYPES: [&str; 14] = [
    "order.created",
    "order.updated",
    "order.shipment.created",
    "inventory.created",
    "inventory.updated",
    "product.created",
    "product.updated",
    "connection.created",
    "connection.deleted",
    "connection.historical-sync-completed",
    "connection-error.created",
    "connection-error.updated",
    "connection-error.deleted",
    "inbound-shipment.updated",
];

/// `trackstar-webhook-order-shipment-created.json` for `order.shipment.created`.
pub fn fixture_file_name(event_type: &str) -> String {
    format!("trackstar-webhook-{}.json", event_type.replace('.', "-"))
}

/// A sample event of a type from a connection's objects, stamped `at`.
pub fn sample_event(
    data: &ConnectionData,
    connection: &SimConnection,
    event_type: &str,
    at: Timestamp,
) -> Option<WebhookEvent> {
    let emit = |data: &dyn erased::Data, previous: Option<Value>| {
        Some(event(
            &connection.connection_id,
            &connection.integration_name,
            event_type,
            &data.value(),
            previous,
        ))
    };
    let connection_error = |first_seen: Timestamp, last_seen: Timestamp| {
        json!({
            "failed_url": "https://wms.example.com/api/v2/orders",
            "affected_endpoints": [{"endpoint": "get_orders", "preventing_sync": true}],
            "integration_name": connection.integration_name,
            "error_message": "The WMS rejected the stored credentials (401 Unauthorized).",
            "created_date": first_seen,
            "updated_date": last_seen,
            "last_seen": last_seen,
        })
    };
    match event_type {
        "order.created" => {
            let mut order = data.orders.first()?.clone();
            order.status = "open".to_owned();
            order.raw_status = Some("OPEN".to_owned());
            order.shipments.clear();
            order.created_date = at;
            order.updated_date = at;
            let change = created("order.created", &order);
            emit(&change.data, None)
        }
        "order.updated" => {
            let before = data
                .orders
                .iter()
                .find(|o| next_status(&o.status).is_some())?
                .clone();
            let mut after = before.clone();
            let status = next_status(&before.status)?;
            after.status = status.to_owned();
            after.raw_status = Some(status.to_uppercase());
            after.updated_date = at;
            let change = updated("order.updated", &before, &after);
            emit(&change.data, change.previous_attributes)
        }
        "order.shipment.created" => {
            let mut after = data
                .orders
                .iter()
                .find(|o| !o.shipments.is_empty())?
                .clone();
            after.updated_date = at;
            if let Some(shipment) = after.shipments.first_mut() {
                shipment.shipped_date = Some(at);
            }
            emit(&after, Some(json!({ "shipments": [] })))
        }
        "inventory.created" => {
            let mut item = data.inventory.first()?.clone();
            item.created_date = at;
            item.updated_date = at;
            emit(&item, None)
        }
        "inventory.updated" => {
            let before = data.inventory.first()?.clone();
            let mut after = before.clone();
            for q in after.inventory_by_warehouse_id.values_mut() {
                *q = crate::data::model::WarehouseQuantities::from_counts(
                    q.onhand + 12,
                    q.committed,
                    q.unfulfillable,
                    q.awaiting,
                );
            }
            after.recompute_totals();
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "product.created" => {
            let mut product = data.products.first()?.clone();
            product.created_date = at;
            product.updated_date = at;
            emit(&product, None)
        }
        "product.updated" => {
            let before = data.products.first()?.clone();
            let mut after = before.clone();
            after.unit_price = after.unit_price.map(|p| p + 1.0);
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "inbound-shipment.updated" => {
            let before = data.inbound_shipments.first()?.clone();
            let mut after = before.clone();
            after.status = if before.status == "received" {
                "other".to_owned()
            } else {
                "received".to_owned()
            };
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "inbound-shipment.created"
        | "return.created"
        | "warehouse.created"
        | "shipping-method.created"
        | "bill.created" => {
            let value = match event_type {
                "inbound-shipment.created" => first_created(&data.inbound_shipments, at)?,
                "return.created" => first_created(&data.returns, at)?,
                "warehouse.created" => first_created(&data.warehouses, at)?,
                "shipping-method.created" => first_created(&data.shipping_methods, at)?,
                _ => first_created(&data.bills, at)?,
            };
            emit(&value, None)
        }
        "inbound-shipment.receipt.created" => {
            let mut copy = data.clone();
            let index = copy.inbound_shipments.iter().position(|s| {
                crate::data::mutate_inbound::RECEIVABLE.contains(&s.status.as_str())
            })?;
            let change = crate::data::mutate_inbound::receive(
                &mut copy,
                index,
                "rcp_sample".to_owned(),
                at,
                |_| 1,
            )?;
            emit(&change.data, change.previous_attributes)
        }
        "return.updated" => {
            let before = data
                .returns
                .iter()
                .find(|r| crate::data::mutate_inbound::next_return_status(&r.status).is_some())?
                .clone();
            let mut after = before.clone();
            after.status =
                crate::data::mutate_inbound::next_return_status(&before.status)?.to_owned();
            after.raw_status = Some(after.status.to_uppercase());
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "warehouse.updated" => {
            let before = data.warehouses.first()?.clone();
            let mut after = before.clone();
            after.address.address2 = Some("Dock 7".to_owned());
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "shipping-method.updated" => {
            let before = data.shipping_methods.first()?.clone();
            let mut after = before.clone();
            after.name = format!("{} (v2)", before.name);
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "bill.updated" => {
            let before = data.bills.first()?.clone();
            let mut after = before.clone();
            after.amount = (before.amount * 100.0 + 150.0).round() / 100.0;
            after.updated_date = at;
            emit(&after, Some(previous_attributes(&before, &after)))
        }
        "connection.created" => emit(
            &json!({ "created_date": at, "access_token": connection.access_token }),
            None,
        ),
        "connection.deleted" => emit(&json!({ "deleted_date": at }), None),
        "connection.historical-sync-completed" => {
            let oldest = data
                .orders
                .iter()
                .map(|o| o.created_date)
                .min()
                .unwrap_or(at);
            let newest = data
                .orders
                .iter()
                .map(|o| o.updated_date)
                .max()
                .unwrap_or(at);
            emit(
                &json!({ "resource": "orders", "oldest_data_date": oldest, "newest_data_date": newest }),
                None,
            )
        }
        "connection-error.created" => emit(&connection_error(at, at), None),
        "connection-error.updated" => {
            let first_seen = at - Duration::hours(1);
            let before = connection_error(first_seen, first_seen);
            let after = connection_error(first_seen, at);
            // The spec's schema for these previous attributes requires every field.
            emit(&after, Some(before))
        }
        "connection-error.deleted" => emit(&connection_error(at - Duration::hours(2), at), None),
        _ => None,
    }
}

/// The first object of a list as if just created `at`.
fn first_created<T: crate::data::Resource>(items: &[T], at: Timestamp) -> Option<Value> {
    let mut obj = items.first()?.clone();
    let id = obj.id().to_owned();
    obj.restamp(id, at, at);
    serde_json::to_value(&obj).ok()
}

mod erased {
    use serde_json::Value;

    /// Anything serializable, as a JSON value.
    pub trait Data {
        fn value(&self) -> Value;
    }

    impl<T: serde::Serialize> Data for T {
        fn value(&self) -> Value {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}

/// The fixture bodies, deterministic: fixed seed, connection and timestamps.
pub fn fixture_events() -> Vec<(String, Value)> {
    let connection = SimConnection {
        connection_id: "conn_fixture".to_owned(),
        access_token: "tok_fixture".to_owned(),
        integration_name: "sandbox".to_owned(),
        warehouse_customer_ids: vec!["wc_fixture_1".to_owned()],
    };
    let data = seed::generate(
        7,
        &connection.connection_id,
        &connection.warehouse_customer_ids,
        SeedSizes {
            orders: 30,
            inventory: 3,
            products: 3,
            ..Default::default()
        },
    );
    let at = anchor() + Duration::hours(1);
    FIXTURE_EVENT_TYPES
        .iter()
        .filter_map(|t| sample_event(&data, &connection, t, at).map(|e| (t.to_string(), e.body)))
        .collect()
}

/// The text of a fixture file: pretty JSON and a final newline.
pub fn fixture_text(body: &Value) -> String {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes every fixture into `dir`; returns the files written.
pub fn write_fixtures(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (event_type, body) in fixture_events() {
        let path = dir.join(fixture_file_name(&event_type));
        std::fs::write(&path, fixture_text(&body))?;
        written.push(path);
    }
    Ok(written)
}
