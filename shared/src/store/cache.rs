//! Lookups the webhook path makes for every event — connection route, connection, tenant,
//! brand of a warehouse customer — cached in the warm instance for a short time, so a
//! burst of events costs a handful of reads instead of four per event.
//!
//! What a cache entry may hide, for at most its time to live (default 60 s): a connection
//! changed by another instance (writes through this instance refresh the entry), a brand
//! that claimed a warehouse customer id since. Absent connections, routes and tenants are
//! not cached: one that appears is seen at once. This is a cache, not state: every
//! instance may hold its own, and losing it costs only reads.
//!
//! Hand-written: a map with expiry behind a mutex is all it takes; the instance is small
//! and short-lived, and the entries are bounded by [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{ConnectionStore, StoreError, TenantStore};
use crate::domain::{Brand, BrandId, Connection, ConnectionId, ConnectionRoute, Tenant, TenantId};

/// Entries per map before the map is cleared (a warm instance serves a few tenants).
pub const MAX_ENTRIES: usize = 10_000;

pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic elsewhere while holding the lock leaves a map that is still valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((until, value)) if *until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: K, value: V, ttl: Duration) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now() + ttl, value));
    }

    fn remove(&self, key: &K) {
        self.lock().remove(key);
    }
}

/// A [`ConnectionStore`] and [`TenantStore`] whose per-event reads are cached.
pub struct CachedLookups {
    connections: Arc<dyn ConnectionStore>,
    tenants: Arc<dyn TenantStore>,
    ttl: Duration,
    routes: TtlMap<ConnectionId, ConnectionRoute>,
    connection: TtlMap<(TenantId, ConnectionId), Connection>,
    tenant: TtlMap<TenantId, Tenant>,
    customer_brand: TtlMap<(TenantId, String), Option<BrandId>>,
}

impl CachedLookups {
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        tenants: Arc<dyn TenantStore>,
        ttl: Duration,
    ) -> Self {
        Self {
            connections,
            tenants,
            ttl,
            routes: TtlMap::new(),
            connection: TtlMap::new(),
            tenant: TtlMap::new(),
            customer_brand: TtlMap::new(),
        }
    }

    /// Forgets what is cached of one connection (a connection event changed it).
    pub fn forget_connection(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.connection
            .remove(&(tenant.clone(), connection.clone()));
        self.routes.remove(connection);
    }
}

#[async_trait]
impl ConnectionStore for CachedLookups {
    async fn create_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        self.connections
            .create_connection(tenant, connection)
            .await?;
        self.forget_connection(tenant, &connection.connection_id);
        Ok(())
    }

    async fn update_connection(
        &self,
        tenant: &TenantId,
        connection: &Connection,
    ) -> Result<(), StoreError> {
        let result = self.connections.update_connection(tenant, connection).await;
        // Whatever the outcome, the next read goes to the table.
        self.forget_connection(tenant, &connection.connection_id);
        result
    }

    async fn get_connection(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Connection>, StoreError> {
        let key = (tenant.clone(), connection.clone());
        if let Some(found) = self.connection.get(&key) {
            return Ok(Some(found));
        }
        let found = self.connections.get_connection(tenant, connection).await?;
        if let Some(found) = &found {
            self.connection.put(key, found.clone(), self.ttl);
        }
        Ok(found)
    }

    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<Connection>, StoreError> {
        self.connections.list_connections(tenant).await
    }

    async fn list_active(&self) -> Result<Vec<Connection>, StoreError> {
        self.connections.list_active().await
    }

    async fn route(
        &self,
        connection: &ConnectionId,
    ) -> Result<Option<ConnectionRoute>, StoreError> {
        if let Some(found) = self.routes.get(connection) {
            return Ok(Some(found));
        }
        let found = self.connections.route(connection).await?;
        if let Some(found) = &found {
            self.routes.put(connection.clone(), found.clone(), self.ttl);
        }
        Ok(found)
    }
}

#[async_trait]
impl TenantStore for CachedLookups {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.tenants.create_tenant(tenant).await
    }

    async fn get_tenant(&self, tenant: &TenantId) -> Result<Option<Tenant>, StoreError> {
        if let Some(found) = self.tenant.get(tenant) {
            return Ok(Some(found));
        }
        let found = self.tenants.get_tenant(tenant).await?;
        if let Some(found) = &found {
            self.tenant.put(tenant.clone(), found.clone(), self.ttl);
        }
        Ok(found)
    }

    async fn create_brand(&self, tenant: &TenantId, brand: &Brand) -> Result<(), StoreError> {
        self.tenants.create_brand(tenant, brand).await?;
        for customer in &brand.warehouse_customer_ids {
            self.customer_brand
                .remove(&(tenant.clone(), customer.as_str().to_owned()));
        }
        Ok(())
    }

    async fn get_brand(
        &self,
        tenant: &TenantId,
        brand: &BrandId,
    ) -> Result<Option<Brand>, StoreError> {
        self.tenants.get_brand(tenant, brand).await
    }

    async fn list_brands(&self, tenant: &TenantId) -> Result<Vec<Brand>, StoreError> {
        self.tenants.list_brands(tenant).await
    }

    async fn brand_for_warehouse_customer(
        &self,
        tenant: &TenantId,
        warehouse_customer_id: &str,
    ) -> Result<Option<BrandId>, StoreError> {
        let key = (tenant.clone(), warehouse_customer_id.to_owned());
        if let Some(found) = self.customer_brand.get(&key) {
            return Ok(found);
        }
        let found = self
            .tenants
            .brand_for_warehouse_customer(tenant, warehouse_customer_id)
            .await?;
        self.customer_brand.put(key, found.clone(), self.ttl);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_served_until_it_expires() {
        let map: TtlMap<&str, u32> = TtlMap::new();
        map.put("a", 1, Duration::from_secs(60));
        map.put("b", 2, Duration::ZERO);
        assert_eq!(map.get(&"a"), Some(1));
        assert_eq!(map.get(&"b"), None);
        map.remove(&"a");
        assert_eq!(map.get(&"a"), None);
    }

    #[test]
    fn a_full_map_starts_over_rather_than_grow() {
        let map: TtlMap<usize, usize> = TtlMap::new();
        for i in 0..=MAX_ENTRIES {
            map.put(i, i, Duration::from_secs(60));
        }
        assert_eq!(map.lock().len(), 1);
        assert_eq!(map.get(&MAX_ENTRIES), Some(MAX_ENTRIES));
    }
}
