//! The emulator's request recorder (`/moto-api/recorder/…`) read as DynamoDB bills:
//! calls per operation, the items of object writes and their sizes, write units as
//! ⌈size / 1 KB⌉ for the table and every projection-ALL GSI the item has keys for, plus one
//! unit for the changes feed's small `gsi5` entry. Object writes are `PutItem`s (older
//! stores) or the store's set-every-attribute `UpdateItem`s (`conditional_upsert`), whose
//! item is rebuilt from the request ([`object_update`]). Used by the benchmarks (moto's own
//! `ConsumedCapacity` is a constant per call). Hand-written: the recorder's format is
//! moto's own.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;

/// Partition keys of the GSIs that project ALL: an entry is a copy of the item.
pub const GSI_KEYS: [&str; 4] = ["gsi1pk", "gsi2pk", "gsi3pk", "gsi4pk"];
/// The partition key of the changes feed's index (`gsi5`, projection INCLUDE `brand_id`,
/// `deleted_at`, `created_us`): its entry is under 1 KB, one write unit per object write
/// (an update moving the entry is billed a second one for deleting the old entry; see
/// BENCHMARKS.md).
pub const FEED_KEY: &str = "chgpk";
/// Attributes of a `gsi5` entry as stored: the table's and the index's keys, the projected.
pub const FEED_ENTRY_ATTRIBUTES: [&str; 7] = [
    "pk",
    "sk",
    "chgpk",
    "chgsk",
    "brand_id",
    "deleted_at",
    "created_us",
];

/// The attributes the changes feed added to every object item (`written_at` was there
/// before it): what an item weighed without them tells the feed's share of its units.
pub const FEED_ATTRIBUTES: [&str; 4] = ["chgpk", "chgsk", "created_us", "brand_id"];

/// Write units of an object write of `item` as the store billed before the feed: the item
/// without [`FEED_ATTRIBUTES`], ⌈size / 1 KB⌉ for the table and each projection-ALL GSI.
pub fn pre_feed_units(item: &serde_json::Map<String, serde_json::Value>) -> u64 {
    let size: usize = item
        .iter()
        .filter(|(name, _)| !FEED_ATTRIBUTES.contains(&name.as_str()))
        .map(|(name, v)| name.len() + value_size(v))
        .sum();
    let copies = 1 + GSI_KEYS.iter().filter(|k| item.contains_key(**k)).count() as u64;
    copies * size.div_ceil(1024) as u64
}

/// Write units of the GSI entries an object write of `item` (of `size` bytes) carries:
/// ⌈size / 1 KB⌉ per projection-ALL index it has keys for, 1 for the feed's.
pub fn index_units(item: &serde_json::Map<String, serde_json::Value>, size: usize) -> u64 {
    let copies = GSI_KEYS.iter().filter(|k| item.contains_key(**k)).count() as u64;
    copies * size.div_ceil(1024) as u64 + u64::from(item.contains_key(FEED_KEY))
}

/// DynamoDB's item size of an attribute value in DynamoDB JSON.
pub fn value_size(value: &serde_json::Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => v.as_str().map_or(0, str::len),
        "N" => v
            .as_str()
            .map_or(0, |n| n.trim_start_matches('-').len().div_ceil(2) + 1),
        "B" => v.as_str().map_or(0, base64_len),
        "BOOL" | "NULL" => 1,
        "SS" | "NS" => v.as_array().map_or(0, |a| {
            a.iter().map(|s| s.as_str().map_or(0, str::len)).sum()
        }),
        "BS" => v.as_array().map_or(0, |a| {
            a.iter().map(|s| s.as_str().map_or(0, base64_len)).sum()
        }),
        "L" => {
            3 + v
                .as_array()
                .map_or(0, |a| a.iter().map(|e| 1 + value_size(e)).sum::<usize>())
        }
        "M" => {
            3 + v.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(name, e)| 1 + name.len() + value_size(e))
                    .sum::<usize>()
            })
        }
        _ => 0,
    }
}

/// The bytes a base64 text (with its `=` padding) decodes to.
fn base64_len(text: &str) -> usize {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    (text.len() * 3 / 4).saturating_sub(padding)
}

pub fn item_size(item: &serde_json::Map<String, serde_json::Value>) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

/// DynamoDB's item size of an item as the SDK holds it (attribute names plus values).
pub fn attribute_item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value(e)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, e)| 1 + k.len() + value(e)).sum::<usize>()
            }
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().map(String::len).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// An attribute value in DynamoDB JSON (as the recorder holds it) as the SDK's; binary
/// values (base64 in the JSON) keep their bytes, so a copied item has the original's size.
pub fn to_attribute(value: &serde_json::Value) -> AttributeValue {
    let Some((kind, v)) = value.as_object().and_then(|o| o.iter().next()) else {
        return AttributeValue::Null(true);
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let bytes = |v: &serde_json::Value| {
        aws_sdk_dynamodb::primitives::Blob::new(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .unwrap_or_default(),
        )
    };
    match kind.as_str() {
        "S" => AttributeValue::S(text(v)),
        "N" => AttributeValue::N(text(v)),
        "B" => AttributeValue::B(bytes(v)),
        "BS" => AttributeValue::Bs(v.as_array().into_iter().flatten().map(bytes).collect()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap_or(false)),
        "SS" => AttributeValue::Ss(v.as_array().into_iter().flatten().map(text).collect()),
        "NS" => AttributeValue::Ns(v.as_array().into_iter().flatten().map(text).collect()),
        "L" => AttributeValue::L(
            v.as_array()
                .into_iter()
                .flatten()
                .map(to_attribute)
                .collect(),
        ),
        "M" => AttributeValue::M(
            v.as_object()
                .into_iter()
                .flatten()
                .map(|(k, e)| (k.clone(), to_attribute(e)))
                .collect(),
        ),
        _ => AttributeValue::Null(true),
    }
}

/// What the recorder saw of DynamoDB.
#[derive(Debug, Default)]
pub struct Writes {
    pub calls: BTreeMap<String, u64>,
    /// Items (DynamoDB JSON) of object writes: `PutItem` items, and the items the store's
    /// set-every-attribute `UpdateItem`s store ([`object_update`]), in the order sent.
    pub puts: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The condition of each write in `puts` (same order): `ConditionExpression`, and the
    /// `ExpressionAttributeNames` and `ExpressionAttributeValues` it uses, `None` without one.
    pub put_conditions: Vec<Option<serde_json::Value>>,
    /// How many of `puts` were sent as `UpdateItem`s (the rest as `PutItem`s).
    pub object_updates: usize,
    /// For each write in `puts` (same order) sent as an `UpdateItem`: its request as sent
    /// (`Key`, `UpdateExpression`, `ConditionExpression`, the names and values); `None` for
    /// a `PutItem`.
    pub put_requests: Vec<Option<serde_json::Value>>,
    /// Keys asked for by BatchGetItem calls.
    pub batch_get_keys: u64,
    /// Partition keys written by the other UpdateItem calls (not object writes).
    pub updates: Vec<String>,
}

impl Writes {
    pub fn units(&self) -> (u64, f64) {
        let mut units = 0;
        let mut bytes = 0;
        for item in &self.puts {
            let size = item_size(item);
            bytes += size;
            units += size.div_ceil(1024) as u64 + index_units(item, size);
        }
        (units, bytes as f64 / self.puts.len().max(1) as f64)
    }
}

pub struct Recorder {
    http: reqwest::Client,
    base: String,
}

impl Recorder {
    /// The recorder of the emulator at `endpoint` (`AWS_ENDPOINT_URL`).
    pub fn new(endpoint: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: endpoint.trim_end_matches('/').to_owned(),
        }
    }
}

impl Recorder {
    async fn call(&self, what: &str) -> anyhow::Result<String> {
        let url = format!("{}/moto-api/recorder/{what}", self.base);
        let response = if what == "download-recording" {
            self.http.get(url).send().await?
        } else {
            self.http.post(url).send().await?
        };
        Ok(response.error_for_status()?.text().await?)
    }

    pub async fn restart(&self) -> anyhow::Result<()> {
        self.call("stop-recording").await?;
        self.call("reset-recording").await?;
        self.call("start-recording").await?;
        Ok(())
    }

    /// Stops recording and hands back the recorded entries as the emulator wrote them (one
    /// JSON object a line).
    pub async fn take_raw(&self) -> anyhow::Result<String> {
        self.call("stop-recording").await?;
        let text = self.call("download-recording").await?;
        self.call("reset-recording").await?;
        Ok(text)
    }

    pub async fn take(&self) -> anyhow::Result<Writes> {
        self.call("stop-recording").await?;
        let text = self.call("download-recording").await?;
        self.call("reset-recording").await?;
        let mut writes = Writes::default();
        for line in text.lines() {
            let entry: serde_json::Value = serde_json::from_str(line)?;
            let target = entry["headers"]["X-Amz-Target"].as_str().unwrap_or("");
            let Some(operation) = target.strip_prefix("DynamoDB_20120810.") else {
                continue;
            };
            *writes.calls.entry(operation.to_owned()).or_insert(0) += 1;
            let body = entry["body"].as_str().unwrap_or("");
            let raw = if entry["body_encoded"].as_bool() == Some(true) {
                base64::engine::general_purpose::STANDARD.decode(body)?
            } else {
                body.as_bytes().to_vec()
            };
            if operation == "BatchGetItem" {
                let request: serde_json::Value = serde_json::from_slice(&raw)?;
                if let Some(tables) = request["RequestItems"].as_object() {
                    writes.batch_get_keys += tables
                        .values()
                        .map(|t| t["Keys"].as_array().map_or(0, Vec::len) as u64)
                        .sum::<u64>();
                }
            }
            if operation == "UpdateItem" {
                let request: serde_json::Value = serde_json::from_slice(&raw)?;
                if let Some(item) = object_update(&request) {
                    writes.puts.push(item);
                    writes.put_conditions.push(condition_of(&request));
                    writes.object_updates += 1;
                    writes.put_requests.push(Some(request));
                } else if let Some(pk) = request["Key"]["pk"]["S"].as_str() {
                    writes.updates.push(pk.to_owned());
                }
            }
            if operation == "PutItem" {
                let request: serde_json::Value = serde_json::from_slice(&raw)?;
                if let Some(item) = request["Item"].as_object() {
                    writes.puts.push(item.clone());
                    writes.put_conditions.push(condition_of(&request));
                    writes.put_requests.push(None);
                }
            }
        }
        Ok(writes)
    }
}

/// The `if_not_exists` clause that marks the store's object writes (`conditional_upsert`).
const KEEP_CREATED: &str = "#created = if_not_exists(#created, :created)";

/// The item an object `UpdateItem` of the store stores, or `None` for any other UpdateItem.
/// The store writes an object as `SET #a0 = :a0, …, #created = if_not_exists(#created,
/// :created) [REMOVE #r0, …]` on `Key` {pk, sk}, naming every attribute but the keys: the
/// item is the key, every `SET` pair, and `created_us` (`:created`; an existing item keeps
/// its own, a number of the same size). `REMOVE`d attributes are absent from it.
pub fn object_update(
    request: &serde_json::Value,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let expression = request["UpdateExpression"].as_str()?;
    let set = expression.strip_prefix("SET ")?;
    let set = set.split(" REMOVE ").next().unwrap_or(set);
    let names = request["ExpressionAttributeNames"].as_object()?;
    let values = request["ExpressionAttributeValues"].as_object()?;
    let mut item = request["Key"].as_object()?.clone();
    // The one clause whose own text holds ", ": taken out before the pairs are split.
    if !set.contains(KEEP_CREATED) {
        return None;
    }
    let pairs = set.replace(KEEP_CREATED, "");
    for clause in pairs.split(", ").filter(|c| !c.trim().is_empty()) {
        let (name, value) = clause.trim().split_once(" = ")?;
        if !name.starts_with("#a") || !value.starts_with(":a") {
            return None;
        }
        let attribute = names.get(name)?.as_str()?;
        item.insert(attribute.to_owned(), values.get(value)?.clone());
    }
    item.insert(
        names.get("#created")?.as_str()?.to_owned(),
        values.get(":created")?.clone(),
    );
    Some(item)
}

/// A write's `ConditionExpression` with only the names and values it uses (an object
/// `UpdateItem` sends its `SET` placeholders in the same maps), `None` without one.
fn condition_of(request: &serde_json::Value) -> Option<serde_json::Value> {
    let expression = request["ConditionExpression"].as_str()?;
    let used = |map: &serde_json::Value| {
        let kept: serde_json::Map<String, serde_json::Value> = map
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(placeholder, _)| uses(expression, placeholder))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::Value::Object(kept)
    };
    Some(serde_json::json!({
        "ConditionExpression": expression,
        "ExpressionAttributeNames": used(&request["ExpressionAttributeNames"]),
        "ExpressionAttributeValues": used(&request["ExpressionAttributeValues"]),
    }))
}

/// Whether `expression` names `placeholder` (`#u` in `#u < :u`, not in `#updated`).
fn uses(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(at, _)| {
        !expression[at + placeholder.len()..]
            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// GET requests the simulator has answered (any path, any token) since its last reset.
pub fn sim_gets(sim: &trackstar_sim::SimHandle) -> u64 {
    sim.requests()
        .requests
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.count)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_item_keeps_its_binary_body_and_so_its_size() {
        // Given a recorded item with a deflated (binary) body, as the sync stores objects
        let recorded = serde_json::json!({
            "pk": {"S": "T#t1#ORDER#ord_1"},
            "updated_us": {"N": "1700000000000000"},
            "body": {"B": "AAECAwQFBgcICQ=="},
        });
        let recorded = recorded.as_object().cloned().unwrap_or_default();
        // When it is copied into an SDK item
        let copied: std::collections::HashMap<String, AttributeValue> = recorded
            .iter()
            .map(|(k, v)| (k.clone(), to_attribute(v)))
            .collect();
        // Then the body's ten bytes are there and both sizes agree
        assert_eq!(
            copied.get("body"),
            Some(&AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                (0u8..10).collect::<Vec<u8>>()
            )))
        );
        assert_eq!(attribute_item_size(&copied), item_size(&recorded));
    }

    /// An object write as the store sends it (`conditional_upsert`), DynamoDB JSON.
    fn recorded_object_update() -> serde_json::Value {
        serde_json::json!({
            "TableName": "packr",
            "Key": {"pk": {"S": "T#t1#ORDER#ord_1"}, "sk": {"S": "ORDER"}},
            "UpdateExpression": "SET #a0 = :a0, #a1 = :a1, #a2 = :a2, #a3 = :a3, #created = if_not_exists(#created, :created) REMOVE #r0, #r1",
            "ConditionExpression": "attribute_not_exists(#pk) OR #u < :u",
            "ExpressionAttributeNames": {
                "#a0": "updated_us", "#a1": "chgpk", "#a2": "body", "#a3": "written_at",
                "#created": "created_us", "#r0": "gsi3pk", "#r1": "deleted_at",
                "#pk": "pk", "#u": "updated_us"
            },
            "ExpressionAttributeValues": {
                ":a0": {"N": "1700000000000000"}, ":a1": {"S": "T#t1#CHG#2"},
                ":a2": {"B": "AAECAwQFBgcICQ=="}, ":a3": {"N": "1700000000500000"},
                ":created": {"N": "1700000000500000"}, ":u": {"N": "1700000000000000"}
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"
        })
    }

    #[test]
    fn an_object_update_is_read_as_the_item_it_stores_with_its_own_condition() {
        // Given a recorded set-every-attribute UpdateItem of an order
        let request = recorded_object_update();
        // When its item is rebuilt
        let item = object_update(&request).map(serde_json::Value::Object);
        // Then it is the key, every SET pair and created_us; the REMOVEd attributes are absent
        assert_eq!(
            item,
            Some(serde_json::json!({
                "pk": {"S": "T#t1#ORDER#ord_1"}, "sk": {"S": "ORDER"},
                "updated_us": {"N": "1700000000000000"}, "chgpk": {"S": "T#t1#CHG#2"},
                "body": {"B": "AAECAwQFBgcICQ=="}, "written_at": {"N": "1700000000500000"},
                "created_us": {"N": "1700000000500000"}
            }))
        );
        // And its condition keeps only the placeholders the condition uses
        assert_eq!(
            condition_of(&request),
            Some(serde_json::json!({
                "ConditionExpression": "attribute_not_exists(#pk) OR #u < :u",
                "ExpressionAttributeNames": {"#pk": "pk", "#u": "updated_us"},
                "ExpressionAttributeValues": {":u": {"N": "1700000000000000"}}
            }))
        );
    }

    #[test]
    fn other_update_items_are_not_object_writes() {
        // Given a counter update, and an update lacking the created_us clause
        let counter = serde_json::json!({
            "Key": {"pk": {"S": "T#t1#WHSTATS#2026"}, "sk": {"S": "STATS"}},
            "UpdateExpression": "ADD #n :one",
            "ExpressionAttributeNames": {"#n": "count"},
            "ExpressionAttributeValues": {":one": {"N": "1"}}
        });
        let mut partial = recorded_object_update();
        partial["UpdateExpression"] = serde_json::json!("SET #a0 = :a0, #a1 = :a1");
        // Then neither is read as an object's item
        assert_eq!(object_update(&counter), None);
        assert_eq!(object_update(&partial), None);
    }

    #[test]
    fn a_feed_entry_costs_one_unit_beside_the_item_sized_copies() {
        // Given a 1.5 KB item with gsi1, gsi2 and the feed's keys
        let item = serde_json::json!({
            "gsi1pk": {"S": "a"}, "gsi2pk": {"S": "b"}, "chgpk": {"S": "c"}
        });
        let item = item.as_object().cloned().unwrap_or_default();
        // Then its index units are 2 × 2 (copies of a 2-unit item) + 1 (the feed's entry)
        assert_eq!(index_units(&item, 1536), 5);
    }

    #[test]
    fn an_item_pushed_over_1_kb_by_the_feeds_attributes_cost_one_unit_per_copy_before_it() {
        // Given a 1,000-byte item with gsi2, to which the feed added its keys and created_us
        let mut item = serde_json::json!({
            "pk": {"S": "p"}, "gsi2pk": {"S": "g"},
            "pad": {"S": "x".repeat(1000 - 2 - 1 - 6 - 1 - 3)},
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        assert_eq!(item_size(&item), 1000);
        item.insert("chgpk".into(), serde_json::json!({"S": "T#t1#CHG#1"}));
        item.insert(
            "created_us".into(),
            serde_json::json!({"N": "1700000000000000"}),
        );
        assert!(item_size(&item) > 1024);
        // Then before the feed it was 1 unit for the table and 1 for gsi2
        assert_eq!(pre_feed_units(&item), 2);
        // And now 2 for the table, 2 for gsi2 and 1 for the feed's entry
        assert_eq!(
            item_size(&item).div_ceil(1024) as u64 + index_units(&item, item_size(&item)),
            5
        );
    }
}
