//! Connections (tenant-scoped) and their global route by Trackstar connection id.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{decode, encode, DynamoStore};
use crate::domain::{Connection, ConnectionId, ConnectionRoute, TenantId};
use crate::store::keys::{self, Index};
use crate::store::{ConnectionStore, StoreError};

const KIND: &str = "CONNECTION";
const ROUTE_SK: &str = "ROUTE";

#[derive(Serialize, Deserialize)]
struct StoredConnection {
    pk: String,
    sk: String,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(flatten)]
    connection: Connection,
}

#[derive(Serialize, Deserialize)]
struct StoredRoute {
    pk: String,
    sk: String,
    #[serde(flatten)]
    route: ConnectionRoute,
}

impl StoredConnection {
    fn new(tenant: &TenantId, connection: &Connection) -> Self {
        Self {
            pk: keys::object_pk(tenant, KIND, connection.connection_id.as_str()),
            sk: KIND.to_owned(),
            gsi2pk: keys::by_tenant_pk(tenant, KIND),
            gsi2sk: connection.connection_id.to_string(),
            connection: connection.clone(),
        }
    }
}

fn conditional_put(
    table: &str,
    item: super::Item,
    condition: &str,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn create_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        if &connection.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let route = StoredRoute {
            pk: keys::connection_route_pk(&connection.connection_id),
            sk: ROUTE_SK.to_owned(),
            route: ConnectionRoute {
                connection_id: connection.connection_id.clone(),
                tenant_id: tenant.clone(),
                brand_id: connection.brand_id.clone(),
            },
        };
        let writes = vec![
            conditional_put(
                &self.table,
                encode(&StoredConnection::new(tenant, connection))?,
                "attribute_not_exists(pk)",
            )?,
            conditional_put(&self.table, encode(&route)?, "attribute_not_exists(pk)")?,
        ];
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(_) => {
                    Err(StoreError::AlreadyExists { what: "connection" })
                }
                other => Err(StoreError::dynamo(
                    "TransactWriteItems",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        if &connection.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(&StoredConnection::new(tenant, connection))?))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    Err(StoreError::NotFound { what: "connection" })
                }
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn get_connection(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Connection>, StoreError> {
        self.get_item(keys::object_pk(tenant, KIND, connection.as_str()), KIND)
            .await?
            .map(|item| decode::<StoredConnection>(item).map(|s| s.connection))
            .transpose()
    }

    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(Index::ByTenantUpdated.name())
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", Index::ByTenantUpdated.pk())
                .expression_attribute_values(
                    ":p",
                    AttributeValue::S(keys::by_tenant_pk(tenant, KIND)),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                found.push(decode::<StoredConnection>(item)?.connection);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    async fn route(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<ConnectionRoute>, StoreError> {
        self.get_item(keys::connection_route_pk(connection), ROUTE_SK)
            .await?
            .map(|item| decode::<StoredRoute>(item).map(|s| s.route))
            .transpose()
    }
}
