//! The DynamoDB adapter of every data-layer port: one table, tenant-prefixed keys.

mod audit;
mod connections;
mod messages;
mod query;
mod receipts;
mod synced;
mod tenants;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::cursor::CursorCodec;
use super::keys::{PK, SK};
use super::StoreError;

pub type Item = HashMap<String, AttributeValue>;

/// The table and everything needed to talk to it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    cursors: CursorCodec,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, cursors: CursorCodec) -> Self {
        Self {
            client,
            table: table.into(),
            cursors,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub(crate) fn key(pk: String, sk: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk)),
            (SK.to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    /// A strongly consistent read of one item.
    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("GetItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(out.item)
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(StoreError::Corrupt)
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(StoreError::Encode)
}
