//! The sync engine against the emulator and the Trackstar simulator: full and incremental
//! runs, resume after a crash, leases and fencing, refused page tokens, the window boundary,
//! the overlap, webhooks' newer states, 429 storms, 5xx bursts, an open breaker, a
//! connection deleted mid-sync, a rejected token, the scheduler, and the worker's batches.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use futures::future::BoxFuture;
use futures::FutureExt;
use packr::domain::{
    Connection, ConnectionStatus, InventoryItem, Order, Product, TenantId, Timestamp,
};
use packr::metrics::RecordingSink;
use packr::secrets::InMemorySecretSource;
use packr::store::dynamo::DynamoStore;
use packr::store::{ConnectionStore, SyncedStore, UpsertOutcome};
use packr::sync::{
    run_chunk, run_schedule, ChunkOutcome, DynamoSyncStateStore, JobKey, MemorySyncJobQueue,
    ResourceKind, SchedulerDeps, Skip, SourcePage, Stop, SyncConfig, SyncJob, SyncMode, SyncSource,
    SyncStateStore, TrackstarSource, Window, WorkerDeps,
};
use packr::trackstar::{
    BreakerPolicy, RetryPolicy, TrackstarClient, TrackstarConfig, TrackstarError,
};
use secrecy::SecretString;
use trackstar_sim::{FaultSpec, MutateRequest, MutationKind, SimConfig, SimConnection, SimHandle};

use crate::helpers::*;

pub(crate) const CONNECTION: &str = "conn_sync";
pub(crate) const TOKEN: &str = "tok_sync";
pub(crate) const CUSTOMER: &str = "wc_sync_1";
pub(crate) const SECRET: &str = "packr/test/trackstar/connections/conn_sync";

/// A clock that runs with the wall clock plus an offset the test moves.
#[derive(Clone, Default)]
pub(crate) struct TestClock {
    offset_ms: Arc<AtomicI64>,
}

impl TestClock {
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::now().plus_millis(self.offset_ms.load(Ordering::SeqCst))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Sets the clock so that `now()` is `at` (plus the time since).
    pub(crate) fn set(&self, at: Timestamp) {
        let offset = at.unix_millis() - Timestamp::now().unix_millis();
        self.offset_ms.store(offset, Ordering::SeqCst);
    }
}

pub(crate) struct Rig {
    pub(crate) sim: SimHandle,
    /// The test's own (setup and assertions).
    pub(crate) store: DynamoStore,
    /// As sync-worker and sync-scheduler use it: their requests sign as them (IAM check).
    pub(crate) worker_store: DynamoStore,
    pub(crate) scheduler_store: DynamoStore,
    pub(crate) states: Arc<DynamoSyncStateStore>,
    pub(crate) queue: Arc<MemorySyncJobQueue>,
    pub(crate) metrics: RecordingSink,
    pub(crate) clock: TestClock,
    pub(crate) tenant: TenantId,
    pub(crate) client: TrackstarClient,
}

fn sim_config(orders: usize) -> SimConfig {
    SimConfig {
        orders_per_connection: orders,
        inventory_per_connection: 12,
        products_per_connection: 12,
        get_rate_per_sec: 10_000,
        write_rate_per_sec: 10_000,
        connections: vec![SimConnection {
            connection_id: CONNECTION.into(),
            access_token: TOKEN.into(),
            integration_name: "sandbox".into(),
            warehouse_customer_ids: vec![CUSTOMER.into()],
        }],
        ..SimConfig::default()
    }
}

pub(crate) fn client_config(sim: &SimHandle) -> TrackstarConfig {
    TrackstarConfig {
        base_url: sim.base_url.clone(),
        get_rate: std::num::NonZeroU32::new(5_000).unwrap(),
        write_rate: std::num::NonZeroU32::new(5_000).unwrap(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(3),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_rate_limit_wait: Duration::from_secs(3),
        },
        breaker: BreakerPolicy {
            failure_threshold: 1_000,
            window: Duration::from_secs(10),
            reset_timeout: Duration::from_secs(30),
        },
        ..TrackstarConfig::default()
    }
}

fn make_client(config: TrackstarConfig, token: &str) -> TrackstarClient {
    TrackstarClient::new(
        config,
        SecretString::from("sim_api_key".to_owned()),
        Arc::new(InMemorySecretSource::with(SECRET, token)),
    )
    .unwrap()
}

pub(crate) async fn rig_with(
    orders: usize,
    client_config: impl FnOnce(&SimHandle) -> TrackstarConfig,
) -> Rig {
    let sim = trackstar_sim::spawn(sim_config(orders)).await.unwrap();
    let s = stack().await;
    let t = seed_acme(&s.store, CUSTOMER, CONNECTION).await;
    let client = make_client(client_config(&sim), TOKEN);
    Rig {
        sim,
        states: Arc::new(DynamoSyncStateStore::new(s.store.clone())),
        worker_store: s.store_as("sync-worker"),
        scheduler_store: s.store_as("sync-scheduler"),
        store: s.store,
        queue: Arc::new(MemorySyncJobQueue::new()),
        metrics: RecordingSink::new(),
        clock: TestClock::default(),
        tenant: t,
        client,
    }
}

pub(crate) async fn rig(orders: usize) -> Rig {
    rig_with(orders, client_config).await
}

/// Small pages, so every resource takes several; no skew, so tests control the window.
pub(crate) fn test_config() -> SyncConfig {
    SyncConfig {
        page_limit: 5,
        clock_skew: Duration::ZERO,
        overlap: Duration::from_secs(120),
        lease: Duration::from_secs(180),
        max_chunk: Duration::from_secs(60),
        deadline_margin: Duration::from_millis(500),
        min_page_time: Duration::from_millis(200),
        write_concurrency: 8,
        max_window_restarts: 3,
        ..SyncConfig::default()
    }
}

impl Rig {
    pub(crate) fn deps_with(
        &self,
        source: Arc<dyn SyncSource>,
        config: SyncConfig,
        worker: &str,
    ) -> WorkerDeps {
        let clock = self.clock.clone();
        WorkerDeps {
            states: Arc::new(DynamoSyncStateStore::new(self.worker_store.clone())),
            connections: Arc::new(self.worker_store.clone()),
            tenants: Arc::new(self.worker_store.clone()),
            objects: Arc::new(self.worker_store.clone()),
            source,
            queue: self.queue.clone(),
            reports: Arc::new(self.worker_store.clone()),
            metrics: Arc::new(self.metrics.clone()),
            config,
            clock: Arc::new(move || clock.now()),
            worker_id: worker.to_owned(),
        }
    }

    pub(crate) fn deps(&self) -> WorkerDeps {
        self.deps_with(
            Arc::new(TrackstarSource::new(self.client.clone())),
            test_config(),
            "worker-a",
        )
    }

    pub(crate) fn job(&self, resource: ResourceKind, mode: SyncMode) -> SyncJob {
        SyncJob::new(
            self.tenant.clone(),
            packr::domain::ConnectionId::parse(CONNECTION).unwrap(),
            resource,
            mode,
            "test",
            self.clock.now(),
        )
    }

    pub(crate) fn key(&self, resource: ResourceKind) -> JobKey {
        JobKey {
            tenant_id: self.tenant.clone(),
            connection_id: packr::domain::ConnectionId::parse(CONNECTION).unwrap(),
            resource,
        }
    }

    /// Runs `job` and every continuation it queues, until the run is over (bounded).
    pub(crate) async fn run_to_end(&self, deps: &WorkerDeps, job: SyncJob) -> Vec<ChunkOutcome> {
        let mut outcomes = Vec::new();
        let mut pending = vec![job];
        for _ in 0..200 {
            let Some(job) = pending.pop() else {
                return outcomes;
            };
            let outcome = run_chunk(deps, &job, far_deadline()).await.unwrap();
            outcomes.push(outcome);
            pending.extend(self.queue.drain());
        }
        panic!("the run did not finish within 200 chunks: {outcomes:?}");
    }

    pub(crate) fn gets(&self, path: &str) -> u64 {
        self.sim.requests().count("GET", path)
    }

    pub(crate) async fn order(&self, id: &str) -> Option<Order> {
        SyncedStore::<Order>::get(&self.store, &self.tenant, id)
            .await
            .unwrap()
    }

    /// Every object of the simulator is stored locally with its `updated_date` and content.
    async fn assert_local_equals_truth(&self) {
        let truth = self.sim.truth(CONNECTION).unwrap();
        for o in &truth.orders {
            let local = self
                .order(&o.id)
                .await
                .unwrap_or_else(|| panic!("order {} missing", o.id));
            assert_eq!(
                local.updated_date,
                Timestamp::from_datetime(o.updated_date),
                "order {}",
                o.id
            );
            assert_eq!(local.status.as_str(), o.status, "order {}", o.id);
            assert_eq!(local.brand_id, Some(brand("b1")));
        }
        for i in &truth.inventory {
            let local: InventoryItem =
                SyncedStore::<InventoryItem>::get(&self.store, &self.tenant, &i.id)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| panic!("inventory {} missing", i.id));
            assert_eq!(local.updated_date, Timestamp::from_datetime(i.updated_date));
            assert_eq!(local.quantities.onhand, i.onhand, "inventory {}", i.id);
        }
        for p in &truth.products {
            let local: Product = SyncedStore::<Product>::get(&self.store, &self.tenant, &p.id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("product {} missing", p.id));
            assert_eq!(local.updated_date, Timestamp::from_datetime(p.updated_date));
        }
    }
}

pub(crate) fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

async fn full_sync_all(r: &Rig, deps: &WorkerDeps) {
    for resource in ResourceKind::ALL {
        let outcomes = r.run_to_end(deps, r.job(resource, SyncMode::Full)).await;
        assert!(
            matches!(outcomes.last(), Some(ChunkOutcome::Completed { .. })),
            "{resource}: {outcomes:?}"
        );
    }
}

// ---- the happy path -----------------------------------------------------------------

#[tokio::test]
async fn a_full_sync_stores_every_object_and_moves_the_watermark_to_the_window_end() {
    // given a simulator with 23 orders, 12 inventory items, 12 products, pages of 5
    let r = rig(23).await;
    let deps = r.deps();
    let started = r.clock.now();
    // when every resource is fully synced
    full_sync_all(&r, &deps).await;
    // then the local copy equals the simulator's, and each job's watermark is its `to`
    r.assert_local_equals_truth().await;
    for resource in ResourceKind::ALL {
        let state = r.states.get(&r.key(resource)).await.unwrap().unwrap();
        assert!(state.checkpoint.is_none());
        assert!(!state.leased_at(r.clock.now()));
        let run = state.last_run.clone().unwrap();
        assert_eq!(run.mode, SyncMode::Full);
        assert_eq!(state.watermark, Some(run.to));
        assert!(run.to <= run.started_at && run.started_at >= started);
    }
    // 23 orders in pages of 5: 5 GETs
    assert_eq!(r.gets("/wms/orders"), 5);
    // every object the simulator seeded, of every kind
    assert_eq!(
        r.metrics.total("sync.records"),
        r.sim.truth(CONNECTION).unwrap().object_count() as f64
    );
    r.sim.shutdown().await;
}

#[tokio::test]
async fn full_then_incremental_with_mutations_in_between_ends_equal_to_the_truth() {
    // given a fully synced connection
    let r = rig(30).await;
    let deps = r.deps();
    full_sync_all(&r, &deps).await;
    // when orders, inventory and products change upstream, and an incremental runs a
    // second later (the simulator stamps whole seconds)
    for (kind, count) in [
        (MutationKind::Order, 12),
        (MutationKind::Inventory, 5),
        (MutationKind::Product, 5),
    ] {
        r.sim
            .mutate(&MutateRequest {
                connection_id: CONNECTION.into(),
                kind,
                count,
            })
            .unwrap();
    }
    r.clock.advance(Duration::from_secs(2));
    let before = r.gets("/wms/orders");
    for resource in ResourceKind::ALL {
        let outcomes = r
            .run_to_end(&deps, r.job(resource, SyncMode::Incremental))
            .await;
        assert!(matches!(
            outcomes.last(),
            Some(ChunkOutcome::Completed { .. })
        ));
    }
    // then local equals truth, and the incremental read only the changed window
    r.assert_local_equals_truth().await;
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    let run = state.last_run.unwrap();
    assert_eq!(run.mode, SyncMode::Incremental);
    assert!(run.from.is_some());
    assert!(run.counts.fetched < 30, "{:?}", run.counts);
    assert!(r.gets("/wms/orders") - before < 6);
    r.sim.shutdown().await;
}

// ---- crashes, duplicates, leases ----------------------------------------------------

pub(crate) type Hook = Box<dyn FnMut(usize) -> BoxFuture<'static, Option<TrackstarError>> + Send>;

/// The real source, recording each page token asked for; it can hang after `hang_after`
/// pages (the worker is then killed mid-run) or run a hook before a page.
pub(crate) struct Recording {
    inner: TrackstarSource,
    tokens: Mutex<Vec<Option<String>>>,
    hang_after: Option<usize>,
    pub(crate) hook: Mutex<Option<Hook>>,
    pages: AtomicUsize,
}

impl Recording {
    pub(crate) fn new(client: TrackstarClient) -> Self {
        Self {
            inner: TrackstarSource::new(client),
            tokens: Mutex::new(Vec::new()),
            hang_after: None,
            hook: Mutex::new(None),
            pages: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl SyncSource for Recording {
    async fn page(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        mode: SyncMode,
        window: &Window,
        page_token: Option<&str>,
        limit: u32,
    ) -> Result<SourcePage, TrackstarError> {
        let n = self.pages.fetch_add(1, Ordering::SeqCst);
        self.tokens
            .lock()
            .unwrap()
            .push(page_token.map(str::to_owned));
        if self.hang_after.is_some_and(|k| n >= k) {
            futures::future::pending::<()>().await;
        }
        let injected = self.hook.lock().unwrap().as_mut().map(|hook| hook(n));
        let injected = match injected {
            Some(future) => future.await,
            None => None,
        };
        if let Some(error) = injected {
            return Err(error);
        }
        self.inner
            .page(connection, resource, mode, window, page_token, limit)
            .await
    }

    async fn objects(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        ids: &[String],
    ) -> Result<SourcePage, TrackstarError> {
        self.inner.objects(connection, resource, ids).await
    }
}

#[tokio::test]
async fn a_worker_killed_after_page_k_is_resumed_at_page_k_plus_1_once_its_lease_expires() {
    // given a worker that stores 2 pages of orders, then hangs on the 3rd and is killed
    let r = rig(23).await;
    let mut crashing = Recording::new(r.client.clone());
    crashing.hang_after = Some(2);
    let crashing = Arc::new(crashing);
    let deps = r.deps_with(crashing.clone(), test_config(), "worker-a");
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    let killed = tokio::time::timeout(
        Duration::from_secs(2),
        run_chunk(&deps, &job, far_deadline()),
    )
    .await;
    assert!(killed.is_err(), "the worker was meant to hang");
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    let checkpoint = state.checkpoint.clone().unwrap();
    assert_eq!(checkpoint.counts.pages, 2);
    let token_after_2 = checkpoint.page_token.clone().unwrap();
    // when SQS redelivers the message while the lease is still valid: nothing happens
    let resumer = Arc::new(Recording::new(r.client.clone()));
    let deps_b = r.deps_with(resumer.clone(), test_config(), "worker-b");
    assert_eq!(
        run_chunk(&deps_b, &job, far_deadline()).await.unwrap(),
        ChunkOutcome::Skipped(Skip::Leased)
    );
    assert!(resumer.tokens.lock().unwrap().is_empty());
    // and once the lease has expired, another worker takes over
    r.clock.advance(Duration::from_secs(181));
    let outcomes = r.run_to_end(&deps_b, job).await;
    // then it resumed at page 3 (the stored token), read 3 more pages, and finished
    let tokens = resumer.tokens.lock().unwrap().clone();
    assert_eq!(tokens.first().cloned().flatten(), Some(token_after_2));
    assert_eq!(tokens.len(), 3);
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { counts, .. }) if counts.fetched == 23 && counts.pages == 5)
    );
    assert_eq!(r.gets("/wms/orders"), 5);
    for o in &r.sim.truth(CONNECTION).unwrap().orders {
        assert!(r.order(&o.id).await.is_some());
    }
    r.sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_and_duplicate_messages_for_one_job_give_one_run() {
    // given two deliveries of the same job, handled at the same time by two workers
    let r = rig(23).await;
    let deps_a = r.deps_with(
        Arc::new(TrackstarSource::new(r.client.clone())),
        test_config(),
        "worker-a",
    );
    let deps_b = r.deps_with(
        Arc::new(TrackstarSource::new(r.client.clone())),
        test_config(),
        "worker-b",
    );
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    // when
    let (a, b) = tokio::join!(
        run_chunk(&deps_a, &job, far_deadline()),
        run_chunk(&deps_b, &job, far_deadline())
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    // then exactly one ran; the other found the lease held and left Trackstar alone — or,
    // where the emulator let both conditional acquires through (moto does not serialise
    // concurrent conditional writes; DynamoDB does), was fenced at its first checkpoint
    let completed = outcomes
        .iter()
        .filter(|o| matches!(o, ChunkOutcome::Completed { .. }))
        .count();
    let stood_aside = outcomes
        .iter()
        .filter(|o| matches!(o, ChunkOutcome::Skipped(Skip::Leased | Skip::Fenced)))
        .count();
    assert_eq!((completed, stood_aside), (1, 1), "{outcomes:?}");
    assert!(r.gets("/wms/orders") <= 6, "{}", r.gets("/wms/orders"));
    let gets_after_run = r.gets("/wms/orders");
    // and a late duplicate of a continuation of that finished run does nothing
    let run_id = match &outcomes
        .iter()
        .find(|o| matches!(o, ChunkOutcome::Completed { .. }))
    {
        Some(ChunkOutcome::Completed { run_id, .. }) => run_id.clone(),
        _ => unreachable!(),
    };
    let late = job.continuation(&run_id, "continuation");
    assert_eq!(
        run_chunk(&deps_a, &late, far_deadline()).await.unwrap(),
        ChunkOutcome::Skipped(Skip::StaleContinuation)
    );
    assert_eq!(r.gets("/wms/orders"), gets_after_run);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_stale_holder_whose_lease_was_taken_over_is_fenced_and_writes_nothing_more() {
    // given worker A mid-run: before its 3rd page, its lease expires and B takes the job over
    let r = rig(23).await;
    let takeover = Recording::new(r.client.clone());
    let states = r.states.clone();
    let key = r.key(ResourceKind::Orders);
    let clock = r.clock.clone();
    let taken = Arc::new(Mutex::new(None));
    let taken_in_hook = taken.clone();
    *takeover.hook.lock().unwrap() = Some(Box::new(move |n| {
        let (clock, states, key, taken) = (
            clock.clone(),
            states.clone(),
            key.clone(),
            taken_in_hook.clone(),
        );
        async move {
            if n == 2 {
                clock.advance(Duration::from_secs(181));
                let now = clock.now();
                let lease = states
                    .acquire(&key, "worker-b", now, now.plus_seconds(180))
                    .await
                    .unwrap();
                *taken.lock().unwrap() = lease;
            }
            None
        }
        .boxed()
    }));
    let deps = r.deps_with(Arc::new(takeover), test_config(), "worker-a");
    // when A goes on with its run
    let outcome = run_chunk(
        &deps,
        &r.job(ResourceKind::Orders, SyncMode::Full),
        far_deadline(),
    )
    .await
    .unwrap();
    // then A was fenced at its next checkpoint: it stopped, B's lease and token stand
    assert_eq!(outcome, ChunkOutcome::Skipped(Skip::Fenced));
    let (lease_b, _) = taken.lock().unwrap().clone().expect("B took the lease");
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.fence, lease_b.token);
    assert_eq!(state.lease_owner.as_deref(), Some("worker-b"));
    assert!(state.watermark.is_none(), "A must not move the watermark");
    assert_eq!(
        state.checkpoint.unwrap().counts.pages,
        2,
        "A's 3rd page was not checkpointed"
    );
    // and A's lease token can no longer write at all
    let stale = packr::sync::Lease {
        key: r.key(ResourceKind::Orders),
        owner: "worker-a".into(),
        token: lease_b.token - 1,
    };
    assert!(matches!(
        r.states.release(&stale, None, r.clock.now()).await,
        Err(packr::sync::state::StateError::Fenced)
    ));
    r.sim.shutdown().await;
}

// ---- the window -----------------------------------------------------------------------

#[tokio::test]
async fn a_refused_page_token_restarts_the_window_and_the_run_still_completes() {
    // given a run killed after 2 pages whose stored page token Trackstar no longer accepts
    let r = rig(23).await;
    let mut crashing = Recording::new(r.client.clone());
    crashing.hang_after = Some(2);
    let deps = r.deps_with(Arc::new(crashing), test_config(), "worker-a");
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        run_chunk(&deps, &job, far_deadline()),
    )
    .await;
    r.store
        .client()
        .update_item()
        .table_name(r.store.table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("T#acme#SYNC#{CONNECTION}#orders")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("SYNC".into()),
        )
        .update_expression("SET checkpoint.page_token = :t")
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::S("expired-token".into()),
        )
        .send()
        .await
        .unwrap();
    r.clock.advance(Duration::from_secs(181));
    // when the job is resumed
    let outcomes = r.run_to_end(&r.deps(), job).await;
    // then the simulator's 400 restarted the window from its beginning and all is stored
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { .. })),
        "{outcomes:?}"
    );
    assert_eq!(r.sim.requests().served(400), 1);
    assert_eq!(r.metrics.total("sync.window_restarts"), 1.0);
    for o in &r.sim.truth(CONNECTION).unwrap().orders {
        assert!(r.order(&o.id).await.is_some(), "order {} missing", o.id);
    }
    r.sim.shutdown().await;
}

fn set_order(r: &Rig, index: usize, updated: Timestamp, status: &str) -> String {
    r.sim
        .state()
        .with_data(CONNECTION, |data| {
            let o = &mut data.orders[index];
            o.updated_date = updated.as_datetime();
            o.status = status.to_owned();
            o.id.clone()
        })
        .unwrap()
}

#[tokio::test]
async fn objects_changed_in_the_same_second_as_the_window_end_are_not_lost() {
    // given orders changed in second S, and a full sync running at S + 0.5 s (to = S)
    let r = rig(10).await;
    let s = Timestamp::now().plus_seconds(3600);
    let s = Timestamp::from_unix_seconds(s.unix_seconds()).unwrap();
    let at_boundary = set_order(&r, 0, s, "picked");
    let just_before = set_order(&r, 1, s.plus_seconds(-1), "packed");
    r.clock.set(s.plus_millis(500));
    let deps = r.deps_with(
        Arc::new(TrackstarSource::new(r.client.clone())),
        SyncConfig {
            overlap: Duration::ZERO,
            ..test_config()
        },
        "worker-a",
    );
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    // then the first window `[.., S)` stored the one before S but not the one at S
    assert!(r.order(&just_before).await.is_some());
    assert!(r.order(&at_boundary).await.is_none());
    // when the next incremental runs, even with no overlap at all
    r.clock.set(s.plus_seconds(60));
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Incremental))
        .await;
    // then the boundary second is read again and the change is stored
    let stored = r
        .order(&at_boundary)
        .await
        .expect("the boundary change was lost");
    assert_eq!(stored.updated_date, s);
    assert_eq!(stored.status.as_str(), "picked");
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_change_recorded_late_inside_the_overlap_is_picked_up() {
    // given a synced connection whose watermark is W
    let r = rig(10).await;
    let w =
        Timestamp::from_unix_seconds(Timestamp::now().plus_seconds(3600).unix_seconds()).unwrap();
    r.clock.set(w);
    let deps = r.deps();
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.watermark, Some(w));
    // when a change stamped 30 s before W appears upstream only now (Trackstar's own
    // sync from the WMS lags), and the next incremental runs
    let late = set_order(&r, 3, w.plus_seconds(-30), "exception");
    r.clock.set(w.plus_seconds(600));
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Incremental))
        .await;
    // then the overlap (120 s) covered it
    let stored = r.order(&late).await.unwrap();
    assert_eq!(stored.status.as_str(), "exception");
    assert_eq!(stored.updated_date, w.plus_seconds(-30));
    let run = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap()
        .last_run
        .unwrap();
    assert_eq!(run.from, Some(w.plus_seconds(-120)));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_sync_never_overwrites_a_newer_state_a_webhook_already_applied() {
    // given an order whose newer state (a webhook from a second later) is already stored
    let r = rig(10).await;
    let truth = r.sim.truth(CONNECTION).unwrap().orders[0].clone();
    let deps = r.deps();
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    let mut newer = r.order(&truth.id).await.unwrap();
    newer.updated_date = newer.updated_date.plus_seconds(1);
    newer.status = packr::domain::OrderStatus::Cancelled;
    assert_eq!(
        r.store.upsert_if_newer(&r.tenant, &newer).await.unwrap(),
        UpsertOutcome::Applied
    );
    // when a full sync reads Trackstar's (older) copy again
    let outcomes = r
        .run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    // then the newer state stays, and it is counted as unchanged
    assert_eq!(r.order(&truth.id).await.unwrap(), newer);
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { counts, .. }) if counts.unchanged == 10 && counts.applied == 0),
        "{outcomes:?}"
    );
    r.sim.shutdown().await;
}

// ---- Trackstar in trouble ---------------------------------------------------------------

#[tokio::test]
async fn a_429_storm_and_a_5xx_burst_are_ridden_out_by_the_client_and_the_run_completes() {
    // given Trackstar answering 2 × 429 (one run), then 2 × 503 (another)
    let r = rig(23).await;
    r.sim.set_faults(
        CONNECTION,
        FaultSpec {
            rate_limit_storm: 2,
            ..FaultSpec::default()
        },
    );
    let deps = r.deps();
    let first = r
        .run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    r.sim.set_faults(CONNECTION, FaultSpec::error(503, Some(2)));
    let second = r
        .run_to_end(&deps, r.job(ResourceKind::Products, SyncMode::Full))
        .await;
    // then both runs completed and everything is stored
    assert!(
        matches!(first.last(), Some(ChunkOutcome::Completed { .. })),
        "{first:?}"
    );
    assert!(
        matches!(second.last(), Some(ChunkOutcome::Completed { .. })),
        "{second:?}"
    );
    assert!(r.sim.requests().served(429) >= 2);
    assert_eq!(r.sim.requests().served(503), 2);
    for o in &r.sim.truth(CONNECTION).unwrap().orders {
        assert!(r.order(&o.id).await.is_some());
    }
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_persistent_5xx_fails_the_job_for_sqs_to_retry_and_keeps_its_checkpoint() {
    // given a run with 2 pages stored, then Trackstar failing for good
    let r = rig(23).await;
    let failing = Recording::new(r.client.clone());
    let sim_state = r.sim.state().clone();
    *failing.hook.lock().unwrap() = Some(Box::new(move |n| {
        if n == 2 {
            sim_state.set_faults(CONNECTION, FaultSpec::error(503, None));
        }
        async { None }.boxed()
    }));
    let deps = r.deps_with(Arc::new(failing), test_config(), "worker-a");
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    // when
    let result = run_chunk(&deps, &job, far_deadline()).await;
    // then the failure is for SQS to retry, the checkpoint stands, the lease is free
    assert!(
        matches!(result, Err(packr::sync::SyncError::Trackstar(_))),
        "{result:?}"
    );
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.checkpoint.as_ref().unwrap().counts.pages, 2);
    assert!(!state.leased_at(r.clock.now()));
    assert_eq!(state.consecutive_failures, 1);
    assert!(state.last_error.unwrap().contains("503"));
    // and once Trackstar is back, SQS's redelivery resumes at page 3 and completes
    r.sim.clear_faults(CONNECTION);
    let before = r.gets("/wms/orders");
    let outcomes = r.run_to_end(&r.deps(), job).await;
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { counts, .. }) if counts.fetched == 23 && counts.pages == 5)
    );
    assert_eq!(r.gets("/wms/orders") - before, 3);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn an_open_breaker_defers_the_job_instead_of_failing_it() {
    // given a client whose breaker opens on the first 5xx
    let r = rig_with(23, |sim| TrackstarConfig {
        breaker: BreakerPolicy {
            failure_threshold: 1,
            window: Duration::from_secs(10),
            reset_timeout: Duration::from_secs(30),
        },
        ..client_config(sim)
    })
    .await;
    r.sim.set_faults(CONNECTION, FaultSpec::error(503, Some(1)));
    let deps = r.deps();
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    // when the worker handles the message
    let response = packr::sync::worker::handle_batch(&deps, sqs_event(&job), far_deadline()).await;
    // then the message is acknowledged, and the job is back on the queue with a delay
    assert!(response.batch_item_failures.is_empty());
    let queued = r.queue.jobs();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].1 >= Duration::from_secs(1), "{:?}", queued[0].1);
    assert_eq!(queued[0].0.reason, "deferred");
    assert!(queued[0].0.run_id.is_some());
    assert_eq!(r.metrics.total("sync.deferred"), 1.0);
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert!(!state.leased_at(r.clock.now()));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_connection_deleted_mid_sync_stops_its_job() {
    // given a run that has stored a page when the connection is disconnected
    let r = rig(23).await;
    let deleting = Recording::new(r.client.clone());
    let store = r.store.clone();
    let t = r.tenant.clone();
    *deleting.hook.lock().unwrap() = Some(Box::new(move |n| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            if n == 1 {
                let mut c = connection(&t, CONNECTION);
                c.status = ConnectionStatus::Disconnected;
                store.update_connection(&t, &c).await.unwrap();
            }
            None
        }
        .boxed()
    }));
    let deps = r.deps_with(Arc::new(deleting), test_config(), "worker-a");
    // when
    let outcome = run_chunk(
        &deps,
        &r.job(ResourceKind::Orders, SyncMode::Full),
        far_deadline(),
    )
    .await
    .unwrap();
    // then the run stopped before its 3rd page and dropped its checkpoint
    assert_eq!(outcome, ChunkOutcome::Stopped(Stop::ConnectionGone));
    assert_eq!(r.gets("/wms/orders"), 2);
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert!(state.checkpoint.is_none());
    // and a new job for it does not run at all
    assert_eq!(
        run_chunk(
            &r.deps(),
            &r.job(ResourceKind::Orders, SyncMode::Full),
            far_deadline()
        )
        .await
        .unwrap(),
        ChunkOutcome::Skipped(Skip::ConnectionInactive)
    );
    assert_eq!(r.gets("/wms/orders"), 2);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_rejected_access_token_marks_the_connection_for_reauthentication() {
    // given a stored token that Trackstar no longer accepts (even after a refresh)
    let r = rig(5).await;
    let bad = make_client(client_config(&r.sim), "tok_revoked");
    let deps = r.deps_with(
        Arc::new(TrackstarSource::new(bad)),
        test_config(),
        "worker-a",
    );
    // when
    let outcome = run_chunk(
        &deps,
        &r.job(ResourceKind::Orders, SyncMode::Full),
        far_deadline(),
    )
    .await
    .unwrap();
    // then
    assert_eq!(outcome, ChunkOutcome::Stopped(Stop::ReauthRequired));
    let c = r
        .store
        .get_connection(
            &r.tenant,
            &packr::domain::ConnectionId::parse(CONNECTION).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, ConnectionStatus::ReauthRequired);
    // and the scheduler no longer lists it
    let report = run_schedule(&r.scheduler()).await.unwrap();
    assert_eq!(report.connections, 0);
    r.sim.shutdown().await;
}

// ---- deadlines and chunks -------------------------------------------------------------

#[tokio::test]
async fn a_run_longer_than_its_chunk_continues_in_a_queued_continuation() {
    // given pages that take ~150 ms and a chunk budget of 400 ms
    let r = rig(23).await;
    r.sim.set_faults(
        CONNECTION,
        FaultSpec {
            latency_ms: 150,
            ..FaultSpec::default()
        },
    );
    let deps = r.deps_with(
        Arc::new(TrackstarSource::new(r.client.clone())),
        SyncConfig {
            max_chunk: Duration::from_millis(400),
            min_page_time: Duration::from_millis(10),
            ..test_config()
        },
        "worker-a",
    );
    // when the job runs to its end
    let outcomes = r
        .run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    // then it took several chunks of one run, each continuation queued, and nothing lost
    let continued = outcomes
        .iter()
        .filter(|o| matches!(o, ChunkOutcome::Continued { .. }))
        .count();
    assert!(continued >= 1, "{outcomes:?}");
    let run_ids: std::collections::HashSet<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            ChunkOutcome::Continued { run_id, .. } | ChunkOutcome::Completed { run_id, .. } => {
                Some(run_id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(run_ids.len(), 1);
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { counts, .. }) if counts.fetched == 23 && counts.pages == 5)
    );
    assert_eq!(r.gets("/wms/orders"), 5);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_message_with_no_time_left_is_requeued_not_failed_and_an_unreadable_one_fails() {
    let r = rig(5).await;
    let deps = r.deps();
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    // given a batch whose first message took the invocation's time (here: an unreadable
    // one, and a deadline 100 ms away when the second is reached)
    let mut batch = sqs_event(&job);
    let mut unreadable = batch.records[0].clone();
    unreadable.message_id = Some("m-0".into());
    unreadable.body = Some("{\"not\":\"a job\"}".into());
    batch.records.insert(0, unreadable);
    // when
    let response = packr::sync::worker::handle_batch(
        &deps,
        batch,
        Instant::now() + Duration::from_millis(100),
    )
    .await;
    // then the unreadable one fails (towards the DLQ, where ops see it), and the job went
    // back on the queue untouched, without a call to Trackstar
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-0"]);
    let queued = r.queue.drain();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].reason, "requeued");
    assert_eq!(r.gets("/wms/orders"), 0);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn an_invocation_too_short_for_any_page_fails_its_message_instead_of_requeueing_it_forever() {
    // given a function timeout below the deadline margin plus one page (misconfigured)
    let r = rig(5).await;
    let deps = r.deps();
    let job = r.job(ResourceKind::Orders, SyncMode::Full);
    // when its first (only) message arrives with 100 ms to go
    let response = packr::sync::worker::handle_batch(
        &deps,
        sqs_event(&job),
        Instant::now() + Duration::from_millis(100),
    )
    .await;
    // then it fails (SQS retries it, then the DLQ), nothing is requeued, Trackstar untouched
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(r.queue.drain().is_empty());
    assert_eq!(r.metrics.total("sync.failures"), 1.0);
    assert_eq!(r.gets("/wms/orders"), 0);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_full_sync_asked_for_while_an_incremental_runs_is_queued_when_it_finishes() {
    // given a synced job whose incremental run holds the lease
    let r = rig(10).await;
    let deps = r.deps();
    r.run_to_end(&deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    r.clock.advance(Duration::from_secs(5));
    let asked = Recording::new(r.client.clone());
    let full = r.job(ResourceKind::Orders, SyncMode::Full);
    let other_deps = Arc::new(r.deps());
    let full_for_hook = full.clone();
    *asked.hook.lock().unwrap() = Some(Box::new(move |n| {
        let (other_deps, full) = (other_deps.clone(), full_for_hook.clone());
        async move {
            if n == 0 {
                // another message asks for a full sync now: the lease is held
                let outcome = run_chunk(&other_deps, &full, far_deadline()).await.unwrap();
                assert_eq!(outcome, ChunkOutcome::Skipped(Skip::Leased));
            }
            None
        }
        .boxed()
    }));
    let deps_inc = r.deps_with(Arc::new(asked), test_config(), "worker-a");
    let mut incremental = r.job(ResourceKind::Orders, SyncMode::Incremental);
    incremental.requested_at = r.clock.now();
    // when the incremental finishes
    let outcome = run_chunk(&deps_inc, &incremental, far_deadline())
        .await
        .unwrap();
    // then it queued the full sync that was asked for meanwhile
    assert!(
        matches!(
            outcome,
            ChunkOutcome::Completed {
                full_enqueued: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let queued = r.queue.drain();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mode, SyncMode::Full);
    r.sim.shutdown().await;
}

// ---- the scheduler ----------------------------------------------------------------------

impl Rig {
    pub(crate) fn scheduler(&self) -> SchedulerDeps {
        let clock = self.clock.clone();
        SchedulerDeps {
            connections: Arc::new(self.scheduler_store.clone()),
            states: Arc::new(DynamoSyncStateStore::new(self.scheduler_store.clone())),
            queue: self.queue.clone(),
            metrics: Arc::new(self.metrics.clone()),
            clock: Arc::new(move || clock.now()),
            resources: ResourceKind::ALL.to_vec(),
            unavailable_recheck: packr::sync::SyncConfig::default().unavailable_recheck,
            parked_sweep: None,
        }
    }
}

#[tokio::test]
async fn the_scheduler_queues_a_job_per_active_connection_and_resource_and_skips_leased_ones() {
    // given two tenants' connections (one never synced), and one disconnected connection
    let r = rig(5).await;
    let other = tenant("globex");
    r.store
        .create_connection(&other, &connection(&other, "conn_globex"))
        .await
        .unwrap();
    let mut gone = connection(&other, "conn_gone");
    r.store.create_connection(&other, &gone).await.unwrap();
    gone.status = ConnectionStatus::Disconnected;
    r.store.update_connection(&other, &gone).await.unwrap();
    // acme's resources are synced but for inventory, whose job is running right now
    let deps = r.deps();
    for resource in ResourceKind::ALL
        .into_iter()
        .filter(|r| *r != ResourceKind::Inventory)
    {
        r.run_to_end(&deps, r.job(resource, SyncMode::Full)).await;
    }
    let now = r.clock.now();
    r.states
        .acquire(
            &r.key(ResourceKind::Inventory),
            "busy",
            now,
            now.plus_seconds(60),
        )
        .await
        .unwrap()
        .unwrap();
    // when the schedule fires
    let report = run_schedule(&r.scheduler()).await.unwrap();
    // then
    assert_eq!(report.connections, 2);
    assert_eq!(report.skipped_leased, 1);
    assert_eq!(report.incremental, ResourceKind::ALL.len() - 1);
    assert_eq!(
        report.full,
        ResourceKind::ALL.len(),
        "the never-synced connection gets full syncs"
    );
    let queued = r.queue.drain();
    assert_eq!(queued.len(), 2 * ResourceKind::ALL.len() - 1);
    assert!(queued
        .iter()
        .all(|j| j.connection_id.as_str() != "conn_gone"));
    assert!(queued
        .iter()
        .filter(|j| j.tenant_id == r.tenant)
        .all(|j| j.mode == SyncMode::Incremental && j.resource != ResourceKind::Inventory));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn the_scheduler_consumes_a_connections_full_sync_request_once() {
    // given a synced connection for which connection.created asked for a full sync
    let r = rig(5).await;
    let deps = r.deps();
    full_sync_all(&r, &deps).await;
    r.clock.advance(Duration::from_secs(10));
    let mut c = connection(&r.tenant, CONNECTION);
    c.full_sync_requested_at = Some(r.clock.now());
    r.store.update_connection(&r.tenant, &c).await.unwrap();
    // when the schedule fires: full jobs
    let report = run_schedule(&r.scheduler()).await.unwrap();
    assert_eq!(
        (report.full, report.incremental),
        (ResourceKind::ALL.len(), 0)
    );
    r.clock.advance(Duration::from_secs(1));
    for job in r.queue.drain() {
        r.run_to_end(&deps, job).await;
    }
    // then, with those full runs started after the request, the next tick is incremental
    r.clock.advance(Duration::from_secs(10));
    let report = run_schedule(&r.scheduler()).await.unwrap();
    assert_eq!(
        (report.full, report.incremental),
        (0, ResourceKind::ALL.len())
    );
    r.sim.shutdown().await;
}

fn sqs_event(job: &SyncJob) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("m-1".into());
    message.body = Some(serde_json::to_string(job).unwrap());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn the_sample_sync_job_batch_runs_through_the_worker_as_lambda_delivers_it() {
    // given the SQS batch sample of `events/` (a full sync of acme's conn_sync orders)
    let r = rig(12).await;
    let event: SqsEvent = serde_json::from_str(&sample("sqs-sync-jobs-batch.json")).unwrap();
    let deps = Arc::new(r.deps());
    // when the worker handles it in a spawned task (as the runtime and the local ESM do)
    let handler = deps.clone();
    let response = tokio::spawn(async move {
        packr::sync::worker::handle_batch(&handler, event, far_deadline()).await
    })
    .await
    .unwrap();
    // then the run completed and the orders are stored
    assert!(response.batch_item_failures.is_empty());
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.last_run.unwrap().counts.fetched, 12);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn the_sample_scheduled_event_is_an_eventbridge_scheduled_event() {
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&sample("eventbridge-scheduled-sync.json")).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
}

// ---- reconciliation ------------------------------------------------------------------

async fn delete_local_order(r: &Rig, id: &str) {
    r.store
        .client()
        .delete_item()
        .table_name(r.store.table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("T#acme#ORDER#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
        )
        .send()
        .await
        .unwrap();
}

/// Every object item of the table (orders, inventory, products), as stored.
async fn object_items(
    r: &Rig,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let out = r
        .store
        .client()
        .scan()
        .table_name(r.store.table_name())
        .send()
        .await
        .unwrap();
    let mut items: Vec<_> = out
        .items
        .unwrap_or_default()
        .into_iter()
        .filter(|i| match i.get("sk") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => {
                ["ORDER", "INVENTORY", "PRODUCT"].contains(&sk.as_str())
            }
            _ => false,
        })
        .collect();
    items.sort_by_key(|i| format!("{:?}", i.get("pk")));
    items
}

struct Drift {
    missing_local: String,
    stale_local: String,
    ahead_local: String,
    missing_remote: String,
}

/// A synced connection, then drift of every kind: a lost webhook (local copy gone), a
/// change Packr missed, a local copy ahead of Trackstar's list, an order deleted upstream.
async fn drifted(r: &Rig, deps: &WorkerDeps) -> Drift {
    r.run_to_end(deps, r.job(ResourceKind::Orders, SyncMode::Full))
        .await;
    let truth = r.sim.truth(CONNECTION).unwrap().orders;
    let missing_local = truth[0].id.clone();
    delete_local_order(r, &missing_local).await;
    let stale_local = set_order(
        r,
        1,
        Timestamp::from_datetime(truth[1].updated_date).plus_seconds(10),
        "picked",
    );
    let ahead_local = truth[2].id.clone();
    let mut ahead = r.order(&ahead_local).await.unwrap();
    ahead.updated_date = ahead.updated_date.plus_seconds(30);
    ahead.status = packr::domain::OrderStatus::Packed;
    r.store.upsert_if_newer(&r.tenant, &ahead).await.unwrap();
    let missing_remote = truth[3].id.clone();
    r.sim
        .state()
        .with_data(CONNECTION, |data| {
            data.orders.retain(|o| o.id != missing_remote)
        })
        .unwrap();
    Drift {
        missing_local,
        stale_local,
        ahead_local,
        missing_remote,
    }
}

pub(crate) fn reconcile_job(r: &Rig, dry_run: bool) -> SyncJob {
    SyncJob {
        dry_run,
        ..r.job(ResourceKind::Orders, SyncMode::Reconcile)
    }
}

#[tokio::test]
async fn a_reconciliation_delivered_again_after_its_run_is_done_does_nothing() {
    // given a reconciliation asked for and run to its end
    let r = rig(23).await;
    let deps = r.deps();
    let job = reconcile_job(&r, false);
    let outcomes = r.run_to_end(&deps, job.clone()).await;
    assert!(
        matches!(outcomes.last(), Some(ChunkOutcome::Completed { .. })),
        "{outcomes:?}"
    );
    let gets = r.gets("/wms/orders");
    // when its message comes again five minutes later (a second delivery, or the copy a
    // worker queued again while the run held the lease)
    r.clock.advance(Duration::from_secs(300));
    let again = run_chunk(&deps, &job, far_deadline()).await.unwrap();
    // then it does nothing: no Trackstar call, nothing queued, no second run
    assert_eq!(again, ChunkOutcome::Skipped(Skip::Served));
    assert_eq!(r.gets("/wms/orders"), gets);
    assert!(r.queue.drain().is_empty());
    // and a dry run asked for at the same time, or a reconciliation asked for since, runs
    for other in [
        SyncJob {
            dry_run: true,
            ..job.clone()
        },
        reconcile_job(&r, false),
    ] {
        let before = r.gets("/wms/orders");
        let outcomes = r.run_to_end(&deps, other).await;
        assert!(
            matches!(outcomes.last(), Some(ChunkOutcome::Completed { .. })),
            "{outcomes:?}"
        );
        assert!(r.gets("/wms/orders") > before);
    }
    r.sim.shutdown().await;
}

#[tokio::test]
async fn reconciliation_classifies_every_id_and_repairs_the_drift_through_the_upsert_path() {
    use packr::sync::reconcile::{DriftClass, ReportStore};
    // given 23 orders with one drift of each kind
    let r = rig(23).await;
    let deps = r.deps();
    let d = drifted(&r, &deps).await;
    r.clock.advance(Duration::from_secs(2));
    // when the reconciliation runs (pages of 5: several chunks of checkpoints)
    let outcomes = r.run_to_end(&deps, reconcile_job(&r, false)).await;
    let Some(ChunkOutcome::Completed { run_id, .. }) = outcomes.last() else {
        panic!("{outcomes:?}")
    };
    // then the report counts each class and names the ids
    let report = r
        .store
        .get_report(&r.tenant, run_id)
        .await
        .unwrap()
        .unwrap();
    assert!(report.complete);
    let t = &report.tally;
    assert_eq!(t.count(DriftClass::MissingLocal), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::StaleLocal), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::AheadLocal), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::MissingRemote), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::InSync), 19, "{t:?}");
    assert_eq!(
        t.samples[&DriftClass::MissingLocal],
        vec![d.missing_local.clone()]
    );
    assert_eq!(
        t.samples[&DriftClass::MissingRemote],
        vec![d.missing_remote.clone()]
    );
    assert_eq!(
        t.samples[&DriftClass::AheadLocal],
        vec![d.ahead_local.clone()]
    );
    // missing and stale repaired, the deleted one tombstoned; Trackstar's refetch could
    // not settle the one ahead (its copy is older): left as it is
    assert_eq!(t.repaired, 3);
    // every object is b1's (through its warehouse customer): b1's share is the whole run,
    // the deleted one included (its brand read from the local copy)
    let b1 = &t.by_brand[&brand("b1")];
    assert_eq!(b1.counts, t.counts);
    assert_eq!(b1.repaired, 3);
    assert_eq!(
        b1.samples[&DriftClass::MissingRemote],
        vec![d.missing_remote.clone()]
    );
    assert_eq!(report.brand_ids, vec![brand("b1")]);
    assert!(r.order(&d.missing_local).await.is_some());
    assert_eq!(
        r.order(&d.stale_local).await.unwrap().status.as_str(),
        "picked"
    );
    assert!(
        r.order(&d.missing_remote).await.is_none(),
        "tombstoned: hidden"
    );
    assert_eq!(
        r.order(&d.ahead_local).await.unwrap().status,
        packr::domain::OrderStatus::Packed
    );
    // 5 list pages, 1 refetch of the one ahead, 1 confirmation of the one the walk did
    // not return (by id, whatever its date) before it was tombstoned
    assert_eq!(report.trackstar_gets, 7);
    // the tombstone is kept for audit, and listings no longer show it
    let tomb = object_items(&r).await.into_iter().find(|i| {
        matches!(i.get("pk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) if pk.ends_with(&d.missing_remote))
    });
    assert!(tomb.unwrap().contains_key("deleted_at"));
    let listed = SyncedStore::<Order>::list(
        &r.store,
        &r.tenant,
        &packr::store::ListQuery::default(),
        &packr::store::PageRequest::first(packr::store::PageLimit::parse(Some(100)).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(listed.items.len(), 22);
    assert!(listed
        .items
        .iter()
        .all(|o| o.id.as_str() != d.missing_remote));
    // the job state keeps the summary; metrics carry the drift
    let state = r
        .states
        .get(&r.key(ResourceKind::Orders))
        .await
        .unwrap()
        .unwrap();
    let summary = state.last_reconcile.unwrap();
    assert_eq!(
        (summary.missing_local, summary.repaired, summary.drift),
        (1, 3, 4)
    );
    assert_eq!(r.metrics.total("reconcile.missing_local"), 1.0);
    assert_eq!(r.metrics.total("reconcile.repaired"), 3.0);
    // and a second run finds only the one still ahead
    r.clock.advance(Duration::from_secs(2));
    let outcomes = r.run_to_end(&deps, reconcile_job(&r, false)).await;
    let Some(ChunkOutcome::Completed { run_id, .. }) = outcomes.last() else {
        panic!()
    };
    let again = r
        .store
        .get_report(&r.tenant, run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.tally.drift(), 1, "{:?}", again.tally);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_reconciliation_classifies_and_reports_but_changes_no_object() {
    use packr::sync::reconcile::{DriftClass, ReportStore};
    let r = rig(23).await;
    let deps = r.deps();
    drifted(&r, &deps).await;
    let before = object_items(&r).await;
    r.clock.advance(Duration::from_secs(2));
    // when
    let outcomes = r.run_to_end(&deps, reconcile_job(&r, true)).await;
    // then every object item is exactly as before, and the report says what it found
    assert_eq!(object_items(&r).await, before);
    let Some(ChunkOutcome::Completed { run_id, .. }) = outcomes.last() else {
        panic!()
    };
    let report = r
        .store
        .get_report(&r.tenant, run_id)
        .await
        .unwrap()
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.tally.drift(), 4);
    assert_eq!(report.tally.count(DriftClass::MissingRemote), 1);
    assert_eq!(report.tally.repaired, 0);
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_reconciliation_cut_short_tombstones_nothing_and_reports_itself_incomplete() {
    use packr::sync::reconcile::ReportStore;
    // given drift including an order deleted upstream, and Trackstar refusing the walk's
    // third page for good (422)
    let r = rig(23).await;
    let deps = r.deps();
    let d = drifted(&r, &deps).await;
    let refusing = Recording::new(r.client.clone());
    let sim_state = r.sim.state().clone();
    *refusing.hook.lock().unwrap() = Some(Box::new(move |n| {
        if n == 2 {
            sim_state.set_faults(CONNECTION, FaultSpec::error(422, None));
        }
        async { None }.boxed()
    }));
    let deps = r.deps_with(Arc::new(refusing), test_config(), "worker-a");
    r.clock.advance(Duration::from_secs(2));
    // when
    let outcomes = r.run_to_end(&deps, reconcile_job(&r, false)).await;
    // then the run stopped, the deleted order is still there, and the report says why
    assert!(
        matches!(
            outcomes.last(),
            Some(ChunkOutcome::Stopped(Stop::Permanent(_)))
        ),
        "{outcomes:?}"
    );
    r.sim.clear_faults(CONNECTION);
    assert!(
        r.order(&d.missing_remote).await.is_some(),
        "a partial walk must never delete"
    );
    let reports = r
        .store
        .list_reports(
            &r.tenant,
            None,
            &packr::store::PageRequest::first(packr::store::PageLimit::parse(Some(10)).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(reports.items.len(), 1);
    assert!(!reports.items[0].complete);
    assert!(reports.items[0]
        .incomplete_reason
        .as_deref()
        .unwrap()
        .contains("422"));
    r.sim.shutdown().await;
}

#[tokio::test]
async fn the_nightly_schedule_queues_a_reconciliation_per_active_connection_and_resource() {
    let r = rig(3).await;
    let report =
        packr::sync::handle_event(&r.scheduler(), &serde_json::json!({"kind": "reconcile"}))
            .await
            .unwrap();
    assert_eq!(report.connections, 1);
    let jobs = r.queue.drain();
    assert_eq!(jobs.len(), ResourceKind::ALL.len());
    assert!(jobs
        .iter()
        .all(|j| j.mode == SyncMode::Reconcile && !j.dry_run));
}
