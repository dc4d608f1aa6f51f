//! End to end, in process: the simulator mutates orders and posts signed webhooks (with
//! duplicates and reordering) to the gateway's function URL; ingest queues them, the
//! pollers feed the processor, and DynamoDB ends up as the simulator says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use packr::domain::{EventId, Order, TenantId, Timestamp};
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, SyncedStore};
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use packr_local::esm::EsmConfig;
use packr_local::seed::{DEMO_CONNECTION, DEMO_TENANT};
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};
use trackstar_sim::{DeliveryOptions, MutateRequest, MutationKind};

/// Sleeps until just after the next whole second: Trackstar dates have whole seconds, so
/// changes made in different rounds never share an `updated_date`.
async fn next_second() {
    let now = chrono::Utc::now();
    let into = u64::from(now.timestamp_subsec_millis());
    tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_orders_reach_dynamodb_exactly_once_despite_duplicates_and_reordering() {
    // given the pipeline on a fresh stack, webhooks duplicated and reordered
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let table = stack.resources.table_name.clone();
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            esm: EsmConfig {
                visibility_timeout: Some(Duration::from_secs(10)),
                ..EsmConfig::default()
            },
            // One poller: copies of one event in two batches at once would race on the
            // receipt's conditional write, which DynamoDB serialises and the emulator does
            // not (the processor keeps copies within one batch in order itself).
            pollers: 1,
            orders_per_connection: 200,
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the pipeline starts");
    running.sim.set_webhook_options(DeliveryOptions {
        duplicates: true,
        reorder: true,
        ..DeliveryOptions::default()
    });

    // when the simulator changes 30 orders in three rounds, one second apart
    // (changes per order and round: a second change of an order within one second carries
    // the same whole-second `updated_date`; the processor settles those with Trackstar)
    let mut rounds: Vec<BTreeMap<String, usize>> = Vec::new();
    for _ in 0..3 {
        next_second().await;
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: DEMO_CONNECTION.to_owned(),
                kind: MutationKind::Order,
                count: 10,
            })
            .expect("mutate");
        let mut round = BTreeMap::new();
        for (event_type, id) in &outcome.changes {
            if event_type == "order.updated" || event_type == "order.created" {
                *round.entry(id.clone()).or_insert(0) += 1;
            }
        }
        rounds.push(round);
    }
    assert!(
        running.wait_settled(Duration::from_secs(25)).await,
        "webhooks still pending or the queue not drained: {:?}",
        running.sim.webhook_stats()
    );

    // then every mutated order is stored as the simulator has it
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
        CursorCodec::new(vec![7; 32]),
    );
    let tenant = TenantId::parse(DEMO_TENANT).expect("tenant");
    let truth = running.sim.truth(DEMO_CONNECTION).expect("truth");
    let mutated: BTreeSet<String> = rounds.iter().flat_map(|r| r.keys().cloned()).collect();
    assert!(mutated.len() >= 10, "only {} orders changed", mutated.len());
    let mut mismatches = Vec::new();
    for id in &mutated {
        let expected = truth
            .orders
            .iter()
            .find(|o| &o.id == id)
            .expect("a mutated order is in the truth");
        let stored: Option<Order> = SyncedStore::<Order>::get(&store, &tenant, id)
            .await
            .expect("read the order");
        let Some(stored) = stored else {
            mismatches.push(format!("{id}: not stored"));
            continue;
        };
        // every order, those changed several times in one second too
        let status_differs = stored.status.as_str() != expected.status;
        if status_differs || stored.updated_date != Timestamp::from_datetime(expected.updated_date)
        {
            mismatches.push(format!(
                "{id}: stored {} @ {}, truth {} @ {}",
                stored.status, stored.updated_date, expected.status, expected.updated_date
            ));
        }
        assert!(stored.brand_id.is_some(), "{id} was not given its brand");
    }
    assert!(mismatches.is_empty(), "differences: {mismatches:#?}");
    // and every delivery was queued, every event applied once: the processor's record of
    // each event turned the duplicates away
    let stats = running.sim.webhook_stats();
    assert_eq!(stats.gave_up, 0);
    assert!(
        stats.deliveries > stats.delivered,
        "duplicates were delivered"
    );
    let ingest = running.ingest_metrics();
    let processor = running.processor_metrics();
    let events = stats.delivered as f64;
    assert_eq!(ingest.total("webhook.queued"), stats.deliveries as f64);
    assert_eq!(
        processor.total("webhook.duplicate_events"),
        (stats.deliveries - stats.delivered) as f64
    );
    assert_eq!(
        processor.total("webhook.applied")
            + processor.total("webhook.stale")
            + processor.total("webhook.ignored"),
        events
    );
    assert_eq!(processor.total("webhook.failures"), 0.0);
    let event_ids: BTreeSet<String> = running
        .sim
        .state()
        .webhook_records()
        .into_iter()
        .map(|r| r.msg_id)
        .collect();
    assert_eq!(event_ids.len() as u64, stats.delivered);
    for id in &event_ids {
        let event = EventId::parse(id.clone()).expect("event id");
        let receipt = ReceiptStore::get(&store, &tenant, &event)
            .await
            .expect("read the receipt")
            .expect("every delivered event has a receipt");
        assert!(
            matches!(receipt.state, ReceiptState::Applied | ReceiptState::Stale),
            "{id} is {:?}",
            receipt.state
        );
        assert_eq!(receipt.processing_attempts, 1, "{id} was processed twice");
    }

    running.shutdown().await;
}
