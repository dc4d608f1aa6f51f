//! What the data layer needs to know about an object synced from Trackstar.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{BrandId, InventoryItem, Order, Product, Sku, TenantId, Timestamp};

pub trait SyncedObject:
    Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static
{
    /// The kind's key segment, e.g. `ORDER`.
    const KIND: &'static str;
    /// Human name for errors.
    const NAME: &'static str;
    /// Whether listings can filter on `status`.
    const HAS_STATUS: bool = false;

    fn tenant_id(&self) -> &TenantId;
    fn object_id(&self) -> &str;
    fn brand_id(&self) -> Option<&BrandId>;
    fn updated_date(&self) -> Timestamp;
    /// SKU for SKU lookups, where the kind has one.
    fn sku(&self) -> Option<&Sku> {
        None
    }
}

impl SyncedObject for Order {
    const KIND: &'static str = "ORDER";
    const NAME: &'static str = "order";
    const HAS_STATUS: bool = true;

    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn brand_id(&self) -> Option<&BrandId> {
        self.brand_id.as_ref()
    }
    fn updated_date(&self) -> Timestamp {
        self.updated_date
    }
}

impl SyncedObject for InventoryItem {
    const KIND: &'static str = "INVENTORY";
    const NAME: &'static str = "inventory item";

    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn brand_id(&self) -> Option<&BrandId> {
        self.brand_id.as_ref()
    }
    fn updated_date(&self) -> Timestamp {
        self.updated_date
    }
    fn sku(&self) -> Option<&Sku> {
        Some(&self.sku)
    }
}

impl SyncedObject for Product {
    const KIND: &'static str = "PRODUCT";
    const NAME: &'static str = "product";

    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }
    fn object_id(&self) -> &str {
        self.id.as_str()
    }
    fn brand_id(&self) -> Option<&BrandId> {
        self.brand_id.as_ref()
    }
    fn updated_date(&self) -> Timestamp {
        self.updated_date
    }
    fn sku(&self) -> Option<&Sku> {
        Some(&self.sku)
    }
}
