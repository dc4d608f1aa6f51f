//! Tenants and brands, and the warehouse-customer → brand mapping.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{decode, encode, DynamoStore};
use crate::domain::{Brand, BrandId, Tenant, TenantId};
use crate::store::keys::{self, Index};
use crate::store::{StoreError, TenantStore};

const TENANT_SK: &str = "TENANT";
const BRAND_SK: &str = "BRAND";

#[derive(Serialize, Deserialize)]
struct StoredTenant {
    pk: String,
    sk: String,
    #[serde(flatten)]
    tenant: Tenant,
}

#[derive(Serialize, Deserialize)]
struct StoredBrand {
    pk: String,
    sk: String,
    gsi2pk: String,
    gsi2sk: String,
    #[serde(flatten)]
    brand: Brand,
}

#[derive(Serialize, Deserialize)]
struct StoredWarehouseCustomer {
    pk: String,
    sk: String,
    brand_id: BrandId,
}

fn put(item: super::Item, table: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| StoreError::dynamo("TransactWriteItems", e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let stored = StoredTenant {
            pk: keys::tenant_pk(&tenant.id),
            sk: TENANT_SK.to_owned(),
            tenant: tenant.clone(),
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
                    Err(StoreError::AlreadyExists { what: "tenant" })
                }
                other => Err(StoreError::dynamo(
                    "PutItem",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn get_tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_item(keys::tenant_pk(tenant), TENANT_SK)
            .await?
            .map(|item| decode::<StoredTenant>(item).map(|s| s.tenant))
            .transpose()
    }

    async fn create_brand(&self, tenant: &TenantId, brand: &Brand) -> Result<(), StoreError> {
        if &brand.tenant_id != tenant {
            return Err(StoreError::TenantMismatch);
        }
        let stored = StoredBrand {
            pk: keys::brand_pk(tenant, &brand.id),
            sk: BRAND_SK.to_owned(),
            gsi2pk: keys::brand_collection(tenant),
            gsi2sk: brand.id.to_string(),
            brand: brand.clone(),
        };
        let mut writes = vec![put(encode(&stored)?, &self.table)?];
        for customer in &brand.warehouse_customer_ids {
            let mapping = StoredWarehouseCustomer {
                pk: keys::warehouse_customer_pk(tenant, customer.as_str()),
                sk: BRAND_SK.to_owned(),
                brand_id: brand.id.clone(),
            };
            writes.push(put(encode(&mapping)?, &self.table)?);
        }
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
                    Err(StoreError::AlreadyExists {
                        what: "brand or warehouse customer mapping",
                    })
                }
                other => Err(StoreError::dynamo(
                    "TransactWriteItems",
                    aws_sdk_dynamodb::Error::from(other),
                )),
            },
        }
    }

    async fn get_brand(
        &self,
        tenant: &TenantId,
        brand: &BrandId,
    ) -> Result<Option<Brand>, StoreError> {
        self.get_item(keys::brand_pk(tenant, brand), BRAND_SK)
            .await?
            .map(|item| decode::<StoredBrand>(item).map(|s| s.brand))
            .transpose()
    }

    async fn list_brands(&self, tenant: &TenantId) -> Result<Vec<Brand>, StoreError> {
        let mut brands = Vec::new();
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
                    AttributeValue::S(keys::brand_collection(tenant)),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
            for item in out.items.unwrap_or_default() {
                brands.push(decode::<StoredBrand>(item)?.brand);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(brands),
            }
        }
    }

    async fn brand_for_warehouse_customer(
        &self,
        tenant: &TenantId,
        warehouse_customer_id: &str,
    ) -> Result<Option<BrandId>, StoreError> {
        self.get_item(
            keys::warehouse_customer_pk(tenant, warehouse_customer_id),
            BRAND_SK,
        )
        .await?
        .map(|item| decode::<StoredWarehouseCustomer>(item).map(|s| s.brand_id))
        .transpose()
    }
}
