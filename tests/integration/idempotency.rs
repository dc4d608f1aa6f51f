//! The idempotency store: one winner, saved results, expiry of crashed attempts and of
//! records, payload mismatches — on the emulator's conditional writes.

use std::time::Duration;

use packr::domain::Timestamp;
use packr::idempotency::{
    Fingerprint, IdempotencyError, IdempotencyKey, IdempotencyPolicy, IdempotencyStore, NextAction,
    SavedResponse, Scope,
};
use serde_json::json;

use crate::helpers::*;

const SCOPE: Scope = Scope::new("orders.create");

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).unwrap()
}

fn fp(v: serde_json::Value) -> Fingerprint {
    Fingerprint::of_json(&v)
}

fn policy() -> IdempotencyPolicy {
    IdempotencyPolicy {
        in_progress_expiry: Duration::from_secs(60),
        record_ttl: Duration::from_secs(24 * 3600),
    }
}

fn saved() -> SavedResponse {
    SavedResponse {
        status: 201,
        body: json!({"id": "o1", "total": {"minor": 1234, "currency": "USD"}}),
    }
}

#[tokio::test]
async fn the_first_call_starts_and_a_repeat_gets_the_saved_response() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();

    let NextAction::Start(lease) = store
        .begin(&t, SCOPE, &key("k1"), &fp(json!({"a": 1})), now)
        .await
        .unwrap()
    else {
        panic!("first call must start");
    };
    store.complete(&lease, &saved(), now).await.unwrap();
    let again = store
        .begin(&t, SCOPE, &key("k1"), &fp(json!({"a": 1})), now)
        .await
        .unwrap();

    assert_eq!(again, NextAction::ReturnSaved(saved()));
}

#[tokio::test]
async fn of_concurrent_starts_exactly_one_wins() {
    let s = stack().await;
    let t = tenant("acme");
    let now = Timestamp::now();

    let tasks = (0..16).map(|_| {
        let store = s.idempotency(policy());
        let t = t.clone();
        tokio::spawn(async move {
            store
                .begin(&t, SCOPE, &key("race"), &fp(json!({"a": 1})), now)
                .await
        })
    });
    let results = futures::future::join_all(tasks).await;

    let mut starts = 0;
    let mut in_progress = 0;
    for r in results {
        match r.unwrap() {
            Ok(NextAction::Start(_)) => starts += 1,
            Err(IdempotencyError::InProgress { .. }) => in_progress += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((starts, in_progress), (1, 15));
}

#[tokio::test]
async fn a_call_while_the_first_is_in_progress_is_told_to_wait() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();
    store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap();

    let err = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now.plus_seconds(10))
        .await
        .unwrap_err();

    match err {
        IdempotencyError::InProgress { retry_after } => {
            assert_eq!(retry_after, Duration::from_secs(50));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_crashed_attempt_can_be_retried_after_the_in_progress_expiry() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();
    let NextAction::Start(crashed) = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap()
    else {
        panic!("must start");
    };

    // when the lease has expired, a retry takes over
    let later = now.plus_seconds(61);
    let NextAction::Start(retry) = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), later)
        .await
        .unwrap()
    else {
        panic!("retry after expiry must start");
    };
    store.complete(&retry, &saved(), later).await.unwrap();

    // then the crashed attempt, waking up, can no longer complete
    let err = store.complete(&crashed, &saved(), later).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::LeaseLost));
    let again = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), later)
        .await
        .unwrap();
    assert_eq!(again, NextAction::ReturnSaved(saved()));
}

#[tokio::test]
async fn the_same_key_with_another_payload_is_a_mismatch() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();
    let NextAction::Start(lease) = store
        .begin(&t, SCOPE, &key("k"), &fp(json!({"qty": 1})), now)
        .await
        .unwrap()
    else {
        panic!("must start");
    };

    let while_running = store
        .begin(&t, SCOPE, &key("k"), &fp(json!({"qty": 2})), now)
        .await;
    store.complete(&lease, &saved(), now).await.unwrap();
    let after = store
        .begin(&t, SCOPE, &key("k"), &fp(json!({"qty": 2})), now)
        .await;
    // even after the first attempt's lease would have expired
    let much_later = store
        .begin(
            &t,
            SCOPE,
            &key("k"),
            &fp(json!({"qty": 2})),
            now.plus_seconds(3600),
        )
        .await;

    assert!(matches!(
        while_running,
        Err(IdempotencyError::PayloadMismatch)
    ));
    assert!(matches!(after, Err(IdempotencyError::PayloadMismatch)));
    assert!(matches!(much_later, Err(IdempotencyError::PayloadMismatch)));
}

#[tokio::test]
async fn an_expired_record_is_treated_as_absent_even_before_ttl_deletion() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();
    let NextAction::Start(lease) = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap()
    else {
        panic!("must start");
    };
    store.complete(&lease, &saved(), now).await.unwrap();

    // 25 hours later the record is past its TTL; a new payload may use the key again
    let next = store
        .begin(
            &t,
            SCOPE,
            &key("k"),
            &fp(json!(2)),
            now.plus_seconds(25 * 3600),
        )
        .await
        .unwrap();

    assert!(matches!(next, NextAction::Start(_)));
}

#[tokio::test]
async fn an_abandoned_attempt_lets_the_next_one_start_at_once() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let t = tenant("acme");
    let now = Timestamp::now();
    let NextAction::Start(lease) = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap()
    else {
        panic!("must start");
    };

    store.abandon(&lease).await.unwrap();
    let next = store
        .begin(&t, SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap();

    assert!(matches!(next, NextAction::Start(_)));
}

#[tokio::test]
async fn keys_are_partitioned_by_tenant_and_scope() {
    let s = stack().await;
    let store = s.idempotency(policy());
    let now = Timestamp::now();
    let first = store
        .begin(&tenant("acme"), SCOPE, &key("k"), &fp(json!(1)), now)
        .await
        .unwrap();
    let other_tenant = store
        .begin(&tenant("globex"), SCOPE, &key("k"), &fp(json!(2)), now)
        .await
        .unwrap();
    let other_scope = store
        .begin(
            &tenant("acme"),
            Scope::new("products.create"),
            &key("k"),
            &fp(json!(3)),
            now,
        )
        .await
        .unwrap();

    assert!(matches!(first, NextAction::Start(_)));
    assert!(matches!(other_tenant, NextAction::Start(_)));
    assert!(matches!(other_scope, NextAction::Start(_)));
}
