//! Connections (tenant-scoped) and their global route by Trackstar connection id.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{decode, encode, DynamoStore};
use crate::domain::{Connection, ConnectionId, ConnectionRoute, ConnectionStatus, TenantId};
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
    /// Only active connections are in the (sparse) scheduling index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4sk: Option<String>,
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
        let active = connection.status == ConnectionStatus::Active;
        Self {
            pk: keys::object_pk(tenant, KIND, connection.connection_id.as_str()),
            sk: KIND.to_owned(),
            gsi2pk: keys::by_tenant_pk(tenant, KIND),
            gsi2sk: connection.connection_id.to_string(),
            gsi4pk: active.then(|| keys::SYNC_SCHEDULE_PARTITION.to_owned()),
            gsi4sk: active.then(|| keys::sync_schedule_sk(tenant, &connection.connection_id)),
            connection: connection.clone(),
        }
    }
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
        let items = vec![
            encode(&StoredConnection::new(tenant, connection))?,
            encode(&route)?,
        ];
        self.put_all_new(items, "connection").await
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        if &connection.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let read_at = connection.version;
        let mut next = connection.clone();
        next.version = read_at + 1;
        let item = encode(&StoredConnection::new(tenant, &next))?;
        // Compare-and-set on the version read; items written before versions were kept
        // count as version 0.
        let condition = if read_at == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :read)"
        } else {
            "attribute_exists(pk) AND version = :read"
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_values(":read", AttributeValue::N(read_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    let pk = keys::object_pk(tenant, KIND, connection.connection_id.as_str());
                    Err(match self.get_item(pk, KIND).await? {
                        None => StoreError::NotFound { what: "connection" },
                        Some(_) => StoreError::Conflict { what: "connection" },
                    })
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
        self.query_all(Index::ByTenantUpdated, keys::by_tenant_pk(tenant, KIND))
            .await?
            .into_iter()
            .map(|item| decode::<StoredConnection>(item).map(|s| s.connection))
            .collect()
    }

    async fn list_active(&self) -> Result<Vec<Connection>, StoreError> {
        self.query_all(
            Index::SyncSchedule,
            keys::SYNC_SCHEDULE_PARTITION.to_owned(),
        )
        .await?
        .into_iter()
        .map(|item| decode::<StoredConnection>(item).map(|s| s.connection))
        .collect()
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
