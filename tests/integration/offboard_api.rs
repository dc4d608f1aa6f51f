//! The offboarding routes of api-connections against the emulator and the Trackstar
//! simulator: `DELETE /connections/{id}` deletes at Trackstar first (a Trackstar failure
//! changes nothing here), then offboards the connection; a relink through the exchange
//! within the grace keeps its data; `DELETE /brands/{id}` answers 202 with its job, which
//! `GET /offboardings/{job_id}` follows.

use packr::domain::ConnectionStatus;
use packr::lifecycle::JobKind;
use packr::secrets::SecretSource;
use packr::store::ConnectionStore;
use serde_json::{json, Value};
use trackstar_sim::FaultSpec;

use crate::api_support::*;
use crate::helpers::*;

fn id(raw: &str) -> packr::domain::ConnectionId {
    packr::domain::ConnectionId::parse(raw).unwrap()
}

#[tokio::test]
async fn a_trackstar_failure_deletes_nothing_and_the_retry_offboards_the_connection() {
    // given acme's connection, and Trackstar failing its deletion
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let before = s.snapshot().await;
    s.sim.set_faults(CONN_ACME, FaultSpec::error(500, None));

    // when the admin deletes the connection
    let r = s
        .send(
            &admin,
            "DELETE",
            &format!("/connections/{CONN_ACME}"),
            &Value::Null,
            &[],
        )
        .await;

    // then it is an error and nothing changed here: no entry, the token kept
    assert!(r.status >= 500, "{} {}", r.status, r.body);
    assert_eq!(s.snapshot().await, before);
    assert!(s
        .secrets
        .get(&format!("{SECRET_PREFIX}{CONN_ACME}"))
        .await
        .is_ok());
    assert!(s.sim.state().connection(CONN_ACME).is_some());

    // when Trackstar recovers and the admin tries again
    s.sim.clear_faults(CONN_ACME);
    let r = s
        .send(
            &admin,
            "DELETE",
            &format!("/connections/{CONN_ACME}"),
            &Value::Null,
            &[],
        )
        .await;

    // then Trackstar no longer has it, and here it is disconnected, its token gone, its
    // route marked deleted, its data due after 30 days
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "disconnected");
    assert!(r.body["erase_after"].is_string());
    assert!(s.sim.state().connection(CONN_ACME).is_none());
    assert!(s
        .secrets
        .get(&format!("{SECRET_PREFIX}{CONN_ACME}"))
        .await
        .is_err());
    let stored = s
        .stack
        .store
        .get_connection(&tenant(ACME), &id(CONN_ACME))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ConnectionStatus::Disconnected);
    let erase_after = stored.marks.erase_after.unwrap();
    assert_eq!(
        erase_after.unix_seconds() - stored.marks.deleted_at.unwrap().unix_seconds(),
        30 * 24 * 3600
    );
    assert!(s
        .stack
        .store
        .route(&id(CONN_ACME))
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());

    // and deleting it again answers the same, and another tenant's is a 404
    let again = s
        .send(
            &admin,
            "DELETE",
            &format!("/connections/{CONN_ACME}"),
            &Value::Null,
            &[],
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["erase_after"], r.body["erase_after"]);
    let other = s
        .send(
            &admin,
            "DELETE",
            &format!("/connections/{CONN_GLOBEX}"),
            &Value::Null,
            &[],
        )
        .await;
    assert_eq!(other.status, 404);
    assert!(s.sim.state().connection(CONN_GLOBEX).is_some());
}

#[tokio::test]
async fn a_connection_linked_again_within_its_grace_keeps_its_data_and_its_webhooks_route_again() {
    // given acme's connection with an order, deleted by the admin
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let acme = tenant(ACME);
    let mut o = order(&acme, "ord_kept", Some(&brand("b1")), 5);
    o.connection_id = id(CONN_ACME);
    packr::store::SyncedStore::upsert_if_newer(&s.stack.store, &acme, &o)
        .await
        .unwrap();
    let r = s
        .send(
            &admin,
            "DELETE",
            &format!("/connections/{CONN_ACME}"),
            &Value::Null,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // when it is linked again (Trackstar Link for the same connection id)
    let r = s
        .send(
            &admin,
            "POST",
            "/connections/exchange",
            &json!({ "auth_code": format!("auth_{CONN_ACME}") }),
            &[],
        )
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.body);

    // then it is active, no longer due for erasure, routable, and its data is there
    let stored = s
        .stack
        .store
        .get_connection(&acme, &id(CONN_ACME))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    assert_eq!(stored.marks.erase_after, None);
    assert!(s
        .stack
        .store
        .route(&id(CONN_ACME))
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_none());
    let kept = s.get(&admin, "/orders/ord_kept").await;
    assert_eq!(kept.status, 200, "{}", kept.body);
}

#[tokio::test]
async fn deleting_a_brand_answers_its_job_which_the_offboarding_route_follows() {
    // given acme's brand b1
    let s = api_stack().await;
    let admin = Caller::admin(ACME);

    // when the admin deletes it (twice with the same key)
    let key = [("Idempotency-Key", "offboard-b1")];
    let r = s
        .send(&admin, "DELETE", "/brands/b1", &Value::Null, &key)
        .await;
    let replay = s
        .send(&admin, "DELETE", "/brands/b1", &Value::Null, &key)
        .await;

    // then a 202 with a queued job, once
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["kind"], "brand_offboarding");
    assert_eq!(r.body["brand_id"], "b1");
    assert_eq!(r.body["status"], "queued");
    assert_eq!(replay.status, 202);
    assert_eq!(replay.body["job_id"], r.body["job_id"]);
    let queued = s.lifecycle_jobs.drain();
    assert_eq!(queued.len(), 1);
    let job_id = r.body["job_id"].as_str().unwrap();
    assert_eq!(queued[0].job_id, job_id);

    // and the job can be read by id, by acme's admin only
    let got = s.get(&admin, &format!("/offboardings/{job_id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["job_id"], job_id);
    assert_eq!(got.body["exports"], json!([]));
    let stored = packr::lifecycle::LifecycleJobStore::new(s.stack.store.clone())
        .get(&tenant(ACME), job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.kind,
        JobKind::BrandOffboarding {
            brand_id: brand("b1")
        }
    );
    let other = s
        .get(&Caller::admin(GLOBEX), &format!("/offboardings/{job_id}"))
        .await;
    assert_eq!(other.status, 404);
    let staff = s
        .get(
            &Caller::new(ACME, "tenant_staff", &[]),
            &format!("/offboardings/{job_id}"),
        )
        .await;
    assert_eq!(staff.status, 403);

    // and an unknown brand, or another tenant's, is a 404
    let r = s
        .send(
            &admin,
            "DELETE",
            "/brands/g1",
            &Value::Null,
            &[("Idempotency-Key", "offboard-g1")],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}
