//! The changes feed (`GET /changes`, `crate::changes`): every write of a synced object —
//! through the store directly, the API's write-through, a sync, a reconciliation's
//! tombstone — reaches a consumer that follows `next_cursor`, oldest first, with its
//! action; a writer whose commit is held back past others' cannot be skipped (and without
//! the horizon it would be); brand scoping, another tenant, bad and expired cursors;
//! bounded reads. Short horizons (writers' window 3 s, horizon 4 s) keep the tests quick.
//! The API's and the CLI's tests are in `changes_feed_api`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use packr::changes::{ChangeAction, ChangeFeedConfig, ChangeFilter, ChangesPage};
use packr::domain::TenantId;
use packr::resource::{DomainObject, ResourceKind};
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, ObjectStore, PageLimit, PageRequest};
use serde_json::Value;

use crate::helpers::*;
use crate::warehouse_objects::*;

pub(crate) const WINDOW: Duration = Duration::from_secs(3);
pub(crate) const HORIZON: Duration = Duration::from_secs(4);

pub(crate) fn config() -> ChangeFeedConfig {
    ChangeFeedConfig::new(HORIZON, Duration::from_secs(7 * 86_400), WINDOW).unwrap()
}

/// The store as writers use it here: its writes bounded by [`WINDOW`].
pub(crate) fn writer(store: &DynamoStore) -> DynamoStore {
    store.clone().with_write_window(WINDOW)
}

/// A consumer's copy: the last change of each object, and every change in arrival order.
#[derive(Default)]
pub(crate) struct Replica {
    pub(crate) objects: BTreeMap<(ResourceKind, String), Option<Value>>,
    pub(crate) seen: Vec<(ResourceKind, String, ChangeAction)>,
    pub(crate) cursor: Option<String>,
}

impl Replica {
    pub(crate) fn apply(&mut self, page: ChangesPage) -> bool {
        let mut last = None;
        for change in page.changes {
            if let Some(prev) = &last {
                assert!(
                    change.changed_at >= *prev,
                    "oldest first: {} after {prev}",
                    change.changed_at
                );
            }
            last = Some(change.changed_at);
            self.seen
                .push((change.kind, change.id.clone(), change.action));
            self.objects.insert((change.kind, change.id), change.object);
        }
        self.cursor = Some(page.next_cursor);
        page.has_more
    }

    /// Reads pages until the feed has nothing more ready.
    pub(crate) async fn catch_up(
        &mut self,
        store: &DynamoStore,
        tenant: &TenantId,
        filter: &ChangeFilter,
        config: &ChangeFeedConfig,
        limit: u32,
    ) {
        for _ in 0..500 {
            let page = store
                .changes_page(tenant, filter, &self.request(limit), config)
                .await
                .unwrap();
            if !self.apply(page) {
                return;
            }
        }
        panic!("the feed did not end within 500 pages");
    }

    pub(crate) fn request(&self, limit: u32) -> PageRequest {
        let limit = PageLimit::parse(Some(limit)).unwrap();
        match &self.cursor {
            None => PageRequest::first(limit),
            Some(c) => PageRequest::after(limit, c.clone()),
        }
    }

    pub(crate) fn ids(&self) -> Vec<&str> {
        self.seen.iter().map(|(_, id, _)| id.as_str()).collect()
    }

    pub(crate) fn action_of(&self, id: &str) -> Vec<ChangeAction> {
        self.seen
            .iter()
            .filter(|(_, i, _)| i == id)
            .map(|(_, _, a)| *a)
            .collect()
    }
}

/// Waits until every write made so far is older than the horizon.
pub(crate) async fn past_horizon() {
    tokio::time::sleep(HORIZON + Duration::from_millis(300)).await;
}

/// Every live object and tombstone of the tenant, as the table holds them, by kind and id:
/// what a consumer's replica must end equal to.
pub(crate) async fn source_of_truth(
    store: &DynamoStore,
    tenant: &TenantId,
    ids: &[(ResourceKind, String)],
) -> BTreeMap<(ResourceKind, String), Option<Value>> {
    let mut out = BTreeMap::new();
    for (kind, id) in ids {
        let object = store.get_object(tenant, *kind, id).await.unwrap();
        let json =
            object.map(|o| serde_json::from_slice(&o.erased().to_json_bytes().unwrap()).unwrap());
        out.insert((*kind, id.clone()), json);
    }
    out
}

pub(crate) async fn upsert<T: packr::resource::Resource>(store: &DynamoStore, object: T) {
    let tenant = object.tenant_id().clone();
    store
        .upsert_object(&tenant, &DomainObject::new(object))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_write_reaches_the_consumer_oldest_first_with_its_action() {
    // given acme's orders, a warehouse and a bill, and one globex order
    let s = stack().await;
    let w = writer(&s.store);
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let b1 = brand("b1");
    upsert(&w, order(&acme, "o_1", Some(&b1), 10)).await;
    upsert(&w, warehouse(&acme, "wh_9", 11)).await;
    upsert(&w, order(&acme, "o_2", None, 12)).await;
    upsert(&w, bill(&acme, "bl_1", Some(&b1), 13)).await;
    upsert(&w, order(&globex, "o_g", None, 14)).await;
    past_horizon().await;

    // when a consumer reads acme's feed from the start, in pages of two
    let everything = ChangeFilter::everything();
    let mut replica = Replica::default();
    replica
        .catch_up(&s.store, &acme, &everything, &config(), 2)
        .await;

    // then it has every acme object once, in write order, each created; no globex one
    assert_eq!(replica.ids(), ["o_1", "wh_9", "o_2", "bl_1"]);
    assert!(replica
        .seen
        .iter()
        .all(|(_, _, a)| *a == ChangeAction::Created));

    // when an order changes, another is deleted, a duplicate and a stale copy arrive, and a
    // new order is stored
    upsert(&w, order(&acme, "o_1", Some(&b1), 20)).await;
    upsert(&w, order(&acme, "o_1", Some(&b1), 20)).await; // duplicate: refused
    upsert(&w, order(&acme, "o_2", None, 5)).await; // stale: refused
    assert!(w
        .tombstone_object(&acme, ResourceKind::Orders, "o_2", at(30))
        .await
        .unwrap());
    upsert(&w, order(&acme, "o_3", Some(&b1), 25)).await;
    past_horizon().await;
    let before = replica.seen.len();
    replica
        .catch_up(&s.store, &acme, &everything, &config(), 2)
        .await;

    // then the consumer gets exactly those three changes, in the order they were written
    let new: Vec<_> = replica.seen[before..].to_vec();
    assert_eq!(
        new,
        [
            (
                ResourceKind::Orders,
                "o_1".to_owned(),
                ChangeAction::Updated
            ),
            (
                ResourceKind::Orders,
                "o_2".to_owned(),
                ChangeAction::Deleted
            ),
            (
                ResourceKind::Orders,
                "o_3".to_owned(),
                ChangeAction::Created
            ),
        ]
    );
    // and its copy equals the table's: o_1 at its new version, o_2 deleted (null)
    let ids: Vec<_> = replica.objects.keys().cloned().collect();
    assert_eq!(
        replica.objects,
        source_of_truth(&s.store, &acme, &ids).await
    );
    assert_eq!(
        replica.objects[&(ResourceKind::Orders, "o_1".to_owned())]
            .as_ref()
            .unwrap()["updated_date"],
        Value::String(at(20).to_rfc3339())
    );
    // and a quiet feed serves nothing more, with a cursor that moved up to the horizon
    let quiet = s
        .store
        .changes_page(&acme, &everything, &replica.request(50), &config())
        .await
        .unwrap();
    assert!(quiet.changes.is_empty() && !quiet.has_more);
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_is_gone_with_what_to_do() {
    // given a feed that keeps cursors 5 s (horizon 4 s) and a cursor at its end
    let s = stack().await;
    let acme = tenant("acme");
    let short = ChangeFeedConfig::new(HORIZON, Duration::from_secs(5), WINDOW).unwrap();
    let mut replica = Replica::default();
    replica
        .catch_up(&s.store, &acme, &ChangeFilter::everything(), &short, 10)
        .await;
    // when it is used again within the retention, it works
    assert!(s
        .store
        .changes_page(
            &acme,
            &ChangeFilter::everything(),
            &replica.request(10),
            &short
        )
        .await
        .is_ok());
    // and when it has aged past the retention, it is refused
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = s
        .store
        .changes_page(
            &acme,
            &ChangeFilter::everything(),
            &replica.request(10),
            &short,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, packr::store::StoreError::CursorExpired { .. }),
        "{err:?}"
    );
    // and the API answers 410 telling the consumer to start again
    let answer = packr::api::request::respond(Err(err.into()), "req-1");
    assert_eq!(answer.status(), 410);
    let body: Value = serde_json::from_slice(answer.body()).unwrap();
    assert_eq!(body["error"]["code"], "cursor_expired");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("without a cursor"));
}

#[tokio::test]
async fn a_page_reads_each_shard_once_and_at_most_limit_plus_one_entries_of_it() {
    // given 60 orders (over the 4 shards)
    let s = stack().await;
    let acme = tenant("acme");
    let w = writer(&s.store);
    for n in 0..60 {
        upsert(&w, order(&acme, &format!("o_{n:02}"), None, n)).await;
    }
    past_horizon().await;
    // when pages of 10 are read through a metered client
    let meter = packr::store::capacity::CapacityMeter::new();
    let metered = DynamoStore::new(
        packr::store::capacity::metered_client(&s.sdk, meter.clone()),
        s.table.clone(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    );
    let mut replica = Replica::default();
    let mut pages = 0;
    loop {
        meter.take();
        let page = metered
            .changes_page(
                &acme,
                &ChangeFilter::everything(),
                &replica.request(10),
                &config(),
            )
            .await
            .unwrap();
        let used = meter.take();
        pages += 1;
        // then each page: one query per shard and one batch read, at most 4 × 11 entries
        assert!(page.changes.len() <= 10);
        assert_eq!(
            used.reads,
            4 + u64::from(!page.changes.is_empty()),
            "{used:?}"
        );
        assert!(used.items_read <= 4 * 11, "{used:?}");
        if !replica.apply(page) {
            break;
        }
        assert!(pages < 20, "the feed did not end");
    }
    // and every order arrived exactly once
    let mut ids = replica.ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), replica.seen.len()), (60, 60));
}

/// The webhook processor on `table`, signing as webhook-processor (IAM check), its writes
/// bounded by [`WINDOW`]; webhooks carry whole objects here (no fetch).
async fn processor_on(table: &str) -> packr::webhook::processor::ProcessorDeps {
    use packr::webhook::processor::{ProcessorDeps, ProcessorLimits, DEFAULT_MAX_RECEIVE_COUNT};
    let sdk = packr_local::testing::emulator_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&packr_local::testing::function_config(
            &sdk,
            "webhook-processor",
        )),
        table.to_owned(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    )
    .with_write_window(WINDOW);
    ProcessorDeps {
        stats: Arc::new(store.clone()),
        max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
        offboarding: None,
        objects: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        receipts: Arc::new(store.clone()),
        backfills: Arc::new(store),
        fetcher: Arc::new(crate::webhook_processor::NoFetcher),
        capacity: packr::store::capacity::CapacityMeter::new(),
        limits: ProcessorLimits::default(),
        sync_jobs: Arc::new(packr::sync::MemorySyncJobQueue::new()),
        metrics: Arc::new(packr::metrics::RecordingSink::new()),
        clock: Arc::new(packr::domain::Timestamp::now),
    }
}

#[tokio::test]
async fn a_mixed_run_of_webhooks_syncs_and_a_reconciliation_reaches_a_consumer_following_meanwhile()
{
    use crate::resources_support::{case, SimEdit};
    use crate::sync_engine::CONNECTION;
    use crate::webhook_processor::{failed_ids, message, sqs_event};
    use packr::sync::SyncMode;
    use trackstar_sim::MutateAction;
    // given a connection with inbound shipments, returns and warehouses upstream, and a
    // consumer following the feed all along
    let r = crate::sync_engine::rig(25).await;
    let kinds = [
        ResourceKind::InboundShipments,
        ResourceKind::Returns,
        ResourceKind::Warehouses,
    ];
    for kind in kinds {
        case(kind).ensure_at_least(&r.sim, CONNECTION, 5);
    }
    let tenant = r.tenant.clone();
    let reader = r.store.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (stop, tenant) = (stop.clone(), tenant.clone());
        tokio::spawn(async move {
            let mut replica = Replica::default();
            let everything = ChangeFilter::everything();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                replica
                    .catch_up(&reader, &tenant, &everything, &config(), 7)
                    .await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            past_horizon().await;
            replica
                .catch_up(&reader, &tenant, &everything, &config(), 7)
                .await;
            replica
        })
    };
    let mut deps = r.deps();
    deps.objects = Arc::new(writer(&r.worker_store));
    r.clock.advance(Duration::from_secs(2));

    // when full syncs of each kind run while webhooks of changes to returns arrive (each
    // delivered twice, the second a duplicate)
    let processor = processor_on(r.store.table_name()).await;
    let returns = case(ResourceKind::Returns);
    let mut webhooks = Vec::new();
    for round in 0..3 {
        for (event_type, id) in returns.mutate(&r.sim, CONNECTION, MutateAction::Update, 2) {
            let object = returns.truth_of(&r.sim, CONNECTION, &id);
            let body =
                trackstar_sim::events::event(CONNECTION, "sandbox", &event_type, &object, None)
                    .body;
            webhooks.push((format!("msg_{round}_{id}"), event_type, body));
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let deliver = |n: usize, event_id: String, event_type: String, body: Value| {
        let (tenant, processor) = (tenant.clone(), &processor);
        async move {
            let mut verdicts = Vec::new();
            for copy in 0..2 {
                let queued = packr::webhook::envelope::QueuedEvent {
                    event_id: packr::domain::EventId::parse(event_id.clone()).unwrap(),
                    tenant_id: tenant.clone(),
                    brand_id: None,
                    connection_id: packr::domain::ConnectionId::parse(CONNECTION).unwrap(),
                    event_type: event_type.clone(),
                    received_at: packr::domain::Timestamp::now(),
                    delivered_at: None,
                    correlation_id: packr::domain::CorrelationId::generate(),
                    payload: body.clone(),
                };
                let batch = sqs_event(vec![message(&format!("sqs-{n}-{copy}"), &queued)]);
                let answer = packr::webhook::processor::handle_batch(processor, batch).await;
                assert!(failed_ids(&answer).is_empty(), "{event_id}");
                let receipt = packr::webhook::receipts::ReceiptStore::get(
                    processor.receipts.as_ref(),
                    &tenant,
                    &packr::domain::EventId::parse(event_id.clone()).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
                verdicts.push(receipt.state);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            verdicts
        }
    };
    // (the first two before any sync: they are applied, the rest race the syncs)
    let mut rest = webhooks.into_iter().enumerate();
    for (n, (event_id, event_type, body)) in rest.by_ref().take(2) {
        let verdicts = deliver(n, event_id, event_type, body).await;
        assert_eq!(
            verdicts[0],
            packr::webhook::receipts::ReceiptState::Applied,
            "{verdicts:?}"
        );
    }
    let deliveries = async {
        for (n, (event_id, event_type, body)) in rest {
            deliver(n, event_id, event_type, body).await;
        }
    };
    let syncs = async {
        for kind in kinds {
            r.run_to_end(&deps, r.job(kind, SyncMode::Full)).await;
        }
    };
    tokio::join!(deliveries, syncs);
    // and an incremental sync, then a reconciliation that finds an inbound shipment
    // deleted upstream
    r.clock.advance(Duration::from_secs(2));
    r.run_to_end(&deps, r.job(ResourceKind::Returns, SyncMode::Incremental))
        .await;
    let inbound = case(ResourceKind::InboundShipments);
    let gone = inbound.truth_ids(&r.sim, CONNECTION)[0].clone();
    inbound.edit(&r.sim, CONNECTION, SimEdit::Remove(gone.clone()));
    r.clock.advance(Duration::from_secs(2));
    r.run_to_end(
        &deps,
        r.job(ResourceKind::InboundShipments, SyncMode::Reconcile),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let replica = consumer.await.unwrap();

    // then the consumer's copy equals the table, which equals Trackstar: every object of
    // every kind at its latest version, the one deleted upstream as a deletion
    let mut ids = Vec::new();
    for kind in kinds {
        for id in case(kind).truth_ids(&r.sim, CONNECTION) {
            ids.push((kind, id));
        }
    }
    ids.push((ResourceKind::InboundShipments, gone.clone()));
    let truth = source_of_truth(&r.store, &tenant, &ids).await;
    assert!(truth.len() >= 15, "{}", truth.len());
    assert_eq!(replica.objects, truth);
    for kind in kinds {
        crate::resources_support::assert_stored_equals_truth(
            &r.store,
            &tenant,
            &r.sim,
            CONNECTION,
            case(kind),
        )
        .await;
    }
    assert_eq!(
        replica.action_of(&gone).last(),
        Some(&ChangeAction::Deleted)
    );
    assert_eq!(truth[&(ResourceKind::InboundShipments, gone)], None);
    // and nothing the consumer got is unknown to the table
    assert!(replica.objects.keys().all(|k| truth.contains_key(k)));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn webhooks_reach_the_feed_once_per_change_and_refused_deliveries_add_nothing() {
    use crate::resources_support::case;
    use crate::resources_webhooks::{created_then_updated, deliver, rig};
    // given a return created then updated upstream, and its two webhooks
    let (sim, p) = rig().await;
    let returns = case(ResourceKind::Returns);
    let (created, updated, _) = created_then_updated(returns, &sim).await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let everything = ChangeFilter::everything();
    let mut replica = Replica::default();
    // when the created webhook is applied and the feed read
    deliver(&p, "msg_created", created.clone()).await;
    past_horizon().await;
    replica
        .catch_up(&p.store, &p.tenant, &everything, &config(), 10)
        .await;
    // then the return is there, created
    assert_eq!(
        replica.seen,
        [(ResourceKind::Returns, id.clone(), ChangeAction::Created)]
    );
    // when the update arrives, then a late redelivery of the creation and a duplicate of
    // the update (both refused by only-if-newer)
    deliver(&p, "msg_updated", updated.clone()).await;
    deliver(&p, "msg_created_again", created).await;
    deliver(&p, "msg_updated_again", updated.clone()).await;
    past_horizon().await;
    replica
        .catch_up(&p.store, &p.tenant, &everything, &config(), 10)
        .await;
    // then the feed gained exactly the update, with the object as stored
    assert_eq!(
        replica.seen[1..],
        [(ResourceKind::Returns, id.clone(), ChangeAction::Updated)]
    );
    let key = (ResourceKind::Returns, id.clone());
    assert_eq!(
        replica.objects,
        source_of_truth(&p.store, &p.tenant, std::slice::from_ref(&key)).await
    );
    assert_eq!(
        replica.objects[&key].as_ref().unwrap()["updated_date"],
        updated["data"]["updated_date"]
    );
    sim.shutdown().await;
}
