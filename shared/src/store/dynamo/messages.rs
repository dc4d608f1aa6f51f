//! Message threads between a 3PL and its brands.

use async_trait::async_trait;
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
    /// `MESSAGE_RETENTION_DAYS` after it was posted, when set (TTL); else none: kept until
    /// its brand or tenant is offboarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
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
            expires_at: self.expiry.message_expires_at(message.created_at),
            message: message.clone(),
        };
        self.put_new(encode(&stored)?, "message").await
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
