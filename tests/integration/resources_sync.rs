//! Sync and reconciliation of each kind added beside orders, inventory and products,
//! through the sync engine against the emulator and the Trackstar simulator (the rig of
//! `sync_engine`). Each body runs once per new kind.

use std::collections::BTreeSet;
use std::time::Duration;

use packr::store::ObjectStore;
use packr::sync::reconcile::{DriftClass, ReportStore};
use packr::sync::{ChunkOutcome, RunCounts, SyncJob, SyncMode, SyncStateStore};
use trackstar_sim::MutateAction;

use crate::helpers::brand;
use crate::resources_support::{
    assert_stored_equals, assert_stored_equals_truth, converted, per_new_kind, Case, SimEdit,
};
use crate::sync_engine::{far_deadline, rig, test_config, Recording, Rig, CONNECTION};

/// Enough orders that every kind seeded from them has several objects.
const ORDERS: usize = 40;
/// Objects of the kind under test, at least (pages of 5: several pages).
const AT_LEAST: usize = 7;

/// Runs a job of `case`'s kind to its end; the counts of its completed run.
async fn run(r: &Rig, case: &Case, job: SyncJob) -> (String, RunCounts) {
    let deps = r.deps();
    let outcomes = r.run_to_end(&deps, job).await;
    match outcomes.last() {
        Some(ChunkOutcome::Completed { run_id, .. }) => {
            let state = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
            let last = state.last_run.expect("a run summary");
            (run_id.clone(), last.counts)
        }
        other => panic!("{}: {other:?} in {outcomes:?}", case.kind),
    }
}

/// The number of live objects of the kind stored for the tenant.
async fn stored_count(r: &Rig, case: &Case) -> usize {
    let page = r
        .store
        .list_objects(
            &r.tenant,
            case.kind,
            &packr::store::ListQuery::default(),
            &packr::store::PageRequest::first(packr::store::PageLimit::parse(Some(100)).unwrap()),
        )
        .await
        .unwrap();
    assert!(page.next_cursor.is_none(), "more than one page");
    page.items.len()
}

async fn full_then_incremental_body(case: &Case) {
    // given a simulator with several objects of the kind, pages of 5
    let r = rig(ORDERS).await;
    let recent: BTreeSet<String> = case
        .ensure_at_least(&r.sim, CONNECTION, AT_LEAST)
        .into_iter()
        .collect();
    // (a run leaves the second its window ends in to the next run: start a second later)
    r.clock.advance(Duration::from_secs(2));
    let n = case.truth(&r.sim, CONNECTION).len();
    // when the kind is fully synced
    let (_, counts) = run(&r, case, r.job(case.kind, SyncMode::Full)).await;
    // then every object is stored equal to Trackstar's, each written once
    assert_eq!(
        (
            counts.fetched,
            counts.applied,
            counts.unchanged,
            counts.invalid
        ),
        (n as u64, n as u64, 0, 0),
        "{counts:?}"
    );
    assert_eq!(counts.pages, n.div_ceil(5) as u64, "{counts:?}");
    assert_stored_equals_truth(&r.store, &r.tenant, &r.sim, CONNECTION, case).await;
    assert_eq!(stored_count(&r, case).await, n);
    let full = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
    let full_watermark = full.watermark.expect("a watermark");
    assert_eq!(Some(full_watermark), full.last_run.map(|run| run.to));

    // given objects created and changed upstream after it
    let mut changes = case.mutate(&r.sim, CONNECTION, MutateAction::Create, 2);
    changes.extend(case.mutate(&r.sim, CONNECTION, MutateAction::Update, 3));
    let changed: BTreeSet<String> = changes.into_iter().map(|(_, id)| id).collect();
    r.clock.advance(Duration::from_secs(2));
    // when an incremental runs
    let (_, counts) = run(&r, case, r.job(case.kind, SyncMode::Incremental)).await;
    // then it read the changed objects (and, through its overlap, the ones created just
    // before the full sync) and wrote each changed one once; the copy equals the truth
    // again, and the watermark moved on
    let k = changed.len() as u64;
    let reread = recent.difference(&changed).count() as u64;
    assert_eq!(
        (counts.fetched, counts.applied, counts.unchanged),
        (k + reread, k, reread),
        "{counts:?} for {changed:?}, {recent:?} just before"
    );
    assert_stored_equals_truth(&r.store, &r.tenant, &r.sim, CONNECTION, case).await;
    assert_eq!(
        stored_count(&r, case).await,
        case.truth(&r.sim, CONNECTION).len()
    );
    let incremental = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
    let run_summary = incremental.last_run.clone().unwrap();
    assert_eq!(run_summary.mode, SyncMode::Incremental);
    assert!(incremental.watermark.unwrap() > full_watermark);

    // when another incremental runs with nothing changed upstream
    r.clock.advance(Duration::from_secs(2));
    let (_, counts) = run(&r, case, r.job(case.kind, SyncMode::Incremental)).await;
    // then what its overlap reads again is not written again
    assert_eq!(counts.applied, 0, "{counts:?}");
    assert_eq!(counts.unchanged, counts.fetched, "{counts:?}");
    r.sim.shutdown().await;
}
per_new_kind!(a_full_sync_stores_every_object_and_an_incremental_follows_the_changes => full_then_incremental_body);

async fn reconciliation_body(case: &Case) {
    // given a synced connection, then drift of each class: a local copy lost, a change
    // Packr missed, an object deleted upstream; the rest in sync
    let r = rig(ORDERS).await;
    case.ensure_at_least(&r.sim, CONNECTION, AT_LEAST);
    // (a run leaves the second its window ends in to the next run: start a second later)
    r.clock.advance(Duration::from_secs(2));
    run(&r, case, r.job(case.kind, SyncMode::Full)).await;
    let ids = case.truth_ids(&r.sim, CONNECTION);
    let (missing_local, stale_local, missing_remote) =
        (ids[0].clone(), ids[1].clone(), ids[2].clone());
    delete_local(&r, case, &missing_local).await;
    case.edit(&r.sim, CONNECTION, SimEdit::Touch(stale_local.clone(), 10));
    case.edit(&r.sim, CONNECTION, SimEdit::Remove(missing_remote.clone()));
    let stale_before = r
        .store
        .get_object(&r.tenant, case.kind, &stale_local)
        .await
        .unwrap()
        .unwrap();
    let stale_truth = case.truth_of(&r.sim, CONNECTION, &stale_local);
    let newer = converted(&r.store, &r.tenant, CONNECTION, case.kind, &stale_truth).await;
    assert!(!stale_before.same_as(&newer), "the local copy is behind");
    r.clock.advance(Duration::from_secs(2));
    // when the kind is reconciled
    let job = r.job(case.kind, SyncMode::Reconcile);
    let (run_id, _) = run(&r, case, job).await;
    // then the report classifies each id
    let report = r
        .store
        .get_report(&r.tenant, &run_id)
        .await
        .unwrap()
        .unwrap();
    assert!(report.complete);
    let t = &report.tally;
    assert_eq!(t.count(DriftClass::MissingLocal), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::StaleLocal), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::MissingRemote), 1, "{t:?}");
    assert_eq!(t.count(DriftClass::AheadLocal), 0, "{t:?}");
    assert_eq!(t.count(DriftClass::InSync), ids.len() as u64 - 3, "{t:?}");
    assert_eq!(
        t.samples[&DriftClass::MissingLocal],
        vec![missing_local.clone()]
    );
    assert_eq!(
        t.samples[&DriftClass::StaleLocal],
        vec![stale_local.clone()]
    );
    assert_eq!(
        t.samples[&DriftClass::MissingRemote],
        vec![missing_remote.clone()]
    );
    // and repairs the three: the lost copy and the missed change stored as Trackstar has
    // them, the deleted one tombstoned (hidden)
    assert_eq!(t.repaired, 3);
    assert_stored_equals_truth(&r.store, &r.tenant, &r.sim, CONNECTION, case).await;
    assert_stored_equals(&r.store, &r.tenant, CONNECTION, case.kind, &stale_truth).await;
    let stale_after = r
        .store
        .get_object(&r.tenant, case.kind, &stale_local)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stale_after.updated_date(),
        stale_before.updated_date().plus_seconds(10)
    );
    assert!(r
        .store
        .get_object(&r.tenant, case.kind, &missing_remote)
        .await
        .unwrap()
        .is_none());
    assert_eq!(stored_count(&r, case).await, ids.len() - 1);
    // brand-owned kinds report the brand of their warehouse customer; tenant-wide ones none
    if case.brand_owned() {
        assert_eq!(report.brand_ids, vec![brand("b1")]);
        assert_eq!(t.by_brand[&brand("b1")].counts, t.counts);
    } else {
        assert!(report.brand_ids.is_empty(), "{:?}", report.brand_ids);
        assert!(t.by_brand.is_empty(), "{:?}", t.by_brand);
    }
    // the job state keeps the summary
    let state = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
    let summary = state.last_reconcile.unwrap();
    assert_eq!(
        (summary.missing_local, summary.repaired, summary.drift),
        (1, 3, 3)
    );
    // and a second run finds no drift
    r.clock.advance(Duration::from_secs(2));
    let (run_id, _) = run(&r, case, r.job(case.kind, SyncMode::Reconcile)).await;
    let again = r
        .store
        .get_report(&r.tenant, &run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.tally.drift(), 0, "{:?}", again.tally);
    r.sim.shutdown().await;
}
per_new_kind!(reconciliation_classifies_each_drift_class_and_repairs_it => reconciliation_body);

/// Deletes the local copy of an object (a webhook lost, say).
async fn delete_local(r: &Rig, case: &Case, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let key = case.kind.spec().key;
    r.store
        .client()
        .delete_item()
        .table_name(r.store.table_name())
        .key(
            "pk",
            AttributeValue::S(packr::store::keys::object_pk(&r.tenant, key, id)),
        )
        .key("sk", AttributeValue::S(key.into()))
        .send()
        .await
        .unwrap();
    assert!(r
        .store
        .get_object(&r.tenant, case.kind, id)
        .await
        .unwrap()
        .is_none());
}

async fn a_persistent_5xx_fails_the_job_body(case: &Case) {
    use futures::FutureExt;
    // given a full sync of the kind with its first page stored, then Trackstar failing
    // with 503 for good
    let r = rig(ORDERS).await;
    case.ensure_at_least(&r.sim, CONNECTION, AT_LEAST);
    r.clock.advance(Duration::from_secs(2));
    let failing = Recording::new(r.client.clone());
    let sim_state = r.sim.state().clone();
    *failing.hook.lock().unwrap() = Some(Box::new(move |n| {
        if n == 1 {
            sim_state.set_faults(CONNECTION, trackstar_sim::FaultSpec::error(503, None));
        }
        async { None }.boxed()
    }));
    let deps = r.deps_with(std::sync::Arc::new(failing), test_config(), "worker-a");
    let job = r.job(case.kind, SyncMode::Full);
    // when
    let result = packr::sync::run_chunk(&deps, &job, far_deadline()).await;
    // then the message fails for SQS to retry: a failure, not a refusal (nothing marked
    // unavailable), the first page's checkpoint kept
    assert!(
        matches!(result, Err(packr::sync::SyncError::Trackstar(_))),
        "{result:?}"
    );
    let state = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
    assert!(state.unavailable.is_none());
    assert_eq!(state.consecutive_failures, 1);
    assert!(state.last_error.unwrap().contains("503"));
    assert_eq!(state.checkpoint.as_ref().unwrap().counts.pages, 1);
    assert_eq!(stored_count(&r, case).await, 5);
    // and once Trackstar is back, the redelivery resumes after that page and completes
    r.sim.clear_faults(CONNECTION);
    let before = r.gets(case.path);
    let n = case.truth(&r.sim, CONNECTION).len();
    let (_, counts) = run(&r, case, job).await;
    assert_eq!(
        (counts.fetched, counts.applied),
        (n as u64, n as u64),
        "{counts:?}"
    );
    assert_eq!(r.gets(case.path) - before, n.div_ceil(5) as u64 - 1);
    assert_stored_equals_truth(&r.store, &r.tenant, &r.sim, CONNECTION, case).await;
    let state = r.states.get(&r.key(case.kind)).await.unwrap().unwrap();
    assert_eq!(state.consecutive_failures, 0);
    r.sim.shutdown().await;
}
per_new_kind!(a_persistent_5xx_fails_the_job_for_a_retry_that_resumes_at_its_checkpoint => a_persistent_5xx_fails_the_job_body);
