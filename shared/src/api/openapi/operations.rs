//! Each route's operation in the document: its body, success status and schema, summary,
//! and its path and query parameters.

use serde_json::{json, Value};
use utoipa::PartialSchema;

use super::reference;
use crate::api::docs;
use crate::api::routes::RouteId;
use crate::domain::{
    Bill, BillId, BrandId, InboundShipment, InboundShipmentId, InventoryItem, Order, OrderId,
    Product, ProductId, Return, ReturnId, ShippingMethod, Sku, Timestamp, Warehouse, WarehouseId,
};
use crate::resource::{Owner, Resource, ResourceSpec};
use crate::store::PageLimit;

/// Request body schema, success status and response schema of a route.
pub(super) fn shape(id: RouteId) -> (Option<&'static str>, u16, Value, &'static str) {
    let page = |item: &str| {
        json!({
            "type": "object",
            "required": ["items", "next_cursor"],
            "additionalProperties": false,
            "properties": {
                "items": { "type": "array", "items": reference(item) },
                "next_cursor": { "type": ["string", "null"], "description": "Opaque; pass back as `cursor` for the next page." }
            }
        })
    };
    match id {
        RouteId::ListOrders => (None, 200, page("Order"), "Orders, newest first"),
        RouteId::GetOrder => (None, 200, reference("Order"), "An order"),
        RouteId::CreateOrder => (
            Some("CreateOrderBody"),
            201,
            reference("Order"),
            "Create an order (write-through)",
        ),
        RouteId::UpdateOrder => (
            Some("UpdateOrderBody"),
            200,
            reference("Order"),
            "Change an order's ship-to address or shipping method before it ships (write-through)",
        ),
        RouteId::CancelOrder => (
            None,
            200,
            reference("Order"),
            "Cancel an order (write-through)",
        ),
        RouteId::ListInventory => (None, 200, page("InventoryItem"), "Inventory, newest first"),
        RouteId::GetInventory => (
            None,
            200,
            json!({ "type": "object", "required": ["sku", "items"], "additionalProperties": false, "properties": { "sku": reference("Sku"), "items": { "type": "array", "items": reference("InventoryItem") } } }),
            "A SKU's inventory items",
        ),
        RouteId::ListProducts => (None, 200, page("Product"), "Products, newest first"),
        RouteId::GetProduct => (None, 200, reference("Product"), "A product"),
        RouteId::CreateProduct => (
            Some("CreateProductBody"),
            201,
            reference("Product"),
            "Create a product (write-through)",
        ),
        RouteId::UpdateProduct => (
            Some("UpdateProductBody"),
            200,
            reference("Product"),
            "Update a product (write-through)",
        ),
        RouteId::ListInboundShipments => (
            None,
            200,
            page("InboundShipment"),
            "Inbound shipments (ASNs), newest first",
        ),
        RouteId::GetInboundShipment => (
            None,
            200,
            reference("InboundShipment"),
            "An inbound shipment (ASN): what is expected, what was received",
        ),
        RouteId::CreateInboundShipment => (
            Some("CreateInboundShipmentBody"),
            201,
            reference("InboundShipment"),
            "Announce an inbound shipment (ASN) to the warehouse (write-through)",
        ),
        RouteId::UpdateInboundShipment => (
            Some("UpdateInboundShipmentBody"),
            200,
            reference("InboundShipment"),
            "Change an inbound shipment while it is open (write-through)",
        ),
        RouteId::ListReturns => (None, 200, page("Return"), "Returns, newest first"),
        RouteId::GetReturn => (None, 200, reference("Return"), "A return"),
        RouteId::CreateReturn => (
            Some("CreateReturnBody"),
            201,
            reference("Return"),
            "Announce a return to the warehouse (write-through)",
        ),
        RouteId::ListWarehouses => (
            None,
            200,
            page("Warehouse"),
            "The tenant's warehouses, newest first (every role)",
        ),
        RouteId::GetWarehouse => (None, 200, reference("Warehouse"), "A warehouse"),
        RouteId::ListShippingMethods => (
            None,
            200,
            page("ShippingMethod"),
            "The tenant's shipping methods, newest first (every role): what an order can ship with",
        ),
        RouteId::ListBills => (
            None,
            200,
            page("Bill"),
            "Bills (the warehouse's charges), newest first",
        ),
        RouteId::GetBill => (None, 200, reference("Bill"), "A bill"),
        RouteId::ListChanges => (
            None,
            200,
            reference("ChangesPage"),
            "Every change to the tenant's synced objects, oldest first, deletions included: follow `next_cursor` (always present; poll again when `has_more` is false). Changes appear once they are older than the horizon (8 s by default), so none is ever skipped; cursors are good for 7 days (then 410)",
        ),
        RouteId::ListMessages => (
            None,
            200,
            page("Message"),
            "A brand's message thread, newest first",
        ),
        RouteId::PostMessage => (
            Some("PostMessageBody"),
            201,
            reference("Message"),
            "Post a message to a brand's thread",
        ),
        RouteId::CreateLinkToken => (
            Some("LinkTokenBody"),
            200,
            json!({ "type": "object", "required": ["link_token"], "additionalProperties": false, "properties": { "link_token": { "type": "string" } } }),
            "Create a Trackstar Link token (tenant_admin)",
        ),
        RouteId::ExchangeAuthCode => (
            Some("ExchangeBody"),
            201,
            reference("ConnectionView"),
            "Exchange a Link auth code for a new connection (tenant_admin); 200 for a reinstall",
        ),
        RouteId::ListConnections => (
            None,
            200,
            json!({ "type": "object", "required": ["items"], "additionalProperties": false, "properties": { "items": { "type": "array", "items": reference("ConnectionView") } } }),
            "The tenant's connections (tenant_admin)",
        ),
        RouteId::DeleteConnection => (
            None,
            200,
            reference("DeletedConnectionView"),
            "Delete a connection: at Trackstar first, then here: its access token is deleted, its sync and webhooks stop, and its data is erased after the grace period unless it is linked again before (tenant_admin)",
        ),
        RouteId::DeleteBrand => (
            None,
            202,
            reference("OffboardingView"),
            "Offboard a brand: export its data, then erase every object and message of it; follow the job with GET /offboardings/{job_id} (tenant_admin)",
        ),
        RouteId::GetOffboarding => (
            None,
            200,
            reference("OffboardingView"),
            "An offboarding job: status, phase, counts, and the export files with download links once exported (tenant_admin)",
        ),
        RouteId::ListAudit => (
            None,
            200,
            page("AuditEntry"),
            "The audit log, newest first (tenant_admin)",
        ),
        RouteId::CreateErasure => (
            Some("ErasureBody"),
            202,
            reference("ErasureView"),
            "Erase a person — an email, or a name with a postal code — from everything the tenant stores, and redact them in whatever the warehouse system sends again; the WMS keeps its own copy (tenant_admin)",
        ),
        RouteId::GetErasure => (
            None,
            200,
            reference("ErasureView"),
            "An erasure of a person: status, counts per kind, erasure time (tenant_admin)",
        ),
        RouteId::RunSync => (
            Some("RunSyncBody"),
            202,
            reference("RunSyncAnswer"),
            "Queue syncs from the warehouse system: one job per (connection, resource) (tenant_admin)",
        ),
        RouteId::Backfill => (
            Some("BackfillBody"),
            202,
            reference("BackfillView"),
            "Ask the warehouse system to re-read one resource of a connection over a window (Trackstar's on-demand sync); its completion queues an incremental sync of the resource (tenant_admin)",
        ),
        RouteId::SyncHealth => (
            None,
            200,
            reference("HealthReport"),
            "Sync health of the caller's connections (brand roles: their brands' only)",
        ),
        RouteId::SyncLag => (
            None,
            200,
            reference("LagReport"),
            "Sync and webhook lag per resource of a brand's connections",
        ),
        RouteId::Replay => (
            Some("ReplayBody"),
            202,
            reference("ReplayAnswer"),
            "Replay the tenant's failed webhook events (spread over time), or queue a sync of a brand's connections; 200 for a dry run (tenant_admin)",
        ),
        RouteId::ListReconciliations => (
            None,
            200,
            page("ReconciliationView"),
            "Reconciliation reports, newest first (brand roles: their brands' only)",
        ),
        RouteId::GetReconciliation => (
            None,
            200,
            reference("ReconciliationView"),
            "A reconciliation report",
        ),
        RouteId::OpenApi => (None, 200, json!({ "type": "object" }), "This document"),
        RouteId::Docs => (
            None,
            200,
            json!({ "type": "string" }),
            "This document as a reference page (HTML, Swagger UI)",
        ),
        RouteId::DocsAsset => (
            None,
            200,
            json!({ "type": "string" }),
            "A script, stylesheet or licence of the reference page",
        ),
    }
}

/// A schema of the type's own (`PartialSchema`), as JSON.
pub(super) fn schema_of<T: PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or_else(|_| json!({}))
}

/// Query parameters of a route: name, schema, description. Every one is optional and may
/// be sent empty (`allowEmptyValue`): an empty value is the same as leaving it out.
pub(super) fn query_parameters(id: RouteId) -> Vec<(&'static str, Value, String)> {
    let limit = (
        "limit",
        json!({ "type": "integer", "minimum": PageLimit::MIN, "maximum": PageLimit::MAX, "default": PageLimit::DEFAULT }),
        "Page size".to_owned(),
    );
    let cursor = (
        "cursor",
        json!({ "type": "string" }),
        "Opaque cursor from `next_cursor` of the previous page, with the same other parameters"
            .to_owned(),
    );
    let brand = (
        "brand_id",
        schema_of::<BrandId>(),
        "Only this brand (required for users of several brands)".to_owned(),
    );
    let since = (
        "updated_since",
        schema_of::<Timestamp>(),
        "Only objects updated at or after".to_owned(),
    );
    // A listing of a mirrored resource: the filters its declaration gives
    // (`api::visible::list` takes the same ones).
    let listing = |spec: &ResourceSpec| {
        let mut out = Vec::new();
        if spec.owner == Owner::Brand {
            out.push(brand.clone());
        }
        if !spec.statuses.is_empty() {
            out.push((
                "status",
                json!({ "type": "string", "enum": spec.statuses }),
                format!("Only {} in this status", spec.name.replace('_', " ")),
            ));
        }
        if spec.warehouse_filter {
            out.push((
                "warehouse_id",
                schema_of::<WarehouseId>(),
                format!("Only {} of this warehouse", spec.name.replace('_', " ")),
            ));
        }
        out.extend([since.clone(), limit.clone(), cursor.clone()]);
        out
    };
    match id {
        RouteId::ListOrders => listing(&Order::SPEC),
        RouteId::ListInventory => listing(&InventoryItem::SPEC),
        RouteId::ListProducts => listing(&Product::SPEC),
        RouteId::ListInboundShipments => listing(&InboundShipment::SPEC),
        RouteId::ListReturns => listing(&Return::SPEC),
        RouteId::ListWarehouses => listing(&Warehouse::SPEC),
        RouteId::ListShippingMethods => listing(&ShippingMethod::SPEC),
        RouteId::ListBills => listing(&Bill::SPEC),
        RouteId::ListChanges => vec![
            (
                "kinds",
                {
                    let names = crate::sync::ResourceKind::ALL
                        .map(|k| k.spec().name)
                        .join("|");
                    json!({ "type": "string", "pattern": format!("^({names})(,({names}))*$") })
                },
                format!(
                    "Only these resources, comma-separated ({})",
                    crate::sync::ResourceKind::ALL
                        .map(|k| k.spec().name)
                        .join(", ")
                ),
            ),
            (
                "brand_id",
                schema_of::<BrandId>(),
                "Only this brand's objects (tenant-wide resources left out)".to_owned(),
            ),
            limit,
            cursor,
        ],
        RouteId::ListMessages | RouteId::ListAudit => vec![limit, cursor],
        RouteId::ListReconciliations => vec![brand, limit, cursor],
        _ => Vec::new(),
    }
}

/// The schema of a path parameter, from the id type the handler parses it into.
pub(super) fn path_parameter(name: &str) -> Value {
    match name {
        "order_id" => schema_of::<OrderId>(),
        "product_id" => schema_of::<ProductId>(),
        "inbound_shipment_id" => schema_of::<InboundShipmentId>(),
        "return_id" => schema_of::<ReturnId>(),
        "warehouse_id" => schema_of::<WarehouseId>(),
        "bill_id" => schema_of::<BillId>(),
        "brand_id" => schema_of::<BrandId>(),
        "erasure_id" => {
            json!({ "type": "string", "pattern": "^era_[A-Za-z0-9]{1,64}$", "maxLength": 68 })
        }
        "sku" => schema_of::<Sku>(),
        "file" => {
            json!({ "type": "string", "enum": docs::ASSETS.iter().map(|a| a.name).collect::<Vec<_>>() })
        }
        _ => json!({ "type": "string", "minLength": 1 }),
    }
}
