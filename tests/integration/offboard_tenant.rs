//! Brand and tenant offboarding jobs through the lifecycle runner: after each, the
//! emulator's table (Scanned by the test) holds nothing of the brand or tenant but what the
//! retention table keeps, another brand's and another tenant's items are byte-identical,
//! an offboarding killed midway resumes and finishes, and a second run changes nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packr::domain::Timestamp;
use packr::lifecycle::{run_job, start_job, JobKind, JobStatus, LifecycleJob, RunOutcome};
use packr::store::ConnectionStore;

use crate::helpers::*;
use crate::offboard_support::*;

fn not_jobs(p: &str) -> bool {
    !p.ends_with("#LIFECYCLE")
}

/// Whether an item of acme belongs to brand `b`: its objects (live or tombstoned), its
/// messages, its brand record and warehouse customer mapping.
fn of_brand(item: &Item, b: &str) -> bool {
    let p = pk(item);
    s_attr(item, "brand_id") == b
        || p == format!("T#acme#B#{b}#MSG")
        || p == format!("T#acme#BRAND#{b}")
        || p == format!("T#acme#WHC#wc_{b}")
}

async fn start(w: &World, kind: JobKind) -> LifecycleJob {
    let job = LifecycleJob::new(tenant("acme"), kind, Some("test".into()), Timestamp::now());
    let (stored, created) = start_job(&w.jobs, w.queue.as_ref(), job).await.unwrap();
    assert!(created);
    stored
}

#[tokio::test]
async fn a_brand_offboarding_erases_the_brand_and_changes_nothing_another_brand_sees() {
    // given acme with brands b1 and b2, a tenant-wide connection serving both and b2's own
    // connection, and globex
    let w = world().await;
    seed(
        &w,
        "acme",
        &["b1", "b2"],
        &[("conn_a", None), ("conn_b", Some("b2"))],
    )
    .await;
    seed(&w, "globex", &["g1"], &[("conn_g", None)]).await;
    let acme_prefix = |p: &str| p.starts_with("T#acme#") && not_jobs(p);
    let before = w.items_where(acme_prefix).await;
    let b1_before = before.iter().filter(|i| of_brand(i, "b1")).count();
    assert_eq!(
        b1_before, 7,
        "3 objects, 2 messages, the brand, its customer"
    );
    let others_before: Vec<Item> = before.into_iter().filter(|i| !of_brand(i, "b1")).collect();
    let globex_before = w.tenant_items("globex").await;

    // when b1 is offboarded
    let job = start(
        &w,
        JobKind::BrandOffboarding {
            brand_id: brand_id("b1"),
        },
    )
    .await;
    assert_eq!(
        w.run(&tenant("acme"), &job.id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );

    // then nothing of b1 is left, and every other acme item and every globex item is
    // byte-identical
    let after = w.items_where(acme_prefix).await;
    let left: Vec<String> = after.iter().filter(|i| of_brand(i, "b1")).map(pk).collect();
    assert!(left.is_empty(), "left of b1: {left:?}");
    assert!(
        after == others_before,
        "another brand's or the tenant's items changed"
    );
    assert!(
        w.tenant_items("globex").await == globex_before,
        "globex changed"
    );
    let done = w.job(&tenant("acme"), &job.id).await;
    assert_eq!(done.counts["erased.orders"], 1, "{:?}", done.counts);
    assert_eq!(done.counts["erased.inventory"], 1, "{:?}", done.counts);
    assert_eq!(done.counts["erased.messages"], 2, "{:?}", done.counts);
    assert_eq!(
        done.counts["erased.brands"], 2,
        "brand and its customer: {:?}",
        done.counts
    );
    assert_eq!(done.state["export"], "not_configured");

    // and a second offboarding of b1 changes nothing more
    let again = start(
        &w,
        JobKind::BrandOffboarding {
            brand_id: brand_id("b1"),
        },
    )
    .await;
    assert_eq!(
        w.run(&tenant("acme"), &again.id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert!(
        w.items_where(acme_prefix).await == after,
        "the second run changed items"
    );
}

#[tokio::test]
async fn a_brand_offboarding_disconnects_the_brands_own_connections() {
    // given b2's own connection
    let w = world().await;
    seed(&w, "acme", &["b1", "b2"], &[("conn_b", Some("b2"))]).await;
    let acme = tenant("acme");

    // when b2 is offboarded
    let job = start(
        &w,
        JobKind::BrandOffboarding {
            brand_id: brand_id("b2"),
        },
    )
    .await;
    assert_eq!(
        w.run(&acme, &job.id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );

    // then its connection is offboarded: token gone, route marked deleted, erase time set
    assert!(!w.secret_exists(&secret_name(&acme, "conn_b")).await);
    let c =
        w.s.store
            .get_connection(&acme, &conn("conn_b"))
            .await
            .unwrap()
            .unwrap();
    assert!(c.marks.erase_after.is_some());
    assert!(w
        .s
        .store
        .route(&conn("conn_b"))
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
}

#[tokio::test]
async fn a_tenant_offboarding_killed_midway_resumes_and_leaves_only_what_retention_keeps() {
    // given acme (two brands, a tenant-wide connection and a brand's own) and globex
    let w = world().await;
    seed(
        &w,
        "acme",
        &["b1", "b2"],
        &[("conn_a", None), ("conn_b", Some("b2"))],
    )
    .await;
    seed(&w, "globex", &["g1"], &[("conn_g", None)]).await;
    let acme = tenant("acme");
    let globex_before = w.tenant_items("globex").await;
    let job = start(&w, JobKind::TenantOffboarding).await;

    // when its run dies after 7 steps
    let crashing = Arc::new(FailAfter {
        inner: w.steps.clone(),
        ok: std::sync::Mutex::new(7),
    });
    let killed = run_job(
        &w.runner(crashing),
        &acme,
        &job.id,
        Instant::now() + Duration::from_secs(600),
    )
    .await;
    assert!(killed.is_err());
    assert_eq!(w.job(&acme, &job.id).await.steps, 7);

    // and runs again
    assert_eq!(
        w.run(&acme, &job.id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );

    // then under acme's prefix only the job, the audit trail and the TTL-bound records
    // (an applied receipt, an idempotency record) are left, and no route of its connections
    let left: Vec<String> = w
        .items_where(|p| p.starts_with("T#acme#"))
        .await
        .iter()
        .map(pk)
        .collect();
    let kept = [
        "T#acme#AUDIT",
        "T#acme#AUDITHEAD",
        "T#acme#EVT#evt_ok",
        "T#acme#IDEM#orders.create#abc",
        "T#acme#LIFECYCLE",
    ];
    assert_eq!(left, kept, "left under the prefix");
    for c in ["conn_a", "conn_b"] {
        assert!(
            w.s.store.route(&conn(c)).await.unwrap().is_none(),
            "{c}'s route"
        );
        assert!(
            !w.secret_exists(&secret_name(&acme, c)).await,
            "{c}'s token"
        );
    }
    // and globex is byte-identical, its token in place
    assert!(
        w.tenant_items("globex").await == globex_before,
        "globex changed"
    );
    assert!(
        w.secret_exists(&secret_name(&tenant("globex"), "conn_g"))
            .await
    );
    let done = w.job(&acme, &job.id).await;
    assert_eq!(done.counts["erased.messages"], 4, "{:?}", done.counts);
    assert_eq!(
        done.counts["erased.connections_disconnected"], 2,
        "{:?}",
        done.counts
    );
    assert_eq!(
        done.counts["erased.failed_receipts"], 1,
        "{:?}",
        done.counts
    );
    assert_eq!(
        done.counts["erased.reconciliation_seen_pages"], 8,
        "{:?}",
        done.counts
    );
    assert_eq!(done.counts["trackstar_not_told"], 2, "{:?}", done.counts);

    // and a second offboarding of the tenant changes nothing more
    let everything = w.items_where(not_jobs).await;
    let again = start(&w, JobKind::TenantOffboarding).await;
    assert_eq!(
        w.run(&acme, &again.id).await,
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert!(
        w.items_where(not_jobs).await == everything,
        "the second run changed items"
    );
}
