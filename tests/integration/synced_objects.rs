//! Orders, inventory and products: only-if-newer upserts, tenant scoping, SKU lookups.

use packr::domain::{InventoryItem, Order, OrderStatus, Sku};
use packr::store::{StoreError, SyncedStore, UpsertOutcome};

use crate::helpers::*;

#[tokio::test]
async fn a_new_order_is_applied_and_reads_back_equal() {
    // given
    let s = stack().await;
    let t = tenant("acme");
    let o = order(&t, "o1", Some(&brand("b1")), 10);
    // when
    let outcome = s.store.upsert_if_newer(&t, &o).await.unwrap();
    // then
    assert_eq!(outcome, UpsertOutcome::Applied);
    let stored: Option<Order> = s.store.get(&t, "o1").await.unwrap();
    assert_eq!(stored, Some(o));
}

#[tokio::test]
async fn a_newer_update_replaces_the_stored_order() {
    let s = stack().await;
    let t = tenant("acme");
    s.store
        .upsert_if_newer(&t, &order(&t, "o1", None, 10))
        .await
        .unwrap();
    let mut newer = order(&t, "o1", None, 20);
    newer.status = OrderStatus::Packed;

    let outcome = s.store.upsert_if_newer(&t, &newer).await.unwrap();

    assert_eq!(outcome, UpsertOutcome::Applied);
    let stored: Order = s.store.get(&t, "o1").await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Packed);
}

#[tokio::test]
async fn an_older_update_arriving_late_is_stale_and_changes_nothing() {
    let s = stack().await;
    let t = tenant("acme");
    let mut newer = order(&t, "o1", None, 20);
    newer.status = OrderStatus::Fulfilled;
    s.store.upsert_if_newer(&t, &newer).await.unwrap();
    let mut older = order(&t, "o1", None, 10);
    older.status = OrderStatus::Open;

    let outcome = s.store.upsert_if_newer(&t, &older).await.unwrap();

    assert_eq!(outcome, UpsertOutcome::Stale);
    let stored: Order = s.store.get(&t, "o1").await.unwrap().unwrap();
    assert_eq!(stored, newer);
}

#[tokio::test]
async fn the_same_version_twice_is_a_duplicate() {
    let s = stack().await;
    let t = tenant("acme");
    let o = order(&t, "o1", None, 10);
    s.store.upsert_if_newer(&t, &o).await.unwrap();

    let outcome = s.store.upsert_if_newer(&t, &o).await.unwrap();

    assert_eq!(outcome, UpsertOutcome::Duplicate);
}

#[tokio::test]
async fn concurrent_versions_in_any_order_leave_the_newest() {
    // given 20 versions of one order written concurrently in shuffled order, through the
    // proxy that gives the emulator DynamoDB's per-item atomicity of conditional writes
    // (moto evaluates a condition and writes without a lock: with the store's `UpdateItem`s,
    // which moto takes longer over than a put, two writers can both pass)
    let s = stack().await;
    let (proxy, proxied) = packr_local::testing::through_fault_proxy(&s.sdk).await;
    let store = packr::store::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&proxied),
        s.table.clone(),
        packr::store::CursorCodec::new(CURSOR_KEY.to_vec()),
    );
    let t = tenant("acme");
    let mut versions: Vec<i64> = (1..=20).collect();
    versions.reverse();
    versions.rotate_left(7);
    // when
    let tasks = versions.into_iter().map(|v| {
        let store = store.clone();
        let t = t.clone();
        tokio::spawn(async move {
            let mut o = order(&t, "o1", None, v);
            o.order_number = Some(format!("v{v}"));
            store.upsert_if_newer(&t, &o).await.unwrap()
        })
    });
    let outcomes = futures::future::join_all(tasks).await;
    // then
    let stored: Order = s.store.get(&t, "o1").await.unwrap().unwrap();
    assert_eq!(stored.order_number.as_deref(), Some("v20"));
    assert_eq!(stored.updated_date, at(20));
    let applied = outcomes
        .into_iter()
        .filter(|o| *o.as_ref().unwrap() == UpsertOutcome::Applied)
        .count();
    assert!(applied >= 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn another_tenants_order_is_invisible() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    s.store
        .upsert_if_newer(&a, &order(&a, "o1", None, 10))
        .await
        .unwrap();

    let seen: Option<Order> = s.store.get(&b, "o1").await.unwrap();

    assert_eq!(seen, None);
}

#[tokio::test]
async fn writing_an_object_for_another_tenant_is_refused() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));

    let err = s
        .store
        .upsert_if_newer(&b, &order(&a, "o1", None, 10))
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::TenantMismatch));
    let seen: Option<Order> = s.store.get(&a, "o1").await.unwrap();
    assert_eq!(seen, None);
}

#[tokio::test]
async fn inventory_is_found_by_sku_within_the_tenant_only() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    for item in [
        inventory(&a, "i1", "TEE BLK/L", Some(&brand("b1"))),
        inventory(&a, "i2", "TEE BLK/L", Some(&brand("b2"))),
        inventory(&a, "i3", "MUG", Some(&brand("b1"))),
        inventory(&b, "i4", "TEE BLK/L", None),
    ] {
        let t = item.tenant_id.clone();
        assert_eq!(
            s.store.upsert_if_newer(&t, &item).await.unwrap(),
            UpsertOutcome::Applied
        );
    }

    let found: Vec<InventoryItem> = s
        .store
        .find_by_sku(&a, &Sku::parse("TEE BLK/L").unwrap())
        .await
        .unwrap();

    let mut ids: Vec<_> = found.iter().map(|i| i.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["i1", "i2"]);
}
