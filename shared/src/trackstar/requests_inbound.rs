//! Write request bodies for goods coming *into* a warehouse: inbound shipments (ASNs,
//! `POST /wms/inbound-shipments`, `PUT /wms/inbound-shipments/{id}`) and returns
//! (`POST /wms/returns`), after Trackstar's base request schemas. As for orders, unset and
//! blank optional fields are left out of the JSON (Trackstar rejects `null` and `""`).
//! `validate` refuses, before anything is sent, what Trackstar would refuse: a blank
//! required field, no line items, a quantity that is not positive, an update that changes
//! nothing. Each error names the field.

use serde::{Serialize, Serializer};

use crate::domain::{OrderId, Sku, Timestamp, WarehouseCustomerId, WarehouseId};

/// Why a write request was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRequestError {
    #[error("`{field}` is required and must not be blank")]
    Blank { field: &'static str },
    #[error("`{field}` must hold at least one line item")]
    NoLineItems { field: &'static str },
    #[error("`{list}[{index}].{field}` must be greater than zero")]
    NotPositive {
        list: &'static str,
        index: usize,
        field: &'static str,
    },
    #[error("the update changes no field")]
    NothingToChange,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

fn require(value: &str, field: &'static str) -> Result<(), WriteRequestError> {
    if value.trim().is_empty() {
        return Err(WriteRequestError::Blank { field });
    }
    Ok(())
}

/// The supplier Trackstar's `supplier_object` names: by the WMS's id or by name. Not every
/// integration accepts the object (the sandbox takes only the `supplier` string), so it is
/// sent only when set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupplierRef {
    Id(String),
    Name(String),
}

impl Serialize for SupplierRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Self::Id(id) => map.serialize_entry("supplier_id", id)?,
            Self::Name(name) => map.serialize_entry("supplier_name", name)?,
        }
        map.end()
    }
}

impl SupplierRef {
    fn check(&self) -> Result<(), WriteRequestError> {
        match self {
            Self::Id(id) => require(id, "supplier_object.supplier_id"),
            Self::Name(name) => require(name, "supplier_object.supplier_name"),
        }
    }
}

/// One SKU expected on an inbound shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundWriteLine {
    pub sku: Sku,
    pub expected_quantity: i64,
}

fn check_lines<T>(
    lines: &[T],
    quantity_field: &'static str,
    quantity: impl Fn(&T) -> i64,
) -> Result<(), WriteRequestError> {
    match lines.iter().position(|line| quantity(line) <= 0) {
        Some(index) => Err(WriteRequestError::NotPositive {
            list: "line_items",
            index,
            field: quantity_field,
        }),
        None => Ok(()),
    }
}

/// `POST /wms/inbound-shipments`: the fields Trackstar's base schema requires are required
/// here (`supplier_object` aside, see [`SupplierRef`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateInboundShipmentRequest {
    pub warehouse_id: WarehouseId,
    pub purchase_order_number: String,
    /// The supplier's name (Trackstar's `supplier`).
    pub supplier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_object: Option<SupplierRef>,
    pub expected_arrival_date: Timestamp,
    pub tracking_number: String,
    pub line_items: Vec<InboundWriteLine>,
    /// For a 3PL acting on behalf of one of its brands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

impl CreateInboundShipmentRequest {
    pub fn validate(&self) -> Result<(), WriteRequestError> {
        require(&self.purchase_order_number, "purchase_order_number")?;
        require(&self.supplier, "supplier")?;
        require(&self.tracking_number, "tracking_number")?;
        if let Some(supplier) = &self.supplier_object {
            supplier.check()?;
        }
        if self.line_items.is_empty() {
            return Err(WriteRequestError::NoLineItems {
                field: "line_items",
            });
        }
        check_lines(&self.line_items, "expected_quantity", |l| {
            l.expected_quantity
        })
    }
}

/// `PUT /wms/inbound-shipments/{id}` with only the fields that change. Blank strings count
/// as unset. Given line items replace the shipment's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateInboundShipmentRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    #[serde(skip_serializing_if = "blank")]
    pub purchase_order_number: Option<String>,
    #[serde(skip_serializing_if = "blank")]
    pub supplier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_object: Option<SupplierRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_arrival_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "blank")]
    pub tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<InboundWriteLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

impl UpdateInboundShipmentRequest {
    pub fn validate(&self) -> Result<(), WriteRequestError> {
        let changes_something = self.warehouse_id.is_some()
            || !blank(&self.purchase_order_number)
            || !blank(&self.supplier)
            || self.supplier_object.is_some()
            || self.expected_arrival_date.is_some()
            || !blank(&self.tracking_number)
            || !self.line_items.is_empty()
            || !self.trackstar_tags.is_empty();
        if !changes_something {
            return Err(WriteRequestError::NothingToChange);
        }
        if let Some(supplier) = &self.supplier_object {
            supplier.check()?;
        }
        check_lines(&self.line_items, "expected_quantity", |l| {
            l.expected_quantity
        })
    }
}

/// One SKU coming back on a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnWriteLine {
    pub sku: Sku,
    pub quantity: i64,
}

/// `POST /wms/returns`. Trackstar's base schema requires no field; a return without line
/// items could never be received, so at least one is required here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateReturnRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<WarehouseId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub line_items: Vec<ReturnWriteLine>,
    /// For a 3PL acting on behalf of one of its brands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_customer_id: Option<WarehouseCustomerId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trackstar_tags: Vec<String>,
}

impl CreateReturnRequest {
    pub fn new(line_items: Vec<ReturnWriteLine>) -> Self {
        Self {
            warehouse_id: None,
            order_id: None,
            line_items,
            warehouse_customer_id: None,
            trackstar_tags: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), WriteRequestError> {
        if self.line_items.is_empty() {
            return Err(WriteRequestError::NoLineItems {
                field: "line_items",
            });
        }
        check_lines(&self.line_items, "quantity", |l| l.quantity)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn asn() -> CreateInboundShipmentRequest {
        CreateInboundShipmentRequest {
            warehouse_id: WarehouseId::parse("wh_1").unwrap(),
            purchase_order_number: "PO-77".into(),
            supplier: "Acme Textiles".into(),
            supplier_object: None,
            expected_arrival_date: Timestamp::parse("2024-04-10T00:00:00Z").unwrap(),
            tracking_number: "1Z111".into(),
            line_items: vec![InboundWriteLine {
                sku: sku("TEE-1"),
                expected_quantity: 100,
            }],
            warehouse_customer_id: None,
            trackstar_tags: Vec::new(),
        }
    }

    #[test]
    fn an_inbound_shipment_serializes_as_trackstars_create_body() {
        // given a valid ASN for a brand, with a supplier object
        let request = CreateInboundShipmentRequest {
            supplier_object: Some(SupplierRef::Id("sup_9".into())),
            warehouse_customer_id: Some(WarehouseCustomerId::parse("wc_1").unwrap()),
            ..asn()
        };
        // when validated and serialized
        request.validate().unwrap();
        let body = serde_json::to_value(&request).unwrap();
        // then the body is Trackstar's base shape, nothing null
        assert_eq!(
            body,
            json!({
                "warehouse_id": "wh_1",
                "purchase_order_number": "PO-77",
                "supplier": "Acme Textiles",
                "supplier_object": {"supplier_id": "sup_9"},
                "expected_arrival_date": "2024-04-10T00:00:00Z",
                "tracking_number": "1Z111",
                "line_items": [{"sku": "TEE-1", "expected_quantity": 100}],
                "warehouse_customer_id": "wc_1",
            })
        );
    }

    #[test]
    fn without_a_supplier_object_only_the_supplier_string_goes_out() {
        let body = serde_json::to_value(asn()).unwrap();
        assert!(body.get("supplier_object").is_none());
        assert!(body.get("warehouse_customer_id").is_none());
        assert!(body.get("trackstar_tags").is_none());
        let by_name = SupplierRef::Name("Acme".into());
        assert_eq!(
            serde_json::to_value(by_name).unwrap(),
            json!({"supplier_name": "Acme"})
        );
    }

    #[test]
    fn an_inbound_shipment_missing_what_trackstar_requires_is_refused_naming_the_field() {
        let mut request = asn();
        request.purchase_order_number = "  ".into();
        assert_eq!(
            request.validate(),
            Err(WriteRequestError::Blank {
                field: "purchase_order_number"
            })
        );
        let mut request = asn();
        request.supplier = String::new();
        assert_eq!(
            request.validate(),
            Err(WriteRequestError::Blank { field: "supplier" })
        );
        let mut request = asn();
        request.tracking_number = String::new();
        assert_eq!(
            request.validate(),
            Err(WriteRequestError::Blank {
                field: "tracking_number"
            })
        );
        let mut request = asn();
        request.supplier_object = Some(SupplierRef::Name(" ".into()));
        assert_eq!(
            request.validate(),
            Err(WriteRequestError::Blank {
                field: "supplier_object.supplier_name"
            })
        );
        let mut request = asn();
        request.line_items.clear();
        assert_eq!(
            request.validate(),
            Err(WriteRequestError::NoLineItems {
                field: "line_items"
            })
        );
    }

    #[test]
    fn a_line_with_no_units_is_refused_with_its_index() {
        let mut request = asn();
        request.line_items.push(InboundWriteLine {
            sku: sku("TEE-2"),
            expected_quantity: 0,
        });
        let err = request.validate().unwrap_err();
        assert_eq!(
            err,
            WriteRequestError::NotPositive {
                list: "line_items",
                index: 1,
                field: "expected_quantity"
            }
        );
        assert_eq!(
            err.to_string(),
            "`line_items[1].expected_quantity` must be greater than zero"
        );
    }

    #[test]
    fn an_inbound_update_carries_only_what_changes() {
        // given an update of the arrival date and a blank tracking number
        let request = UpdateInboundShipmentRequest {
            expected_arrival_date: Some(Timestamp::parse("2024-04-12T08:30:00Z").unwrap()),
            tracking_number: Some("".into()),
            ..UpdateInboundShipmentRequest::default()
        };
        // then it is valid and only the date goes out
        request.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"expected_arrival_date": "2024-04-12T08:30:00Z"})
        );
    }

    #[test]
    fn an_inbound_update_that_changes_nothing_or_zeroes_a_line_is_refused() {
        let blank_only = UpdateInboundShipmentRequest {
            supplier: Some(" ".into()),
            ..UpdateInboundShipmentRequest::default()
        };
        assert_eq!(
            blank_only.validate(),
            Err(WriteRequestError::NothingToChange)
        );
        let negative = UpdateInboundShipmentRequest {
            line_items: vec![InboundWriteLine {
                sku: sku("TEE-1"),
                expected_quantity: -3,
            }],
            ..UpdateInboundShipmentRequest::default()
        };
        assert!(matches!(
            negative.validate(),
            Err(WriteRequestError::NotPositive { index: 0, .. })
        ));
    }

    #[test]
    fn a_return_serializes_as_trackstars_create_body() {
        let request = CreateReturnRequest {
            warehouse_id: Some(WarehouseId::parse("wh_1").unwrap()),
            order_id: Some(OrderId::parse("ord_1").unwrap()),
            trackstar_tags: vec!["rma".into()],
            ..CreateReturnRequest::new(vec![ReturnWriteLine {
                sku: sku("TEE-1"),
                quantity: 2,
            }])
        };
        request.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "warehouse_id": "wh_1",
                "order_id": "ord_1",
                "line_items": [{"sku": "TEE-1", "quantity": 2}],
                "trackstar_tags": ["rma"],
            })
        );
        // the minimal return is its lines alone
        let minimal = CreateReturnRequest::new(vec![ReturnWriteLine {
            sku: sku("A"),
            quantity: 1,
        }]);
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"line_items": [{"sku": "A", "quantity": 1}]})
        );
    }

    #[test]
    fn a_return_without_lines_or_with_a_zero_quantity_is_refused() {
        assert_eq!(
            CreateReturnRequest::new(Vec::new()).validate(),
            Err(WriteRequestError::NoLineItems {
                field: "line_items"
            })
        );
        let zero = CreateReturnRequest::new(vec![ReturnWriteLine {
            sku: sku("A"),
            quantity: 0,
        }]);
        assert_eq!(
            zero.validate(),
            Err(WriteRequestError::NotPositive {
                list: "line_items",
                index: 0,
                field: "quantity"
            })
        );
    }
}
