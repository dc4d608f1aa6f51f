//! The audit log on DynamoDB: `T#<tenant>#AUDIT` / `<at>#<id>`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use serde::{Deserialize, Serialize};

use super::query::KeysetQuery;
use super::{decode, encode, DynamoStore};
use crate::domain::TenantId;
use crate::store::audit::{AuditEntry, AuditStore};
use crate::store::keys;
use crate::store::{Page, PageRequest, StoreError};

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: AuditEntry,
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<(), StoreError> {
        if &entry.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let stored = StoredEntry {
            pk: keys::audit_pk(tenant),
            sk: format!("{}#{}", entry.at.sort_key(), entry.id),
            entry: entry.clone(),
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(&stored)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    Err(StoreError::AlreadyExists {
                        what: "audit entry",
                    })
                }
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let query = KeysetQuery {
            index: None,
            partition: keys::audit_pk(tenant),
            sort_key_min: None,
            filter: None,
            description: "AUDIT".to_owned(),
        };
        let page = self.query_page(tenant, &query, page).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|item| decode::<StoredEntry>(item).map(|s| s.entry))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }
}
