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
        let id = &connection.connection_id;
        // Sparse `gsi4`: active connections for the sync scheduler, offboarded ones waiting
        // for their erasure for the data-lifecycle sweep; nothing else.
        let (gsi4pk, gsi4sk) = match (connection.status, connection.marks.erase_after) {
            (_, Some(at)) => (
                Some(keys::ERASE_DUE_PARTITION.to_owned()),
                Some(keys::erase_due_sk(at, tenant, id)),
            ),
            (ConnectionStatus::Active, None) => (
                Some(keys::SYNC_SCHEDULE_PARTITION.to_owned()),
                Some(keys::sync_schedule_sk(tenant, id)),
            ),
            _ => (None, None),
        };
        Self {
            pk: keys::object_pk(tenant, KIND, id.as_str()),
            sk: KIND.to_owned(),
            gsi2pk: keys::by_tenant_pk(tenant, KIND),
            gsi2sk: id.to_string(),
            gsi4pk,
            gsi4sk,
            connection: connection.clone(),
        }
    }
}

impl DynamoStore {
    /// Marks a connection's route deleted (`Some(at)`: ingest refuses its webhooks) or
    /// routable again (`None`, a relink). `false` when there is no route.
    pub async fn mark_route_deleted(
        &self,
        connection: &ConnectionId,
        at: Option<crate::domain::Timestamp>,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::connection_route_pk(connection),
                ROUTE_SK,
            )))
            .condition_expression("attribute_exists(pk)");
        let update = match at {
            Some(at) => update
                .update_expression("SET deleted_at = :at")
                .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339())),
            None => update.update_expression("REMOVE deleted_at"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(StoreError::dynamo("UpdateItem", aws_sdk_dynamodb::Error::from(other))),
            },
        }
    }

    /// Offboarded connections of every tenant whose grace period ended at or before
    /// `now`, soonest first, at most `limit` (the sparse `gsi4` partition `CONNERASE`; an
    /// index read, so one relinked a moment ago may still be listed: re-check it).
    pub async fn connections_due_for_erasure(
        &self,
        now: crate::domain::Timestamp,
        limit: i32,
    ) -> Result<Vec<Connection>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(Index::SyncSchedule.name())
            .key_condition_expression("#p = :p AND #s < :upto")
            .expression_attribute_names("#p", Index::SyncSchedule.pk())
            .expression_attribute_names("#s", Index::SyncSchedule.sk())
            .expression_attribute_values(
                ":p",
                AttributeValue::S(keys::ERASE_DUE_PARTITION.to_owned()),
            )
            // Every sort key of an instant up to `now` sorts below `<now>$` (`#` < `$`).
            .expression_attribute_values(":upto", AttributeValue::S(format!("{}$", now.sort_key())))
            .limit(limit)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode::<StoredConnection>(item).map(|s| s.connection))
            .collect()
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
                deleted_at: None,
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
