//! Tenants, brands, warehouse-customer mapping, connections and their global route.

use packr::domain::{
    Brand, Connection, ConnectionId, ConnectionStatus, Currency, Tenant, TenantId,
    WarehouseCustomerId,
};
use packr::store::{ConnectionStore, StoreError, TenantStore};

use crate::helpers::*;

fn new_tenant(id: &str) -> Tenant {
    Tenant {
        id: tenant(id),
        name: format!("{id} logistics"),
        default_currency: Currency::parse("USD").unwrap(),
        created_at: at(0),
    }
}

fn new_brand(t: &TenantId, id: &str, customers: &[&str]) -> Brand {
    Brand {
        tenant_id: t.clone(),
        id: brand(id),
        name: id.to_uppercase(),
        warehouse_customer_ids: customers
            .iter()
            .map(|c| WarehouseCustomerId::parse(*c).unwrap())
            .collect(),
        created_at: at(0),
    }
}

fn new_connection(t: &TenantId, id: &str) -> Connection {
    Connection {
        tenant_id: t.clone(),
        connection_id: ConnectionId::parse(id).unwrap(),
        brand_id: None,
        integration_name: "shipbob".into(),
        status: ConnectionStatus::Active,
        access_token_secret: format!("packr/test/trackstar/connections/{id}"),
        errors: vec![],
        stuck_schedules: Vec::new(),
        full_sync_requested_at: None,
        created_at: at(0),
        updated_at: at(0),
        version: 0,
        marks: Default::default(),
    }
}

#[tokio::test]
async fn a_tenant_is_created_once() {
    let s = stack().await;
    s.store.create_tenant(&new_tenant("acme")).await.unwrap();

    let again = s.store.create_tenant(&new_tenant("acme")).await;

    assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(
        s.store.get_tenant(&tenant("acme")).await.unwrap(),
        Some(new_tenant("acme"))
    );
}

#[tokio::test]
async fn brands_map_warehouse_customers_and_a_claimed_id_cannot_be_claimed_twice() {
    let s = stack().await;
    let t = tenant("acme");
    s.store
        .create_brand(&t, &new_brand(&t, "b1", &["whc_1", "whc_2"]))
        .await
        .unwrap();

    let clash = s
        .store
        .create_brand(&t, &new_brand(&t, "b2", &["whc_3", "whc_2"]))
        .await;

    assert!(matches!(clash, Err(StoreError::AlreadyExists { .. })));
    // nothing of the failed brand was written
    assert_eq!(s.store.get_brand(&t, &brand("b2")).await.unwrap(), None);
    assert_eq!(
        s.store
            .brand_for_warehouse_customer(&t, "whc_3")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.store
            .brand_for_warehouse_customer(&t, "whc_2")
            .await
            .unwrap(),
        Some(brand("b1"))
    );
    assert_eq!(s.store.list_brands(&t).await.unwrap().len(), 1);
    // another tenant's mapping is its own
    let other = tenant("globex");
    assert_eq!(
        s.store
            .brand_for_warehouse_customer(&other, "whc_1")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_connection_routes_to_its_tenant_and_is_hidden_from_others() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    let c = new_connection(&a, "conn_1");
    s.store.create_connection(&a, &c).await.unwrap();

    let route = s.store.route(&c.connection_id).await.unwrap().unwrap();

    assert_eq!(route.tenant_id, a);
    assert_eq!(
        s.store.get_connection(&a, &c.connection_id).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        s.store.get_connection(&b, &c.connection_id).await.unwrap(),
        None
    );
    assert!(s.store.list_connections(&b).await.unwrap().is_empty());
    assert_eq!(s.store.list_connections(&a).await.unwrap(), vec![c]);
}

#[tokio::test]
async fn a_connection_id_cannot_be_claimed_by_a_second_tenant() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    s.store
        .create_connection(&a, &new_connection(&a, "conn_1"))
        .await
        .unwrap();

    let clash = s
        .store
        .create_connection(&b, &new_connection(&b, "conn_1"))
        .await;

    assert!(matches!(clash, Err(StoreError::AlreadyExists { .. })));
    let route = s
        .store
        .route(&ConnectionId::parse("conn_1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(route.tenant_id, a);
    assert_eq!(
        s.store
            .get_connection(&b, &ConnectionId::parse("conn_1").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn updating_a_connection_requires_it_to_exist_in_that_tenant() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    let mut c = new_connection(&a, "conn_1");
    s.store.create_connection(&a, &c).await.unwrap();

    c.status = ConnectionStatus::Disconnected;
    s.store.update_connection(&a, &c).await.unwrap();
    let missing = s
        .store
        .update_connection(&b, &new_connection(&b, "conn_1"))
        .await;

    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    let stored = s
        .store
        .get_connection(&a, &c.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
}

#[tokio::test]
async fn a_connection_changed_since_it_was_read_is_not_overwritten() {
    // given two writers that read the same connection
    let s = stack().await;
    let a = tenant("acme");
    s.store
        .create_connection(&a, &new_connection(&a, "conn_1"))
        .await
        .unwrap();
    let id = ConnectionId::parse("conn_1").unwrap();
    let mut first = s.store.get_connection(&a, &id).await.unwrap().unwrap();
    let mut second = first.clone();
    // when both write their change
    first.status = ConnectionStatus::Disconnected;
    s.store.update_connection(&a, &first).await.unwrap();
    second.integration_name = "other".into();
    let late = s.store.update_connection(&a, &second).await;
    // then the second is refused as a conflict and the first change stands
    assert!(matches!(late, Err(StoreError::Conflict { .. })), "{late:?}");
    let stored = s.store.get_connection(&a, &id).await.unwrap().unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
    assert_eq!(stored.integration_name, "shipbob");
    assert_eq!(stored.version, 1);
    // and going through modify_connection re-reads and merges
    let merged = packr::store::modify_connection(&s.store, &a, &id, |c| {
        c.integration_name = "other".into();
        packr::store::Change::Write(())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (
            merged.0.status,
            merged.0.integration_name.as_str(),
            merged.0.version
        ),
        (ConnectionStatus::Disconnected, "other", 2)
    );
}
