//! The objects synced from Trackstar: only-if-newer upserts, tombstones and listings
//! (`ObjectStore`, and the typed `SyncedStore<T>` view over it), on the item layout of
//! `object_item`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::object_item::{
    decode_object, is_tombstone, live_object, stored_item, stored_version, typed, SetAll, UPDATED,
};
use super::query::{Filter, KeysetQuery};
use super::DynamoStore;

use crate::domain::{ConnectionId, Sku, TenantId, Timestamp};
use crate::resource::{DomainObject, Resource, ResourceKind};
use crate::store::keys::{self, Index};
use crate::store::{
    ListQuery, ObjectStore, Page, PageRequest, StoreError, SyncedStore, UpsertOutcome,
};

impl DynamoStore {
    fn listing(
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ListQuery,
    ) -> Result<KeysetQuery, StoreError> {
        let spec = kind.spec();
        if query.status.is_some() && spec.statuses.is_empty() {
            return Err(StoreError::UnsupportedFilter { field: "status" });
        }
        if query.warehouse_id.is_some() && !spec.warehouse_filter {
            return Err(StoreError::UnsupportedFilter {
                field: "warehouse_id",
            });
        }
        let (index, partition) = match &query.brand_id {
            Some(brand) => (
                Index::ByBrandUpdated,
                keys::by_brand_pk(tenant, brand, spec.key),
            ),
            None => (Index::ByTenantUpdated, keys::by_tenant_pk(tenant, spec.key)),
        };
        let mut conditions = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        for (attribute, value) in [
            ("status", &query.status),
            ("warehouse_id", &query.warehouse_id),
        ] {
            if let Some(value) = value {
                conditions.push(format!("#{attribute} = :{attribute}"));
                names.insert(format!("#{attribute}"), attribute.to_owned());
                values.insert(format!(":{attribute}"), AttributeValue::S(value.clone()));
            }
        }
        let filter = (!conditions.is_empty()).then(|| Filter {
            expression: conditions.join(" AND "),
            names,
            values,
        });
        let mut description = format!(
            "{}|brand={}|since={}|status={}",
            spec.key,
            query.brand_id.as_ref().map_or("*", |b| b.as_str()),
            query
                .updated_since
                .map_or_else(|| "*".to_owned(), |t| t.sort_key()),
            query.status.as_deref().unwrap_or("*"),
        );
        // Appended only when set, so the cursors of listings without it stay as they were.
        if let Some(warehouse) = &query.warehouse_id {
            description.push_str(&format!("|warehouse={warehouse}"));
        }
        Ok(KeysetQuery {
            index: Some(index),
            partition,
            sort_key_min: query.updated_since.map(|t| t.sort_key()),
            filter,
            description,
        })
    }

    /// A write of `object` under `condition` on the stored version (`#u`, `:u`), with
    /// `read_at` as `:r` (see `upsert_written`). Every write stamps the item with the time
    /// it was sent (`written_at`, µs): what `upsert_written` compares `read_at` with, and
    /// the object's place in the changes feed. An `UpdateItem` setting every attribute (a
    /// put's cost) so that `created_us` survives; sent within the write window.
    async fn conditional_upsert(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
        condition: &str,
        read_at: Option<Timestamp>,
    ) -> Result<UpsertOutcome, StoreError> {
        if object.erased().tenant() != tenant {
            return Err(StoreError::TenantMismatch);
        }
        // An erased person's data is redacted before the item is built, whoever writes it:
        // a redacted copy then compares as a duplicate of the redacted stored one.
        let redacted = match &self.erasures {
            Some(guard) => guard.redact_object(self, tenant, object).await?,
            None => None,
        };
        let object = redacted.as_ref().unwrap_or(object);
        let erased = object.erased();
        let key = object.kind().spec().key;
        let written_us = Timestamp::now().unix_micros();
        let item = stored_item(tenant, erased, written_us, &self.expiry)?;
        let version = object.updated_date().unix_micros();
        let pk = keys::object_pk(tenant, key, object.id());
        let write = SetAll::of(item, written_us);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(DynamoStore::key(pk.clone(), key)))
            .update_expression(write.expression)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values(Some(write.values))
            .condition_expression(condition)
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#u", UPDATED)
            .expression_attribute_values(":u", AttributeValue::N(version.to_string()));
        if let Some(at) = read_at {
            update = update
                .expression_attribute_values(":r", AttributeValue::N(at.unix_micros().to_string()));
        }
        let result = self
            .within_write_window(
                "UpdateItem",
                update
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send(),
            )
            .await?;
        match result {
            Ok(_) => Ok(UpsertOutcome::Applied),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let existing = match failed.item {
                        Some(item) => Some(item),
                        None => self.get_item(pk, key).await?,
                    };
                    let Some(existing) = existing else {
                        // Deleted in between: nothing newer is stored.
                        return Ok(UpsertOutcome::Stale);
                    };
                    if is_tombstone(&existing) {
                        return Ok(match stored_version(&existing) {
                            Some(stored) if stored > version => UpsertOutcome::Stale,
                            _ => UpsertOutcome::Tombstoned,
                        });
                    }
                    if stored_version(&existing) != Some(version) {
                        return Ok(UpsertOutcome::Stale);
                    }
                    let stored = (object.kind().ops().decode_stored)(existing)?;
                    Ok(if stored.same_as(object) {
                        UpsertOutcome::Duplicate
                    } else {
                        UpsertOutcome::SameVersionDiffers
                    })
                }
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    /// `send`, given up (an error: the caller retries) when it has not answered within the
    /// write window: a write that carries a feed position must land within the window of
    /// it, or a feed reader could already have passed that position (`crate::changes`).
    /// DynamoDB applies a request it received at once, so a write given up here either
    /// landed within the window or never will.
    pub(crate) async fn within_write_window<T, E>(
        &self,
        operation: &'static str,
        send: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, StoreError> {
        tokio::time::timeout(self.write_window, send)
            .await
            .map_err(|elapsed| {
                tracing::warn!(
                    operation,
                    window_ms = self.write_window.as_millis() as u64,
                    "object write given up: not answered within the write window"
                );
                StoreError::dynamo(operation, elapsed)
            })
    }
}

#[async_trait]
impl ObjectStore for DynamoStore {
    async fn upsert_object(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
    ) -> Result<UpsertOutcome, StoreError> {
        // A tombstone gives way only to a newer copy here (a late redelivery of an event
        // applied before the deletion must not revive it); `upsert_written` revives it.
        self.conditional_upsert(tenant, object, "attribute_not_exists(#pk) OR #u < :u", None)
            .await
    }

    async fn upsert_object_written(
        &self,
        tenant: &TenantId,
        object: &DomainObject,
        read_at: Timestamp,
    ) -> Result<UpsertOutcome, StoreError> {
        // Items written before `written_at` existed count as written long ago.
        let outcome = self
            .conditional_upsert(
                tenant,
                object,
                "attribute_not_exists(#pk) OR #u < :u OR attribute_exists(deleted_at) \
                 OR (#u = :u AND (attribute_not_exists(written_at) OR written_at < :r))",
                Some(read_at),
            )
            .await?;
        Ok(match outcome {
            UpsertOutcome::SameVersionDiffers => UpsertOutcome::ChangedSinceRead,
            other => other,
        })
    }

    async fn get_object(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<DomainObject>, StoreError> {
        let key = kind.spec().key;
        match self.get_item(keys::object_pk(tenant, key, id), key).await? {
            Some(item) => live_object(kind, item),
            None => Ok(None),
        }
    }

    async fn get_objects(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<DomainObject>, StoreError> {
        let key = kind.spec().key;
        let keys = ids
            .iter()
            .map(|id| DynamoStore::key(keys::object_pk(tenant, key, id), key))
            .collect();
        let mut found = Vec::with_capacity(ids.len());
        for item in self.batch_get(keys).await? {
            if let Some(object) = live_object(kind, item)? {
                found.push(object);
            }
        }
        Ok(found)
    }

    async fn list_objects(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<Page<DomainObject>, StoreError> {
        let listing = Self::listing(tenant, kind, query)?;
        let page = self.query_page(tenant, &listing, page).await?;
        let decode = kind.ops().decode_stored;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(decode)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn tombstone_object(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let key = kind.spec().key;
        // The listing and lookup index keys go, so listings and SKU lookups no longer see
        // it; the object stays, and moves to the feed's end (a deletion is a change). It
        // enters the retention sweep's index (`gsi4`, by deletion time), which drops its
        // personal fields later (`crate::lifecycle::sweep`).
        let written_us = Timestamp::now().unix_micros();
        let (chgpk, chgsk) = keys::change_keys(tenant, key, id, written_us);
        let (sweep_pk, sweep_sk) = keys::tombstone_sweep_keys(tenant, key, id, at);
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(DynamoStore::key(
                keys::object_pk(tenant, key, id),
                key,
            )))
            .update_expression(
                "SET deleted_at = :at, written_at = :w, chgpk = :cp, chgsk = :cs, \
                 gsi4pk = :tp, gsi4sk = :ts \
                 REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk",
            )
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .expression_attribute_values(":w", AttributeValue::N(written_us.to_string()))
            .expression_attribute_values(":cp", AttributeValue::S(chgpk))
            .expression_attribute_values(":cs", AttributeValue::S(chgsk))
            .expression_attribute_values(":tp", AttributeValue::S(sweep_pk))
            .expression_attribute_values(":ts", AttributeValue::S(sweep_sk));
        let result = self
            .within_write_window("UpdateItem", update.send())
            .await?;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::dynamo(
                    "UpdateItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn connection_object_ids(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        connection: &ConnectionId,
        before: Timestamp,
        start: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let start_key = match start {
            None => None,
            Some(token) => {
                let key: HashMap<String, String> = serde_json::from_str(token)
                    .map_err(|_| StoreError::MissingAttribute("continuation token"))?;
                Some(
                    key.into_iter()
                        .map(|(k, v)| (k, AttributeValue::S(v)))
                        .collect::<HashMap<_, _>>(),
                )
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(Index::ByTenantUpdated.name())
            .key_condition_expression("#p = :p AND #s < :before")
            .filter_expression("connection_id = :c")
            .projection_expression("id, pk, sk, gsi2pk, gsi2sk")
            .expression_attribute_names("#p", Index::ByTenantUpdated.pk())
            .expression_attribute_names("#s", Index::ByTenantUpdated.sk())
            .expression_attribute_values(
                ":p",
                AttributeValue::S(keys::by_tenant_pk(tenant, kind.spec().key)),
            )
            .expression_attribute_values(":before", AttributeValue::S(before.sort_key()))
            .expression_attribute_values(":c", AttributeValue::S(connection.to_string()))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let ids = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => {
                let plain: HashMap<String, String> = key
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        AttributeValue::S(s) => Some((k, s)),
                        _ => None,
                    })
                    .collect();
                Some(
                    serde_json::to_string(&plain)
                        .map_err(|_| StoreError::MissingAttribute("key"))?,
                )
            }
            _ => None,
        };
        Ok((ids, next))
    }
}

/// The typed view: the erased store with `T`'s kind, objects downcast.
#[async_trait]
impl<T: Resource> SyncedStore<T> for DynamoStore {
    async fn upsert_if_newer(
        &self,
        tenant: &TenantId,
        object: &T,
    ) -> Result<UpsertOutcome, StoreError> {
        self.upsert_object(tenant, &DomainObject::new(object.clone()))
            .await
    }

    async fn upsert_written(
        &self,
        tenant: &TenantId,
        object: &T,
        read_at: Timestamp,
    ) -> Result<UpsertOutcome, StoreError> {
        self.upsert_object_written(tenant, &DomainObject::new(object.clone()), read_at)
            .await
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<T>, StoreError> {
        self.get_object(tenant, T::KIND, id)
            .await?
            .map(typed)
            .transpose()
    }

    async fn get_many(&self, tenant: &TenantId, ids: &[String]) -> Result<Vec<T>, StoreError> {
        self.get_objects(tenant, T::KIND, ids)
            .await?
            .into_iter()
            .map(typed)
            .collect()
    }

    async fn tombstone(
        &self,
        tenant: &TenantId,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.tombstone_object(tenant, T::KIND, id, at).await
    }

    async fn connection_ids(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        before: Timestamp,
        start: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        self.connection_object_ids(tenant, T::KIND, connection, before, start)
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<Page<T>, StoreError> {
        let page = self.list_objects(tenant, T::KIND, query, page).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(typed)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// The lookup index projects keys only (an update never rewrites its entry): its
    /// entries name the items, read from the table (strongly consistent, so the state is
    /// at least as new as the entry).
    async fn find_by_sku(&self, tenant: &TenantId, sku: &Sku) -> Result<Vec<T>, StoreError> {
        let entries = self
            .query_all(
                Index::Lookup,
                keys::lookup_pk(tenant, T::SPEC.key, sku.as_str()),
            )
            .await?;
        let item_keys = entries
            .into_iter()
            .filter_map(|entry| match (entry.get(keys::PK), entry.get(keys::SK)) {
                (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                    Some(DynamoStore::key(pk.clone(), sk))
                }
                _ => None,
            })
            .collect();
        self.batch_get(item_keys)
            .await?
            .into_iter()
            .filter(|item| !is_tombstone(item))
            .map(decode_object::<T>)
            .collect()
    }
}
