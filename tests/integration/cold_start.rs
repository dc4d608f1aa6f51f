//! What a function does at cold start and what it leaves to first use: the secrets its
//! clients need are read when first needed (not at init), once, and kept.

use std::sync::Arc;

use packr::domain::{Order, TenantId};
use packr::secrets::InMemorySecretSource;
use packr::store::dynamo::DynamoStore;
use packr::store::{ListQuery, PageLimit, PageRequest, StoreError, SyncedStore};
use packr::trackstar::{TrackstarClient, TrackstarConfig};
use trackstar_sim::SimConfig;

use crate::helpers::*;

const API_KEY_SECRET: &str = "packr/test/trackstar/api-key";
const CURSOR_SECRET: &str = "packr/test/cursor-signing-key";

#[tokio::test]
async fn the_trackstar_api_key_is_read_from_its_secret_on_the_first_call_then_kept() {
    // Given a client whose organisation key is a secret
    let sim = trackstar_sim::spawn(SimConfig::default()).await.unwrap();
    let secrets = Arc::new(InMemorySecretSource::with(API_KEY_SECRET, "sim_api_key"));
    let client = TrackstarClient::with_api_key_secret(
        TrackstarConfig {
            base_url: sim.base_url.clone(),
            ..TrackstarConfig::default()
        },
        API_KEY_SECRET,
        secrets.clone(),
    )
    .unwrap();

    // When it is built, nothing is read
    assert_eq!(secrets.get_count(), 0);

    // When two organisation calls are made, the key is read once and the calls succeed
    client.create_link_token(None).await.expect("first call");
    client.create_link_token(None).await.expect("second call");
    assert_eq!(secrets.get_count(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_trackstar_api_key_fails_the_call_that_needs_it_not_the_client() {
    // Given a client whose key secret does not exist
    let sim = trackstar_sim::spawn(SimConfig::default()).await.unwrap();
    let client = TrackstarClient::with_api_key_secret(
        TrackstarConfig {
            base_url: sim.base_url.clone(),
            ..TrackstarConfig::default()
        },
        API_KEY_SECRET,
        Arc::new(InMemorySecretSource::new()),
    )
    .expect("building the client reads nothing");

    // When a call needs the key, then that call fails with a secret error
    let error = client.create_link_token(None).await.unwrap_err();
    assert_eq!(error.kind(), "secret");
    sim.shutdown().await;
}

async fn seed_orders(s: &Stack, t: &TenantId, n: i64) {
    for i in 0..n {
        let o: Order = order(t, &format!("o{i:04}"), Some(&brand("b1")), i);
        s.store.upsert_if_newer(t, &o).await.unwrap();
    }
}

#[tokio::test]
async fn a_store_reads_its_cursor_key_on_the_first_listing_that_signs_a_cursor_then_keeps_it() {
    // Given a store whose cursor key is a secret, and three orders
    let s = stack().await;
    let t = tenant("acme");
    seed_orders(&s, &t, 3).await;
    let secrets = Arc::new(InMemorySecretSource::with(
        CURSOR_SECRET,
        "k".repeat(64).as_str(),
    ));
    let store = DynamoStore::with_cursor_secret(
        aws_sdk_dynamodb::Client::new(&s.sdk),
        s.table.clone(),
        secrets.clone(),
        CURSOR_SECRET,
    );
    assert_eq!(secrets.get_count(), 0, "nothing is read when it is built");

    // When it lists a page of one, then a page after that cursor
    let limit = PageLimit::parse(Some(1)).unwrap();
    let first = SyncedStore::<Order>::list(
        &store,
        &t,
        &ListQuery::default(),
        &PageRequest::first(limit),
    )
    .await
    .unwrap();
    let cursor = first.next_cursor.expect("a next page");
    let second = SyncedStore::<Order>::list(
        &store,
        &t,
        &ListQuery::default(),
        &PageRequest::after(limit, cursor),
    )
    .await
    .unwrap();

    // Then the key was read once, and the cursor it signed is accepted
    assert_eq!(second.items.len(), 1);
    assert_ne!(first.items[0].id, second.items[0].id);
    assert_eq!(secrets.get_count(), 1);
}

#[tokio::test]
async fn a_missing_cursor_key_fails_the_listing_as_a_retryable_store_error() {
    // Given a store whose cursor key secret does not exist, and two orders
    let s = stack().await;
    let t = tenant("acme");
    seed_orders(&s, &t, 2).await;
    let store = DynamoStore::with_cursor_secret(
        aws_sdk_dynamodb::Client::new(&s.sdk),
        s.table.clone(),
        Arc::new(InMemorySecretSource::new()),
        CURSOR_SECRET,
    );

    // When a listing needs to sign a cursor
    let limit = PageLimit::parse(Some(1)).unwrap();
    let result = SyncedStore::<Order>::list(
        &store,
        &t,
        &ListQuery::default(),
        &PageRequest::first(limit),
    )
    .await;

    // Then it fails with the key error, which a later try may get past
    match result {
        Err(error @ StoreError::CursorKey(_)) => assert!(error.is_retryable()),
        other => panic!("expected a cursor key error, got {other:?}"),
    }
}
