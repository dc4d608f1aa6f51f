//! Keyset pagination: complete walks with filters, newest first, and cursors that only
//! work for the tenant and query that minted them.

use std::collections::HashSet;

use packr::domain::{Order, OrderStatus, TenantId};
use packr::store::dynamo::DynamoStore;
use packr::store::{
    CursorCodec, CursorError, ListQuery, PageLimit, PageRequest, StoreError, SyncedStore,
};

use crate::helpers::*;

async fn seed(s: &Stack, t: &TenantId, n: i64) -> Vec<Order> {
    let mut orders = Vec::new();
    for i in 0..n {
        let b = brand(if i % 3 == 0 { "b1" } else { "b2" });
        let mut o = order(t, &format!("o{i:04}"), Some(&b), i);
        if i % 4 == 0 {
            o.status = OrderStatus::Packed;
        }
        orders.push(o);
    }
    futures::future::join_all(orders.iter().map(|o| s.store.upsert_if_newer(t, o)))
        .await
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    orders
}

async fn walk(store: &DynamoStore, t: &TenantId, query: &ListQuery, limit: u32) -> Vec<Order> {
    let limit = PageLimit::parse(Some(limit)).unwrap();
    let mut page = PageRequest::first(limit);
    let mut seen = Vec::new();
    loop {
        let result = SyncedStore::<Order>::list(store, t, query, &page)
            .await
            .unwrap();
        assert!(result.items.len() <= limit.get() as usize);
        seen.extend(result.items);
        match result.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => return seen,
        }
    }
}

fn ids(orders: &[Order]) -> Vec<String> {
    orders.iter().map(|o| o.id.to_string()).collect()
}

fn expected_newest_first(orders: &[Order], keep: impl Fn(&Order) -> bool) -> Vec<String> {
    let mut v: Vec<&Order> = orders.iter().filter(|o| keep(o)).collect();
    v.sort_by(|a, b| b.updated_date.cmp(&a.updated_date).then(b.id.cmp(&a.id)));
    v.into_iter().map(|o| o.id.to_string()).collect()
}

#[tokio::test]
async fn a_tenant_walk_returns_every_order_once_newest_first() {
    let s = stack().await;
    let t = tenant("acme");
    let orders = seed(&s, &t, 230).await;
    let other = tenant("globex");
    seed(&s, &other, 5).await;

    let seen = walk(&s.store, &t, &ListQuery::default(), 50).await;

    assert_eq!(ids(&seen), expected_newest_first(&orders, |_| true));
}

#[tokio::test]
async fn brand_status_and_since_filters_hold_on_every_page() {
    let s = stack().await;
    let t = tenant("acme");
    let orders = seed(&s, &t, 250).await;
    let query = ListQuery {
        brand_id: Some(brand("b2")),
        updated_since: Some(at(40)),
        status: Some(OrderStatus::Packed.as_str().to_owned()),
        warehouse_id: None,
    };

    let seen = walk(&s.store, &t, &query, 7).await;

    let expected = expected_newest_first(&orders, |o| {
        o.brand_id == Some(brand("b2"))
            && o.updated_date >= at(40)
            && o.status == OrderStatus::Packed
    });
    assert!(expected.len() > 20, "the filter must leave several pages");
    assert_eq!(ids(&seen), expected);
}

#[tokio::test]
async fn orders_written_during_a_walk_cause_no_gaps_or_repeats() {
    let s = stack().await;
    let t = tenant("acme");
    let orders = seed(&s, &t, 120).await;
    let limit = PageLimit::parse(Some(25)).unwrap();
    let query = ListQuery::default();
    let mut page = PageRequest::first(limit);
    let mut seen = Vec::new();
    let mut extra = 0;
    loop {
        let result = SyncedStore::<Order>::list(&s.store, &t, &query, &page)
            .await
            .unwrap();
        seen.extend(result.items);
        // new orders arrive between pages (newer than everything listed so far)
        for _ in 0..3 {
            extra += 1;
            let o = order(
                &t,
                &format!("new{extra:03}"),
                Some(&brand("b1")),
                10_000 + extra,
            );
            s.store.upsert_if_newer(&t, &o).await.unwrap();
        }
        match result.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => break,
        }
    }
    let original: Vec<String> = ids(&seen)
        .into_iter()
        .filter(|id| id.starts_with('o'))
        .collect();
    assert_eq!(original, expected_newest_first(&orders, |_| true));
    let unique: HashSet<String> = ids(&seen).into_iter().collect();
    assert_eq!(unique.len(), seen.len(), "no order appears twice");
}

async fn first_cursor(s: &Stack, t: &TenantId, query: &ListQuery) -> String {
    let page = PageRequest::first(PageLimit::parse(Some(5)).unwrap());
    SyncedStore::<Order>::list(&s.store, t, query, &page)
        .await
        .unwrap()
        .next_cursor
        .expect("more than one page")
}

fn cursor_error(result: Result<packr::store::Page<Order>, StoreError>) -> CursorError {
    match result {
        Err(StoreError::Cursor(e)) => e,
        other => panic!("expected a cursor error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_cursor_from_another_tenant_is_rejected() {
    let s = stack().await;
    let (a, b) = (tenant("acme"), tenant("globex"));
    seed(&s, &a, 20).await;
    seed(&s, &b, 20).await;
    let cursor = first_cursor(&s, &a, &ListQuery::default()).await;

    let page = PageRequest::after(PageLimit::default(), cursor);
    let result = SyncedStore::<Order>::list(&s.store, &b, &ListQuery::default(), &page).await;

    assert_eq!(cursor_error(result), CursorError::WrongQuery);
}

#[tokio::test]
async fn a_cursor_from_another_filter_is_rejected() {
    let s = stack().await;
    let t = tenant("acme");
    seed(&s, &t, 40).await;
    let cursor = first_cursor(&s, &t, &ListQuery::default()).await;
    let other = ListQuery {
        brand_id: Some(brand("b1")),
        ..ListQuery::default()
    };

    let page = PageRequest::after(PageLimit::default(), cursor);
    let result = SyncedStore::<Order>::list(&s.store, &t, &other, &page).await;

    assert_eq!(cursor_error(result), CursorError::WrongQuery);
}

#[tokio::test]
async fn a_tampered_or_foreign_signed_cursor_is_rejected() {
    let s = stack().await;
    let t = tenant("acme");
    seed(&s, &t, 20).await;
    let cursor = first_cursor(&s, &t, &ListQuery::default()).await;
    let mut tampered = cursor.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let page = PageRequest::after(PageLimit::default(), tampered);
    let result = SyncedStore::<Order>::list(&s.store, &t, &ListQuery::default(), &page).await;
    assert!(matches!(
        cursor_error(result),
        CursorError::BadSignature | CursorError::Malformed
    ));

    // a store with another signing key does not accept it either
    let other_key = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&s.sdk),
        s.table.clone(),
        CursorCodec::new(b"another-key".to_vec()),
    );
    let page = PageRequest::after(PageLimit::default(), cursor);
    let result = SyncedStore::<Order>::list(&other_key, &t, &ListQuery::default(), &page).await;
    assert_eq!(cursor_error(result), CursorError::BadSignature);
}

#[tokio::test]
async fn a_status_filter_on_inventory_is_refused() {
    let s = stack().await;
    let t = tenant("acme");
    let query = ListQuery {
        status: Some(OrderStatus::Open.as_str().to_owned()),
        ..ListQuery::default()
    };

    let result = SyncedStore::<packr::domain::InventoryItem>::list(
        &s.store,
        &t,
        &query,
        &PageRequest::default(),
    )
    .await;

    assert!(matches!(
        result,
        Err(StoreError::UnsupportedFilter { field: "status" })
    ));
}

#[tokio::test]
async fn a_rare_filter_reads_at_most_three_times_the_limit_per_request_and_the_walk_is_complete() {
    // given 200 orders of which 3 are cancelled, the oldest ones
    let s = stack().await;
    let t = tenant("acme");
    let mut orders = Vec::new();
    for i in 0..200 {
        let mut o = order(&t, &format!("o{i:04}"), None, i);
        if i < 3 {
            o.status = OrderStatus::Cancelled;
        }
        orders.push(o);
    }
    for chunk in orders.chunks(25) {
        futures::future::join_all(chunk.iter().map(|o| s.store.upsert_if_newer(&t, o))).await;
    }
    let meter = packr::store::capacity::CapacityMeter::new();
    let store = DynamoStore::new(
        packr::store::capacity::metered_client(&s.sdk_as("api-orders"), meter.clone()),
        s.table.clone(),
        CursorCodec::new(b"integration-test-cursor-key".to_vec()),
    );
    let query = ListQuery {
        status: Some(OrderStatus::Cancelled.as_str().to_owned()),
        ..ListQuery::default()
    };
    // when a client walks `status=cancelled` 10 at a time
    let limit = PageLimit::parse(Some(10)).unwrap();
    let mut page = PageRequest::first(limit);
    let (mut found, mut requests) = (Vec::new(), 0);
    loop {
        let result = SyncedStore::<Order>::list(&store, &t, &query, &page)
            .await
            .unwrap();
        requests += 1;
        // then no request read more than 3 × limit (+ the lookahead) items
        let read = meter.take().items_read;
        assert!(read <= 31, "request {requests} read {read} items");
        found.extend(result.items);
        match result.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => break,
        }
    }
    // and the walk found every cancelled order once, newest first, in several shorter pages
    assert_eq!(ids(&found), vec!["o0002", "o0001", "o0000"]);
    assert!(requests >= 200 / 31, "{requests} requests");
}
