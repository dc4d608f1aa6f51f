//! `connection.deleted` offboards the connection (token deleted, route marked, erase time
//! set, out of the schedule), and webhooks for a deleted connection are refused: by ingest
//! (nothing queued or parked) and by the processor for one queued before the route was
//! marked (nothing stored).

use std::sync::Arc;
use std::time::Duration;

use packr::domain::{ConnectionId, ConnectionStatus, Timestamp};
use packr::lifecycle::offboard::ConnectionOffboarder;
use packr::secrets::{InMemorySecretSource, SecretSource, SecretWriter, SecretsManagerSource};
use packr::store::dynamo::DynamoStore;
use packr::store::{modify_connection, Change, ConnectionStore, CursorCodec};
use packr::webhook::ingest::handle;
use packr::webhook::parked::ParkedEventStore;
use packr::webhook::processor::handle_batch;
use packr::webhook::receipts::ReceiptState;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::*;
use crate::webhook_ingest::{ingest, signed, webhook_body};
use crate::webhook_processor::{
    fixture, message, processor_with, sqs_event, NoFetcher, CONNECTION,
};

const GRACE_DAYS: i64 = 30;

#[tokio::test]
async fn connection_deleted_offboards_the_connection_and_later_events_are_not_applied() {
    // given the processor with offboarding as webhook-processor has it (its DynamoDB and
    // Secrets Manager clients sign as the function, for the IAM check), and the
    // connection's token in the emulator's Secrets Manager
    let mut p = processor_with(Arc::new(NoFetcher)).await;
    let sdk = packr_local::testing::emulator_config().await;
    let function = packr_local::testing::function_config(&sdk, "webhook-processor");
    let token = format!(
        "packr/local/trackstar/connections/acme/{CONNECTION}-{}-{}",
        std::process::id(),
        Timestamp::now().unix_micros()
    );
    let own = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&sdk));
    SecretWriter::put(&own, &token, &SecretString::from("tok_fixture".to_owned()))
        .await
        .unwrap();
    let id = ConnectionId::parse(CONNECTION).unwrap();
    modify_connection(&p.store, &p.tenant, &id, |c| {
        c.access_token_secret = token.clone();
        Change::Write(())
    })
    .await
    .unwrap();
    p.deps.offboarding = Some(ConnectionOffboarder {
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&function),
            p.store.table_name(),
            CursorCodec::new(b"k".to_vec()),
        ),
        secrets: Arc::new(SecretsManagerSource::new(
            aws_sdk_secretsmanager::Client::new(&function),
        )),
        grace: Duration::from_secs((GRACE_DAYS * 24 * 3600) as u64),
        metrics: Arc::new(p.metrics.clone()),
    });

    // when Trackstar reports the connection deleted (twice: a redelivery)
    for event_id in ["msg_del_1", "msg_del_2"] {
        let e = p.queued(event_id, fixture("connection-deleted")).await;
        let r = handle_batch(&p.deps, sqs_event(vec![message(event_id, &e)])).await;
        assert!(r.batch_item_failures.is_empty());
    }

    // then the connection is disconnected, out of the schedule, due for erasure after the
    // grace, its route marked deleted and its token gone
    let now = (p.deps.clock)();
    let c = p
        .store
        .get_connection(&p.tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::Disconnected);
    assert_eq!(
        c.marks.erase_after,
        Some(now.plus_seconds(GRACE_DAYS * 24 * 3600))
    );
    assert!(p.store.list_active().await.unwrap().is_empty());
    assert!(p
        .store
        .route(&id)
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
    assert!(own.get(&token).await.is_err(), "the token is deleted");
    assert_eq!(p.metrics.total("lifecycle.connection_offboarded"), 1.0);

    // when an order event of the connection, queued before its route was marked, arrives
    let e = p.queued("msg_order_late", fixture("order-created")).await;
    let r = handle_batch(&p.deps, sqs_event(vec![message("msg_order_late", &e)])).await;

    // then it is acknowledged and not applied
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(
        p.receipt("msg_order_late").await.state,
        ReceiptState::Ignored
    );
    let id_of = |v: &Value| v["data"]["id"].as_str().unwrap().to_owned();
    let order_id = id_of(&fixture("order-created"));
    let stored: Option<packr::domain::Order> =
        packr::store::SyncedStore::get(&p.store, &p.tenant, &order_id)
            .await
            .unwrap();
    assert!(stored.is_none());
}

#[tokio::test]
async fn ingest_refuses_webhooks_of_a_deleted_connection_without_queueing_or_parking_them() {
    // given conn_demo of acme, offboarded
    let i = ingest().await;
    let t = tenant("acme");
    let offboarder = ConnectionOffboarder {
        store: i.store.clone(),
        secrets: Arc::new(InMemorySecretSource::new()),
        grace: Duration::from_secs(30 * 24 * 3600),
        metrics: Arc::new(i.metrics.clone()),
    };
    let now = Timestamp::now();
    offboarder
        .offboard(&t, &ConnectionId::parse("conn_demo").unwrap(), now, now)
        .await
        .unwrap()
        .unwrap();

    // when Trackstar delivers an order event for it
    let body = webhook_body(
        "conn_demo",
        "order.created",
        serde_json::json!({"id": "ord_1"}),
    );
    let response = handle(&i.deps, signed(&body, "msg_refused_1")).await;

    // then it is acknowledged as refused, and nothing is queued or parked
    assert_eq!(response.status_code, 200);
    let answer: Value = serde_json::from_str(response.body.as_deref().unwrap()).unwrap();
    assert_eq!(answer["status"], "refused");
    assert_eq!(answer["reason"], "connection_deleted");
    assert!(i.drain().await.is_empty(), "nothing queued");
    let parked = i
        .store
        .parked(&ConnectionId::parse("conn_demo").unwrap())
        .await
        .unwrap();
    assert!(parked.is_empty(), "nothing parked");
    assert_eq!(i.metrics.total("webhook.refused"), 1.0);
}
