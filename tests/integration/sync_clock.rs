//! Trackstar's change clock: incremental windows filter on `trackstar_updated_date`, which
//! moves when Trackstar first sees a record that is old in the WMS (a late WMS sync, a
//! backfill; no webhook is sent), while objects keep being ordered by the `updated_date`
//! their payloads carry. Against the emulator and the simulator, on `sync_engine`'s rig.

use std::time::Duration;

use packr::domain::{OrderStatus, Timestamp};
use packr::store::{SyncedStore, UpsertOutcome};
use packr::sync::{ChunkOutcome, ResourceKind, RunCounts, SyncMode, WorkerDeps};
use packr::trackstar::{TrackstarConfig, UpdatedField};
use trackstar_sim::data::clock::LateRecord;

use crate::sync_engine::{client_config, rig, rig_with, Rig, CONNECTION};

/// An order the WMS last changed two days ago, which Trackstar reads only now.
fn late_order(r: &Rig) -> LateRecord {
    r.sim
        .late_record(
            CONNECTION,
            trackstar_sim::ResourceKind::Orders,
            chrono::Duration::hours(48),
        )
        .unwrap()
}

async fn run(r: &Rig, deps: &WorkerDeps, mode: SyncMode) -> RunCounts {
    let mut outcomes = r.run_to_end(deps, r.job(ResourceKind::Orders, mode)).await;
    match outcomes.pop() {
        Some(ChunkOutcome::Completed { counts, .. }) => counts,
        other => panic!("the run did not complete: {other:?} after {outcomes:?}"),
    }
}

/// A synced connection, then a record Trackstar first sees late, then (a few seconds on,
/// past the simulator's whole-second stamp) the next incremental.
async fn late_record_then_incremental(r: &Rig) -> (LateRecord, RunCounts) {
    let deps = r.deps();
    run(r, &deps, SyncMode::Full).await;
    let late = late_order(r);
    assert!(r.order(&late.id).await.is_none());
    r.clock.advance(Duration::from_secs(3));
    let counts = run(r, &deps, SyncMode::Incremental).await;
    (late, counts)
}

#[tokio::test]
async fn a_record_trackstar_first_sees_late_is_stored_by_the_next_incremental() {
    // given the default change field, a synced connection, and an order old in the WMS
    // (updated two days before the watermark) that Trackstar reads only now, no webhook
    let r = rig(10).await;
    assert_eq!(
        r.client.config().updated_field_name,
        UpdatedField::TrackstarUpdatedDate
    );
    // when the next incremental runs
    let (late, counts) = late_record_then_incremental(&r).await;
    // then it read the late record and stored it with the WMS's own version
    let stored = r.order(&late.id).await.expect("the late record was missed");
    assert_eq!(
        stored.updated_date,
        Timestamp::from_datetime(late.updated_date)
    );
    assert!(late.trackstar.trackstar_updated_date > late.updated_date);
    assert_eq!(counts.applied, 1, "{counts:?}");
    r.sim.shutdown().await;
}

#[tokio::test]
async fn with_updated_date_as_the_change_field_the_same_late_record_is_missed() {
    // given `TRACKSTAR_UPDATED_FIELD=updated_date` (the WMS's clock)
    let r = rig_with(10, |sim| TrackstarConfig {
        updated_field_name: UpdatedField::UpdatedDate,
        ..client_config(sim)
    })
    .await;
    // when the same late record appears and the next incremental runs
    let (late, counts) = late_record_then_incremental(&r).await;
    // then the window never reads it: older than the watermark on the WMS's clock
    assert!(r.order(&late.id).await.is_none());
    assert_eq!(counts.applied, 0, "{counts:?}");
    // and only a full sync finds it
    run(&r, &r.deps(), SyncMode::Full).await;
    assert!(r.order(&late.id).await.is_some());
    r.sim.shutdown().await;
}

#[tokio::test]
async fn a_record_seen_late_never_replaces_a_newer_stored_copy() {
    // given a synced order whose newer state (a webhook an hour later) is stored
    let r = rig(10).await;
    let deps = r.deps();
    run(&r, &deps, SyncMode::Full).await;
    let truth = r.sim.truth(CONNECTION).unwrap().orders[0].clone();
    let mut newer = r.order(&truth.id).await.unwrap();
    newer.updated_date = newer.updated_date.plus_seconds(3600);
    newer.status = OrderStatus::Cancelled;
    assert_eq!(
        r.store.upsert_if_newer(&r.tenant, &newer).await.unwrap(),
        UpsertOutcome::Applied
    );
    // when Trackstar re-reads its older copy now (a backfill, a late WMS sync): a fresh
    // `trackstar_updated_date`, the old `updated_date`
    r.sim
        .state()
        .with_data(CONNECTION, |data| {
            data.mark_seen::<trackstar_sim::data::model::Order>(
                &truth.id,
                trackstar_sim::data::now(),
            )
        })
        .unwrap();
    r.clock.advance(Duration::from_secs(3));
    let counts = run(&r, &deps, SyncMode::Incremental).await;
    // then the incremental read it (counted unchanged), and the newer copy stays
    assert!(counts.fetched >= 1, "{counts:?}");
    assert!(counts.unchanged >= 1, "{counts:?}");
    assert_eq!(counts.applied, 0, "{counts:?}");
    assert_eq!(
        SyncedStore::<packr::domain::Order>::get(&r.store, &r.tenant, &truth.id)
            .await
            .unwrap(),
        Some(newer)
    );
    r.sim.shutdown().await;
}
