//! `GET /sync/reconciliations[/{report_id}]`: the tenant's reports, newest first, keyset
//! paginated, brand-scoped; another tenant's or brand's report is a 404.

use packr::reconcile::ReportStore;
use serde_json::Value;

use crate::api_support::*;

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
