//! How a synced object is stored, every kind in one item layout: keys (the table's, the
//! listings', the SKU lookup's and the changes feed's), the version only-if-newer compares,
//! the few attributes queries filter on, and the object as deflated JSON; and the
//! `UpdateItem` that writes it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{decode, encode, Item};
use crate::domain::TenantId;
use crate::lifecycle::retention::ItemExpiry;
use crate::resource::{AnyObject, DomainObject, Resource, ResourceKind};
use crate::store::keys;
use crate::store::StoreError;

pub(super) const UPDATED: &str = "updated_us";
/// Set on objects Trackstar no longer has (reconciliation); such items are hidden.
pub(super) const DELETED: &str = "deleted_at";
/// When the item was last written (µs since the epoch, the writer's clock).
pub(super) const WRITTEN_AT: &str = "written_at";

/// The stored form, kept compact (a write unit is 1 KB): the keys, the version, the few
/// attributes that queries filter or project on (`id`, `connection_id`, `status`), and the
/// whole object as deflated JSON in `body`. Items written before `body` existed (the
/// object's attributes flattened into the item) are still read.
#[derive(Serialize, Deserialize)]
struct Stored {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    /// `updated_date` in microseconds: what only-if-newer compares.
    updated_us: i64,
    id: String,
    connection_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    warehouse_id: Option<String>,
    /// The brand, for the changes feed's filter (its index projects it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    brand_id: Option<String>,
    /// The changes feed's keys (`gsi5`): where the last write put the object.
    chgpk: String,
    chgsk: String,
}

/// Attributes a stored object may lack: an upsert removes those its new state lacks
/// (an `UpdateItem` keeps what it does not name; `deleted_at` goes when a newer copy
/// revives a tombstone, and with it the tombstone's place in the retention sweep's index,
/// `gsi4`, which live objects never carry: removing an absent attribute costs nothing).
pub(super) const OPTIONAL: [&str; 10] = [
    "gsi1pk",
    "gsi1sk",
    "gsi3pk",
    "gsi3sk",
    "status",
    "warehouse_id",
    "brand_id",
    DELETED,
    "gsi4pk",
    "gsi4sk",
];
/// When Packr first stored the object (µs, the writer's clock; kept by every later write):
/// tells the feed's `created` from `updated`.
pub(crate) const CREATED: &str = "created_us";

/// The deflated JSON of the object.
pub(super) const BODY: &str = "body";
/// Inflated bytes accepted when reading a body back (a corrupt item cannot inflate
/// without bound).
pub(super) const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

pub(super) fn deflate(json: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(json.len() / 3),
        flate2::Compression::default(),
    );
    encoder
        .write_all(json)
        .and_then(|()| encoder.finish())
        .map_err(|_| StoreError::MissingAttribute("body (compression failed)"))
}

pub(super) fn inflate(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    use std::io::Read;
    let mut json = Vec::with_capacity(bytes.len() * 3);
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_BODY_BYTES)
        .read_to_end(&mut json)
        .map_err(|_| StoreError::MissingAttribute("body (not deflated JSON)"))?;
    Ok(json)
}

/// The item of `object` written at `written_us`: keys, version, queried attributes, the
/// feed's keys, deflated body; a financial record (a bill) also its expiry, its retention
/// after its date (`expires_at`, DynamoDB's TTL).
pub(super) fn stored_item(
    tenant: &TenantId,
    object: &dyn AnyObject,
    written_us: i64,
    expiry: &ItemExpiry,
) -> Result<Item, StoreError> {
    let key = object.kind().spec().key;
    let id = object.id();
    let updated = object.version();
    let sort = keys::updated_sk(updated, id);
    let (chgpk, chgsk) = keys::change_keys(tenant, key, id, written_us);
    let stored = Stored {
        pk: keys::object_pk(tenant, key, id),
        sk: key.to_owned(),
        gsi1pk: object.brand().map(|b| keys::by_brand_pk(tenant, b, key)),
        gsi1sk: object.brand().map(|_| sort.clone()),
        gsi2pk: keys::by_tenant_pk(tenant, key),
        gsi2sk: sort,
        gsi3pk: object
            .sku_value()
            .map(|s| keys::lookup_pk(tenant, key, s.as_str())),
        gsi3sk: object.sku_value().map(|_| id.to_owned()),
        updated_us: updated.unix_micros(),
        id: id.to_owned(),
        connection_id: object.connection().to_string(),
        status: object.status_word().map(str::to_owned),
        warehouse_id: object.warehouse().map(str::to_owned),
        brand_id: object.brand().map(|b| b.as_str().to_owned()),
        chgpk,
        chgsk,
    };
    let mut item = encode(&stored)?;
    item.insert(
        WRITTEN_AT.to_owned(),
        AttributeValue::N(written_us.to_string()),
    );
    if let Some(date) = object.financial_date() {
        item.insert(
            keys::TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N(expiry.bill_expires_at(date).to_string()),
        );
    }
    let body = object
        .to_json_bytes()
        .map_err(|_| StoreError::MissingAttribute("object"))?;
    item.insert(
        BODY.to_owned(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(deflate(&body)?)),
    );
    Ok(item)
}

/// The legacy stored form: the object's attributes flattened into the item.
#[derive(Deserialize)]
struct Flattened<T> {
    #[serde(flatten)]
    object: T,
}

pub(super) fn stored_version(item: &Item) -> Option<i64> {
    match item.get(UPDATED) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// A stored item as a `T` (tombstone or not).
pub(crate) fn decode_object<T: Resource>(mut item: Item) -> Result<T, StoreError> {
    match item.remove(BODY) {
        Some(AttributeValue::B(body)) => {
            let json = inflate(body.as_ref())?;
            serde_json::from_slice(&json).map_err(|_| StoreError::MissingAttribute("body"))
        }
        _ => decode::<Flattened<T>>(item).map(|s| s.object),
    }
}

pub(super) fn is_tombstone(item: &Item) -> bool {
    item.contains_key(DELETED)
}

/// The live object of an item, `None` for a tombstone.
pub(super) fn live_object(
    kind: ResourceKind,
    item: Item,
) -> Result<Option<DomainObject>, StoreError> {
    if is_tombstone(&item) {
        Ok(None)
    } else {
        (kind.ops().decode_stored)(item).map(Some)
    }
}

/// The object as a `T` (the kind was asked for by `T`'s declaration).
pub(super) fn typed<T: Resource>(object: DomainObject) -> Result<T, StoreError> {
    object
        .downcast::<T>()
        .map_err(|_| StoreError::MissingAttribute("object of another kind"))
}

/// An `UpdateItem` expression setting every attribute of an item but its keys, removing the
/// optional ones it lacks, and keeping `created_us` if set (else `written_us`). Placeholders
/// `#a<n>`/`:a<n>` cannot meet the condition's own (`#pk`, `#u`, `:u`, `:r`).
pub(super) struct SetAll {
    pub(super) expression: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl SetAll {
    pub(super) fn of(item: Item, written_us: i64) -> Self {
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::with_capacity(item.len() + 1);
        let removes: Vec<&str> = OPTIONAL
            .iter()
            .copied()
            .filter(|a| !item.contains_key(*a))
            .collect();
        for (n, (attribute, value)) in item
            .into_iter()
            .filter(|(a, _)| a != keys::PK && a != keys::SK)
            .enumerate()
        {
            sets.push(format!("#a{n} = :a{n}"));
            names.insert(format!("#a{n}"), attribute);
            values.insert(format!(":a{n}"), value);
        }
        sets.push("#created = if_not_exists(#created, :created)".to_owned());
        names.insert("#created".to_owned(), CREATED.to_owned());
        values.insert(
            ":created".to_owned(),
            AttributeValue::N(written_us.to_string()),
        );
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(" REMOVE ");
            for (n, attribute) in removes.iter().enumerate() {
                if n > 0 {
                    expression.push_str(", ");
                }
                expression.push_str(&format!("#r{n}"));
                names.insert(format!("#r{n}"), (*attribute).to_owned());
            }
        }
        Self {
            expression,
            names,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_sets_every_attribute_but_the_keys_removes_the_absent_optional_ones_and_keeps_created(
    ) {
        // Given an item with a brand's listing keys but no SKU lookup, status or warehouse
        let item: Item = [
            ("pk", "T#t#ORDER#o"),
            ("sk", "ORDER"),
            ("gsi1pk", "T#t#B#b#ORDER"),
            ("gsi1sk", "x"),
            ("brand_id", "b"),
            ("chgsk", "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect();
        // When it is written
        let write = SetAll::of(item, 42);
        // Then every attribute but pk and sk is set, under placeholders
        let set: Vec<&str> = write.names.values().map(String::as_str).collect();
        for attribute in ["gsi1pk", "gsi1sk", "brand_id", "chgsk", CREATED] {
            assert!(set.contains(&attribute), "{attribute}: {set:?}");
        }
        assert!(!set.contains(&"pk") && !set.contains(&"sk"), "{set:?}");
        // and the first-stored time is kept where set
        assert!(write
            .expression
            .contains("#created = if_not_exists(#created, :created)"));
        assert_eq!(write.values[":created"], AttributeValue::N("42".into()));
        // and the optional attributes it lacks are removed, a tombstone's mark among them
        let (_, removes) = write.expression.split_once(" REMOVE ").expect("removes");
        let removed: Vec<&str> = removes
            .split(", ")
            .map(|placeholder| write.names[placeholder].as_str())
            .collect();
        assert_eq!(
            removed,
            [
                "gsi3pk",
                "gsi3sk",
                "status",
                "warehouse_id",
                DELETED,
                "gsi4pk",
                "gsi4sk"
            ]
        );
    }
}
