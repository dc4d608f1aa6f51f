//! Inbound shipments and returns as a WMS changes them: new ones open, inbound shipments
//! go in transit and are received in receipts (each adds received quantities and moves the
//! status to `receiving`, then `received`), returns move `open → in-transit → receiving →
//! received`.

use chrono::Duration;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::json;

use super::model::{
    InboundReceipt, InboundReceiptLineItem, InboundShipment, ReceivingDetails, Timestamp,
};
use super::mutate::{created, to_value, updated, Change};
use super::ConnectionData;

/// Statuses from which an inbound shipment can still be received.
pub const RECEIVABLE: [&str; 4] = ["open", "in-transit", "receiving", "other"];

fn set_status(status: &mut String, raw: &mut Option<String>, to: &str) {
    *status = to.to_owned();
    *raw = Some(to.to_uppercase());
}

/// A new open inbound shipment like a random one (`inbound-shipment.created`).
pub fn new_inbound(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let mut shipment = data.inbound_shipments.choose(rng)?.clone();
    shipment.id = data.mint_id("ibs");
    shipment.purchase_order_number = Some(format!("PO-{}", shipment.id.trim_start_matches("ibs_")));
    set_status(&mut shipment.status, &mut shipment.raw_status, "open");
    shipment.created_date = now;
    shipment.updated_date = now;
    shipment.expected_arrival_date = Some(now + Duration::days(7));
    shipment.receipts.clear();
    for line in &mut shipment.line_items {
        line.received_quantity = 0;
    }
    let change = created("inbound-shipment.created", &shipment);
    data.inbound_shipments.push(shipment);
    Some(change)
}

/// Moves an open inbound shipment in transit, or the arrival date of one in transit
/// (`inbound-shipment.updated`); a new one when none is left to change.
pub fn update_inbound(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let candidates: Vec<usize> = (0..data.inbound_shipments.len())
        .filter(|i| RECEIVABLE.contains(&data.inbound_shipments[*i].status.as_str()))
        .collect();
    let Some(&index) = candidates.choose(rng) else {
        return new_inbound(data, rng, now);
    };
    let shipment = data.inbound_shipments.get_mut(index)?;
    let before = shipment.clone();
    if shipment.status == "open" {
        set_status(&mut shipment.status, &mut shipment.raw_status, "in-transit");
    } else {
        let eta = shipment.expected_arrival_date.unwrap_or(now);
        shipment.expected_arrival_date = Some(eta + Duration::days(1));
        shipment
            .notes
            .push("Carrier moved the arrival date by a day".to_owned());
    }
    shipment.updated_date = now.max(before.updated_date);
    Some(updated("inbound-shipment.updated", &before, &*shipment))
}

/// Adds a receipt to an inbound shipment that still expects stock
/// (`inbound-shipment.receipt.created`, `previous_attributes: {receipts}`); a new shipment
/// is received when none expects any.
pub fn receive_inbound(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Vec<Change> {
    let outstanding = |s: &InboundShipment| {
        RECEIVABLE.contains(&s.status.as_str())
            && s.line_items
                .iter()
                .any(|l| l.received_quantity < l.expected_quantity)
    };
    let mut changes = Vec::new();
    let mut candidates: Vec<usize> = (0..data.inbound_shipments.len())
        .filter(|i| outstanding(&data.inbound_shipments[*i]))
        .collect();
    if candidates.is_empty() {
        changes.extend(new_inbound(data, rng, now));
        candidates = vec![data.inbound_shipments.len().saturating_sub(1)];
    }
    let Some(&index) = candidates.choose(rng) else {
        return changes;
    };
    let full = rng.random_bool(0.5);
    let receipt_id = data.mint_id("rcp");
    changes.extend(receive(data, index, receipt_id, now, |l| {
        let left = l.expected_quantity - l.received_quantity;
        if full {
            left
        } else {
            (left / 2).max(1)
        }
    }));
    changes
}

/// Receives quantities (per line, as `quantity_of` says, capped to what is still
/// expected) on the shipment at `index` as one receipt; `None` when nothing was received.
pub fn receive(
    data: &mut ConnectionData,
    index: usize,
    receipt_id: String,
    now: Timestamp,
    quantity_of: impl Fn(&super::model::InboundLineItem) -> i64,
) -> Option<Change> {
    let shipment = data.inbound_shipments.get_mut(index)?;
    let before = shipment.clone();
    let mut lines = Vec::new();
    for line in &mut shipment.line_items {
        let left = (line.expected_quantity - line.received_quantity).max(0);
        let quantity = quantity_of(line).clamp(0, left);
        if quantity > 0 {
            line.received_quantity += quantity;
            lines.push(InboundReceiptLineItem {
                inventory_item_id: line.inventory_item_id.clone(),
                sku: line.sku.clone(),
                quantity,
            });
        }
    }
    if lines.is_empty() {
        return None;
    }
    shipment.receipts.push(InboundReceipt {
        id: receipt_id,
        arrived_date: now,
        line_items: lines,
    });
    let done = shipment
        .line_items
        .iter()
        .all(|l| l.received_quantity >= l.expected_quantity);
    let status = if done { "received" } else { "receiving" };
    set_status(&mut shipment.status, &mut shipment.raw_status, status);
    shipment.updated_date = now.max(before.updated_date);
    Some(Change {
        event_type: "inbound-shipment.receipt.created",
        object_id: shipment.id.clone(),
        data: to_value(&*shipment),
        previous_attributes: Some(json!({ "receipts": to_value(&before.receipts) })),
    })
}

/// A new open return like a random one (`return.created`).
pub fn new_return(data: &mut ConnectionData, rng: &mut impl Rng, now: Timestamp) -> Option<Change> {
    let mut ret = data.returns.choose(rng)?.clone();
    ret.id = data.mint_id("ret");
    set_status(&mut ret.status, &mut ret.raw_status, "open");
    ret.created_date = now;
    ret.updated_date = now;
    for line in &mut ret.line_items {
        line.received_quantity = 0;
        line.restocked_quantity = Some(0);
        line.returned_date = Some(now);
    }
    for shipment in &mut ret.shipments {
        shipment.shipped_date = None;
        shipment.arrived_date = None;
        for line in &mut shipment.line_items {
            line.receiving_details.clear();
        }
    }
    let change = created("return.created", &ret);
    data.returns.push(ret);
    Some(change)
}

/// The next status of a return, `None` when it is final.
pub fn next_return_status(status: &str) -> Option<&'static str> {
    Some(match status {
        "open" => "in-transit",
        "in-transit" => "receiving",
        "receiving" | "other" => "received",
        _ => return None,
    })
}

/// Moves a return one step forward (`return.updated`); a new one when all are final.
pub fn advance_return(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    now: Timestamp,
) -> Option<Change> {
    let candidates: Vec<usize> = (0..data.returns.len())
        .filter(|i| next_return_status(&data.returns[*i].status).is_some())
        .collect();
    let Some(&index) = candidates.choose(rng) else {
        return new_return(data, rng, now);
    };
    let ret = data.returns.get_mut(index)?;
    let before = ret.clone();
    let status = next_return_status(&ret.status)?;
    set_status(&mut ret.status, &mut ret.raw_status, status);
    match status {
        "in-transit" => {
            for shipment in &mut ret.shipments {
                shipment.shipped_date = Some(now);
            }
        }
        "received" => {
            for line in &mut ret.line_items {
                line.received_quantity = line.expected_quantity;
                line.restocked_quantity = Some(line.expected_quantity);
            }
            for shipment in &mut ret.shipments {
                shipment.arrived_date = Some(now);
                for line in &mut shipment.line_items {
                    line.receiving_details = vec![ReceivingDetails {
                        quantity: line.quantity,
                        condition: Some("good".to_owned()),
                        disposition: Some("restock".to_owned()),
                    }];
                }
            }
        }
        _ => {}
    }
    ret.updated_date = now.max(before.updated_date);
    Some(updated("return.updated", &before, &*ret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seed::{generate, rng_for, SeedSizes};

    fn data() -> ConnectionData {
        generate(
            5,
            "c",
            &["wc".to_owned()],
            SeedSizes {
                orders: 30,
                inventory: 6,
                products: 6,
                ..Default::default()
            },
        )
    }

    #[test]
    fn receipts_add_received_quantities_until_the_shipment_is_received() {
        // given a new open inbound shipment
        let mut data = data();
        let now = crate::data::now();
        let mut rng = rng_for(5, "r");
        new_inbound(&mut data, &mut rng, now).expect("created");
        let index = data.inbound_shipments.len() - 1;
        let expected: i64 = data.inbound_shipments[index]
            .line_items
            .iter()
            .map(|l| l.expected_quantity)
            .sum();
        // when one unit of each line is received
        let first = receive(&mut data, index, "rcp_1".into(), now, |_| 1).expect("receipt");
        // then the shipment is receiving, with one receipt, and the event names the old receipts
        let shipment = &data.inbound_shipments[index];
        assert_eq!(first.event_type, "inbound-shipment.receipt.created");
        assert_eq!(first.previous_attributes, Some(json!({"receipts": []})));
        assert_eq!(shipment.status, "receiving");
        assert_eq!(shipment.receipts.len(), 1);
        let lines = shipment.line_items.len() as i64;
        assert_eq!(
            shipment
                .line_items
                .iter()
                .map(|l| l.received_quantity)
                .sum::<i64>(),
            lines
        );
        // when everything else arrives (more than expected is capped)
        receive(&mut data, index, "rcp_2".into(), now, |_| i64::MAX).expect("receipt");
        // then it is received in full, and a further receipt receives nothing
        let shipment = &data.inbound_shipments[index];
        assert_eq!(shipment.status, "received");
        assert_eq!(shipment.receipts.len(), 2);
        assert_eq!(
            shipment
                .line_items
                .iter()
                .map(|l| l.received_quantity)
                .sum::<i64>(),
            expected
        );
        assert!(receive(&mut data, index, "rcp_3".into(), now, |_| 1).is_none());
    }

    #[test]
    fn returns_advance_to_received_and_then_a_new_one_opens() {
        let mut data = data();
        let now = crate::data::now();
        let mut rng = rng_for(5, "ret");
        for _ in 0..40 {
            advance_return(&mut data, &mut rng, now);
        }
        let received = data
            .returns
            .iter()
            .filter(|r| r.status == "received")
            .count();
        assert!(received > 0);
        for r in data
            .returns
            .iter()
            .filter(|r| r.status == "received" && r.updated_date == now)
        {
            assert!(r
                .line_items
                .iter()
                .all(|l| l.received_quantity == l.expected_quantity));
        }
        assert_eq!(next_return_status("cancelled"), None);
    }
}
