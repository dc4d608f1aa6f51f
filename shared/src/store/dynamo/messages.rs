//! Message threads between a 3PL and its brands.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use serde::{Deserialize, Serialize};

use super::query::KeysetQuery;
use super::{decode, encode, DynamoStore};
use crate::domain::{BrandId, Message, TenantId};
use crate::store::keys;
use crate::store::{MessageStore, Page, PageRequest, StoreError};

#[derive(Serialize, Deserialize)]
struct StoredMessage {
    pk: String,
    sk: String,
    #[serde(flatten)]
    message: Message,
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn append(&self, tenant: &TenantId, message: &Message) -> Result<(), StoreError> {
        if &message.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let stored = StoredMessage {
            pk: keys::messages_pk(tenant, &message.brand_id),
            sk: format!("{}#{}", message.created_at.sort_key(), message.id),
            message: message.clone(),
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
                    Err(StoreError::AlreadyExists { what: "message" })
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
        brand: &BrandId,
        page: &PageRequest,
    ) -> Result<Page<Message>, StoreError> {
        let query = KeysetQuery {
            index: None,
            partition: keys::messages_pk(tenant, brand),
            sort_key_min: None,
            filter: None,
            description: format!("MSG|brand={brand}"),
        };
        let page = self.query_page(tenant, &query, page).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|item| decode::<StoredMessage>(item).map(|s| s.message))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }
}
