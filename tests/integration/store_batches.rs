//! Batch reads that DynamoDB answers in part: the keys it leaves unprocessed are asked for
//! again (with a growing wait) until every one is read, and a read that keeps being
//! answered in part fails rather than reporting the keys it never read as absent.

use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, ObjectStore, StoreError, SyncedStore};
use packr::sync::ResourceKind;
use packr_local::emulator::with_endpoint;
use packr_local::faultproxy::{self, FaultConfig};

use crate::helpers::*;

/// The stack's table, read through a proxy answering every `BatchGetItem` with only its
/// first key processed.
async fn through_partial_batches(s: &Stack) -> (DynamoStore, faultproxy::FaultProxy) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let proxy = faultproxy::start(
        &endpoint,
        FaultConfig {
            partial_batch_gets: 1.0,
            ..FaultConfig::default()
        },
        None,
    )
    .await
    .expect("proxy starts");
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&with_endpoint(&s.sdk, &proxy.url)),
        s.table.clone(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    );
    (store, proxy)
}

async fn seed_orders(s: &Stack, n: usize) -> Vec<String> {
    let t = tenant("acme");
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("o{i}");
        s.store
            .upsert_if_newer(&t, &order(&t, &id, None, 10))
            .await
            .expect("seed order");
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn keys_left_unprocessed_are_asked_for_again_until_all_are_read() {
    // given three stored orders, and DynamoDB answering each batch read with one key only
    let s = stack().await;
    let ids = seed_orders(&s, 3).await;
    let (store, proxy) = through_partial_batches(&s).await;
    // when the three are read in one batch
    let found = store
        .get_objects(&tenant("acme"), ResourceKind::Orders, &ids)
        .await
        .expect("read succeeds");
    // then all three are read, over rounds that asked again for the unprocessed keys
    assert_eq!(found.len(), 3);
    let stats = proxy.stats();
    assert_eq!(stats.partial_batch_gets, 2, "{stats:?}");
    assert_eq!(stats.keys_left_unprocessed, 3, "2 left, then 1");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_batch_read_that_stays_unprocessed_fails_instead_of_reading_keys_as_absent() {
    // given twelve stored orders, and DynamoDB answering each batch read with one key only
    let s = stack().await;
    let ids = seed_orders(&s, 12).await;
    let (store, proxy) = through_partial_batches(&s).await;
    // when the twelve are read in one batch
    let result = store
        .get_objects(&tenant("acme"), ResourceKind::Orders, &ids)
        .await;
    // then the read fails, retryably, after its rounds: no order is reported absent
    let err = result.expect_err("eleven keys cannot be read in eight rounds of one");
    assert!(
        matches!(
            err,
            StoreError::Unprocessed {
                operation: "BatchGetItem"
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(proxy.stats().partial_batch_gets, 8);
    proxy.shutdown().await;
}
