//! `GET /sync/reconciliations[/{report_id}]`: the tenant's reports, newest first, keyset
//! paginated, brand-scoped (a brand user sees only its brands' share of a shared
//! connection's report); another tenant's or brand's report is a 404.

use packr::sync::reconcile::ReportStore;
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::brand;

async fn reports_stack() -> ApiStack {
    let s = api_stack().await;
    // acme: b1 (oldest), b2, tenant-wide (no brand), b1 (newest); globex: g1
    for (t, id, conn, brands, finished) in [
        (ACME, "run_01_b1", CONN_ACME, vec!["b1"], 10),
        (ACME, "run_02_b2", CONN_ACME, vec!["b2"], 20),
        (ACME, "run_03_all", CONN_ACME, vec![], 30),
        (ACME, "run_04_b1", CONN_ACME, vec!["b1"], 40),
        (GLOBEX, "run_05_g1", CONN_GLOBEX, vec!["g1"], 50),
    ] {
        s.stack
            .store
            .put_report(&report(t, id, conn, &brands, finished))
            .await
            .unwrap();
    }
    s
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn reports_are_listed_newest_first_in_pages_of_the_callers_tenant_only() {
    let s = reports_stack().await;
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    // when a tenant-wide user lists two at a time
    let first = s.get(&staff, "/sync/reconciliations?limit=2").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(&first.body), ["run_04_b1", "run_03_all"]);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = s
        .get(
            &staff,
            &format!("/sync/reconciliations?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(ids(&second.body), ["run_02_b2", "run_01_b1"]);
    // then globex's report never appears, and the report reads as stored
    let r = &first.body["items"][0];
    assert_eq!(r["counts"]["missing_local"], 1);
    assert_eq!(r["counts"]["in_sync"], 1);
    assert_eq!(r["samples"]["missing_local"][0], "ord_missing");
    assert_eq!(r["resource"], "orders");
    assert_eq!(r["complete"], true);
    let more = second.body["next_cursor"].as_str();
    if let Some(cursor) = more {
        let rest = s
            .get(
                &staff,
                &format!("/sync/reconciliations?limit=2&cursor={cursor}"),
            )
            .await;
        assert!(ids(&rest.body).is_empty());
    }
    // a brand filter keeps that brand's reports
    let b2 = s.get(&staff, "/sync/reconciliations?brand_id=b2").await;
    assert_eq!(ids(&b2.body), ["run_02_b2"]);
}

#[tokio::test]
async fn brand_users_see_only_their_brands_reports_and_foreign_ids_are_404() {
    let s = reports_stack().await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let list = s.get(&manager, "/sync/reconciliations").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(ids(&list.body), ["run_04_b1", "run_01_b1"]);
    assert_eq!(
        s.get(&manager, "/sync/reconciliations?brand_id=b2")
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(&manager, "/sync/reconciliations/run_04_b1")
            .await
            .status,
        200
    );
    // another brand's, a tenant-wide one, another tenant's, an unknown one: 404
    for id in [
        "run_02_b2",
        "run_03_all",
        "run_05_g1",
        "run_nope",
        "bad%20id",
    ] {
        let r = s
            .get(&manager, &format!("/sync/reconciliations/{id}"))
            .await;
        assert_eq!(r.status, 404, "{id}: {}", r.body);
    }
    let admin = Caller::admin(ACME);
    let one = s.get(&admin, "/sync/reconciliations/run_03_all").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["id"], "run_03_all");
    assert_eq!(
        s.get(&admin, "/sync/reconciliations/run_05_g1")
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(&admin, "/sync/reconciliations?brand_id=g1")
            .await
            .status,
        404
    );
}

/// A run of acme's shared connection with drift in b1 and b2 (and one object of no brand).
fn shared_report(id: &str, finished: i64) -> packr::sync::reconcile::ReconcileReport {
    use packr::sync::reconcile::DriftClass::*;
    let (b1, b2) = (brand("b1"), brand("b2"));
    let mut r = report(ACME, id, CONN_ACME, &["b1", "b2"], finished);
    let mut t = packr::sync::reconcile::DriftTally::default();
    for (class, order, owner) in [
        (MissingLocal, "ord_b1_missing", Some(&b1)),
        (StaleLocal, "ord_b1_stale", Some(&b1)),
        (InSync, "ord_b1_ok", Some(&b1)),
        (MissingLocal, "ord_b2_missing_1", Some(&b2)),
        (MissingLocal, "ord_b2_missing_2", Some(&b2)),
        (MissingRemote, "ord_b2_gone", Some(&b2)),
        (InSync, "ord_b2_ok", Some(&b2)),
        (AheadLocal, "ord_nobrand", None),
    ] {
        t.record(class, order, owner);
    }
    t.repaired_for(Some(&b1));
    t.repaired_for(Some(&b2));
    t.repaired_for(Some(&b2));
    r.tally = t;
    r
}

/// Every sample id of a served report.
fn sample_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["samples"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_brand_user_sees_only_its_brands_share_of_a_shared_connections_report() {
    // given acme's shared connection reconciled with drift in b1 and b2, and globex's report
    let s = api_stack().await;
    s.stack
        .store
        .put_report(&shared_report("run_10_shared", 100))
        .await
        .unwrap();
    s.stack
        .store
        .put_report(&report(GLOBEX, "run_11_g1", CONN_GLOBEX, &["g1"], 110))
        .await
        .unwrap();
    let b1_manager = Caller::new(ACME, "brand_manager", &["b1"]);
    let b2_viewer = Caller::new(ACME, "brand_viewer", &["b2"]);

    // when b1's manager lists and reads it
    let list = s.get(&b1_manager, "/sync/reconciliations").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(ids(&list.body), ["run_10_shared"]);
    let one = s
        .get(&b1_manager, "/sync/reconciliations/run_10_shared")
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    // then both answers hold b1's ids, counts, samples and repairs only
    for r in [&list.body["items"][0], &one.body] {
        assert_eq!(r["brand_ids"], json!(["b1"]), "{r}");
        assert_eq!(
            r["counts"],
            json!({"missing_local": 1, "stale_local": 1, "ahead_local": 0,
                   "missing_remote": 0, "in_sync": 1}),
            "{r}"
        );
        assert_eq!(sample_ids(r), ["ord_b1_missing", "ord_b1_stale"], "{r}");
        assert_eq!(r["repaired"], 1, "{r}");
        assert!(!r.to_string().contains("b2"), "{r}");
    }

    // and b2's viewer sees b2's share
    let one = s
        .get(&b2_viewer, "/sync/reconciliations/run_10_shared")
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["brand_ids"], json!(["b2"]));
    assert_eq!(one.body["counts"]["missing_local"], 2);
    assert_eq!(one.body["counts"]["missing_remote"], 1);
    assert_eq!(one.body["counts"]["stale_local"], 0);
    assert_eq!(
        sample_ids(&one.body),
        ["ord_b2_gone", "ord_b2_missing_1", "ord_b2_missing_2"]
    );
    assert_eq!(one.body["repaired"], 2);

    // and the tenant admin sees the whole report, the object of no brand included
    let admin = Caller::admin(ACME);
    for r in [
        s.get(&admin, "/sync/reconciliations/run_10_shared")
            .await
            .body,
        s.get(&admin, "/sync/reconciliations").await.body["items"][0].clone(),
    ] {
        assert_eq!(r["brand_ids"], json!(["b1", "b2"]), "{r}");
        assert_eq!(
            r["counts"],
            json!({"missing_local": 3, "stale_local": 1, "ahead_local": 1,
                   "missing_remote": 1, "in_sync": 2}),
            "{r}"
        );
        assert_eq!(sample_ids(&r).len(), 6, "{r}");
        assert!(sample_ids(&r).contains(&"ord_nobrand".to_owned()));
        assert_eq!(r["repaired"], 3, "{r}");
    }

    // and another tenant's users, admin or brand, get a 404 for it and never list it
    for caller in [
        Caller::admin(GLOBEX),
        Caller::new(GLOBEX, "brand_manager", &["g1"]),
        Caller::new(GLOBEX, "brand_manager", &["b1"]),
    ] {
        let r = s.get(&caller, "/sync/reconciliations/run_10_shared").await;
        assert_eq!(r.status, 404, "{}", r.body);
        let list = s.get(&caller, "/sync/reconciliations").await;
        assert!(!ids(&list.body).contains(&"run_10_shared".to_owned()));
    }
}

#[tokio::test]
async fn a_shared_report_stored_before_brand_shares_were_kept_shows_brand_users_no_counts() {
    // given a shared connection's report without the per-brand breakdown
    let s = api_stack().await;
    let mut old = shared_report("run_12_old", 120);
    old.tally.by_brand.clear();
    s.stack.store.put_report(&old).await.unwrap();
    // when b1's manager reads it, then it is listed but holds nothing of any brand
    let r = s
        .get(
            &Caller::new(ACME, "brand_manager", &["b1"]),
            "/sync/reconciliations/run_12_old",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(sample_ids(&r.body).is_empty(), "{}", r.body);
    assert_eq!(r.body["repaired"], 0);
    assert!(r.body["counts"]
        .as_object()
        .unwrap()
        .values()
        .all(|n| n == 0));
    // and the admin still sees all of it
    let r = s
        .get(&Caller::admin(ACME), "/sync/reconciliations/run_12_old")
        .await;
    assert_eq!(r.body["counts"]["missing_local"], 3);
}
