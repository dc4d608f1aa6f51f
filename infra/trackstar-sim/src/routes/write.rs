//! Writes: orders (create, update, cancel), products (create, update), inventory adjust;
//! inbound shipments and returns are in [`super::write_inbound`]. Each validates its body,
//! changes the truth, bumps `updated_date`, answers `{data, id, unused_fields}` and raises
//! the webhooks the WMS change would raise. An order takes a new address or shipping method
//! only until it ships, is fulfilled or is cancelled (else 422 from the integration).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::AppState;
use crate::config::{SimConnection, WriteAction};
use crate::data::model::*;
use crate::data::mutate::{created, updated, Change};
use crate::data::{now, ConnectionData};
use crate::error::{ApiError, Origin};
use crate::validation::{parse_object, unused_fields, Fields};

/// Required fields of `POST /wms/orders` (the contract's base fields).
pub const ORDER_CREATE_REQUIRED: [&str; 13] = [
    "reference_id",
    "order_number",
    "warehouse_customer_id",
    "channel",
    "shipping_method_id",
    "service_level",
    "invoice_currency_code",
    "total_price",
    "total_tax",
    "total_discount",
    "total_shipping",
    "ship_to_address",
    "line_items",
];
const ORDER_FIELDS: [&str; 18] = [
    "reference_id",
    "order_number",
    "warehouse_customer_id",
    "channel",
    "channel_object",
    "trading_partner",
    "shipping_method",
    "shipping_method_id",
    "service_level",
    "invoice_currency_code",
    "total_price",
    "total_tax",
    "total_discount",
    "total_shipping",
    "ship_to_address",
    "line_items",
    "trackstar_tags",
    "status",
];
/// Required fields of `POST /wms/products`.
pub const PRODUCT_CREATE_REQUIRED: [&str; 4] = ["sku", "name", "gtin", "measurements"];
const PRODUCT_FIELDS: [&str; 5] = ["sku", "name", "gtin", "measurements", "trackstar_tags"];
/// Required fields of `PUT /wms/inventory/{id}/adjust`.
pub const ADJUST_REQUIRED: [&str; 2] = ["quantity", "adjustment_type"];
const ADJUST_FIELDS: [&str; 4] = ["quantity", "adjustment_type", "warehouse_id", "location_id"];
const ADDRESS_FIELDS: [&str; 11] = [
    "full_name",
    "company",
    "address1",
    "address2",
    "address3",
    "city",
    "state",
    "postal_code",
    "country",
    "phone_number",
    "email_address",
];

pub(crate) type WriteResult = Result<Json<Value>, ApiError>;

fn supported(connection: &SimConnection, action: WriteAction) -> Result<(), ApiError> {
    if connection.supports(action) {
        Ok(())
    } else {
        Err(ApiError::NotImplemented(format!(
            "{} is not supported for integration {}",
            action.name(),
            connection.integration_name
        )))
    }
}

pub(crate) fn integration_error(message: String) -> ApiError {
    ApiError::Status {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message,
        origin: Origin::Integration,
    }
}

pub(crate) fn respond(data: &impl serde::Serialize, id: &str, unused: Vec<String>) -> Json<Value> {
    Json(json!({ "data": data, "id": id, "unused_fields": unused }))
}

/// Runs a change on the connection's data, then records it and raises its webhooks.
pub(crate) fn apply<R>(
    state: &AppState,
    connection: &SimConnection,
    method: &Method,
    path: &str,
    f: impl FnOnce(&mut ConnectionData) -> Result<(R, String, Vec<Change>), ApiError>,
) -> Result<R, ApiError> {
    let (result, id, changes) = state
        .with_data(&connection.connection_id, f)
        .ok_or_else(|| ApiError::Unauthorized("Unknown connection".to_owned()))??;
    state.record_write(&connection.connection_id, method.as_str(), path, &id);
    state.emit_changes(connection, changes);
    Ok(result)
}

/// A line item as sent: product id, sku, quantity, unit price, discount.
type LineInput = (Option<String>, String, i64, Option<f64>, Option<f64>);

struct OrderInput {
    strings: BTreeMap<&'static str, String>,
    numbers: BTreeMap<&'static str, f64>,
    address: Option<Address>,
    lines: Option<Vec<LineInput>>,
    tags: Option<Vec<Value>>,
    status: Option<String>,
    unused: Vec<String>,
}

fn read_order(obj: &Map<String, Value>, required: &[&str]) -> Result<OrderInput, ApiError> {
    let mut f = Fields::new(obj);
    f.require(required);
    let mut strings = BTreeMap::new();
    for name in [
        "reference_id",
        "order_number",
        "warehouse_customer_id",
        "channel",
        "trading_partner",
        "shipping_method",
        "shipping_method_id",
        "service_level",
    ] {
        if let Some(v) = f.string(name) {
            strings.insert(name, v);
        }
    }
    if let Some(code) = f.string("invoice_currency_code") {
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
            strings.insert("invoice_currency_code", code);
        } else {
            f.error("invoice_currency_code", "Must be an ISO 4217 code.");
        }
    }
    let mut numbers = BTreeMap::new();
    for name in [
        "total_price",
        "total_tax",
        "total_discount",
        "total_shipping",
    ] {
        if let Some(v) = f.number(name) {
            numbers.insert(name, v);
        }
    }
    let mut unused = unused_fields(obj, &ORDER_FIELDS);
    let address = f.object("ship_to_address").map(|a| {
        let get = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
        for key in a.keys().filter(|k| !ADDRESS_FIELDS.contains(&k.as_str())) {
            unused.push(format!("ship_to_address.{key}"));
        }
        Address {
            full_name: get("full_name"),
            company: get("company"),
            address1: get("address1"),
            address2: get("address2"),
            address3: get("address3"),
            city: get("city"),
            state: get("state"),
            postal_code: get("postal_code"),
            country: get("country"),
            phone_number: get("phone_number"),
            email_address: get("email_address"),
        }
    });
    let lines = f.array("line_items").map(|items| {
        let mut lines = Vec::new();
        if items.is_empty() {
            f.error("line_items", "Must contain at least one line item.");
        }
        for (i, item) in items.iter().enumerate() {
            let Some(line) = item.as_object() else {
                f.error(&format!("line_items.{i}"), "Not a valid object.");
                continue;
            };
            let sku = line.get("sku").and_then(Value::as_str).map(str::to_owned);
            let quantity = line
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|q| (1..=crate::validation::MAX_QUANTITY).contains(q));
            if sku.is_none() {
                f.error(
                    &format!("line_items.{i}.sku"),
                    "Missing data for required field.",
                );
            }
            if quantity.is_none() {
                f.error(
                    &format!("line_items.{i}.quantity"),
                    "Must be a positive integer.",
                );
            }
            let product_id = line
                .get("product_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let unit_price = line.get("unit_price").and_then(Value::as_f64);
            let discount = line.get("discount_amount").and_then(Value::as_f64);
            if let (Some(sku), Some(quantity)) = (sku, quantity) {
                lines.push((product_id, sku, quantity, unit_price, discount));
            }
        }
        lines
    });
    let tags = f.array("trackstar_tags").cloned();
    let status = f.one_of("status", &ORDER_STATUSES);
    let _ = f.object("channel_object");
    f.finish()?;
    Ok(OrderInput {
        strings,
        numbers,
        address,
        lines,
        tags,
        status,
        unused,
    })
}

/// The id Trackstar gives a line whose SKU matches no product: a valid id whatever the SKU
/// holds (a SKU may contain characters ids may not).
fn unmatched_product_id(sku: &str) -> String {
    let safe: String = sku
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("prd_unmatched_{safe}")
}

fn order_lines(data: &ConnectionData, lines: Vec<LineInput>) -> Vec<OrderLineItem> {
    lines
        .into_iter()
        .map(|(product_id, sku, quantity, unit_price, discount)| {
            let product_id = product_id
                .or_else(|| {
                    data.products
                        .iter()
                        .find(|p| p.sku.as_deref() == Some(sku.as_str()))
                        .map(|p| p.id.clone())
                })
                .unwrap_or_else(|| unmatched_product_id(&sku));
            OrderLineItem {
                product_id,
                sku: Some(sku),
                quantity,
                unit_price: unit_price.or(Some(0.0)),
                is_picked: false,
                discount_amount: discount.or(Some(0.0)),
            }
        })
        .collect()
}

fn apply_order_input(order: &mut Order, input: &mut OrderInput, lines: Option<Vec<OrderLineItem>>) {
    let s = &mut input.strings;
    if let Some(v) = s.remove("reference_id") {
        order.reference_id = v;
    }
    if let Some(v) = s.remove("order_number") {
        order.order_number = v;
    }
    if let Some(v) = s.remove("warehouse_customer_id") {
        order.warehouse_customer_id = Some(v);
    }
    if let Some(v) = s.remove("channel") {
        order.channel = Some(v);
    }
    if let Some(v) = s.remove("trading_partner") {
        order.trading_partner = Some(v);
    }
    if let Some(v) = s.remove("shipping_method") {
        order.shipping_method = Some(v);
    }
    if let Some(v) = s.remove("shipping_method_id") {
        order.shipping_method_id = Some(v);
    }
    if let Some(v) = s.remove("service_level") {
        order.service_level = Some(v);
    }
    if let Some(v) = s.remove("invoice_currency_code") {
        order.invoice_currency_code = v;
    }
    let n = &input.numbers;
    for (name, slot) in [
        ("total_price", &mut order.total_price),
        ("total_tax", &mut order.total_tax),
        ("total_discount", &mut order.total_discount),
        ("total_shipping", &mut order.total_shipping),
    ] {
        if let Some(v) = n.get(name) {
            *slot = Some(*v);
        }
    }
    if let Some(address) = input.address.take() {
        order.ship_to_address = address;
    }
    if let Some(lines) = lines {
        order.line_items = lines;
    }
    if let Some(tags) = input.tags.take() {
        order.trackstar_tags = Some(tags);
    }
    if let Some(status) = input.status.take() {
        order.raw_status = Some(status.to_uppercase());
        order.status = status;
    }
}

pub async fn create_order(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    body: Bytes,
) -> WriteResult {
    supported(&connection, WriteAction::CreateOrder)?;
    let obj = parse_object(&body)?;
    let mut input = read_order(&obj, &ORDER_CREATE_REQUIRED)?;
    apply(&state, &connection, &method, "/wms/orders", |data| {
        let stamp = now();
        let mut order = Order {
            id: data.mint_id("ord"),
            warehouse_customer_id: None,
            warehouse_id: data.warehouse_ids.first().cloned(),
            created_date: stamp,
            updated_date: stamp,
            reference_id: String::new(),
            order_number: String::new(),
            status: "open".to_owned(),
            raw_status: Some("OPEN".to_owned()),
            channel: None,
            channel_object: None,
            order_type: Some("d2c".to_owned()),
            trading_partner: None,
            shipping_method: None,
            service_level: None,
            shipping_method_id: None,
            shipping_method_name: None,
            carrier_id: None,
            carrier_name: None,
            scac: None,
            invoice_currency_code: "USD".to_owned(),
            total_price: None,
            total_tax: None,
            total_discount: None,
            total_shipping: None,
            ship_to_address: Address::default(),
            line_items: vec![],
            tags: vec![],
            required_ship_date: None,
            saturday_delivery: None,
            signature_required: None,
            shipments: vec![],
            external_system_url: None,
            trackstar_tags: Some(vec![]),
            additional_fields: BTreeMap::new(),
        };
        let lines = input.lines.take().map(|l| order_lines(data, l));
        apply_order_input(&mut order, &mut input, lines);
        let change = created("order.created", &order);
        let response = respond(&order, &order.id, std::mem::take(&mut input.unused));
        let id = order.id.clone();
        data.orders.push(order);
        Ok((response, id, vec![change]))
    })
}

pub async fn update_order(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> WriteResult {
    supported(&connection, WriteAction::UpdateOrder)?;
    let obj = parse_object(&body)?;
    let mut input = read_order(&obj, &[])?;
    let path = format!("/wms/orders/{id}");
    apply(&state, &connection, &method, &path, |data| {
        let lines = input.lines.take().map(|l| order_lines(data, l));
        let order =
            data.orders
                .iter_mut()
                .find(|o| o.id == id)
                .ok_or_else(|| ApiError::NotFound {
                    what: "Order",
                    id: id.clone(),
                })?;
        let moves_shipping = input.address.is_some()
            || input.strings.contains_key("shipping_method")
            || input.strings.contains_key("shipping_method_id");
        if moves_shipping && !shipping_changeable(order) {
            return Err(integration_error(format!(
                "Order {id} cannot change its address or shipping method in status {}",
                order.status
            )));
        }
        let before = order.clone();
        apply_order_input(order, &mut input, lines);
        order.updated_date = now().max(before.updated_date);
        let change = updated("order.updated", &before, &*order);
        let response = respond(&*order, &id, std::mem::take(&mut input.unused));
        Ok((response, id.clone(), vec![change]))
    })
}

/// Whether the WMS still takes a new address or shipping method: not once the order has
/// shipped (a shipped shipment), is fulfilled or is cancelled.
pub fn shipping_changeable(order: &Order) -> bool {
    !matches!(
        order.status.as_str(),
        "fulfilled" | "partially_fulfilled" | "cancelled"
    ) && !order.shipments.iter().any(|s| s.status == "shipped")
}

pub async fn cancel_order(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
) -> WriteResult {
    supported(&connection, WriteAction::CancelOrder)?;
    let path = format!("/wms/orders/{id}/cancel");
    apply(&state, &connection, &method, &path, |data| {
        let order =
            data.orders
                .iter_mut()
                .find(|o| o.id == id)
                .ok_or_else(|| ApiError::NotFound {
                    what: "Order",
                    id: id.clone(),
                })?;
        if matches!(order.status.as_str(), "fulfilled" | "partially_fulfilled") {
            return Err(integration_error(format!(
                "Order {id} cannot be cancelled in status {}",
                order.status
            )));
        }
        let mut changes = Vec::new();
        if order.status != "cancelled" {
            let before = order.clone();
            order.status = "cancelled".to_owned();
            order.raw_status = Some("CANCELLED".to_owned());
            order.updated_date = now().max(before.updated_date);
            changes.push(updated("order.updated", &before, &*order));
        }
        Ok((respond(&*order, &id, vec![]), id.clone(), changes))
    })
}

struct ProductInput {
    sku: Option<String>,
    name: Option<String>,
    gtin: Option<String>,
    tags: Option<Vec<Value>>,
    unused: Vec<String>,
}

fn read_product(obj: &Map<String, Value>, required: &[&str]) -> Result<ProductInput, ApiError> {
    let mut f = Fields::new(obj);
    f.require(required);
    let sku = f.string("sku");
    let name = f.string("name");
    let gtin = f.string("gtin");
    if let Some(m) = f.object("measurements") {
        for key in ["length", "width", "height", "weight"] {
            if m.get(key).is_some_and(|v| !v.is_number()) {
                f.error(&format!("measurements.{key}"), "Not a valid number.");
            }
        }
        if m.get("unit")
            .and_then(Value::as_str)
            .is_some_and(|u| !["cm", "in"].contains(&u))
        {
            f.error("measurements.unit", "Must be one of: cm, in.");
        }
        if m.get("weight_unit")
            .and_then(Value::as_str)
            .is_some_and(|u| !["kg", "oz", "lb"].contains(&u))
        {
            f.error("measurements.weight_unit", "Must be one of: kg, oz, lb.");
        }
    }
    let tags = f.array("trackstar_tags").cloned();
    f.finish()?;
    Ok(ProductInput {
        sku,
        name,
        gtin,
        tags,
        unused: unused_fields(obj, &PRODUCT_FIELDS),
    })
}

pub async fn create_product(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    body: Bytes,
) -> WriteResult {
    supported(&connection, WriteAction::CreateProduct)?;
    let obj = parse_object(&body)?;
    let input = read_product(&obj, &PRODUCT_CREATE_REQUIRED)?;
    apply(&state, &connection, &method, "/wms/products", |data| {
        let sku = input.sku.unwrap_or_default();
        if data
            .products
            .iter()
            .any(|p| p.sku.as_deref() == Some(sku.as_str()))
        {
            return Err(integration_error(format!(
                "A product with SKU {sku} already exists"
            )));
        }
        let stamp = now();
        let name = input.name.unwrap_or_default();
        let warehouse_customer_id = data
            .products
            .first()
            .and_then(|p| p.warehouse_customer_id.clone());
        let inventory = InventoryItem {
            id: data.mint_id("inv"),
            warehouse_customer_id: warehouse_customer_id.clone(),
            created_date: stamp,
            updated_date: stamp,
            name: name.clone(),
            sku: Some(sku.clone()),
            unit_cost: None,
            active: true,
            awaiting: 0,
            onhand: 0,
            committed: 0,
            unfulfillable: 0,
            fulfillable: 0,
            unsellable: 0,
            sellable: 0,
            substitute_skus: vec![],
            inventory_by_warehouse_id: data
                .warehouse_ids
                .iter()
                .map(|w| (w.clone(), WarehouseQuantities::default()))
                .collect(),
            lots: vec![],
            measurements: Measurements::default(),
            locations: vec![],
            external_system_url: None,
            trackstar_tags: Some(vec![]),
            additional_fields: BTreeMap::new(),
        };
        let product = Product {
            id: data.mint_id("prd"),
            warehouse_customer_id,
            created_date: stamp,
            updated_date: stamp,
            name,
            sku: Some(sku.clone()),
            gtin: input.gtin,
            unit_price: None,
            inventory_items: vec![ProductInventoryItem {
                inventory_item_id: inventory.id.clone(),
                sku: Some(sku),
                unit_quantity: 1,
            }],
            is_kit: false,
            active: true,
            supplier: None,
            country_of_origin: None,
            harmonized_code: None,
            external_system_url: None,
            trackstar_tags: Some(input.tags.unwrap_or_default()),
            additional_fields: BTreeMap::new(),
        };
        let changes = vec![
            created("product.created", &product),
            created("inventory.created", &inventory),
        ];
        let response = respond(&product, &product.id, input.unused);
        let id = product.id.clone();
        data.products.push(product);
        data.inventory.push(inventory);
        Ok((response, id, changes))
    })
}

pub async fn update_product(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> WriteResult {
    supported(&connection, WriteAction::UpdateProduct)?;
    let obj = parse_object(&body)?;
    let input = read_product(&obj, &[])?;
    let path = format!("/wms/products/{id}");
    apply(&state, &connection, &method, &path, |data| {
        let product = data
            .products
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| ApiError::NotFound {
                what: "Product",
                id: id.clone(),
            })?;
        let before = product.clone();
        if let Some(sku) = input.sku {
            product.sku = Some(sku);
        }
        if let Some(name) = input.name {
            product.name = name;
        }
        if let Some(gtin) = input.gtin {
            product.gtin = Some(gtin);
        }
        if let Some(tags) = input.tags {
            product.trackstar_tags = Some(tags);
        }
        product.updated_date = now().max(before.updated_date);
        let change = updated("product.updated", &before, &*product);
        Ok((
            respond(&*product, &id, input.unused),
            id.clone(),
            vec![change],
        ))
    })
}

pub async fn adjust_inventory(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    method: Method,
    Path(id): Path<String>,
    body: Bytes,
) -> WriteResult {
    supported(&connection, WriteAction::AdjustInventory)?;
    let obj = parse_object(&body)?;
    let mut f = Fields::new(&obj);
    f.require(&ADJUST_REQUIRED);
    let quantity = f.positive_int("quantity");
    let kind = f.one_of("adjustment_type", &["increase", "decrease"]);
    let warehouse_id = f.string("warehouse_id");
    let _ = f.string("location_id");
    f.finish()?;
    let (quantity, kind) = (quantity.unwrap_or(0), kind.unwrap_or_default());
    let unused = unused_fields(&obj, &ADJUST_FIELDS);
    let path = format!("/wms/inventory/{id}/adjust");
    apply(&state, &connection, &method, &path, |data| {
        let default_warehouse = data.warehouse_ids.first().cloned().unwrap_or_default();
        let item = data
            .inventory
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| ApiError::NotFound {
                what: "Inventory item",
                id: id.clone(),
            })?;
        let warehouse = warehouse_id.unwrap_or(default_warehouse);
        let Some(q) = item.inventory_by_warehouse_id.get(&warehouse).copied() else {
            return Err(ApiError::validation(
                "body",
                "warehouse_id",
                "Unknown warehouse.",
            ));
        };
        let delta = if kind == "increase" {
            quantity
        } else {
            -quantity
        };
        if q.onhand + delta < 0 {
            return Err(integration_error(format!(
                "Cannot decrease on-hand quantity of {id} below zero (on hand {})",
                q.onhand
            )));
        }
        let before = item.clone();
        item.inventory_by_warehouse_id.insert(
            warehouse,
            WarehouseQuantities::from_counts(
                q.onhand + delta,
                q.committed,
                q.unfulfillable,
                q.awaiting,
            ),
        );
        item.recompute_totals();
        item.updated_date = now().max(before.updated_date);
        let change = updated("inventory.updated", &before, &*item);
        Ok((respond(&*item, &id, unused), id.clone(), vec![change]))
    })
}
