//! Writes of inbound shipments (create; update while `open`; receive) and returns (create),
//! checked against the WMS Sandbox integration's request schemas in Trackstar's spec
//! (`CreatewmsInboundShipment--WMS_Sandbox--`, `UpdatewmsInboundShipment--WMS_Sandbox--`,
//! `CreateReceiptwmsInboundShipment--WMS_Sandbox--`, `CreatewmsReturn--WMS_Sandbox--`): a
//! missing required field, a wrong type, `null` or `""`, an unknown warehouse, SKU or order
//! is a 422 naming the field. An inbound shipment no longer `open` cannot be updated, and
//! one received or cancelled cannot be received: 422 from the integration (the spec
//! documents 200, 404 and 422 for those endpoints). Each write raises
//! `inbound-shipment.created`, `inbound-shipment.updated`,
//! `inbound-shipment.receipt.created` or `return.created`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::Extension;
use serde_json::{Map, Value};

use super::write::{apply, integration_error, respond, WriteResult};
use super::AppState;
use crate::config::SimConnection;
use crate::data::model::{
    InboundLineItem, InboundShipment, Return, ReturnLineItem, ShipFromAddress, Timestamp,
};
use crate::data::mutate::{created, updated};
use crate::data::mutate_inbound::{receive, RECEIVABLE};
use crate::data::{now, ConnectionData};
use crate::error::ApiError;
use crate::validation::{parse_object, unused_fields, Fields, MAX_QUANTITY, MISSING};

/// Required fields of `POST /wms/inbound-shipments`.
pub const INBOUND_CREATE_REQUIRED: [&str; 6] = [
    "expected_arrival_date",
    "line_items",
    "purchase_order_number",
    "supplier",
    "tracking_number",
    "warehouse_id",
];
const INBOUND_FIELDS: [&str; 7] = [
    "trackstar_tags",
    "supplier",
    "purchase_order_number",
    "expected_arrival_date",
    "warehouse_id",
    "tracking_number",
    "line_items",
];
/// Required fields of `POST /wms/returns` (the sandbox schema requires none, but a return
/// of nothing is refused, as integrations such as ShipBob's do).
pub const RETURN_CREATE_REQUIRED: [&str; 1] = ["line_items"];
const RETURN_FIELDS: [&str; 4] = ["trackstar_tags", "warehouse_id", "order_id", "line_items"];

/// A line as sent: SKU and quantity (`None` when the update keeps the old one).
type LineInput = (String, Option<i64>);

struct InboundInput {
    supplier: Option<String>,
    purchase_order_number: Option<String>,
    expected_arrival_date: Option<Timestamp>,
    warehouse_id: Option<String>,
    tracking_number: Option<String>,
    lines: Option<Vec<LineInput>>,
    tags: Option<Vec<Value>>,
    unused: Vec<String>,
}

/// Reads `line_items[{sku, <quantity_field>}]`; the quantity is required when `required`.
fn read_lines(f: &mut Fields<'_>, quantity_field: &str, required: bool) -> Option<Vec<LineInput>> {
    let items = f.array("line_items")?;
    if items.is_empty() {
        f.error("line_items", "Must contain at least one line item.");
    }
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(line) = item.as_object() else {
            f.error(&format!("line_items.{i}"), "Not a valid object.");
            continue;
        };
        let sku = line.get("sku").and_then(Value::as_str).map(str::to_owned);
        if sku.is_none() {
            f.error(&format!("line_items.{i}.sku"), MISSING);
        }
        let quantity = match line.get(quantity_field) {
            None if required => {
                f.error(&format!("line_items.{i}.{quantity_field}"), MISSING);
                None
            }
            None => None,
            Some(v) => match v.as_i64().filter(|q| (1..=MAX_QUANTITY).contains(q)) {
                Some(q) => Some(q),
                None => {
                    f.error(
                        &format!("line_items.{i}.{quantity_field}"),
                        "Must be an integer from 1 to 1000000000.",
                    );
                    None
                }
            },
        };
        for key in line.keys().filter(|k| *k != "sku" && *k != quantity_field) {
            f.error(&format!("line_items.{i}.{key}"), "Unknown field.");
        }
        if let Some(sku) = sku {
            lines.push((sku, quantity));
        }
    }
    Some(lines)
}

fn read_date(f: &mut Fields<'_>, name: &str) -> Option<Timestamp> {
    let text = f.string(name)?;
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&chrono::Utc)),
        Err(_) => {
            f.error(name, "Not a valid datetime.");
            None
        }
    }
}

fn read_inbound(obj: &Map<String, Value>, required: &[&str]) -> Result<InboundInput, ApiError> {
    let mut f = Fields::new(obj);
    f.require(required);
    let input = InboundInput {
        supplier: f.string("supplier"),
        purchase_order_number: f.string("purchase_order_number"),
        expected_arrival_date: read_date(&mut f, "expected_arrival_date"),
        warehouse_id: f.string("warehouse_id"),
        tracking_number: f.string("tracking_number"),
        lines: read_lines(&mut f, "expected_quantity", !required.is_empty()),
        tags: f.array("trackstar_tags").cloned(),
        unused: unused_fields(obj, &INBOUND_FIELDS),
    };
    f.finish()?;
    Ok(input)
}

fn known_warehouse(data: &ConnectionData, warehouse_id: &str) -> Result<(), ApiError> {
    if data.warehouse_ids.iter().any(|w| w == warehouse_id) {
        Ok(())
    } else {
        Err(ApiError::validation(
            "body",
            "warehouse_id",
            "Unknown warehouse.",
        ))
    }
}

/// The inventory item of a line's SKU: `(inventory_item_id, owner, unit_cost)`.
type ItemOf = (String, Option<String>, Option<f64>);

/// The inventory item of each line's SKU; 422 naming every unknown SKU.
fn items_of(data: &ConnectionData, lines: &[LineInput]) -> Result<Vec<ItemOf>, ApiError> {
    let mut found = Vec::new();
    let mut unknown = BTreeMap::new();
    for (i, (sku, _)) in lines.iter().enumerate() {
        match data
            .inventory
            .iter()
            .find(|item| item.sku.as_deref() == Some(sku.as_str()))
        {
            Some(item) => found.push((
                item.id.clone(),
                item.warehouse_customer_id.clone(),
                item.unit_cost,
            )),
            None => {
                unknown.insert(
                    format!("line_items.{i}.sku"),
                    vec!["Unknown SKU.".to_owned()],
                );
            }
        }
    }
    if unknown.is_empty() {
        Ok(found)
    } else {
        Err(ApiError::Validation {
            location: "body",
            fields: unknown,
        })
    }
}

pub async fn create_inbound_shipment(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    body: Bytes,
) -> WriteResult {
    let obj = parse_object(&body)?;
    let input = read_inbound(&obj, &INBOUND_CREATE_REQUIRED)?;
    apply(
        &state,
        &connection,
        &method,
        "/wms/inbound-shipments",
        |data| {
            let warehouse_id = input.warehouse_id.clone().unwrap_or_default();
            known_warehouse(data, &warehouse_id)?;
            let lines = input.lines.clone().unwrap_or_default();
            let items = items_of(data, &lines)?;
            let stamp = now();
            let shipment = InboundShipment {
                id: data.mint_id("ibs"),
                warehouse_customer_id: items.first().and_then(|(_, owner, _)| owner.clone()),
                created_date: stamp,
                updated_date: stamp,
                purchase_order_number: input.purchase_order_number.clone(),
                status: "open".to_owned(),
                raw_status: Some("OPEN".to_owned()),
                supplier: input.supplier.clone(),
                expected_arrival_date: input.expected_arrival_date,
                warehouse_id: Some(warehouse_id),
                line_items: lines
                    .iter()
                    .zip(&items)
                    .map(|((sku, quantity), (item_id, _, cost))| InboundLineItem {
                        inventory_item_id: item_id.clone(),
                        sku: Some(sku.clone()),
                        expected_quantity: quantity.unwrap_or(0),
                        received_quantity: 0,
                        unit_cost: *cost,
                        external_id: None,
                    })
                    .collect(),
                receipts: vec![],
                ship_from_address: ShipFromAddress::default(),
                tracking_numbers: input.tracking_number.clone().into_iter().collect(),
                notes: vec![],
                external_system_url: None,
                trackstar_tags: Some(input.tags.clone().unwrap_or_default()),
                additional_fields: BTreeMap::new(),
            };
            let change = created("inbound-shipment.created", &shipment);
            let response = respond(&shipment, &shipment.id, input.unused.clone());
            let id = shipment.id.clone();
            data.inbound_shipments.push(shipment);
            Ok((response, id, vec![change]))
        },
    )
}

pub async fn update_inbound_shipment(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> WriteResult {
    let obj = parse_object(&body)?;
    let input = read_inbound(&obj, &[])?;
    let path = format!("/wms/inbound-shipments/{id}");
    apply(&state, &connection, &method, &path, |data| {
        let index = data
            .inbound_shipments
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::NotFound {
                what: "Inbound shipment",
                id: id.clone(),
            })?;
        let status = data.inbound_shipments[index].status.clone();
        if status != "open" {
            return Err(integration_error(format!(
                "Inbound shipment {id} cannot be updated in status {status}: only open shipments can"
            )));
        }
        if let Some(warehouse_id) = &input.warehouse_id {
            known_warehouse(data, warehouse_id)?;
        }
        let new_lines = match &input.lines {
            None => None,
            Some(lines) => {
                let items = items_of(data, lines)?;
                let old = &data.inbound_shipments[index].line_items;
                let mut built = Vec::new();
                for (i, ((sku, quantity), (item_id, _, cost))) in
                    lines.iter().zip(&items).enumerate()
                {
                    let existing = old.iter().find(|l| l.sku.as_deref() == Some(sku.as_str()));
                    let expected = quantity
                        .or(existing.map(|l| l.expected_quantity))
                        .ok_or_else(|| {
                            ApiError::validation(
                                "body",
                                &format!("line_items.{i}.expected_quantity"),
                                MISSING,
                            )
                        })?;
                    built.push(InboundLineItem {
                        inventory_item_id: item_id.clone(),
                        sku: Some(sku.clone()),
                        expected_quantity: expected,
                        received_quantity: existing.map_or(0, |l| l.received_quantity),
                        unit_cost: existing.and_then(|l| l.unit_cost).or(*cost),
                        external_id: existing.and_then(|l| l.external_id.clone()),
                    });
                }
                Some(built)
            }
        };
        let shipment = &mut data.inbound_shipments[index];
        let before = shipment.clone();
        if let Some(v) = &input.supplier {
            shipment.supplier = Some(v.clone());
        }
        if let Some(v) = &input.purchase_order_number {
            shipment.purchase_order_number = Some(v.clone());
        }
        if let Some(v) = input.expected_arrival_date {
            shipment.expected_arrival_date = Some(v);
        }
        if let Some(v) = &input.warehouse_id {
            shipment.warehouse_id = Some(v.clone());
        }
        if let Some(v) = &input.tracking_number {
            shipment.tracking_numbers = vec![v.clone()];
        }
        if let Some(lines) = new_lines {
            shipment.line_items = lines;
        }
        if let Some(tags) = &input.tags {
            shipment.trackstar_tags = Some(tags.clone());
        }
        shipment.updated_date = now().max(before.updated_date);
        let change = updated("inbound-shipment.updated", &before, &*shipment);
        let response = respond(&*shipment, &id, input.unused.clone());
        Ok((response, id.clone(), vec![change]))
    })
}

/// Required fields of `PUT /wms/inbound-shipments/{id}/receive`.
pub const RECEIVE_REQUIRED: [&str; 2] = ["line_items", "warehouse_location_id"];
const RECEIVE_FIELDS: [&str; 2] = ["line_items", "warehouse_location_id"];

/// A receipt of `line_items[{sku, quantity}]`: received quantities grow, the status moves
/// to `receiving` or, once everything expected arrived, `received`.
pub async fn receive_inbound_shipment(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> WriteResult {
    let obj = parse_object(&body)?;
    let mut f = Fields::new(&obj);
    f.require(&RECEIVE_REQUIRED);
    let _ = f.string("warehouse_location_id");
    let lines = read_lines(&mut f, "quantity", true).unwrap_or_default();
    f.finish()?;
    let unused = unused_fields(&obj, &RECEIVE_FIELDS);
    let path = format!("/wms/inbound-shipments/{id}/receive");
    apply(&state, &connection, &method, &path, |data| {
        let index = data
            .inbound_shipments
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::NotFound {
                what: "Inbound shipment",
                id: id.clone(),
            })?;
        let shipment = &data.inbound_shipments[index];
        if !RECEIVABLE.contains(&shipment.status.as_str()) {
            return Err(integration_error(format!(
                "Inbound shipment {id} cannot be received in status {}",
                shipment.status
            )));
        }
        let mut wanted: BTreeMap<String, i64> = BTreeMap::new();
        let mut problems = BTreeMap::new();
        for (i, (sku, quantity)) in lines.iter().enumerate() {
            let quantity = quantity.unwrap_or(0);
            let line = shipment
                .line_items
                .iter()
                .find(|l| l.sku.as_deref() == Some(sku.as_str()));
            match line {
                None => {
                    problems.insert(
                        format!("line_items.{i}.sku"),
                        vec!["Not on this inbound shipment.".to_owned()],
                    );
                }
                Some(l) => {
                    let left = l.expected_quantity - l.received_quantity;
                    let total = wanted.get(sku).copied().unwrap_or(0) + quantity;
                    if total > left {
                        problems.insert(
                            format!("line_items.{i}.quantity"),
                            vec![format!("More than the {left} still expected.")],
                        );
                    }
                    wanted.insert(sku.clone(), total);
                }
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::Validation {
                location: "body",
                fields: problems,
            });
        }
        let receipt_id = data.mint_id("rcp");
        let change = receive(data, index, receipt_id, now(), |l| {
            l.sku
                .as_ref()
                .and_then(|s| wanted.get(s))
                .copied()
                .unwrap_or(0)
        })
        .ok_or_else(|| ApiError::validation("body", "line_items", "Nothing to receive."))?;
        let shipment = &data.inbound_shipments[index];
        Ok((respond(shipment, &id, unused), id.clone(), vec![change]))
    })
}

pub async fn create_return(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    body: Bytes,
) -> WriteResult {
    let obj = parse_object(&body)?;
    let mut f = Fields::new(&obj);
    f.require(&RETURN_CREATE_REQUIRED);
    let warehouse_id = f.string("warehouse_id");
    let order_id = f.string("order_id");
    let lines = read_lines(&mut f, "quantity", true).unwrap_or_default();
    let tags = f.array("trackstar_tags").cloned();
    f.finish()?;
    let unused = unused_fields(&obj, &RETURN_FIELDS);
    apply(&state, &connection, &method, "/wms/returns", |data| {
        let warehouse_id = match warehouse_id {
            Some(w) => {
                known_warehouse(data, &w)?;
                w
            }
            None => data.warehouse_ids.first().cloned().unwrap_or_default(),
        };
        let order_owner = match &order_id {
            None => None,
            Some(order_id) => Some(
                data.orders
                    .iter()
                    .find(|o| &o.id == order_id)
                    .ok_or_else(|| ApiError::validation("body", "order_id", "Unknown order."))?
                    .warehouse_customer_id
                    .clone(),
            ),
        };
        let items = items_of(data, &lines)?;
        let stamp = now();
        let ret = Return {
            id: data.mint_id("ret"),
            warehouse_customer_id: order_owner
                .flatten()
                .or_else(|| items.first().and_then(|(_, owner, _)| owner.clone())),
            created_date: stamp,
            updated_date: stamp,
            status: "open".to_owned(),
            raw_status: Some("OPEN".to_owned()),
            order_id,
            notes: vec![],
            line_items: lines
                .iter()
                .zip(&items)
                .map(|((sku, quantity), (item_id, _, _))| {
                    let quantity = quantity.unwrap_or(0);
                    ReturnLineItem {
                        inventory_item_id: item_id.clone(),
                        sku: Some(sku.clone()),
                        expected_quantity: quantity,
                        received_quantity: 0,
                        restocked_quantity: Some(0),
                        return_reason: None,
                        quantity,
                        warehouse_id: Some(warehouse_id.clone()),
                        returned_date: None,
                    }
                })
                .collect(),
            shipments: vec![],
            external_system_url: None,
            trackstar_tags: Some(tags.unwrap_or_default()),
            additional_fields: BTreeMap::new(),
        };
        let change = created("return.created", &ret);
        let response = respond(&ret, &ret.id, unused);
        let id = ret.id.clone();
        data.returns.push(ret);
        Ok((response, id, vec![change]))
    })
}
