//! Tenants and brands, and the warehouse-customer → brand mapping.

use async_trait::async_trait;
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
    /// The registry of tenants (`gsi4`, `TENANTS`): the retention sweep goes through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi4sk: Option<String>,
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

#[async_trait]
impl TenantStore for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let stored = StoredTenant {
            pk: keys::tenant_pk(&tenant.id),
            sk: TENANT_SK.to_owned(),
            gsi4pk: Some(keys::TENANT_REGISTRY_PARTITION.to_owned()),
            gsi4sk: Some(tenant.id.to_string()),
            tenant: tenant.clone(),
        };
        self.put_new(encode(&stored)?, "tenant").await
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
        let mut items = vec![encode(&stored)?];
        for customer in &brand.warehouse_customer_ids {
            let mapping = StoredWarehouseCustomer {
                pk: keys::warehouse_customer_pk(tenant, customer.as_str()),
                sk: BRAND_SK.to_owned(),
                brand_id: brand.id.clone(),
            };
            items.push(encode(&mapping)?);
        }
        self.put_all_new(items, "brand or warehouse customer mapping")
            .await
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
        self.query_all(Index::ByTenantUpdated, keys::brand_collection(tenant))
            .await?
            .into_iter()
            .map(|item| decode::<StoredBrand>(item).map(|s| s.brand))
            .collect()
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
