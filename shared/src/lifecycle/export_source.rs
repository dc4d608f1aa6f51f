//! What an export reads: each resource of a scope as a list of partitions (of the table or
//! an index, never a Scan), read oldest first a page at a time, and how one item becomes
//! one JSON line (the object as the API's GET serves it).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::export::{ExportError, ExportScope};
use crate::api::connections::ConnectionView;
use crate::domain::{Brand, Connection, Message, TenantId};
use crate::resource::{Owner, ResourceKind};
use crate::store::dynamo::Item;
use crate::store::keys::{self, Index, PK, SK};

/// One file of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportResource {
    /// A mirrored resource's live objects (tombstones have left the listings).
    Objects(ResourceKind),
    Brands,
    Messages,
    /// The tenant's connections as `GET /connections` serves them (no secret names).
    Connections,
}

impl ExportResource {
    /// The file's name without `.jsonl`, and the resource in `phase` and `counts`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ExportResource::Objects(kind) => kind.as_str(),
            ExportResource::Brands => "brands",
            ExportResource::Messages => "messages",
            ExportResource::Connections => "connections",
        }
    }

    /// What a scope exports, in order: a brand's own kinds and its messages; a tenant's
    /// every kind, brands, messages and connections.
    pub(crate) fn plan(scope: &ExportScope) -> Vec<ExportResource> {
        let kinds = ResourceKind::ALL.into_iter();
        match scope {
            ExportScope::Brand(_) => kinds
                .filter(|k| k.spec().owner == Owner::Brand)
                .map(ExportResource::Objects)
                .chain([ExportResource::Messages])
                .collect(),
            ExportScope::Tenant => kinds
                .map(ExportResource::Objects)
                .chain([
                    ExportResource::Brands,
                    ExportResource::Messages,
                    ExportResource::Connections,
                ])
                .collect(),
        }
    }

    /// Its line for one listed item; `None` for an item that is not exported (a tombstone).
    pub(crate) fn line(self, item: Item) -> Result<Option<Vec<u8>>, ExportError> {
        let corrupt = |source: Box<dyn std::error::Error + Send + Sync>| ExportError::Corrupt {
            resource: self.name(),
            source,
        };
        let json = match self {
            ExportResource::Objects(kind) => {
                if item.contains_key("deleted_at") {
                    return Ok(None);
                }
                let object = (kind.ops().decode_stored)(item).map_err(|e| corrupt(e.into()))?;
                object
                    .erased()
                    .to_json_bytes()
                    .map_err(|e| corrupt(e.into()))?
            }
            ExportResource::Brands => {
                let brand: Brand = decode(item).map_err(corrupt)?;
                serde_json::to_vec(&brand).map_err(|e| corrupt(e.into()))?
            }
            ExportResource::Messages => {
                let message: Message = decode(item).map_err(corrupt)?;
                serde_json::to_vec(&message).map_err(|e| corrupt(e.into()))?
            }
            ExportResource::Connections => {
                let connection: Connection = decode(item).map_err(corrupt)?;
                serde_json::to_vec(&ConnectionView::from(&connection))
                    .map_err(|e| corrupt(e.into()))?
            }
        };
        let mut line = json;
        line.push(b'\n');
        Ok(Some(line))
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    item: Item,
) -> Result<T, Box<dyn std::error::Error + Send + Sync>> {
    serde_dynamo::from_item(item).map_err(Into::into)
}

/// One partition a resource is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Partition {
    pub index: Option<Index>,
    pub key: String,
}

/// Where a resource's reading stands: the partition, and the last key read in it (`None`:
/// from its start). Saved as the job's checkpoint, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<BTreeMap<String, String>>,
}

impl Position {
    pub(crate) fn parse(checkpoint: Option<&str>) -> Result<Self, ExportError> {
        match checkpoint {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(text).map_err(ExportError::Checkpoint),
        }
    }

    pub(crate) fn to_checkpoint(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The partitions of `resource` for `scope`, in the order they are read (by key). A
/// tenant's messages are one partition per brand (`list_brands` is one small Query).
pub(crate) fn partitions(
    tenant: &TenantId,
    scope: &ExportScope,
    resource: ExportResource,
    brands: &[Brand],
) -> Vec<Partition> {
    let mut found = match (resource, scope) {
        (ExportResource::Objects(kind), ExportScope::Brand(brand)) => vec![Partition {
            index: Some(Index::ByBrandUpdated),
            key: keys::by_brand_pk(tenant, brand, kind.spec().key),
        }],
        (ExportResource::Objects(kind), ExportScope::Tenant) => vec![Partition {
            index: Some(Index::ByTenantUpdated),
            key: keys::by_tenant_pk(tenant, kind.spec().key),
        }],
        (ExportResource::Messages, ExportScope::Brand(brand)) => vec![Partition {
            index: None,
            key: keys::messages_pk(tenant, brand),
        }],
        (ExportResource::Messages, ExportScope::Tenant) => brands
            .iter()
            .map(|b| Partition {
                index: None,
                key: keys::messages_pk(tenant, &b.id),
            })
            .collect(),
        (ExportResource::Brands, _) => vec![Partition {
            index: Some(Index::ByTenantUpdated),
            key: keys::brand_collection(tenant),
        }],
        (ExportResource::Connections, _) => vec![Partition {
            index: Some(Index::ByTenantUpdated),
            key: keys::by_tenant_pk(tenant, "CONNECTION"),
        }],
    };
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found.dedup();
    found
}

/// The key attributes a partition's pages are resumed from.
fn key_attributes(index: Option<Index>) -> Vec<&'static str> {
    match index {
        None => vec![PK, SK],
        Some(index) => vec![PK, SK, index.pk(), index.sk()],
    }
}

/// A `LastEvaluatedKey` as the checkpoint keeps it (every key attribute is a string).
pub(crate) fn key_to_map(
    index: Option<Index>,
    key: &HashMap<String, AttributeValue>,
) -> Result<BTreeMap<String, String>, ExportError> {
    key_attributes(index)
        .into_iter()
        .map(|attribute| match key.get(attribute) {
            Some(AttributeValue::S(value)) => Ok((attribute.to_owned(), value.clone())),
            _ => Err(ExportError::MissingKey(attribute)),
        })
        .collect()
}

/// A checkpoint's key back as an `ExclusiveStartKey`, checked to be of this partition.
pub(crate) fn map_to_key(
    partition: &Partition,
    after: &BTreeMap<String, String>,
) -> Result<HashMap<String, AttributeValue>, ExportError> {
    let attributes = key_attributes(partition.index);
    let partition_attribute = partition.index.map_or(PK, Index::pk);
    let well_formed = after.len() == attributes.len()
        && attributes.iter().all(|a| after.contains_key(*a))
        && after.get(partition_attribute) == Some(&partition.key);
    if !well_formed {
        return Err(ExportError::MissingKey("checkpoint of another partition"));
    }
    Ok(after
        .iter()
        .map(|(k, v)| (k.clone(), AttributeValue::S(v.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BrandId;

    #[test]
    fn a_brand_exports_its_own_kinds_and_messages_and_a_tenant_everything() {
        // Given both scopes
        let brand = ExportScope::Brand(BrandId::parse("b1").unwrap());
        // When their plans are made
        let brand_plan: Vec<&str> = ExportResource::plan(&brand)
            .into_iter()
            .map(ExportResource::name)
            .collect();
        let tenant_plan: Vec<&str> = ExportResource::plan(&ExportScope::Tenant)
            .into_iter()
            .map(ExportResource::name)
            .collect();
        // Then the brand's holds no tenant-wide kind, and the tenant's holds every kind
        assert!(brand_plan.contains(&"orders") && brand_plan.contains(&"messages"));
        assert!(!brand_plan.contains(&"warehouses") && !brand_plan.contains(&"connections"));
        assert_eq!(tenant_plan.len(), ResourceKind::ALL.len() + 3);
        assert!(tenant_plan.ends_with(&["brands", "messages", "connections"]));
    }

    #[test]
    fn a_checkpoint_of_another_partition_is_refused() {
        let tenant = TenantId::parse("t1").unwrap();
        let brand = BrandId::parse("b1").unwrap();
        let partition = Partition {
            index: None,
            key: keys::messages_pk(&tenant, &brand),
        };
        let other: BTreeMap<String, String> = [
            ("pk".to_owned(), "T#t2#B#b1#MSG".to_owned()),
            ("sk".to_owned(), "x".to_owned()),
        ]
        .into();
        assert!(map_to_key(&partition, &other).is_err());
        let own: BTreeMap<String, String> = [
            ("pk".to_owned(), partition.key.clone()),
            ("sk".to_owned(), "x".to_owned()),
        ]
        .into();
        assert_eq!(map_to_key(&partition, &own).unwrap().len(), 2);
    }
}
