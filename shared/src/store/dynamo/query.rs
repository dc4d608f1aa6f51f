//! Keyset-paginated queries: fill a page even when a filter drops items, but read at most
//! [`READ_BUDGET_PER_ITEM`] × limit items per request (a rare filter must not read a
//! tenant's whole partition in one request): when the budget is spent, a shorter page is
//! returned with a cursor at the last item read, and the next request goes on from there.
//! Cursors are bound to the tenant and the query.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Item};
use crate::domain::TenantId;
use crate::store::keys::{self, Index, PK, SK};
use crate::store::page::{Page, PageRequest};
use crate::store::{CursorCodec, StoreError};

/// Items a request may read (before filtering) per item of its page limit.
pub const READ_BUDGET_PER_ITEM: usize = 3;

/// One listing: a partition of the table or of an index, newest (highest sort key) first.
pub(crate) struct KeysetQuery {
    pub index: Option<Index>,
    pub partition: String,
    /// Only sort keys `>=` this.
    pub sort_key_min: Option<String>,
    /// A filter expression over the listed items, with its names and values.
    pub filter: Option<Filter>,
    /// Describes the query for cursor binding: the same listing with other filters must
    /// not accept this listing's cursors.
    pub description: String,
}

pub(crate) struct Filter {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl KeysetQuery {
    fn key_attributes(&self) -> Vec<&'static str> {
        match self.index {
            None => vec![PK, SK],
            Some(index) => vec![PK, SK, index.pk(), index.sk()],
        }
    }

    fn partition_attribute(&self) -> &'static str {
        self.index.map_or(PK, Index::pk)
    }

    fn sort_attribute(&self) -> &'static str {
        self.index.map_or(SK, Index::sk)
    }
}

impl DynamoStore {
    pub(crate) async fn query_page(
        &self,
        tenant: &TenantId,
        query: &KeysetQuery,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError> {
        let key_attributes = query.key_attributes();
        let mut start_key = match &page.cursor {
            None => None,
            Some(cursor) => Some(self.start_key(
                self.cursor_codec().await?,
                tenant,
                query,
                cursor,
                &key_attributes,
            )?),
        };
        let want = page.limit.get() as usize;
        // The lookahead item that tells whether another page exists counts too.
        let budget = READ_BUDGET_PER_ITEM * want + 1;
        let mut read = 0usize;
        let mut items: Vec<Item> = Vec::with_capacity(want);
        let mut more = false;
        // Where the next request goes on when the budget ran out before the page filled.
        let mut resume_at: Option<Item> = None;

        let mut names = HashMap::from([
            ("#p".to_owned(), query.partition_attribute().to_owned()),
            ("#s".to_owned(), query.sort_attribute().to_owned()),
        ]);
        let mut values =
            HashMap::from([(":p".to_owned(), AttributeValue::S(query.partition.clone()))]);
        let mut condition = "#p = :p".to_owned();
        if let Some(min) = &query.sort_key_min {
            condition.push_str(" AND #s >= :smin");
            values.insert(":smin".to_owned(), AttributeValue::S(min.clone()));
        }
        if !condition.contains("#s") {
            names.remove("#s");
        }
        if let Some(filter) = &query.filter {
            names.extend(filter.names.clone());
            values.extend(filter.values.clone());
        }

        loop {
            // One more than needed tells whether another page exists. With a filter,
            // DynamoDB's limit counts items before filtering, so read in larger steps.
            let remaining = want - items.len() + 1;
            let batch = if query.filter.is_some() {
                remaining.max(100)
            } else {
                remaining
            }
            .min(budget - read);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.map(|i| i.name().to_owned()))
                .key_condition_expression(&condition)
                .set_filter_expression(query.filter.as_ref().map(|f| f.expression.clone()))
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(batch).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            read += usize::try_from(out.scanned_count).unwrap_or(batch);
            for item in out.items.unwrap_or_default() {
                if items.len() == want {
                    more = true;
                    break;
                }
                items.push(item);
            }
            if more {
                break;
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => {
                    if read >= budget {
                        resume_at = Some(key);
                        break;
                    }
                    start_key = Some(key);
                }
                _ => break,
            }
        }

        let next_cursor = match (more, items.last(), resume_at) {
            (true, Some(last), _) => Some(Self::cursor_for(
                self.cursor_codec().await?,
                tenant,
                query,
                last,
                &key_attributes,
            )?),
            (false, _, Some(key)) => Some(Self::cursor_for(
                self.cursor_codec().await?,
                tenant,
                query,
                &key,
                &key_attributes,
            )?),
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    async fn cursor_codec(&self) -> Result<&CursorCodec, StoreError> {
        self.cursors.codec().await.map_err(StoreError::CursorKey)
    }

    fn start_key(
        &self,
        codec: &CursorCodec,
        tenant: &TenantId,
        query: &KeysetQuery,
        cursor: &str,
        key_attributes: &[&'static str],
    ) -> Result<Item, StoreError> {
        let key = codec.decode(tenant, &query.description, cursor)?;
        // The binding already ties the cursor to this tenant and query; the key must also
        // have exactly the listing's attributes and stay inside the tenant's keys.
        let prefix = keys::tenant_prefix(tenant);
        let well_formed = key.len() == key_attributes.len()
            && key_attributes.iter().all(|a| key.contains_key(*a))
            && key.get(query.partition_attribute()) == Some(&query.partition)
            && key.get(PK).is_some_and(|pk| pk.starts_with(&prefix));
        if !well_formed {
            return Err(crate::store::CursorError::WrongQuery.into());
        }
        Ok(key
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    }

    fn cursor_for(
        codec: &CursorCodec,
        tenant: &TenantId,
        query: &KeysetQuery,
        item: &Item,
        key_attributes: &[&'static str],
    ) -> Result<String, StoreError> {
        let mut key = BTreeMap::new();
        for attribute in key_attributes {
            match item.get(*attribute) {
                Some(AttributeValue::S(value)) => {
                    key.insert((*attribute).to_owned(), value.clone());
                }
                _ => return Err(StoreError::MissingAttribute(attribute)),
            }
        }
        Ok(codec.encode(tenant, &query.description, key))
    }
}
