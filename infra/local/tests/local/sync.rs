//! The sync engine on the local stack, no webhooks: full and incremental syncs make
//! DynamoDB equal the simulator's truth, and a large full sync of one tenant does not hold
//! back another tenant's incremental sync.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use packr::domain::{ConnectionId, InventoryItem, Order, Product, TenantId, Timestamp};
use packr::resource::Resource;
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, ListQuery, PageLimit, PageRequest, SyncedStore};
use packr::sync::{JobKey, ResourceKind, SyncMode, SyncState};
use packr_local::seed::{seed_tenant, TenantSeed, DEMO_CONNECTION, DEMO_TENANT};
use packr_local::sync::SyncOptions;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions, WebhookStack};
use trackstar_sim::{MutateRequest, MutationKind, SimConnection};

/// Sleeps until just after the next whole second (Trackstar dates have whole seconds).
async fn next_second() {
    let into = u64::from(chrono::Utc::now().timestamp_subsec_millis());
    tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
}

fn store_of(sdk: &aws_config::SdkConfig, running: &WebhookStack) -> DynamoStore {
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        running.stack.resources.table_name.clone(),
        CursorCodec::new(vec![7; 32]),
    )
}

/// Every stored object of a kind, by id.
async fn stored<T: Resource>(
    store: &DynamoStore,
    tenant: &TenantId,
    id: impl Fn(&T) -> String,
) -> BTreeMap<String, T>
where
    DynamoStore: SyncedStore<T>,
{
    let mut all = BTreeMap::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = SyncedStore::<T>::list(
            store,
            tenant,
            &ListQuery::default(),
            &PageRequest {
                limit: PageLimit::parse(Some(PageLimit::MAX)).expect("limit"),
                cursor: cursor.take(),
            },
        )
        .await
        .expect("list stored objects");
        for item in page.items {
            all.insert(id(&item), item);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
    panic!("the listing did not end");
}

/// `id → (updated_date, content)` of the local copy and of the truth, compared.
fn differences(
    what: &str,
    local: &BTreeMap<String, (Timestamp, String)>,
    truth: &BTreeMap<String, (Timestamp, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, expected) in truth {
        match local.get(id) {
            None => out.push(format!("{what} {id}: not stored")),
            Some(found) if found != expected => {
                out.push(format!("{what} {id}: stored {found:?}, truth {expected:?}"))
            }
            Some(_) => {}
        }
    }
    for id in local.keys().filter(|id| !truth.contains_key(*id)) {
        out.push(format!("{what} {id}: stored but not in the simulator"));
    }
    out
}

/// Every order, inventory item and product of the demo tenant against the simulator.
async fn mismatches(store: &DynamoStore, running: &WebhookStack) -> (Vec<String>, [usize; 3]) {
    let tenant = TenantId::parse(DEMO_TENANT).expect("tenant");
    let truth = running.sim.truth(DEMO_CONNECTION).expect("truth");
    let ts = Timestamp::from_datetime;

    let orders = stored::<Order>(store, &tenant, |o| o.id.as_str().to_owned()).await;
    let local: BTreeMap<_, _> = orders
        .iter()
        .map(|(id, o)| (id.clone(), (o.updated_date, o.status.as_str().to_owned())))
        .collect();
    let expected: BTreeMap<_, _> = truth
        .orders
        .iter()
        .map(|o| (o.id.clone(), (ts(o.updated_date), o.status.clone())))
        .collect();
    let mut out = differences("order", &local, &expected);

    let items = stored::<InventoryItem>(store, &tenant, |i| i.id.as_str().to_owned()).await;
    let local: BTreeMap<_, _> = items
        .iter()
        .map(|(id, i)| {
            let q = &i.quantities;
            (
                id.clone(),
                (
                    i.updated_date,
                    format!("onhand {} fulfillable {}", q.onhand, q.fulfillable),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<_, _> = truth
        .inventory
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                (
                    ts(i.updated_date),
                    format!("onhand {} fulfillable {}", i.onhand, i.fulfillable),
                ),
            )
        })
        .collect();
    out.extend(differences("inventory item", &local, &expected));

    let products = stored::<Product>(store, &tenant, |p| p.id.as_str().to_owned()).await;
    let local: BTreeMap<_, _> = products
        .iter()
        .map(|(id, p)| {
            (
                id.clone(),
                (p.updated_date, p.name.clone().unwrap_or_default()),
            )
        })
        .collect();
    let expected: BTreeMap<_, _> = truth
        .products
        .iter()
        .map(|p| (p.id.clone(), (ts(p.updated_date), p.name.clone())))
        .collect();
    out.extend(differences("product", &local, &expected));
    (out, [orders.len(), items.len(), products.len()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_then_an_incremental_sync_make_the_local_copy_equal_the_simulator() {
    // given the stack with webhooks off: only the sync engine can move data
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            orders_per_connection: 120,
            sync: SyncOptions {
                pollers: 2,
                // windows end at the run's start (the test waits out the second itself)
                worker_env: BTreeMap::from([("SYNC_CLOCK_SKEW_SECONDS".into(), "0".into())]),
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    running.sim.set_webhook_target(None);
    let store = store_of(&sdk, &running);

    // when a full sync of the demo connection is requested and the queue drains
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &ResourceKind::ALL,
            SyncMode::Full,
            "test",
        )
        .await
        .expect("enqueue");
    assert!(
        running.sync.wait_drained(Duration::from_secs(60)).await,
        "the full sync did not finish within 60 s"
    );

    // then every object is stored as the simulator has it
    let (diff, counts) = mismatches(&store, &running).await;
    assert!(diff.is_empty(), "after the full sync: {diff:#?}");
    assert_eq!(counts, [120, 20, 20]);

    // when objects change in the simulator and the schedule fires once
    next_second().await;
    for (kind, count) in [
        (MutationKind::Order, 15),
        (MutationKind::Inventory, 6),
        (MutationKind::Product, 6),
    ] {
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: DEMO_CONNECTION.to_owned(),
                kind,
                count,
            })
            .expect("mutate");
        assert!(!outcome.changes.is_empty());
    }
    let before_tick = mismatches(&store, &running).await.0;
    assert!(!before_tick.is_empty(), "the mutations changed nothing");
    next_second().await; // the changes' second is over: the window [from, now) covers it
    let reports = running
        .sync
        .fire_incremental()
        .await
        .expect("the tick runs");
    assert_eq!(
        reports[0]["incremental"],
        packr::resource::ResourceKind::ALL.len(),
        "{reports:?}"
    );
    assert_eq!(reports[0]["full"], 0, "{reports:?}");
    assert!(
        running.sync.wait_drained(Duration::from_secs(60)).await,
        "the incremental sync did not finish within 60 s"
    );

    // then the local copy equals the simulator again
    let (diff, _) = mismatches(&store, &running).await;
    assert!(diff.is_empty(), "after the incremental sync: {diff:#?}");
    let tenant = TenantId::parse(DEMO_TENANT).expect("tenant");
    let connection = ConnectionId::parse(DEMO_CONNECTION).expect("connection");
    for resource in ResourceKind::ALL {
        let state = job_state(&running, &tenant, &connection, resource).await;
        let last = state.last_run.expect("a finished run");
        assert_eq!(last.mode, SyncMode::Incremental, "{resource}");
        assert!(
            state.checkpoint.is_none(),
            "{resource} still has a checkpoint"
        );
        assert!(
            last.from.is_some(),
            "{resource}: an incremental window has a start"
        );
    }
    assert_eq!(running.sync.worker_metrics.total("sync.failures"), 0.0);

    running.shutdown().await;
}

async fn job_state(
    running: &WebhookStack,
    tenant: &TenantId,
    connection: &ConnectionId,
    resource: ResourceKind,
) -> SyncState {
    running
        .sync
        .worker
        .states
        .get(&JobKey {
            tenant_id: tenant.clone(),
            connection_id: connection.clone(),
            resource,
        })
        .await
        .expect("read the job state")
        .expect("the job has a state")
}

/// Polls `check` every 100 ms until it holds; false after `timeout`.
async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

const BULK_TENANT: &str = "bulk-3pl";
const BULK_CONNECTION: &str = "conn_bulk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_full_sync_runs_in_chunks_so_another_tenants_incremental_does_not_wait_for_it() {
    // given tenant A with 20,000 orders and tenant B (the demo tenant) with 50, one worker,
    // chunks of at most 2 s
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            orders_per_connection: 20_000,
            inventory_per_connection: 1,
            products_per_connection: 1,
            sync: SyncOptions {
                pollers: 1,
                worker_env: BTreeMap::from([
                    ("SYNC_MAX_CHUNK_SECONDS".into(), "2".into()),
                    ("SYNC_MIN_PAGE_MS".into(), "200".into()),
                    ("SYNC_PAGE_LIMIT".into(), "500".into()),
                ]),
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    running.sim.set_webhook_target(None);
    running
        .sim
        .state()
        .with_data(DEMO_CONNECTION, |data| data.orders.truncate(50))
        .expect("the demo connection");
    let sim_connection = SimConnection::new(BULK_CONNECTION, "tok_bulk");
    let warehouse_customer = sim_connection.warehouse_customer_ids[0].clone();
    running.sim.add_connection(sim_connection);
    seed_tenant(
        &sdk,
        &running.stack,
        &TenantSeed {
            tenant_id: BULK_TENANT,
            name: "Bulk 3PL",
            currency: "USD",
            brands: &[("brand-bulk", "Bulk", &warehouse_customer)],
            connection_id: BULK_CONNECTION,
            access_token: "tok_bulk",
            integration_name: "sandbox",
        },
    )
    .await
    .expect("seed tenant A");
    let (tenant_a, conn_a) = (
        TenantId::parse(BULK_TENANT).unwrap(),
        ConnectionId::parse(BULK_CONNECTION).unwrap(),
    );
    let (tenant_b, conn_b) = (
        TenantId::parse(DEMO_TENANT).unwrap(),
        ConnectionId::parse(DEMO_CONNECTION).unwrap(),
    );
    let orders = [ResourceKind::Orders];
    // B has synced before (it has a watermark)
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &orders,
            SyncMode::Full,
            "test",
        )
        .await
        .expect("enqueue B's first sync");
    assert!(running.sync.wait_drained(Duration::from_secs(30)).await);
    let b_before = job_state(&running, &tenant_b, &conn_b, ResourceKind::Orders).await;
    assert!(b_before.watermark.is_some());

    // when A's full sync has started its first chunk
    running
        .sync
        .request(
            BULK_TENANT,
            BULK_CONNECTION,
            &orders,
            SyncMode::Full,
            "test",
        )
        .await
        .expect("enqueue A's full sync");
    let started = eventually(Duration::from_secs(30), || async {
        running
            .sync
            .worker
            .states
            .get(&JobKey {
                tenant_id: tenant_a.clone(),
                connection_id: conn_a.clone(),
                resource: ResourceKind::Orders,
            })
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.checkpoint.is_some_and(|cp| cp.chunks >= 1))
    })
    .await;
    assert!(started, "A's full sync did not start within 30 s");
    // and B's incremental job is queued behind it
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &orders,
            SyncMode::Incremental,
            "test",
        )
        .await
        .expect("enqueue B's incremental");

    // then B's incremental completes ...
    let b_done = eventually(Duration::from_secs(60), || async {
        let state = job_state(&running, &tenant_b, &conn_b, ResourceKind::Orders).await;
        state
            .last_run
            .is_some_and(|run| run.mode == SyncMode::Incremental)
    })
    .await;
    assert!(b_done, "B's incremental did not complete within 60 s");
    // ... while A's full sync is still in progress: checkpointed, chunked, not finished
    let a = job_state(&running, &tenant_a, &conn_a, ResourceKind::Orders).await;
    let checkpoint = a.checkpoint.expect("A is still mid-run");
    assert_eq!(checkpoint.mode, SyncMode::Full);
    assert!(checkpoint.counts.fetched < 20_000, "{checkpoint:?}");
    assert!(checkpoint.counts.fetched > 0, "{checkpoint:?}");
    assert!(a.last_run.is_none(), "A finished: {:?}", a.last_run);
    assert!(a.watermark.is_none());
    assert!(running.sync.worker_metrics.total("sync.continuations") >= 1.0);

    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parked_events_sweep_runs_from_its_schedule_with_the_template_environment() {
    // given the local stack and an event parked eight days ago for a connection never linked
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            sync: SyncOptions {
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    let store = store_of(&sdk, &running);
    let now = Timestamp::now();
    let event = packr::webhook::parked::ParkedEvent {
        event_id: packr::domain::EventId::parse("msg_parked_old").expect("id"),
        connection_id: ConnectionId::parse("conn_never_linked").expect("connection"),
        event_type: "order.created".into(),
        received_at: now.plus_seconds(-8 * 24 * 3600),
        delivered_at: None,
        correlation_id: packr::domain::CorrelationId::generate(),
        payload: serde_json::json!({"connection_id": "conn_never_linked", "event_type": "order.created"}),
    };
    packr::webhook::parked::ParkedEventStore::park(&store, &event, event.received_at)
        .await
        .expect("parked");
    // when its schedule fires
    let reports = running
        .sync
        .schedules
        .fire("ParkedEventsSweepSchedule")
        .await
        .expect("the sweep runs");
    // then sync-scheduler (WEBHOOK_QUEUE_URL, PARKED_RETENTION_HOURS from the template)
    // expired it and said so
    assert_eq!(reports[0]["parked"]["expired"], 1, "{reports:?}");
    assert_eq!(
        running
            .sync
            .scheduler_metrics
            .total("webhook.parked_expired"),
        1.0
    );
    running.shutdown().await;
}
