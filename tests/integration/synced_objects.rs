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

/// The attribute names of every item one index partition holds, as the emulator answers a
/// Query on it (moto 5.2.5 projects index reads as DynamoDB does: KEYS_ONLY and INCLUDE).
async fn index_attributes(
    s: &Stack,
    index: &str,
    attribute: &str,
    partition: &str,
) -> Vec<Vec<String>> {
    let out = aws_sdk_dynamodb::Client::new(&s.sdk)
        .query()
        .table_name(&s.table)
        .index_name(index)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", attribute)
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(partition.to_owned()),
        )
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .map(|item| {
            let mut names: Vec<String> = item.keys().cloned().collect();
            names.sort();
            names
        })
        .collect()
}

#[tokio::test]
async fn the_brand_listing_index_holds_what_a_listing_reads_and_the_sku_lookup_only_keys() {
    // given an inventory item of brand b1 (a brand listing entry and a SKU lookup entry)
    let s = stack().await;
    let t = tenant("acme");
    let item = inventory(&t, "i1", "TEE BLK/L", Some(&brand("b1")));
    s.store.upsert_if_newer(&t, &item).await.unwrap();
    // when the indexes are read as they are
    let listed = index_attributes(&s, "gsi6", "gsi1pk", "T#acme#B#b1#INVENTORY").await;
    let looked_up = index_attributes(&s, "gsi7", "gsi3pk", "T#acme#INVENTORY#SKU#TEE BLK/L").await;
    // then the brand listing holds its keys, the body and the listing's attributes only
    // (not the feed's keys, the other indexes' keys, the version or the write times)
    let projected = [
        "pk",
        "sk",
        "gsi1pk",
        "gsi1sk",
        "body",
        "status",
        "warehouse_id",
        "connection_id",
        "id",
    ];
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].iter().all(|n| projected.contains(&n.as_str())),
        "{listed:?}"
    );
    assert!(listed[0].contains(&"body".to_owned()), "{listed:?}");
    let stored = aws_sdk_dynamodb::Client::new(&s.sdk)
        .get_item()
        .table_name(&s.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("T#acme#INVENTORY#i1".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("INVENTORY".into()),
        )
        .send()
        .await
        .unwrap();
    let item = stored.item().expect("stored");
    for left_out in [
        "chgsk",
        "updated_us",
        "written_at",
        "created_us",
        "gsi2pk",
        "gsi3pk",
    ] {
        assert!(item.contains_key(left_out), "the item has {left_out}");
        assert!(
            !listed[0].contains(&left_out.to_owned()),
            "{left_out}: {listed:?}"
        );
    }
    // and the SKU lookup its keys only, which the lookup reads the item by
    assert_eq!(
        looked_up,
        [["gsi3pk", "gsi3sk", "pk", "sk"].map(String::from).to_vec()]
    );
    let found: Vec<InventoryItem> = s
        .store
        .find_by_sku(&t, &Sku::parse("TEE BLK/L").unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.to_string(), "i1");
}

#[tokio::test]
async fn a_product_is_not_in_the_sku_lookup() {
    // given a product with a SKU (no route looks products up by SKU)
    let s = stack().await;
    let t = tenant("acme");
    let product = packr::domain::Product {
        id: packr::domain::ProductId::parse("p1").unwrap(),
        tenant_id: t.clone(),
        brand_id: Some(brand("b1")),
        connection_id: packr::domain::ConnectionId::parse("conn_1").unwrap(),
        warehouse_customer_id: None,
        sku: Sku::parse("TEE BLK/L").unwrap(),
        name: None,
        gtin: None,
        unit_price: None,
        is_kit: false,
        active: true,
        inventory_items: Vec::new(),
        created_date: at(0),
        updated_date: at(1),
    };
    s.store.upsert_if_newer(&t, &product).await.unwrap();
    // then it has no SKU lookup entry, and is listed
    let looked_up = index_attributes(&s, "gsi7", "gsi3pk", "T#acme#PRODUCT#SKU#TEE BLK/L").await;
    assert!(looked_up.is_empty(), "{looked_up:?}");
    let stored: Option<packr::domain::Product> = s.store.get(&t, "p1").await.unwrap();
    assert_eq!(stored, Some(product));
}
