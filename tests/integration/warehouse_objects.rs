//! Builders of the warehouse resources' domain objects (inbound shipments, returns,
//! warehouses, shipping methods, bills), for seeding the table directly.

#![allow(dead_code)] // shared by the api_warehouse* test modules; each uses a part

use packr::domain::{
    Bill, BillId, BrandId, ConnectionId, Currency, InboundLineItem, InboundShipment,
    InboundShipmentId, InboundShipmentStatus, Return, ReturnId, ReturnLineItem, ReturnStatus,
    ShippingMethod, ShippingMethodId, Sku, TenantId, Warehouse, WarehouseId,
};

use crate::api_support::{CONN_ACME, CONN_GLOBEX, GLOBEX};
use crate::helpers::{at, usd};

/// The connection a tenant of the API stack syncs through.
pub fn conn_of(t: &TenantId) -> ConnectionId {
    ConnectionId::parse(if t.as_str() == GLOBEX {
        CONN_GLOBEX
    } else {
        CONN_ACME
    })
    .unwrap()
}

pub fn inbound(
    t: &TenantId,
    id: &str,
    brand: Option<&BrandId>,
    status: InboundShipmentStatus,
    warehouse: &str,
    updated: i64,
) -> InboundShipment {
    InboundShipment {
        id: InboundShipmentId::parse(id).unwrap(),
        tenant_id: t.clone(),
        brand_id: brand.cloned(),
        connection_id: conn_of(t),
        warehouse_customer_id: None,
        warehouse_id: Some(WarehouseId::parse(warehouse).unwrap()),
        purchase_order_number: Some(format!("PO-{id}")),
        supplier: Some("Acme Textiles".into()),
        supplier_id: None,
        status,
        raw_status: None,
        expected_arrival_date: Some(at(86_400)),
        tracking_numbers: vec!["1Z999".into()],
        line_items: vec![InboundLineItem {
            inventory_item_id: None,
            sku: Sku::parse("TEE-BLK-L").unwrap(),
            expected_quantity: 100,
            received_quantity: 0,
            unit_cost: None,
            external_id: None,
        }],
        receipts: vec![],
        ship_from_address: None,
        notes: vec![],
        external_system_url: None,
        tags: vec![],
        created_date: at(0),
        updated_date: at(updated),
    }
}

pub fn a_return(
    t: &TenantId,
    id: &str,
    brand: Option<&BrandId>,
    status: ReturnStatus,
    warehouse: &str,
    updated: i64,
) -> Return {
    Return {
        id: ReturnId::parse(id).unwrap(),
        tenant_id: t.clone(),
        brand_id: brand.cloned(),
        connection_id: conn_of(t),
        warehouse_customer_id: None,
        warehouse_id: Some(WarehouseId::parse(warehouse).unwrap()),
        order_id: None,
        status,
        raw_status: None,
        tracking_numbers: vec![],
        line_items: vec![ReturnLineItem {
            inventory_item_id: None,
            sku: Sku::parse("TEE-BLK-L").unwrap(),
            quantity: 1,
            expected_quantity: 1,
            received_quantity: 0,
            restocked_quantity: 0,
            return_reason: Some("too small".into()),
        }],
        shipments: vec![],
        notes: vec![],
        external_system_url: None,
        tags: vec![],
        created_date: at(0),
        updated_date: at(updated),
    }
}

pub fn warehouse(t: &TenantId, id: &str, updated: i64) -> Warehouse {
    Warehouse {
        id: WarehouseId::parse(id).unwrap(),
        tenant_id: t.clone(),
        connection_id: conn_of(t),
        name: Some(format!("Warehouse {id}")),
        code: Some(id.to_uppercase()),
        address: None,
        tags: vec![],
        created_date: at(0),
        updated_date: at(updated),
    }
}

pub fn shipping_method(t: &TenantId, id: &str, updated: i64) -> ShippingMethod {
    ShippingMethod {
        id: ShippingMethodId::parse(id).unwrap(),
        tenant_id: t.clone(),
        connection_id: conn_of(t),
        name: Some(format!("Method {id}")),
        carrier_id: Some("ups".into()),
        carrier: Some("UPS".into()),
        scac: Some("UPSN".into()),
        created_date: at(0),
        updated_date: at(updated),
    }
}

pub fn bill(t: &TenantId, id: &str, brand: Option<&BrandId>, updated: i64) -> Bill {
    Bill {
        id: BillId::parse(id).unwrap(),
        tenant_id: t.clone(),
        brand_id: brand.cloned(),
        connection_id: conn_of(t),
        warehouse_customer_id: None,
        object_id: Some("ord_1".into()),
        object_type: Some("order".into()),
        charge_type: Some("pick_fee".into()),
        currency: Currency::parse("USD").unwrap(),
        amount: Some(usd(1_25)),
        created_date: at(0),
        updated_date: at(updated),
    }
}
