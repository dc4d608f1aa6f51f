//! Connection offboarding: at once the token is deleted, the connection leaves the sync
//! schedule, its webhooks are refused (not parked) and its erase time is set; a relink
//! within the grace keeps its data; after the grace the sweep starts one erasure job per
//! connection, which erases every item of the connection and nothing of anyone else's.

use std::sync::Arc;

use packr::domain::ConnectionStatus;
use packr::lifecycle::offboard::connection::{relinked, route_relinked};
use packr::lifecycle::offboard::{start_due_connection_erasures, ErasureSweepDeps};
use packr::lifecycle::{JobStatus, RunOutcome};
use packr::store::{modify_connection, Change, ConnectionStore};
use serde_json::json;

use crate::helpers::*;
use crate::offboard_support::*;

fn sweep_deps(w: &World) -> ErasureSweepDeps {
    ErasureSweepDeps {
        store: w.s.store.clone(),
        jobs: w.jobs.clone(),
        queue: w.queue.clone(),
    }
}

/// Items under the tenant that belong to connection `c` (its objects, live or tombstoned,
/// and its own partitions).
async fn items_of_connection(w: &World, t: &str, c: &str) -> Vec<Item> {
    let own = [
        format!("T#{t}#SYNC#{c}#"),
        format!("T#{t}#TRACKSTAR#{c}"),
        format!("T#{t}#WHSTATS#{c}"),
        format!("T#{t}#BACKFILL#{c}"),
    ];
    let prefix = format!("T#{t}#");
    w.items_where(|p| p.starts_with(&prefix))
        .await
        .into_iter()
        .filter(|i| {
            let p = pk(i);
            s_attr(i, "connection_id") == c && !p.contains("#CONNECTION#")
                || own.iter().any(|o| p.starts_with(o.as_str()))
        })
        .collect()
}

#[tokio::test]
async fn an_offboarded_connection_is_erased_after_its_grace_and_a_relinked_one_keeps_its_data() {
    // given acme with two tenant-wide connections and two brands, and globex
    let w = world().await;
    seed(
        &w,
        "acme",
        &["b1", "b2"],
        &[("conn_a", None), ("conn_b", None)],
    )
    .await;
    seed(&w, "globex", &["g1"], &[("conn_g", None)]).await;
    let acme = tenant("acme");
    let globex_before = w.tenant_items("globex").await;
    let conn_b_before = items_of_connection(&w, "acme", "conn_b").await;
    assert!(!items_of_connection(&w, "acme", "conn_a").await.is_empty());
    assert_eq!(w.s.store.list_active().await.unwrap().len(), 3);

    // when both acme connections are offboarded at t0
    let t0 = at(0);
    for c in ["conn_a", "conn_b"] {
        let done = w
            .offboarder
            .offboard(&acme, &conn(c), t0, t0)
            .await
            .unwrap()
            .unwrap();
        assert!(done.newly);
    }

    // then their tokens are gone, they left the schedule, their routes are marked deleted,
    // and their data is due 30 days later
    for c in ["conn_a", "conn_b"] {
        assert!(
            !w.secret_exists(&secret_name(&acme, c)).await,
            "{c}'s token"
        );
        let stored =
            w.s.store
                .get_connection(&acme, &conn(c))
                .await
                .unwrap()
                .unwrap();
        assert_eq!(stored.status, ConnectionStatus::Disconnected);
        assert_eq!(stored.marks.erase_after, Some(t0.plus_seconds(30 * DAY)));
        let route = w.s.store.route(&conn(c)).await.unwrap().unwrap();
        assert_eq!(route.deleted_at, Some(t0));
    }
    let active: Vec<String> =
        w.s.store
            .list_active()
            .await
            .unwrap()
            .iter()
            .map(|c| c.connection_id.to_string())
            .collect();
    assert_eq!(active, vec!["conn_g"]);
    assert!(
        w.secret_exists(&secret_name(&tenant("globex"), "conn_g"))
            .await
    );

    // and offboarding again changes nothing (the first erase time stays)
    let again = w
        .offboarder
        .offboard(&acme, &conn("conn_a"), at(DAY), at(DAY))
        .await
        .unwrap()
        .unwrap();
    assert!(!again.newly);
    assert_eq!(
        again.connection.marks.erase_after,
        Some(t0.plus_seconds(30 * DAY))
    );

    // when conn_b is linked again on day 10 (what the exchange does for a known id)
    modify_connection(&w.s.store, &acme, &conn("conn_b"), |c| {
        c.status = ConnectionStatus::Active;
        c.marks.deleted_at = None;
        relinked(c);
        Change::Write(())
    })
    .await
    .unwrap()
    .unwrap();
    route_relinked(&w.s.store, &conn("conn_b")).await.unwrap();

    // then on day 29 the sweep starts nothing
    let sweep = sweep_deps(&w);
    let early = start_due_connection_erasures(&sweep, at(29 * DAY))
        .await
        .unwrap();
    assert_eq!((early.started, early.resumed), (0, 0));

    // when the sweep runs on day 31, twice (one job per connection)
    let now = at(31 * DAY);
    w.clock.set(now);
    let due = start_due_connection_erasures(&sweep, now).await.unwrap();
    assert_eq!((due.started, due.resumed), (1, 0));
    let second = start_due_connection_erasures(&sweep, now).await.unwrap();
    assert_eq!((second.started, second.resumed), (0, 1));
    let queued = w.queue.drain();
    assert_eq!(queued.len(), 2, "queued again, but one job");
    assert_eq!(queued[0].job_id, queued[1].job_id);
    let job_id = queued[0].job_id.clone();

    // and its job runs through the runner
    assert_eq!(
        w.run(&acme, &job_id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );

    // then nothing of conn_a is left but its record and its (deleted) route
    assert!(items_of_connection(&w, "acme", "conn_a").await.is_empty());
    let erased =
        w.s.store
            .get_connection(&acme, &conn("conn_a"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(erased.marks.erased_at, Some(now));
    assert_eq!(erased.marks.erase_after, None);
    assert!(w
        .s
        .store
        .route(&conn("conn_a"))
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
    let job = w.job(&acme, &job_id).await;
    assert_eq!(job.counts["erased.orders"], 3, "{:?}", job.counts);
    assert_eq!(job.counts["erased.tombstones"], 3, "{:?}", job.counts);
    assert_eq!(job.counts["erased.inventory"], 3, "{:?}", job.counts);
    assert_eq!(job.counts["erased.webhook_stats"], 4, "{:?}", job.counts);

    // and the relinked connection's data and every globex item are byte-identical
    assert_eq!(
        items_of_connection(&w, "acme", "conn_b").await,
        conn_b_before
    );
    assert_eq!(w.tenant_items("globex").await, globex_before);

    // and a later sweep starts nothing, and the job run again changes nothing
    // (the job's own record is saved again by the run: its lease)
    let not_jobs = |p: &str| !p.ends_with("#LIFECYCLE");
    let after = w.items_where(not_jobs).await;
    let later = start_due_connection_erasures(&sweep, at(40 * DAY))
        .await
        .unwrap();
    assert_eq!((later.started, later.resumed), (0, 0));
    assert_eq!(
        w.run(&acme, &job_id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert!(
        w.items_where(not_jobs).await == after,
        "a second run changed items"
    );
}

#[tokio::test]
async fn a_connection_relinked_while_its_erasure_is_queued_keeps_its_data() {
    // given an offboarded connection whose erasure job was started after its grace
    let w = world().await;
    seed(&w, "acme", &["b1"], &[("conn_a", None)]).await;
    let acme = tenant("acme");
    w.offboarder
        .offboard(&acme, &conn("conn_a"), at(0), at(0))
        .await
        .unwrap();
    let before = items_of_connection(&w, "acme", "conn_a").await;
    let now = at(31 * DAY);
    w.clock.set(now);
    start_due_connection_erasures(
        &ErasureSweepDeps {
            store: w.s.store.clone(),
            jobs: w.jobs.clone(),
            queue: w.queue.clone(),
        },
        now,
    )
    .await
    .unwrap();
    let job_id = w.queue.drain()[0].job_id.clone();

    // when it is linked again before the job runs
    modify_connection(&w.s.store, &acme, &conn("conn_a"), |c| {
        relinked(c);
        c.status = ConnectionStatus::Active;
        Change::Write(())
    })
    .await
    .unwrap();
    assert_eq!(
        w.run(&acme, &job_id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );

    // then the job stopped and erased nothing
    assert_eq!(items_of_connection(&w, "acme", "conn_a").await, before);
    let job = w.job(&acme, &job_id).await;
    assert_eq!(job.state["stopped"], json!("relinked"));
    assert!(
        !job.counts.keys().any(|k| k.starts_with("erased.")),
        "{:?}",
        job.counts
    );
}

#[tokio::test]
async fn an_erasure_killed_midway_resumes_and_finishes_like_an_uninterrupted_one() {
    // given an offboarded connection past its grace and its erasure job
    let w = world().await;
    seed(
        &w,
        "acme",
        &["b1", "b2"],
        &[("conn_a", None), ("conn_b", Some("b2"))],
    )
    .await;
    let acme = tenant("acme");
    w.offboarder
        .offboard(&acme, &conn("conn_a"), at(0), at(0))
        .await
        .unwrap();
    let others = items_of_connection(&w, "acme", "conn_b").await;
    let now = at(31 * DAY);
    w.clock.set(now);
    let sweep = ErasureSweepDeps {
        store: w.s.store.clone(),
        jobs: w.jobs.clone(),
        queue: w.queue.clone(),
    };
    start_due_connection_erasures(&sweep, now).await.unwrap();
    let job_id = w.queue.drain()[0].job_id.clone();

    // when a run dies after 4 steps
    let crashing = Arc::new(FailAfter {
        inner: w.steps.clone(),
        ok: std::sync::Mutex::new(4),
    });
    let killed = packr::lifecycle::run_job(
        &w.runner(crashing),
        &acme,
        &job_id,
        std::time::Instant::now() + std::time::Duration::from_secs(600),
    )
    .await;
    assert!(killed.is_err());
    let midway = w.job(&acme, &job_id).await;
    assert_eq!(midway.status, JobStatus::Running);
    assert_eq!(midway.steps, 4);
    assert!(midway.error.is_some());

    // then the next run resumes from its checkpoint and finishes
    assert_eq!(
        w.run(&acme, &job_id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert!(items_of_connection(&w, "acme", "conn_a").await.is_empty());
    assert_eq!(items_of_connection(&w, "acme", "conn_b").await, others);
    let done = w.job(&acme, &job_id).await;
    assert_eq!(done.counts["erased.orders"], 3, "{:?}", done.counts);
    assert!(done.steps > 4);
}
