//! Erasure records, `T#<t>#ERASURE` / `<erasure id>`: the keyed hashes of whom to erase
//! (never the identifier), the order ids found to be theirs, the state and counts of the
//! walk that redacts what is stored. No TTL: they must outlive the backups (a restore
//! re-applies them, README "Erasure of a person").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::hash::SubjectHashes;
use crate::domain::{TenantId, Timestamp};
use crate::store::dynamo::{DynamoStore, Item};
use crate::store::{keys, StoreError};

/// Prefix of erasure ids.
pub const ERASURE_ID_PREFIX: &str = "era_";

/// The string-set attributes, kept out of the serde part (sets grow with `ADD`).
const ORDER_IDS: &str = "order_ids";
const NAME_HASHES: &str = "name_hashes";
const EMAIL_HASHES: &str = "email_hashes";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    /// Recorded: every write is redacted from now on; the walk of what is stored waits
    /// for the instances' caches (`walk_after`).
    Pending,
    /// The walk of what is stored is under way.
    Running,
    /// Everything stored was walked and redacted.
    Completed,
    Failed,
}

/// One erasure of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    pub tenant_id: TenantId,
    pub id: String,
    pub status: ErasureStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_postal_hash: Option<String>,
    /// Hashes of names alone, for free text: the subject's name, and the names found on
    /// the addresses an email erasure matched.
    #[serde(skip)]
    pub name_hashes: BTreeSet<String>,
    /// Hashes of the emails found on the addresses it matched (an erasure by name and
    /// postal code then finds the person's email in free text too).
    #[serde(skip)]
    pub email_hashes: BTreeSet<String>,
    /// Ids of the person's orders (WMS ids, not personal data): their returns match.
    #[serde(skip)]
    pub order_ids: BTreeSet<String>,
    /// Redacted objects per kind (`orders`, `returns`, `messages`, `failed_receipts` …).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The erasure time: from then on every write of the tenant's objects is redacted.
    pub erased_at: Timestamp,
    /// When the walk of what is stored may start (see `privacy::guard`).
    pub walk_after: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The lifecycle job that walks what is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// What an erasure learns while it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureLinks {
    pub order_ids: BTreeSet<String>,
    pub name_hashes: BTreeSet<String>,
    pub email_hashes: BTreeSet<String>,
}

impl ErasureLinks {
    pub fn is_empty(&self) -> bool {
        self.order_ids.is_empty() && self.name_hashes.is_empty() && self.email_hashes.is_empty()
    }

    /// Adds what a redaction found.
    pub fn extend(&mut self, found: super::Redaction) {
        self.order_ids.extend(found.order_id);
        self.name_hashes.extend(found.name_hashes);
        self.email_hashes.extend(found.email_hashes);
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: ErasureRecord,
}

impl ErasureRecord {
    /// A new erasure of the person `hashes` stand for, recorded at `now`, walked after
    /// `wait`.
    pub fn new(
        tenant: TenantId,
        hashes: SubjectHashes,
        requested_by: Option<String>,
        now: Timestamp,
        wait: std::time::Duration,
    ) -> Self {
        Self {
            tenant_id: tenant,
            id: format!("{ERASURE_ID_PREFIX}{}", uuid::Uuid::now_v7().simple()),
            status: ErasureStatus::Pending,
            email_hash: hashes.email,
            name_postal_hash: hashes.name_postal,
            name_hashes: hashes.name.into_iter().collect(),
            email_hashes: BTreeSet::new(),
            order_ids: BTreeSet::new(),
            counts: BTreeMap::new(),
            requested_by,
            erased_at: now,
            walk_after: now.plus_millis(wait.as_millis() as i64),
            finished_at: None,
            job_id: None,
        }
    }
}

fn string_set(values: &BTreeSet<String>) -> Option<AttributeValue> {
    (!values.is_empty()).then(|| AttributeValue::Ss(values.iter().cloned().collect()))
}

fn take_set(item: &mut Item, name: &str) -> BTreeSet<String> {
    match item.remove(name) {
        Some(AttributeValue::Ss(values)) => values.into_iter().collect(),
        _ => BTreeSet::new(),
    }
}

fn decode_record(mut item: Item) -> Result<ErasureRecord, StoreError> {
    let orders = take_set(&mut item, ORDER_IDS);
    let names = take_set(&mut item, NAME_HASHES);
    let emails = take_set(&mut item, EMAIL_HASHES);
    let stored: Stored = serde_dynamo::from_item(item).map_err(StoreError::Corrupt)?;
    let mut record = stored.record;
    record.order_ids = orders;
    record.name_hashes = names;
    record.email_hashes = emails;
    Ok(record)
}

fn encode_record(record: &ErasureRecord) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(Stored {
        pk: keys::erasures_pk(&record.tenant_id),
        sk: record.id.clone(),
        record: record.clone(),
    })
    .map_err(StoreError::Encode)?;
    if let Some(set) = string_set(&record.order_ids) {
        item.insert(ORDER_IDS.to_owned(), set);
    }
    if let Some(set) = string_set(&record.name_hashes) {
        item.insert(NAME_HASHES.to_owned(), set);
    }
    if let Some(set) = string_set(&record.email_hashes) {
        item.insert(EMAIL_HASHES.to_owned(), set);
    }
    Ok(item)
}

impl DynamoStore {
    /// Records a new erasure (it must not exist).
    pub async fn create_erasure(&self, record: &ErasureRecord) -> Result<(), StoreError> {
        self.put_new(encode_record(record)?, "erasure").await
    }

    /// Writes an erasure record as it is (a restore's copy; replaces one of the same id).
    pub async fn put_erasure(&self, record: &ErasureRecord) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(encode_record(record)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }

    pub async fn get_erasure(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ErasureRecord>, StoreError> {
        self.get_item(keys::erasures_pk(tenant), id)
            .await?
            .map(decode_record)
            .transpose()
            // Only the tenant's own partition is read; check anyway.
            .map(|r| r.filter(|r| &r.tenant_id == tenant))
    }

    /// Every erasure of the tenant: one (paged) strongly consistent Query of its partition.
    pub async fn list_erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>, StoreError> {
        self.query_partition(None, keys::erasures_pk(tenant))
            .await?
            .into_iter()
            .map(decode_record)
            .filter(|r| r.as_ref().map_or(true, |r| &r.tenant_id == tenant))
            .collect()
    }

    /// Adds what was found to be the person's — order ids, hashes of names and emails on
    /// the matched addresses (a set union: re-running it changes nothing).
    pub async fn add_erasure_links(
        &self,
        tenant: &TenantId,
        id: &str,
        links: &ErasureLinks,
    ) -> Result<(), StoreError> {
        let mut adds = Vec::new();
        let mut values = HashMap::new();
        for (attribute, placeholder, set) in [
            (ORDER_IDS, ":o", &links.order_ids),
            (NAME_HASHES, ":n", &links.name_hashes),
            (EMAIL_HASHES, ":e", &links.email_hashes),
        ] {
            if let Some(set) = string_set(set) {
                adds.push(format!("{attribute} {placeholder}"));
                values.insert(placeholder.to_owned(), set);
            }
        }
        if adds.is_empty() {
            return Ok(());
        }
        self.client()
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(DynamoStore::key(keys::erasures_pk(tenant), id)))
            .update_expression(format!("ADD {}", adds.join(", ")))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }

    /// Sets an erasure's status, counts, job and end.
    pub async fn update_erasure_progress(&self, record: &ErasureRecord) -> Result<(), StoreError> {
        let counts =
            serde_dynamo::to_attribute_value(&record.counts).map_err(StoreError::Encode)?;
        let status = serde_dynamo::to_attribute_value(record.status).map_err(StoreError::Encode)?;
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table_name())
            .set_key(Some(DynamoStore::key(
                keys::erasures_pk(&record.tenant_id),
                &record.id,
            )))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", status)
            .expression_attribute_values(":c", counts);
        let mut set = vec!["#s = :s", "counts = :c"];
        if let Some(job) = &record.job_id {
            set.push("job_id = :j");
            update = update.expression_attribute_values(":j", AttributeValue::S(job.clone()));
        }
        if let Some(at) = record.finished_at {
            set.push("finished_at = :f");
            update = update.expression_attribute_values(":f", AttributeValue::S(at.to_rfc3339()));
        }
        update
            .update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("UpdateItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }
}
