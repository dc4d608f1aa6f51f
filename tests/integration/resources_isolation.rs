//! Tenant isolation and brand ownership of each kind added beside orders, inventory and
//! products, on the store level: the same Trackstar object converted for two tenants is
//! two objects, each seen only by its tenant; a brand-owned kind carries the brand that
//! claimed its warehouse customer, a tenant-wide kind none. Each body runs once per new
//! kind.

use packr::domain::{Brand, BrandId, TenantId, WarehouseCustomerId};
use packr::resource::DomainObject;
use packr::store::dynamo::DynamoStore;
use packr::store::{
    ConnectionStore, ListQuery, ObjectStore, PageLimit, PageRequest, TenantStore, UpsertOutcome,
};
use serde_json::json;
use trackstar_sim::{SimConfig, SimConnection};

use crate::helpers::*;
use crate::resources_support::{converted, per_new_kind, Case};

const CONNECTION: &str = "conn_iso";
const CUSTOMER: &str = "wc_iso_1";
const GLOBEX_CONNECTION: &str = "conn_iso_globex";

async fn listed(
    store: &DynamoStore,
    t: &TenantId,
    case: &Case,
    brand: Option<BrandId>,
) -> Vec<DomainObject> {
    let page = store
        .list_objects(
            t,
            case.kind,
            &ListQuery {
                brand_id: brand,
                ..ListQuery::default()
            },
            &PageRequest::first(PageLimit::parse(Some(100)).unwrap()),
        )
        .await
        .unwrap();
    page.items
}

async fn isolation_body(case: &Case) {
    // given acme (brand b1 claims warehouse customer wc_iso_1; brand b2 claims none) and
    // globex (brand g1 claims the same warehouse customer id in its own WMS), each with a
    // connection, and Trackstar's objects of the kind
    let s = stack().await;
    let acme = seed_acme(&s.store, CUSTOMER, CONNECTION).await;
    s.store
        .create_brand(
            &acme,
            &Brand {
                tenant_id: acme.clone(),
                id: brand("b2"),
                name: "B2".into(),
                warehouse_customer_ids: vec![],
                created_at: at(0),
            },
        )
        .await
        .unwrap();
    let globex = tenant("globex");
    s.store
        .create_tenant(&packr::domain::Tenant {
            id: globex.clone(),
            name: "Globex".into(),
            default_currency: packr::domain::Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    s.store
        .create_brand(
            &globex,
            &Brand {
                tenant_id: globex.clone(),
                id: brand("g1"),
                name: "G1".into(),
                warehouse_customer_ids: vec![WarehouseCustomerId::parse(CUSTOMER).unwrap()],
                created_at: at(0),
            },
        )
        .await
        .unwrap();
    s.store
        .create_connection(&globex, &connection(&globex, GLOBEX_CONNECTION))
        .await
        .unwrap();
    let sim = trackstar_sim::spawn(SimConfig {
        orders_per_connection: 20,
        connections: vec![SimConnection {
            connection_id: CONNECTION.into(),
            access_token: "tok_iso".into(),
            integration_name: "sandbox".into(),
            warehouse_customer_ids: vec![CUSTOMER.into()],
        }],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let truth = case.truth(&sim, CONNECTION);
    assert!(truth.len() >= 2, "{}", truth.len());
    // one object's warehouse customer is claimed by no brand
    let mut unclaimed = truth[1].clone();
    if case.brand_owned() {
        unclaimed["warehouse_customer_id"] = json!("wc_nobody");
    }
    let object = &truth[0];
    let id = object["id"].as_str().unwrap();

    // when acme's connection and globex's both store it (the same Trackstar id), and acme
    // the one whose customer nobody claimed
    let ours = converted(&s.store, &acme, CONNECTION, case.kind, object).await;
    let theirs = converted(&s.store, &globex, GLOBEX_CONNECTION, case.kind, object).await;
    let orphan = converted(&s.store, &acme, CONNECTION, case.kind, &unclaimed).await;
    for (t, o) in [(&acme, &ours), (&globex, &theirs), (&acme, &orphan)] {
        let outcome = s.store.upsert_object(t, o).await.unwrap();
        assert_eq!(outcome, UpsertOutcome::Applied, "{t}");
    }

    // then each tenant reads its own copy, never the other's
    let read = |t: TenantId| {
        let store = s.store.clone();
        async move { store.get_object(&t, case.kind, id).await.unwrap().unwrap() }
    };
    let acme_copy = read(acme.clone()).await;
    let globex_copy = read(globex.clone()).await;
    assert!(acme_copy.same_as(&ours));
    assert!(globex_copy.same_as(&theirs));
    assert_eq!(acme_copy.erased().tenant(), &acme);
    assert_eq!(globex_copy.erased().tenant(), &globex);
    let acme_listing = listed(&s.store, &acme, case, None).await;
    assert_eq!(acme_listing.len(), 2);
    assert!(acme_listing.iter().all(|o| o.erased().tenant() == &acme));
    let globex_listing = listed(&s.store, &globex, case, None).await;
    assert_eq!(globex_listing.len(), 1);
    assert!(globex_listing[0].same_as(&theirs));
    assert!(s
        .store
        .get_object(&tenant("initech"), case.kind, id)
        .await
        .unwrap()
        .is_none());

    // and the owner follows the kind: the brand that claimed the warehouse customer in
    // that tenant, or none for tenant-wide kinds; brand listings hold only their brand's
    let b1 = listed(&s.store, &acme, case, Some(brand("b1"))).await;
    let b2 = listed(&s.store, &acme, case, Some(brand("b2"))).await;
    let g1 = listed(&s.store, &globex, case, Some(brand("g1"))).await;
    if case.brand_owned() {
        assert_eq!(ours.brand_id(), Some(&brand("b1")));
        assert_eq!(theirs.brand_id(), Some(&brand("g1")));
        assert_eq!(orphan.brand_id(), None, "an unclaimed customer: no brand");
        assert_eq!(b1.len(), 1);
        assert!(b1[0].same_as(&ours));
        assert_eq!(g1.len(), 1);
        assert!(g1[0].same_as(&theirs));
    } else {
        for o in [&ours, &theirs, &orphan] {
            assert_eq!(o.brand_id(), None, "tenant-wide: {o:?}");
        }
        assert!(b1.is_empty() && g1.is_empty());
    }
    assert!(b2.is_empty(), "{b2:?}");
    sim.shutdown().await;
}
per_new_kind!(objects_are_kept_apart_by_tenant_and_carry_their_owners_brand => isolation_body);
