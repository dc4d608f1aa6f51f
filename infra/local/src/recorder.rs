//! The emulator's request recorder (`/moto-api/recorder/…`) read as DynamoDB bills:
//! calls per operation, PutItem items and their sizes, write units as ⌈size / 1 KB⌉ for the
//! table and every GSI the item has keys for. Used by the benchmarks (moto's own
//! `ConsumedCapacity` is a constant per call). Hand-written: the recorder's format is
//! moto's own.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;

pub const GSI_KEYS: [&str; 4] = ["gsi1pk", "gsi2pk", "gsi3pk", "gsi4pk"];

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
    /// PutItem items (DynamoDB JSON) of synced objects.
    pub puts: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The condition of each put in `puts` (same order): `ConditionExpression`,
    /// `ExpressionAttributeNames` and `ExpressionAttributeValues` as sent, `None` without one.
    pub put_conditions: Vec<Option<serde_json::Value>>,
    /// Keys asked for by BatchGetItem calls.
    pub batch_get_keys: u64,
    /// Partition keys written by UpdateItem calls.
    pub updates: Vec<String>,
}

impl Writes {
    pub fn units(&self) -> (u64, f64) {
        let mut units = 0;
        let mut bytes = 0;
        for item in &self.puts {
            let size = item_size(item);
            bytes += size;
            let copies = 1 + GSI_KEYS.iter().filter(|k| item.contains_key(**k)).count();
            units += copies as u64 * size.div_ceil(1024) as u64;
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
                if let Some(pk) = request["Key"]["pk"]["S"].as_str() {
                    writes.updates.push(pk.to_owned());
                }
            }
            if operation == "PutItem" {
                let body = entry["body"].as_str().unwrap_or("");
                let raw = if entry["body_encoded"].as_bool() == Some(true) {
                    base64::engine::general_purpose::STANDARD.decode(body)?
                } else {
                    body.as_bytes().to_vec()
                };
                let request: serde_json::Value = serde_json::from_slice(&raw)?;
                if let Some(item) = request["Item"].as_object() {
                    writes.puts.push(item.clone());
                    writes
                        .put_conditions
                        .push(request["ConditionExpression"].as_str().map(|_| {
                            serde_json::json!({
                                "ConditionExpression": request["ConditionExpression"],
                                "ExpressionAttributeNames": request["ExpressionAttributeNames"],
                                "ExpressionAttributeValues": request["ExpressionAttributeValues"],
                            })
                        }));
                }
            }
        }
        Ok(writes)
    }
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
}
