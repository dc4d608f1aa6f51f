//! Counting per event id, at the wire: the fault proxy's tap sees every answer the
//! emulator gave to webhook-processor, and a receipt write that recorded a final verdict
//! (`applied`, `stale`, `ignored`: an `UpdateItem` of `T#<tenant>#EVT#<event id>` /
//! `RECEIPT` setting `:state` to one of them, answered 200) is the processor taking the
//! event as done. Its condition lets only the first such write through, so an event with
//! two is one the processor finished twice; one with none was never finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::faultproxy::{Exchange, Service, Tap};

const FINAL_STATES: [&str; 3] = ["applied", "stale", "ignored"];

/// What the tap counted.
#[derive(Debug, Default)]
struct Counts {
    /// Final verdicts the emulator accepted, per event id.
    final_verdicts: HashMap<String, u32>,
    /// Verdict writes the emulator refused (the condition found a final verdict): the
    /// processor telling a duplicate.
    refused_verdicts: u64,
    /// Accepted final verdicts whose answer the proxy replaced with a 500: the processor's
    /// retry finds the verdict recorded and takes the event for a duplicate.
    lost_verdict_answers: u64,
    /// Object writes the emulator accepted (the only-if-newer `UpdateItem` of an order,
    /// inventory item or product — a `PutItem` before the changes feed — took effect).
    object_writes: u64,
    /// Object writes refused by their only-if-newer condition.
    object_writes_refused: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    counts: Arc<Mutex<Counts>>,
}

/// The ledger's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub final_verdicts: HashMap<String, u32>,
    pub refused_verdicts: u64,
    pub lost_verdict_answers: u64,
    pub object_writes: u64,
    pub object_writes_refused: u64,
}

impl Ledger {
    /// The tap to give the fault proxy.
    pub fn tap(&self) -> Tap {
        let counts = Arc::clone(&self.counts);
        Arc::new(move |exchange: &Exchange<'_>| {
            if exchange.service != Service::DynamoDb {
                return;
            }
            let seen = observe(exchange.operation, exchange.request, exchange.status);
            if seen == Seen::Nothing {
                return;
            }
            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
            match seen {
                Seen::FinalVerdict(event_id) => {
                    *counts.final_verdicts.entry(event_id).or_default() += 1;
                    counts.lost_verdict_answers += u64::from(exchange.fault.is_some());
                }
                Seen::RefusedVerdict => counts.refused_verdicts += 1,
                Seen::ObjectWrite => counts.object_writes += 1,
                Seen::ObjectWriteRefused => counts.object_writes_refused += 1,
                Seen::Nothing => {}
            }
        })
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        LedgerSnapshot {
            final_verdicts: counts.final_verdicts.clone(),
            refused_verdicts: counts.refused_verdicts,
            lost_verdict_answers: counts.lost_verdict_answers,
            object_writes: counts.object_writes,
            object_writes_refused: counts.object_writes_refused,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    FinalVerdict(String),
    RefusedVerdict,
    ObjectWrite,
    ObjectWriteRefused,
    Nothing,
}

/// What one DynamoDB request and its status mean for the ledger.
fn observe(operation: &str, request: &[u8], status: u16) -> Seen {
    if !matches!(operation, "UpdateItem" | "PutItem") {
        return Seen::Nothing;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(request) else {
        return Seen::Nothing;
    };
    let key = |name: &str| {
        body["Key"][name]["S"]
            .as_str()
            .or_else(|| body["Item"][name]["S"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (pk, sk) = (key("pk"), key("sk"));
    if operation == "UpdateItem" && sk == "RECEIPT" {
        let Some((_, event_id)) = pk.split_once("#EVT#") else {
            return Seen::Nothing;
        };
        let state = body["ExpressionAttributeValues"][":state"]["S"]
            .as_str()
            .unwrap_or_default();
        if !FINAL_STATES.contains(&state) {
            return Seen::Nothing;
        }
        return match status {
            200 => Seen::FinalVerdict(event_id.to_owned()),
            400 => Seen::RefusedVerdict,
            _ => Seen::Nothing,
        };
    }
    let object = ["#ORDER#", "#INVENTORY#", "#PRODUCT#"]
        .iter()
        .any(|kind| pk.contains(kind));
    // The upsert: an UpdateItem under the only-if-newer condition on the version (`#u`);
    // other updates of an object's item (a tombstone) are not upserts.
    let upsert = operation == "PutItem"
        || body["ExpressionAttributeNames"]["#u"].as_str() == Some("updated_us");
    if object && upsert {
        return match status {
            200 => Seen::ObjectWrite,
            400 => Seen::ObjectWriteRefused,
            _ => Seen::Nothing,
        };
    }
    Seen::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(state: &str) -> Vec<u8> {
        serde_json::json!({
            "TableName": "t",
            "Key": {"pk": {"S": "T#acme#EVT#msg_1"}, "sk": {"S": "RECEIPT"}},
            "ExpressionAttributeValues": {":state": {"S": state}},
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn an_accepted_final_verdict_counts_for_its_event() {
        assert_eq!(
            observe("UpdateItem", &verdict("applied"), 200),
            Seen::FinalVerdict("msg_1".into())
        );
        assert_eq!(
            observe("UpdateItem", &verdict("stale"), 400),
            Seen::RefusedVerdict
        );
        // a failure verdict is not final; a 500 took no effect that the tap can tell
        assert_eq!(
            observe("UpdateItem", &verdict("failed"), 200),
            Seen::Nothing
        );
        assert_eq!(
            observe("UpdateItem", &verdict("applied"), 500),
            Seen::Nothing
        );
    }

    #[test]
    fn object_upserts_are_counted_apart_from_other_writes() {
        let put = |pk: &str| {
            serde_json::json!({"Item": {"pk": {"S": pk}, "sk": {"S": "x"}}})
                .to_string()
                .into_bytes()
        };
        assert_eq!(
            observe("PutItem", &put("T#acme#ORDER#o1"), 200),
            Seen::ObjectWrite
        );
        assert_eq!(
            observe("PutItem", &put("T#acme#PRODUCT#p1"), 400),
            Seen::ObjectWriteRefused
        );
        assert_eq!(
            observe("PutItem", &put("T#acme#WHSTATS"), 200),
            Seen::Nothing
        );
        assert_eq!(
            observe("GetItem", &put("T#acme#ORDER#o1"), 200),
            Seen::Nothing
        );
        // the upsert as the store sends it now: an UpdateItem under the version condition
        let upsert = |pk: &str| {
            serde_json::json!({
                "Key": {"pk": {"S": pk}, "sk": {"S": "ORDER"}},
                "ExpressionAttributeNames": {"#pk": "pk", "#u": "updated_us"},
            })
            .to_string()
            .into_bytes()
        };
        assert_eq!(
            observe("UpdateItem", &upsert("T#acme#ORDER#o1"), 200),
            Seen::ObjectWrite
        );
        assert_eq!(
            observe("UpdateItem", &upsert("T#acme#ORDER#o1"), 400),
            Seen::ObjectWriteRefused
        );
        // a tombstone is not an upsert
        assert_eq!(
            observe("UpdateItem", &put("T#acme#ORDER#o1"), 200),
            Seen::Nothing
        );
    }
}
