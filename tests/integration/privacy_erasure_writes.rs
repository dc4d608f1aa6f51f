//! After an erasure, Trackstar (authoritative, with its own copy) sends the same person
//! again: every write path stores them redacted through the one upsert path's guard — a
//! webhook through the processor, a DLQ redrive, a full sync and a reconciliation's repair.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{Order, TenantId, Timestamp};
use packr::metrics::RecordingSink;
use packr::ops::redrive::{redrive, Method, RedriveOptions, RedriveTarget};
use packr::privacy::{ErasureGuard, ErasureRecord, ErasureSubject, HashKey, PrivacyKey, ERASED};
use packr::secrets::InMemorySecretSource;
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, SyncedStore};
use packr::sync::{ResourceKind, SyncMode};
use packr::webhook::ingest::handle;
use packr::webhook::processor::{handle_batch, ProcessorDeps};
use packr_local::esm::{poll_once, EsmConfig};
use serde_json::json;

use crate::api_support::{TEST_PRIVACY_KEY, TEST_PRIVACY_SECRET};
use crate::helpers::*;
use crate::sync_engine::{rig, CONNECTION};
use crate::webhook_ingest::{ingest, signed};

/// The guard every function's store gets, with the test key.
fn guard() -> Arc<ErasureGuard> {
    let secrets = Arc::new(InMemorySecretSource::with(
        TEST_PRIVACY_SECRET,
        std::str::from_utf8(TEST_PRIVACY_KEY).unwrap(),
    ));
    Arc::new(ErasureGuard::new(PrivacyKey::from_secret(
        secrets,
        TEST_PRIVACY_SECRET,
    )))
}

/// Records an erasure of `email` in tenant `t` (as `POST /privacy/erasures` does).
async fn erase(store: &DynamoStore, t: &TenantId, email: &str) -> ErasureRecord {
    let key = HashKey::new(TEST_PRIVACY_KEY.to_vec()).unwrap();
    let record = ErasureRecord::new(
        t.clone(),
        key.subject(t, &ErasureSubject::email(email).unwrap()),
        None,
        Timestamp::now(),
        Duration::ZERO,
    );
    store.create_erasure(&record).await.unwrap();
    record
}

fn assert_redacted(order: &Order) {
    let a = order.ship_to_address.as_ref().expect("an address");
    assert_eq!(
        a.email_address.as_deref(),
        Some(ERASED),
        "order {}",
        order.id
    );
    assert_eq!(a.full_name.as_deref(), Some(ERASED), "order {}", order.id);
    assert_eq!(a.address1.as_deref(), Some(ERASED), "order {}", order.id);
    assert!(
        a.country.as_deref().is_some_and(|c| c != ERASED),
        "order {}",
        order.id
    );
}

/// When the order's item was last written (µs): unchanged by a write that changed nothing.
async fn written_at(store: &DynamoStore, t: &TenantId, id: &str) -> String {
    let out = store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("pk", AttributeValue::S(format!("T#{t}#ORDER#{id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item.unwrap()["written_at"].as_n().unwrap().clone()
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap();
    out.attributes()
        .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
        .unwrap_or(0)
}

fn processor(
    sdk: &aws_config::SdkConfig,
    table: &str,
    guard: &Arc<ErasureGuard>,
    metrics: &RecordingSink,
) -> ProcessorDeps {
    // As webhook-processor (for the IAM check), with its erasure guard.
    let sdk = &packr_local::testing::function_config(sdk, "webhook-processor");
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
        CursorCodec::new(b"k".to_vec()),
    )
    .with_erasure_guard(guard.clone());
    processor_deps(&store, metrics)
}

#[tokio::test]
async fn after_an_erasure_a_webhook_and_a_dlq_redrive_of_the_persons_order_store_it_redacted() {
    // given an erasure of the fixture order's ship-to email in tenant acme
    let s = ingest().await;
    let t = tenant("acme");
    let mut body: serde_json::Value = serde_json::from_str(include_str!(
        "../../events/trackstar-webhook-order-created.json"
    ))
    .unwrap();
    body["connection_id"] = json!("conn_demo");
    let email = body["data"]["ship_to_address"]["email_address"]
        .as_str()
        .unwrap()
        .to_owned();
    erase(&s.store, &t, &email).await;
    let guard = guard();
    let queue_arn = s.stack.queue_arns["WebhookQueue"].clone();
    let dlq_url = s.stack.queue_urls["WebhookDeadLetterQueue"].clone();

    // when a webhook of her order arrives and the processor applies it
    body["data"]["id"] = json!("ord_webhook_jane");
    assert_eq!(
        handle(&s.deps, signed(&body.to_string(), "msg_jane_1"))
            .await
            .status_code,
        200
    );
    let metrics = RecordingSink::new();
    let healthy = processor(&s.sdk, s.store.table_name(), &guard, &metrics);
    poll_once(
        &s.sqs,
        &s.queue_url,
        &queue_arn,
        &EsmConfig::default(),
        |e| handle_batch(&healthy, e),
    )
    .await
    .unwrap();
    // then it is stored redacted
    let stored: Order = SyncedStore::get(&s.store, &t, "ord_webhook_jane")
        .await
        .unwrap()
        .unwrap();
    assert_redacted(&stored);
    let written = written_at(&s.store, &t, "ord_webhook_jane").await;

    // when the same event is delivered again (a Svix retry under a new id)
    assert_eq!(
        handle(&s.deps, signed(&body.to_string(), "msg_jane_2"))
            .await
            .status_code,
        200
    );
    poll_once(
        &s.sqs,
        &s.queue_url,
        &queue_arn,
        &EsmConfig::default(),
        |e| handle_batch(&healthy, e),
    )
    .await
    .unwrap();
    // then the redacted copy is a duplicate of the stored one: nothing is rewritten
    let again: Order = SyncedStore::get(&s.store, &t, "ord_webhook_jane")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, stored);
    assert_eq!(written_at(&s.store, &t, "ord_webhook_jane").await, written);

    // when another order of hers dead-letters during an outage and ops redrive the DLQ
    body["data"]["id"] = json!("ord_redrive_jane");
    assert_eq!(
        handle(&s.deps, signed(&body.to_string(), "msg_jane_3"))
            .await
            .status_code,
        200
    );
    let esm = EsmConfig {
        batch_size: 10,
        wait_seconds: 0,
        visibility_timeout: Some(Duration::from_secs(0)),
    };
    let broken_metrics = RecordingSink::new();
    let broken = processor(&s.sdk, "no-such-table", &guard, &broken_metrics);
    for _ in 0..20 {
        poll_once(&s.sqs, &s.queue_url, &queue_arn, &esm, |e| {
            handle_batch(&broken, e)
        })
        .await
        .unwrap();
        if visible(&s.sqs, &dlq_url).await == 1 {
            break;
        }
    }
    assert_eq!(visible(&s.sqs, &dlq_url).await, 1, "the event in the DLQ");
    let options = RedriveOptions {
        method: Method::Fallback,
        poll_interval: Duration::from_millis(100),
        ..RedriveOptions::default()
    };
    let target = RedriveTarget {
        dlq_url: dlq_url.clone(),
        source_url: Some(s.queue_url.clone()),
    };
    let summary = redrive(&s.sqs, &target, &options, &|_| {}).await.unwrap();
    assert_eq!((summary.moved, summary.failed), (1, 0));
    poll_once(
        &s.sqs,
        &s.queue_url,
        &queue_arn,
        &EsmConfig::default(),
        |e| handle_batch(&healthy, e),
    )
    .await
    .unwrap();
    // then it is stored redacted too
    let redriven: Order = SyncedStore::get(&s.store, &t, "ord_redrive_jane")
        .await
        .unwrap()
        .unwrap();
    assert_redacted(&redriven);
    // and both orders are kept on the erasure (their returns will match)
    let record = &s.store.list_erasures(&t).await.unwrap()[0];
    assert!(
        record.order_ids.contains("ord_webhook_jane"),
        "{:?}",
        record.order_ids
    );
    assert!(
        record.order_ids.contains("ord_redrive_jane"),
        "{:?}",
        record.order_ids
    );
}

#[tokio::test]
async fn after_an_erasure_a_full_sync_and_a_reconciliation_store_the_persons_orders_redacted() {
    // given a connection two of whose orders are Jane's at Trackstar, and an erasure of her
    let r = rig(6).await;
    let email = "jane.roe@example.com";
    let (janes, others) = r
        .sim
        .state()
        .with_data(CONNECTION, |d| {
            for o in d.orders.iter_mut().take(2) {
                o.ship_to_address.email_address = Some(email.to_uppercase());
                o.ship_to_address.full_name = Some("Jane Roe".into());
            }
            let ids: Vec<String> = d.orders.iter().map(|o| o.id.clone()).collect();
            (ids[..2].to_vec(), ids[2..].to_vec())
        })
        .unwrap();
    erase(&r.store, &r.tenant, email).await;
    let mut deps = r.deps();
    deps.objects = Arc::new(r.worker_store.clone().with_erasure_guard(guard()));

    // when a full sync of the orders runs
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    // then her orders are stored redacted, the others as Trackstar has them
    for id in &janes {
        assert_redacted(&r.order(id).await.expect("stored"));
    }
    for id in &others {
        let o = r.order(id).await.expect("stored");
        assert_ne!(
            o.ship_to_address.unwrap().email_address.as_deref(),
            Some(ERASED)
        );
    }

    // when the local copy of one of hers is lost and a reconciliation repairs it
    aws_sdk_dynamodb::Client::new(&packr_local::testing::emulator_config().await)
        .delete_item()
        .table_name(r.store.table_name())
        .key(
            "pk",
            AttributeValue::S(format!("T#{}#ORDER#{}", r.tenant, janes[1])),
        )
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .unwrap();
    assert!(r.order(&janes[1]).await.is_none());
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Reconcile))
        .await;
    // then it is stored again, redacted
    assert_redacted(&r.order(&janes[1]).await.expect("repaired"));

    // when another full sync reads her orders again (same versions)
    let before = r.order(&janes[0]).await.unwrap();
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    // then they stay redacted
    assert_eq!(r.order(&janes[0]).await.unwrap(), before);
    r.sim.shutdown().await;
}
