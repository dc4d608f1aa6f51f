//! Response envelopes: a page `{data: [...], next_token, total_count}`, a single object
//! `{data: {...}}`, and a write result `{data, id, unused_fields}`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::lenient::{opt_i64, opt_string, string_list};

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// The token for the next page; `None` on the last page.
    pub next_token: Option<String>,
    /// The count in *this* page (not a grand total).
    pub total_count: Option<u64>,
    /// How many entries could not be decoded and were skipped.
    pub skipped: usize,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, deserialize_with = "opt_string")]
    next_token: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    total_count: Option<i64>,
}

/// Decodes a page; entries that do not decode are counted and skipped, not fatal.
pub(crate) fn decode_page<T: DeserializeOwned>(
    body: &[u8],
    request_id: Option<String>,
) -> Result<Page<T>, serde_json::Error> {
    let raw: RawPage = serde_json::from_slice(body)?;
    let items = match raw.data {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    };
    let total = items.len();
    let data: Vec<T> = items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect();
    Ok(Page {
        skipped: total - data.len(),
        data,
        next_token: raw.next_token,
        total_count: raw.total_count.and_then(|n| u64::try_from(n).ok()),
        request_id,
    })
}

/// Decodes `{data: {...}}`; a one-element `data` list (as `GET /connections/{id}` is
/// documented to return) is accepted too.
pub(crate) fn decode_single<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    #[derive(Deserialize)]
    struct Raw {
        data: Value,
    }
    let raw: Raw = serde_json::from_slice(body)?;
    let value = match raw.data {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    serde_json::from_value(value)
}

/// The result of a write (`POST`/`PUT`).
#[derive(Debug, Clone)]
pub struct WriteResult<T> {
    pub data: T,
    /// The id of the created or changed object.
    pub id: Option<String>,
    /// Fields the WMS ignored.
    pub unused_fields: Vec<String>,
    /// `Idempotent-Replayed: true`: this is the stored first result of an earlier request
    /// with the same idempotency key.
    pub replayed: bool,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
struct RawWrite {
    #[serde(default)]
    data: Value,
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    unused_fields: Vec<String>,
}

pub(crate) fn decode_write<T: DeserializeOwned>(
    body: &[u8],
    replayed: bool,
    request_id: Option<String>,
) -> Result<WriteResult<T>, serde_json::Error> {
    let raw: RawWrite = serde_json::from_slice(body)?;
    Ok(WriteResult {
        data: serde_json::from_value(raw.data)?,
        id: raw.id,
        unused_fields: raw.unused_fields,
        replayed,
        request_id,
    })
}
