//! Counting per event id, at the wire: the fault proxy's tap sees every answer the
//! emulator gave to webhook-processor, and a receipt write that recorded a final verdict
//! (`applied`, `stale`, `ignored`: an `UpdateItem` of `T#<tenant>#EVT#<event id>` /
//! `RECEIPT` setting `:state` to one of them, answered 200) is the processor taking the
//! event as done. Its condition lets only the first such write through, so an event with
//! two is one the processor finished twice; one with none was never finished.
//!
//! For the sync phase it also keeps, in the order the emulator applied them (the proxy
//! holds one item's conditional writes until the tap has seen the answer): the version
//! (`:u`, the object's `updated_date` in µs) of every accepted object upsert, per item;
//! the watermark (`:w`) of every accepted completion of a sync run, per job; and the
//! writes of the sync state that the fencing token refused, per job.

use std::collections::{BTreeMap, HashMap};
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
    /// Accepted upserts' versions, per item (`pk`), in the order they were applied.
    versions: HashMap<String, Vec<i64>>,
    /// Accepted run completions' watermarks, per job (`pk`), in the order applied.
    watermarks: BTreeMap<String, Vec<String>>,
    /// Sync-state writes the fencing token refused, per job (`pk`).
    fenced: BTreeMap<String, u64>,
    /// Leases granted (accepted acquires, each a new fencing token).
    leases: u64,
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
    pub versions: HashMap<String, Vec<i64>>,
    pub watermarks: BTreeMap<String, Vec<String>>,
    pub fenced: BTreeMap<String, u64>,
    pub leases: u64,
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
                Seen::ObjectWrite { item, version } => {
                    counts.object_writes += 1;
                    if let Some(version) = version {
                        counts.versions.entry(item).or_default().push(version);
                    }
                }
                Seen::ObjectWriteRefused => counts.object_writes_refused += 1,
                Seen::Watermark { job, watermark } => {
                    counts.watermarks.entry(job).or_default().push(watermark);
                }
                Seen::Fenced { job } => *counts.fenced.entry(job).or_default() += 1,
                Seen::LeaseGranted => counts.leases += 1,
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
            versions: counts.versions.clone(),
            watermarks: counts.watermarks.clone(),
            fenced: counts.fenced.clone(),
            leases: counts.leases,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    FinalVerdict(String),
    RefusedVerdict,
    /// An accepted upsert of `item` (`pk`), with the version it wrote.
    ObjectWrite {
        item: String,
        version: Option<i64>,
    },
    ObjectWriteRefused,
    /// An accepted completion of a sync run moving the job's watermark.
    Watermark {
        job: String,
        watermark: String,
    },
    /// A write of a job's state refused by its fencing token.
    Fenced {
        job: String,
    },
    LeaseGranted,
    Nothing,
}

/// The sync state's fenced writes carry this condition (`sync::dynamo`).
const FENCE_CONDITION: &str = "fence = :token";

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
    if operation == "UpdateItem" && sk == "SYNC" && pk.contains("#SYNC#") {
        return observe_sync_state(&body, pk, status);
    }
    let object = packr::resource::ResourceKind::ALL
        .iter()
        .any(|kind| pk.contains(&format!("#{}#", kind.spec().key)));
    // The upsert: an UpdateItem under the only-if-newer condition on the version (`#u`);
    // other updates of an object's item (a tombstone) are not upserts.
    let upsert = operation == "PutItem"
        || body["ExpressionAttributeNames"]["#u"].as_str() == Some("updated_us");
    if object && upsert {
        let version = body["ExpressionAttributeValues"][":u"]["N"]
            .as_str()
            .or_else(|| body["Item"]["updated_us"]["N"].as_str())
            .and_then(|v| v.parse::<i64>().ok());
        return match status {
            200 => Seen::ObjectWrite { item: pk, version },
            400 => Seen::ObjectWriteRefused,
            _ => Seen::Nothing,
        };
    }
    Seen::Nothing
}

/// A write of a job's sync state: a lease granted, a watermark moved, or a fenced write
/// refused.
fn observe_sync_state(body: &serde_json::Value, job: String, status: u16) -> Seen {
    let condition = body["ConditionExpression"].as_str().unwrap_or_default();
    let values = &body["ExpressionAttributeValues"];
    let fenced = condition.contains(FENCE_CONDITION);
    match status {
        400 if fenced => Seen::Fenced { job },
        200 if fenced => match values[":w"]["S"].as_str() {
            Some(watermark) => Seen::Watermark {
                job,
                watermark: watermark.to_owned(),
            },
            None => Seen::Nothing,
        },
        // The acquire: `fence = if_not_exists(fence, :zero) + :one`.
        200 if body["UpdateExpression"]
            .as_str()
            .is_some_and(|e| e.contains("fence = if_not_exists")) =>
        {
            Seen::LeaseGranted
        }
        _ => Seen::Nothing,
    }
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
            Seen::ObjectWrite {
                item: "T#acme#ORDER#o1".into(),
                version: None
            }
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
                "ExpressionAttributeValues": {":u": {"N": "1700000000000000"}},
            })
            .to_string()
            .into_bytes()
        };
        assert_eq!(
            observe("UpdateItem", &upsert("T#acme#ORDER#o1"), 200),
            Seen::ObjectWrite {
                item: "T#acme#ORDER#o1".into(),
                version: Some(1_700_000_000_000_000)
            }
        );
        // every kind of the resource model, not only the webhook phase's three
        assert!(matches!(
            observe("UpdateItem", &upsert("T#acme#BILL#b1"), 200),
            Seen::ObjectWrite { .. }
        ));
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

    #[test]
    fn sync_state_writes_show_leases_watermarks_and_fenced_refusals() {
        let pk = "T#acme#SYNC#conn_1#orders";
        let write = |update: &str, condition: &str, values: serde_json::Value| {
            serde_json::json!({
                "Key": {"pk": {"S": pk}, "sk": {"S": "SYNC"}},
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            })
            .to_string()
            .into_bytes()
        };
        let fenced = "fence = :token AND lease_owner = :owner";
        let complete = write(
            "SET watermark = :w, last_run = :run",
            fenced,
            serde_json::json!({":w": {"S": "2026-01-01T00:00:00Z"}, ":token": {"N": "3"}}),
        );
        assert_eq!(
            observe("UpdateItem", &complete, 200),
            Seen::Watermark {
                job: pk.into(),
                watermark: "2026-01-01T00:00:00Z".into()
            }
        );
        // the same write refused by the fence, and a refused checkpoint
        assert_eq!(
            observe("UpdateItem", &complete, 400),
            Seen::Fenced { job: pk.into() }
        );
        let checkpoint = write(
            "SET checkpoint = :cp",
            fenced,
            serde_json::json!({":cp": {"M": {}}}),
        );
        assert_eq!(
            observe("UpdateItem", &checkpoint, 400),
            Seen::Fenced { job: pk.into() }
        );
        assert_eq!(observe("UpdateItem", &checkpoint, 200), Seen::Nothing);
        let acquire = write(
            "SET lease_owner = :owner, fence = if_not_exists(fence, :zero) + :one",
            "attribute_not_exists(lease_expires_us) OR lease_expires_us <= :now",
            serde_json::json!({}),
        );
        assert_eq!(observe("UpdateItem", &acquire, 200), Seen::LeaseGranted);
        // a lease still held is not a fenced refusal
        assert_eq!(observe("UpdateItem", &acquire, 400), Seen::Nothing);
    }
}
