//! A resource Trackstar refuses for a connection — 403 "disabled by policy" (bills) on one,
//! 501 "not implemented" (shipping methods) on another — against the emulator and the
//! simulator: the other resources sync, the refused ones are marked unavailable (never a
//! failure, a retry or a breaker trip), the schedule leaves them alone until their re-check,
//! `/sync/health` shows them without a worse status, and once Trackstar serves them again
//! the re-check syncs them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packr::domain::ConnectionId;
use packr::metrics::RecordingSink;
use packr::store::dynamo::DynamoStore;
use packr::sync::{
    run_chunk, run_schedule, ChunkOutcome, DynamoSyncStateStore, JobKey, MemorySyncJobQueue,
    Refusal, ResourceKind, SchedulerDeps, Stop, SyncJob, SyncMode, SyncState, SyncStateStore,
    TrackstarSource, WorkerDeps,
};
use packr::trackstar::{BreakerState, TrackstarClient, TrackstarConfig};
use secrecy::SecretString;
use serde_json::Value;
use trackstar_sim::{Limits, ResourcePolicy};

use crate::api_support::*;
use crate::helpers::*;
use crate::sync_engine::{test_config, TestClock};

/// Who is refused what: acme's bills (403), globex's shipping methods (501).
const REFUSED: [(&str, &str, ResourceKind, Refusal); 2] = [
    (ACME, CONN_ACME, ResourceKind::Bills, Refusal::Forbidden),
    (
        GLOBEX,
        CONN_GLOBEX,
        ResourceKind::ShippingMethods,
        Refusal::NotImplemented,
    ),
];

struct Rig {
    api: ApiStack,
    worker: WorkerDeps,
    scheduler: SchedulerDeps,
    client: TrackstarClient,
    states: DynamoSyncStateStore,
    queue: Arc<MemorySyncJobQueue>,
    clock: TestClock,
}

/// The API stack (two tenants, a connection each, the simulator), with the sync worker and
/// scheduler on its table and a clock the test moves.
async fn rig() -> Rig {
    let mut api = api_stack().await;
    api.sim.set_limits(Limits {
        get_rate_per_sec: 10_000,
        write_rate_per_sec: 10_000,
    });
    let clock = TestClock::default();
    let api_clock = clock.clone();
    api.deps.clock = Arc::new(move || api_clock.now());
    let client = TrackstarClient::new(
        TrackstarConfig {
            get_rate: std::num::NonZeroU32::new(5_000).unwrap(),
            write_rate: std::num::NonZeroU32::new(5_000).unwrap(),
            ..trackstar_config(&api.sim.base_url)
        },
        SecretString::from(sim_api_key()),
        api.secrets.clone(),
    )
    .unwrap();
    let store: DynamoStore = api.stack.store_as("sync-worker");
    let queue = Arc::new(MemorySyncJobQueue::new());
    let metrics = RecordingSink::new();
    let worker_clock = clock.clone();
    let worker = WorkerDeps {
        states: Arc::new(DynamoSyncStateStore::new(store.clone())),
        connections: Arc::new(store.clone()),
        tenants: Arc::new(store.clone()),
        objects: Arc::new(store.clone()),
        source: Arc::new(TrackstarSource::new(client.clone())),
        queue: queue.clone(),
        reports: Arc::new(store),
        metrics: Arc::new(metrics.clone()),
        config: test_config(),
        clock: Arc::new(move || worker_clock.now()),
        worker_id: "worker-a".into(),
    };
    let scheduler_store = api.stack.store_as("sync-scheduler");
    let scheduler_clock = clock.clone();
    let scheduler = SchedulerDeps {
        connections: Arc::new(scheduler_store.clone()),
        states: Arc::new(DynamoSyncStateStore::new(scheduler_store)),
        queue: queue.clone(),
        metrics: Arc::new(metrics),
        clock: Arc::new(move || scheduler_clock.now()),
        resources: ResourceKind::ALL.to_vec(),
        unavailable_recheck: test_config().unavailable_recheck,
        parked_sweep: None,
    };
    let states = DynamoSyncStateStore::new(api.stack.store.clone());
    Rig {
        api,
        worker,
        scheduler,
        client,
        states,
        queue,
        clock,
    }
}

impl Rig {
    fn job(&self, t: &str, connection: &str, resource: ResourceKind, mode: SyncMode) -> SyncJob {
        SyncJob::new(
            tenant(t),
            ConnectionId::parse(connection).unwrap(),
            resource,
            mode,
            "test",
            self.clock.now(),
        )
    }

    /// Runs `job` and its continuations to the end; no chunk may return an error (that
    /// would fail the message for SQS to retry).
    async fn run_to_end(&self, job: SyncJob) -> ChunkOutcome {
        let mut pending = vec![job];
        let mut last = None;
        for _ in 0..100 {
            let Some(job) = pending.pop() else {
                return last.expect("a chunk ran");
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            let outcome = run_chunk(&self.worker, &job, deadline)
                .await
                .unwrap_or_else(|e| panic!("{} {}: {e:?}", job.connection_id, job.resource));
            last = Some(outcome);
            pending.extend(self.queue.drain());
        }
        panic!("the run did not finish within 100 chunks");
    }

    async fn state(&self, t: &str, connection: &str, resource: ResourceKind) -> SyncState {
        self.states
            .get(&JobKey {
                tenant_id: tenant(t),
                connection_id: ConnectionId::parse(connection).unwrap(),
                resource,
            })
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no state for {connection} {resource}"))
    }

    /// How many objects of `resource` the simulator has for `connection`.
    fn truth_len(&self, connection: &str, resource: ResourceKind) -> u64 {
        let truth = serde_json::to_value(self.api.sim.truth(connection).unwrap()).unwrap();
        truth[resource.as_str()].as_array().unwrap().len() as u64
    }

    fn breaker_closed(&self, connection: &str) {
        let breaker = self
            .client
            .breaker_state(&ConnectionId::parse(connection).unwrap());
        assert_eq!(breaker.state, BreakerState::Closed, "{connection}");
        assert_eq!(breaker.failures_in_window, 0, "{connection}");
    }

    async fn health(&self, t: &str, connection: &str) -> Value {
        let r = self.api.get(&Caller::admin(t), "/sync/health").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["connection_id"] == connection)
            .unwrap_or_else(|| panic!("{connection} not in {}", r.body))
            .clone()
    }
}

fn resource_row(connection: &Value, resource: ResourceKind) -> &Value {
    connection["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == resource.as_str())
        .unwrap_or_else(|| panic!("{resource} not in {connection}"))
}

fn refused(connection: &str, resource: ResourceKind) -> Option<Refusal> {
    REFUSED
        .iter()
        .find(|(_, c, r, _)| *c == connection && *r == resource)
        .map(|(_, _, _, refusal)| *refusal)
}

fn sim_kind(resource: ResourceKind) -> trackstar_sim::ResourceKind {
    trackstar_sim::ResourceKind::ALL
        .into_iter()
        .find(|k| k.resource_name() == resource.as_str())
        .unwrap()
}

fn connections() -> [(&'static str, &'static str); 2] {
    [(ACME, CONN_ACME), (GLOBEX, CONN_GLOBEX)]
}

#[tokio::test]
async fn refused_resources_are_marked_unavailable_skipped_until_rechecked_and_never_fail_the_others(
) {
    // given Trackstar refusing acme's bills (403) and globex's shipping methods (501)
    let r = rig().await;
    for (_, connection, resource, refusal) in REFUSED {
        let policy = match refusal {
            Refusal::Forbidden => ResourcePolicy::Forbidden,
            Refusal::NotImplemented => ResourcePolicy::NotImplemented,
        };
        r.api
            .sim
            .set_resource_policy(connection, sim_kind(resource), policy);
    }

    // when every resource of both connections is fully synced
    for (t, connection) in connections() {
        for resource in ResourceKind::ALL {
            let outcome = r
                .run_to_end(r.job(t, connection, resource, SyncMode::Full))
                .await;
            // then the refused ones stop as unavailable, the others complete
            match refused(connection, resource) {
                Some(refusal) => assert_eq!(
                    outcome,
                    ChunkOutcome::Stopped(Stop::Unavailable(refusal)),
                    "{connection} {resource}"
                ),
                None => assert!(
                    matches!(outcome, ChunkOutcome::Completed { .. }),
                    "{connection} {resource}: {outcome:?}"
                ),
            }
        }
    }
    // the others are stored with their watermarks; the refused ones are marked, with no
    // failure, error or retry recorded
    for (t, connection) in connections() {
        for resource in ResourceKind::ALL {
            let state = r.state(t, connection, resource).await;
            assert_eq!(state.consecutive_failures, 0, "{connection} {resource}");
            assert!(state.last_error.is_none(), "{connection} {resource}");
            match refused(connection, resource) {
                Some(refusal) => {
                    let unavailable = state.unavailable.expect("marked unavailable");
                    assert_eq!(unavailable.refusal, refusal);
                    assert!(state.watermark.is_none());
                }
                None => {
                    assert!(state.unavailable.is_none(), "{connection} {resource}");
                    assert!(state.watermark.is_some(), "{connection} {resource}");
                    let counts = state.last_run.unwrap().counts;
                    assert_eq!(
                        counts.applied,
                        r.truth_len(connection, resource),
                        "{connection} {resource}"
                    );
                }
            }
        }
        // and the breaker never counted a refusal
        r.breaker_closed(connection);
    }
    assert!(r.queue.drain().is_empty(), "nothing re-queued");

    // when the schedule fires
    r.clock.advance(Duration::from_secs(60));
    let report = run_schedule(&r.scheduler).await.unwrap();
    // then it skips the refused ones and queues the rest
    assert_eq!(report.skipped_unavailable, 2);
    assert_eq!(report.incremental, 2 * ResourceKind::ALL.len() - 2);
    assert_eq!(report.full, 0);
    let queued = r.queue.drain();
    assert_eq!(queued.len(), 2 * ResourceKind::ALL.len() - 2);
    assert!(queued
        .iter()
        .all(|j| refused(j.connection_id.as_str(), j.resource).is_none()));
    for job in queued {
        r.run_to_end(job).await;
    }

    // and /sync/health shows each refusal on its resource, and the connection healthy
    for (t, connection, resource, refusal) in REFUSED {
        let health = r.health(t, connection).await;
        let row = resource_row(&health, resource);
        assert_eq!(
            row["unavailable"]["refusal"],
            serde_json::to_value(refusal).unwrap(),
            "{row}"
        );
        assert!(row["unavailable"]["checked_at"].is_string(), "{row}");
        assert_eq!(health["status"], "healthy", "{health}");
        assert_eq!(health["reasons"], serde_json::json!([]), "{health}");
        assert_eq!(health["breaker"]["state"], "closed", "{health}");
        for other in ResourceKind::ALL.into_iter().filter(|k| *k != resource) {
            assert!(
                resource_row(&health, other)["unavailable"].is_null(),
                "{connection} {other}"
            );
        }
    }

    // when Trackstar serves them again and their re-check is due
    for (_, connection, resource, _) in REFUSED {
        r.api
            .sim
            .set_resource_policy(connection, sim_kind(resource), ResourcePolicy::Allowed);
    }
    r.clock
        .advance(test_config().unavailable_recheck + Duration::from_secs(60));
    let report = run_schedule(&r.scheduler).await.unwrap();
    // then the next tick queues them (never synced: full) with the others, and they sync
    assert_eq!(report.skipped_unavailable, 0);
    assert_eq!(report.full, 2);
    assert_eq!(report.incremental, 2 * ResourceKind::ALL.len() - 2);
    let queued = r.queue.drain();
    assert_eq!(queued.len(), 2 * ResourceKind::ALL.len());
    for job in queued {
        let (connection, resource) = (job.connection_id.as_str().to_owned(), job.resource);
        let outcome = r.run_to_end(job).await;
        assert!(
            matches!(outcome, ChunkOutcome::Completed { .. }),
            "{connection} {resource}: {outcome:?}"
        );
    }
    for (t, connection, resource, _) in REFUSED {
        let state = r.state(t, connection, resource).await;
        assert!(state.unavailable.is_none(), "{connection} {resource}");
        assert!(state.watermark.is_some());
        assert_eq!(
            state.last_run.unwrap().counts.applied,
            r.truth_len(connection, resource)
        );
        let health = r.health(t, connection).await;
        assert!(resource_row(&health, resource)["unavailable"].is_null());
        assert_eq!(health["status"], "healthy", "{health}");
        r.breaker_closed(connection);
    }
    r.api.sim.shutdown().await;
}

impl Rig {
    /// How many live objects of `resource` acme has stored.
    async fn stored(&self, resource: ResourceKind) -> u64 {
        use packr::store::{ListQuery, ObjectStore, PageLimit, PageRequest};
        let page = self
            .api
            .stack
            .store
            .list_objects(
                &tenant(ACME),
                resource,
                &ListQuery::default(),
                &PageRequest::first(PageLimit::parse(Some(100)).unwrap()),
            )
            .await
            .unwrap();
        assert!(page.next_cursor.is_none());
        page.items.len() as u64
    }

    /// acme's bills refused (403), after a full sync of them found that out.
    async fn acme_bills_refused(&self) {
        self.api.sim.set_resource_policy(
            CONN_ACME,
            trackstar_sim::ResourceKind::Bills,
            ResourcePolicy::Forbidden,
        );
        let outcome = self
            .run_to_end(self.job(ACME, CONN_ACME, ResourceKind::Bills, SyncMode::Full))
            .await;
        assert_eq!(
            outcome,
            ChunkOutcome::Stopped(Stop::Unavailable(Refusal::Forbidden))
        );
    }
}

#[tokio::test]
async fn post_sync_run_rechecks_a_refused_resource_at_once() {
    // given acme's bills refused, then enabled by Trackstar
    let r = rig().await;
    r.acme_bills_refused().await;
    r.api.sim.set_resource_policy(
        CONN_ACME,
        trackstar_sim::ResourceKind::Bills,
        ResourcePolicy::Allowed,
    );
    // when a tenant admin asks for a sync of them (long before the slow re-check)
    let answer = r
        .api
        .send(
            &Caller::admin(ACME),
            "POST",
            "/sync/run",
            &serde_json::json!({
                "connection_id": CONN_ACME,
                "resources": ["bills"],
                "mode": "full"
            }),
            &[("Idempotency-Key", "recheck-bills-1")],
        )
        .await;
    // then the job is queued and, run, syncs them and clears the mark
    assert_eq!(answer.status, 202, "{}", answer.body);
    let queued = r.api.sync_jobs.drain();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].resource, ResourceKind::Bills);
    let outcome = r.run_to_end(queued[0].clone()).await;
    assert!(
        matches!(outcome, ChunkOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let state = r.state(ACME, CONN_ACME, ResourceKind::Bills).await;
    assert!(state.unavailable.is_none());
    let n = r.truth_len(CONN_ACME, ResourceKind::Bills);
    assert!(n > 0);
    assert_eq!(r.stored(ResourceKind::Bills).await, n);
    r.api.sim.shutdown().await;
}

#[tokio::test]
async fn a_reconciliation_of_a_refused_resource_stops_as_unavailable_and_deletes_nothing() {
    // given acme's bills synced, then refused by Trackstar (403)
    let r = rig().await;
    let outcome = r
        .run_to_end(r.job(ACME, CONN_ACME, ResourceKind::Bills, SyncMode::Full))
        .await;
    assert!(
        matches!(outcome, ChunkOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let n = r.truth_len(CONN_ACME, ResourceKind::Bills);
    assert!(n > 0);
    assert_eq!(r.stored(ResourceKind::Bills).await, n);
    r.api.sim.set_resource_policy(
        CONN_ACME,
        trackstar_sim::ResourceKind::Bills,
        ResourcePolicy::Forbidden,
    );
    r.clock.advance(Duration::from_secs(2));
    // when the nightly reconciliation of them runs
    let outcome = r
        .run_to_end(r.job(ACME, CONN_ACME, ResourceKind::Bills, SyncMode::Reconcile))
        .await;
    // then it stops as unavailable: a refusal is not "Trackstar has none", so every local
    // bill is still there, and nothing is recorded as a failure
    assert_eq!(
        outcome,
        ChunkOutcome::Stopped(Stop::Unavailable(Refusal::Forbidden))
    );
    assert_eq!(r.stored(ResourceKind::Bills).await, n);
    let state = r.state(ACME, CONN_ACME, ResourceKind::Bills).await;
    assert_eq!(
        state.unavailable.map(|u| u.refusal),
        Some(Refusal::Forbidden)
    );
    assert_eq!(state.consecutive_failures, 0);
    r.breaker_closed(CONN_ACME);
    r.api.sim.shutdown().await;
}
