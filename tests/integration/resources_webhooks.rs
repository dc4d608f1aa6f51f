//! Webhooks of each kind added beside orders, inventory and products, through
//! webhook-processor against the emulator and the Trackstar simulator: created then updated,
//! out of order, duplicated, truncated (fetched). Each body runs once per new kind; the
//! events are built by the simulator's own webhook builder from its objects.

use std::sync::atomic::{AtomicUsize, Ordering};

use packr::domain::Timestamp;
use packr::store::ObjectStore;
use packr::webhook::processor::handle_batch;
use packr::webhook::receipts::ReceiptState;
use serde_json::{json, Value};
use trackstar_sim::{FaultSpec, MutateAction, SimHandle};

use crate::resources_support::{assert_stored_equals, next_second, per_new_kind, Case, SimEdit};
use crate::webhook_processor::{
    failed_ids, fixture_sim, message, processor_with, sim_fetcher, sqs_event, Processor, CONNECTION,
};

/// The webhook Trackstar sends for `object` (the simulator's builder).
fn webhook(event_type: &str, object: &Value) -> Value {
    trackstar_sim::events::event(CONNECTION, "sandbox", event_type, object, None).body
}

/// The processor, its Trackstar the simulator, its clock the wall clock (the simulator
/// stamps its changes with the real time).
pub(crate) async fn rig() -> (SimHandle, Processor) {
    let sim = fixture_sim().await;
    let p = processor_with(sim_fetcher(&sim)).await;
    p.now_ms
        .store(Timestamp::now().unix_millis(), Ordering::SeqCst);
    (sim, p)
}

/// Delivers one event as its own batch (a new SQS message each time); it must not fail.
pub(crate) async fn deliver(p: &Processor, event_id: &str, body: Value) {
    static DELIVERIES: AtomicUsize = AtomicUsize::new(0);
    let mut e = p.queued(event_id, body).await;
    e.received_at = Timestamp::now();
    let sqs_id = format!("sqs-{}", DELIVERIES.fetch_add(1, Ordering::SeqCst));
    let r = handle_batch(&p.deps, sqs_event(vec![message(&sqs_id, &e)])).await;
    assert!(
        failed_ids(&r).is_empty(),
        "{event_id}: {:?}",
        p.receipt(event_id).await.failure_reason
    );
}

/// A new object upstream (its `*.created` webhook), then, a second later, a change to it
/// (its `*.updated` webhook): the two webhooks and the object's final state.
pub(crate) async fn created_then_updated(case: &Case, sim: &SimHandle) -> (Value, Value, Value) {
    let created = case.mutate(sim, CONNECTION, MutateAction::Create, 1);
    let (created_type, id) = created.last().unwrap().clone();
    assert!(created_type.ends_with(".created"), "{created_type}");
    let first = webhook(&created_type, &case.truth_of(sim, CONNECTION, &id));
    case.edit(sim, CONNECTION, SimEdit::KeepOnly(id.clone()));
    next_second().await;
    let updated = case.mutate(sim, CONNECTION, MutateAction::Update, 1);
    assert_eq!(updated.len(), 1, "{updated:?}");
    let (updated_type, updated_id) = updated[0].clone();
    assert_eq!(updated_id, id, "the update changed the new object");
    assert!(updated_type.ends_with(".updated"), "{updated_type}");
    let truth = case.truth_of(sim, CONNECTION, &id);
    let second = webhook(&updated_type, &truth);
    assert_ne!(
        first["data"], second["data"],
        "the update changed the object"
    );
    (first, second, truth)
}

async fn created_then_updated_are_both_applied_and_end_equal_to_trackstars_object(case: &Case) {
    // given a new object upstream and a change to it
    let (sim, p) = rig().await;
    let (created, updated, truth) = created_then_updated(case, &sim).await;
    // when its created webhook arrives
    deliver(&p, "msg_created", created.clone()).await;
    // then the object is stored as created, with its owner's brand
    assert_eq!(p.receipt("msg_created").await.state, ReceiptState::Applied);
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &created["data"]).await;
    // when its updated webhook arrives
    deliver(&p, "msg_updated", updated).await;
    // then the stored object is Trackstar's current one, converted
    assert_eq!(p.receipt("msg_updated").await.state, ReceiptState::Applied);
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &truth).await;
    let stored = p
        .store
        .get_object(&p.tenant, case.kind, truth["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.brand_id().is_some(),
        case.brand_owned(),
        "brand-owned kinds carry the warehouse customer's brand, tenant-wide ones none"
    );
    assert_eq!(p.metrics.total("webhook.applied"), 2.0);
    assert_eq!(p.metrics.total("webhook.stale"), 0.0);
    sim.shutdown().await;
}
per_new_kind!(created_then_updated_are_both_applied_and_equal_trackstars_object => created_then_updated_are_both_applied_and_end_equal_to_trackstars_object);

async fn an_older_event_after_a_newer_one_is_stale_body(case: &Case) {
    // given an object's updated webhook applied
    let (sim, p) = rig().await;
    let (created, updated, truth) = created_then_updated(case, &sim).await;
    deliver(&p, "msg_updated", updated).await;
    // when its created webhook arrives only now (reordered delivery)
    deliver(&p, "msg_created", created).await;
    // then it is stale, and the newer state stays
    assert_eq!(p.receipt("msg_updated").await.state, ReceiptState::Applied);
    assert_eq!(p.receipt("msg_created").await.state, ReceiptState::Stale);
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &truth).await;
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    assert_eq!(p.metrics.total("webhook.stale"), 1.0);
    sim.shutdown().await;
}
per_new_kind!(an_older_event_after_a_newer_one_is_stale_and_the_newer_state_stays => an_older_event_after_a_newer_one_is_stale_body);

async fn a_redelivered_event_is_a_duplicate_body(case: &Case) {
    // given a seeded object's updated webhook, applied
    let (sim, p) = rig().await;
    let object = case.truth(&sim, CONNECTION)[0].clone();
    let event_type = case.kind.spec().events[1];
    assert!(event_type.ends_with(".updated"), "{event_type}");
    let body = webhook(event_type, &object);
    deliver(&p, "msg_1", body.clone()).await;
    // when the same event comes back (a retry: a new SQS message, the same event id)
    deliver(&p, "msg_1", body).await;
    // then it was applied once; the redelivery is a duplicate and changes nothing
    assert_eq!(p.receipt("msg_1").await.state, ReceiptState::Applied);
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    assert_eq!(p.metrics.total("webhook.duplicate_events"), 1.0);
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &object).await;
    sim.shutdown().await;
}
per_new_kind!(a_redelivered_event_is_applied_once_and_then_a_duplicate => a_redelivered_event_is_a_duplicate_body);

async fn a_truncated_event_is_fetched_body(case: &Case) {
    // given a truncated webhook of a seeded object: only its id
    let (sim, p) = rig().await;
    let object = case.truth(&sim, CONNECTION)[0].clone();
    let id = object["id"].as_str().unwrap().to_owned();
    let mut body = webhook(case.kind.spec().events[1], &object);
    body["data_truncated"] = json!(true);
    body["data"] = json!({ "id": id });
    sim.reset_requests();
    // when it is processed
    deliver(&p, "msg_truncated", body).await;
    // then the object was read with one listing by id (no per-object get) and stored as
    // Trackstar has it
    assert_eq!(
        p.receipt("msg_truncated").await.state,
        ReceiptState::Applied
    );
    let requests = sim.requests();
    assert_eq!(requests.count("GET", case.path), 1, "{requests:?}");
    assert_eq!(
        requests.count("GET", &format!("{}/{id}", case.path)),
        0,
        "{requests:?}"
    );
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &object).await;
    assert_eq!(p.metrics.total("webhook.applied"), 1.0);
    sim.shutdown().await;
}
per_new_kind!(a_truncated_event_is_fetched_with_one_listing_and_stored => a_truncated_event_is_fetched_body);

async fn a_malformed_object_is_a_permanent_failure_body(case: &Case) {
    // given an updated webhook whose object has a date that is not one
    let (sim, p) = rig().await;
    let mut object = case.truth(&sim, CONNECTION)[0].clone();
    let id = object["id"].as_str().unwrap().to_owned();
    object["updated_date"] = json!("not a date");
    let body = webhook(case.kind.spec().events[1], &object);
    // when it is processed
    deliver(&p, "msg_bad", body).await;
    // then it is recorded as a permanent failure naming the kind (acknowledged, not
    // retried), and nothing is stored
    let receipt = p.receipt("msg_bad").await;
    assert_eq!(
        (receipt.state, receipt.failure_permanent),
        (ReceiptState::Failed, true)
    );
    let reason = receipt.failure_reason.unwrap_or_default();
    assert!(reason.contains(case.kind.spec().singular), "{reason}");
    assert!(p
        .store
        .get_object(&p.tenant, case.kind, &id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(p.metrics.total("webhook.applied"), 0.0);
    assert_eq!(p.metrics.total("webhook.failures"), 1.0);
    sim.shutdown().await;
}
per_new_kind!(a_malformed_object_is_a_permanent_failure_and_nothing_is_stored => a_malformed_object_is_a_permanent_failure_body);

async fn a_truncated_event_whose_fetch_fails_is_retried_body(case: &Case) {
    // given a truncated webhook, and Trackstar answering 500 to everything for a while
    let (sim, p) = rig().await;
    let object = case.truth(&sim, CONNECTION)[0].clone();
    let id = object["id"].as_str().unwrap().to_owned();
    let mut body = webhook(case.kind.spec().events[1], &object);
    body["data_truncated"] = json!(true);
    body["data"] = json!({ "id": id });
    sim.set_faults(CONNECTION, FaultSpec::error(500, None));
    let e = p.queued("msg_truncated", body).await;
    // when it is processed
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-1", &e)])).await;
    // then its message fails (SQS retries it), the failure is not permanent, and nothing
    // is stored
    assert_eq!(failed_ids(&r), vec!["sqs-1".to_owned()]);
    let receipt = p.receipt("msg_truncated").await;
    assert!(!receipt.state.is_final(), "{:?}", receipt.state);
    assert!(!receipt.failure_permanent);
    assert!(p
        .store
        .get_object(&p.tenant, case.kind, &id)
        .await
        .unwrap()
        .is_none());
    // and once Trackstar answers again, the retry stores it
    sim.clear_faults(CONNECTION);
    let r = handle_batch(&p.deps, sqs_event(vec![message("sqs-2", &e)])).await;
    assert!(failed_ids(&r).is_empty());
    assert_eq!(
        p.receipt("msg_truncated").await.state,
        ReceiptState::Applied
    );
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &object).await;
    sim.shutdown().await;
}
per_new_kind!(a_truncated_event_whose_fetch_fails_is_retried_and_stores_nothing_until_it_succeeds => a_truncated_event_whose_fetch_fails_is_retried_body);

#[tokio::test]
async fn an_inbound_receipt_event_stores_the_received_quantities() {
    // given an inbound shipment stored from its webhook, then a receipt recorded upstream
    let case = crate::resources_support::case(packr::resource::ResourceKind::InboundShipments);
    let (sim, p) = rig().await;
    let created = case.mutate(&sim, CONNECTION, MutateAction::Create, 1);
    let (created_type, id) = created[0].clone();
    deliver(
        &p,
        "msg_created",
        webhook(&created_type, &case.truth_of(&sim, CONNECTION, &id)),
    )
    .await;
    case.edit(&sim, CONNECTION, SimEdit::KeepOnly(id.clone()));
    next_second().await;
    let received = sim
        .mutate_with(
            &trackstar_sim::MutateRequest {
                connection_id: CONNECTION.into(),
                kind: trackstar_sim::MutationKind::InboundReceipt,
                count: 1,
            },
            MutateAction::Update,
        )
        .unwrap()
        .changes;
    assert_eq!(
        received,
        vec![("inbound-shipment.receipt.created".to_owned(), id.clone())]
    );
    let truth = case.truth_of(&sim, CONNECTION, &id);
    // when its inbound-shipment.receipt.created webhook arrives
    deliver(
        &p,
        "msg_receipt",
        webhook("inbound-shipment.receipt.created", &truth),
    )
    .await;
    // then the shipment is stored as Trackstar has it: one receipt, quantities received
    assert_eq!(p.receipt("msg_receipt").await.state, ReceiptState::Applied);
    assert_stored_equals(&p.store, &p.tenant, CONNECTION, case.kind, &truth).await;
    let stored: packr::domain::InboundShipment =
        packr::store::SyncedStore::get(&p.store, &p.tenant, &id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.receipts.len(), 1);
    assert!(stored.line_items.iter().any(|l| l.received_quantity > 0));
    assert_eq!(p.metrics.total("webhook.applied"), 2.0);
    sim.shutdown().await;
}
