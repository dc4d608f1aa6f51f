//! Offboarding test support: two tenants seeded with every kind of item the offboarding
//! erases or keeps (objects live and tombstoned, messages, sync states, budgets, webhook
//! stats, backfills, reconciliation reports and seen pages, quotas, receipts, idempotency
//! records, audit entries), the access tokens in the emulator's Secrets Manager, the
//! offboarding steps registered with the lead's runner, a clock the test moves, and Scans
//! of the emulator's table (tests only: the code under test never scans).

#![allow(dead_code)] // shared by the offboard_* test modules; each uses a part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{
    Brand, BrandId, ConnectionId, Currency, Message, MessageBody, MessageId, Tenant, TenantId,
    Timestamp, UserId, WarehouseCustomerId,
};
use packr::lifecycle::offboard::{ConnectionOffboarder, Eraser, OffboardDeps, OffboardSteps};
use packr::lifecycle::{
    run_job, JobKindTag, JobSteps, LifecycleError, LifecycleJob, LifecycleJobStore,
    MemoryLifecycleQueue, Registry, RunOutcome, RunnerDeps, Step,
};
use packr::metrics::RecordingSink;
use packr::resource::ResourceKind;
use packr::secrets::{SecretSource, SecretWriter, SecretsManagerSource};
use packr::store::keys;
use packr::store::{ConnectionStore, MessageStore, ObjectStore, SyncedStore, TenantStore};
use secrecy::SecretString;

use crate::helpers::*;

pub type Item = HashMap<String, AttributeValue>;

pub const DAY: i64 = 24 * 3600;

/// The test's clock: starts at `at(0)`, moved by the test.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(at(0))))
    }
    pub fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
}

pub struct World {
    pub s: Stack,
    pub secrets: Arc<SecretsManagerSource>,
    pub clock: TestClock,
    pub metrics: RecordingSink,
    pub jobs: LifecycleJobStore,
    pub queue: Arc<MemoryLifecycleQueue>,
    pub offboarder: ConnectionOffboarder,
    pub steps: Arc<OffboardSteps>,
}

pub fn conn(id: &str) -> ConnectionId {
    ConnectionId::parse(id).unwrap()
}

pub fn secret_name(t: &TenantId, c: &str) -> String {
    format!("packr/test/offboard/{}/{t}/{c}", std::process::id())
}

pub async fn world() -> World {
    let s = stack().await;
    let secrets = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&s.sdk),
    ));
    let clock = TestClock::new();
    let metrics = RecordingSink::new();
    let offboarder = ConnectionOffboarder {
        store: s.store.clone(),
        secrets: secrets.clone(),
        grace: Duration::from_secs(30 * DAY as u64),
        metrics: Arc::new(metrics.clone()),
    };
    let c = clock.clone();
    let steps = Arc::new(OffboardSteps::new(OffboardDeps {
        // Pages of 3 items: every partition here spans several steps.
        // The erasures run as data-lifecycle does (its role holds them: the IAM check).
        eraser: Eraser::new(
            aws_sdk_dynamodb::Client::new(&s.sdk_as("data-lifecycle")),
            s.table.clone(),
        )
        .with_page(3),
        connections: offboarder.clone(),
        export: packr::lifecycle::offboard::no_export(),
        trackstar: None,
        clock: Arc::new(move || c.now()),
    }));
    World {
        jobs: LifecycleJobStore::new(s.store_as("data-lifecycle")),
        queue: Arc::new(MemoryLifecycleQueue::new()),
        s,
        secrets,
        clock,
        metrics,
        offboarder,
        steps,
    }
}

impl World {
    pub fn runner(&self, steps: Arc<dyn JobSteps>) -> RunnerDeps {
        let mut registry = Registry::new();
        for tag in [
            JobKindTag::ConnectionErasure,
            JobKindTag::BrandOffboarding,
            JobKindTag::TenantOffboarding,
        ] {
            registry = registry.with(tag, steps.clone());
        }
        RunnerDeps {
            jobs: self.jobs.clone(),
            registry,
            queue: self.queue.clone(),
            metrics: Arc::new(self.metrics.clone()),
            owner: "offboard-test".into(),
            lease_hold: Duration::from_secs(60),
            deadline_margin: Duration::from_millis(100),
        }
    }

    /// Runs the job with the offboarding steps until it is finished.
    pub async fn run(&self, t: &TenantId, job_id: &str) -> RunOutcome {
        let outcome = run_job(
            &self.runner(self.steps.clone()),
            t,
            job_id,
            Instant::now() + Duration::from_secs(600),
        )
        .await
        .unwrap();
        if outcome != RunOutcome::Finished(packr::lifecycle::JobStatus::Completed) {
            let job = self.job(t, job_id).await;
            eprintln!("job {job_id}: phase {} error {:?}", job.phase, job.error);
        }
        outcome
    }

    pub async fn job(&self, t: &TenantId, id: &str) -> LifecycleJob {
        self.jobs.get(t, id).await.unwrap().unwrap()
    }

    pub async fn secret_exists(&self, name: &str) -> bool {
        self.secrets.get(name).await.is_ok()
    }

    /// Every item of the table (a Scan: the test's check, never the code's way).
    pub async fn scan(&self) -> Vec<Item> {
        let client = aws_sdk_dynamodb::Client::new(&self.s.sdk);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&self.s.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out
    }

    /// The items whose `pk` `keep` accepts, sorted by key (to compare before and after).
    pub async fn items_where(&self, keep: impl Fn(&str) -> bool) -> Vec<Item> {
        let mut items: Vec<Item> = self
            .scan()
            .await
            .into_iter()
            .filter(|i| keep(&pk(i)))
            .collect();
        items.sort_by_key(|i| (pk(i), sk(i)));
        items
    }

    /// Another tenant's items and its routes.
    pub async fn tenant_items(&self, t: &str) -> Vec<Item> {
        let prefix = format!("T#{t}#");
        let t = t.to_owned();
        let all = self.items_where(|p| p.starts_with(&prefix)).await;
        let routes = self
            .items_where(|p| p.starts_with("CONN#"))
            .await
            .into_iter()
            .filter(|i| s_attr(i, "tenant_id") == t);
        all.into_iter().chain(routes).collect()
    }
}

pub fn s_attr(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    }
}

pub fn pk(item: &Item) -> String {
    s_attr(item, "pk")
}

pub fn sk(item: &Item) -> String {
    s_attr(item, "sk")
}

/// A raw item at a production key (for kinds whose writers need a whole stack).
pub async fn raw(s: &Stack, pk: String, sk: &str, extra: &[(&str, AttributeValue)]) {
    let mut item: Item = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ]);
    for (k, v) in extra {
        item.insert((*k).to_owned(), v.clone());
    }
    aws_sdk_dynamodb::Client::new(&s.sdk)
        .put_item()
        .table_name(&s.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn st(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Seeds tenant `t`: brands (each with warehouse customer `wc_<brand>`), connections
/// (`(id, brand)`: a brand's own, or tenant-wide), per connection and brand an order, an
/// inventory item and a tombstoned order, a tenant-wide warehouse-less inventory item per
/// connection, two messages per brand, and the connection's and tenant's other items.
pub async fn seed(w: &World, t: &str, brands: &[&str], connections: &[(&str, Option<&str>)]) {
    let store = &w.s.store;
    let tid = tenant(t);
    store
        .create_tenant(&Tenant {
            id: tid.clone(),
            name: format!("{t} 3PL"),
            default_currency: Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    for b in brands {
        store
            .create_brand(
                &tid,
                &Brand {
                    tenant_id: tid.clone(),
                    id: brand(b),
                    name: b.to_uppercase(),
                    warehouse_customer_ids: vec![
                        WarehouseCustomerId::parse(format!("wc_{b}")).unwrap()
                    ],
                    created_at: at(0),
                },
            )
            .await
            .unwrap();
        for i in 0..2 {
            MessageStore::append(
                store,
                &tid,
                &Message {
                    tenant_id: tid.clone(),
                    brand_id: brand(b),
                    id: MessageId::parse(format!("msg_{b}_{i}")).unwrap(),
                    author: UserId::parse("u1").unwrap(),
                    author_role: "tenant_admin".into(),
                    body: MessageBody::parse("please ship to Jane Doe, 1 Main St").unwrap(),
                    created_at: at(10 + i),
                },
            )
            .await
            .unwrap();
        }
    }
    for (c, owner) in connections {
        let mut connection = connection(&tid, c);
        connection.brand_id = owner.map(brand);
        connection.access_token_secret = secret_name(&tid, c);
        SecretWriter::put(
            w.secrets.as_ref(),
            &connection.access_token_secret,
            &SecretString::from(format!("tok_{c}")),
        )
        .await
        .unwrap();
        store.create_connection(&tid, &connection).await.unwrap();
        let owners: Vec<Option<&str>> = match owner {
            Some(b) => vec![Some(*b)],
            None => brands.iter().map(|b| Some(*b)).chain([None]).collect(),
        };
        for (i, b) in owners.iter().enumerate() {
            let bid = b.map(brand);
            let tag = b.unwrap_or("none");
            let mut o = order(&tid, &format!("o_{c}_{tag}"), bid.as_ref(), 100 + i as i64);
            o.connection_id = conn(c);
            SyncedStore::upsert_if_newer(store, &tid, &o).await.unwrap();
            let mut gone = order(&tid, &format!("gone_{c}_{tag}"), bid.as_ref(), 50);
            gone.connection_id = conn(c);
            SyncedStore::upsert_if_newer(store, &tid, &gone)
                .await
                .unwrap();
            ObjectStore::tombstone_object(
                store,
                &tid,
                ResourceKind::Orders,
                &format!("gone_{c}_{tag}"),
                at(60),
            )
            .await
            .unwrap();
            let mut inv = inventory(
                &tid,
                &format!("inv_{c}_{tag}"),
                &format!("SKU-{c}-{tag}"),
                bid.as_ref(),
            );
            inv.connection_id = conn(c);
            SyncedStore::upsert_if_newer(store, &tid, &inv)
                .await
                .unwrap();
        }
        let cid = conn(c);
        for r in ["orders", "inventory"] {
            raw(
                &w.s,
                keys::sync_state_pk(&tid, &cid, r),
                "SYNC",
                &[("watermark", st("x"))],
            )
            .await;
        }
        raw(
            &w.s,
            keys::trackstar_budget_pk(&tid, &cid),
            keys::TRACKSTAR_BUDGET_SK,
            &[("tat", n(1))],
        )
        .await;
        for h in 0..4 {
            raw(
                &w.s,
                keys::webhook_stats_pk(&tid, &cid),
                &format!("H#2023-11-14T0{h}"),
                &[("applied", n(3))],
            )
            .await;
        }
        raw(
            &w.s,
            keys::backfill_pk(&tid, &cid),
            "job_1",
            &[("status", st("open"))],
        )
        .await;
    }
    // The tenant's own items.
    for run in ["run_1", "run_2"] {
        raw(
            &w.s,
            keys::reconcile_pk(&tid),
            run,
            &[("expires_at", n(4_000_000_000))],
        )
        .await;
        for p in 0..4 {
            raw(
                &w.s,
                keys::reconcile_seen_pk(&tid, run),
                &format!("P#{p:06}"),
                &[],
            )
            .await;
        }
    }
    raw(
        &w.s,
        keys::quota_pk(&tid),
        keys::QUOTA_API_SK,
        &[("tat", n(1))],
    )
    .await;
    raw(
        &w.s,
        keys::quota_pk(&tid),
        keys::QUOTA_ADMIN_SK,
        &[("tat", n(1))],
    )
    .await;
    // A failed receipt holding its payload (listed in gsi2 `EVTFAILED`), an applied one
    // (kept until its TTL), an idempotency record (TTL), an audit entry and head.
    raw(
        &w.s,
        format!("T#{t}#EVT#evt_failed"),
        "RECEIPT",
        &[
            ("gsi2pk", st(&keys::failed_events_pk(&tid))),
            ("gsi2sk", st("00000001#evt_failed")),
            ("failed_event", st("{\"ship_to\":\"Jane Doe\"}")),
        ],
    )
    .await;
    raw(
        &w.s,
        format!("T#{t}#EVT#evt_ok"),
        "RECEIPT",
        &[("expires_at", n(1_702_592_000))],
    )
    .await;
    raw(
        &w.s,
        keys::idempotency_pk(&tid, "orders.create", "abc"),
        "IDEM",
        &[("expires_at", n(1_700_086_400))],
    )
    .await;
    raw(
        &w.s,
        keys::audit_pk(&tid),
        "0001#aud_1",
        &[("action", st("orders.create"))],
    )
    .await;
    raw(&w.s, keys::audit_head_pk(&tid), "HEAD", &[("seq", n(1))]).await;
}

/// A `JobSteps` that fails once after `ok` successful steps (a crash mid-job), then runs
/// the real steps.
pub struct FailAfter {
    pub inner: Arc<OffboardSteps>,
    pub ok: Mutex<u32>,
}

#[async_trait]
impl JobSteps for FailAfter {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        {
            let mut left = self.ok.lock().unwrap();
            if *left == 0 {
                *left = u32::MAX;
                return Err(LifecycleError::transient(
                    "injected crash",
                    std::io::Error::other("killed midway"),
                ));
            }
            *left = left.saturating_sub(1);
        }
        self.inner.step(job).await
    }
}

pub fn brand_id(b: &str) -> BrandId {
    brand(b)
}
