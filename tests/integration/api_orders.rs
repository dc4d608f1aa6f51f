//! Orders through the real handlers on the emulator: scoping by tenant and brand, claims,
//! filters, keyset pagination (walks while new orders arrive; tampered and foreign cursors).

use std::collections::BTreeSet;

use packr::domain::{Order, OrderStatus};
use packr::store::SyncedStore;
use serde_json::Value;

use crate::api_support::*;
use crate::helpers::*;

async fn seed(s: &ApiStack, t: &str, id: &str, b: Option<&str>, updated: i64) -> Order {
    let o = order(&tenant(t), id, b.map(brand).as_ref(), updated);
    s.stack.store.upsert_if_newer(&tenant(t), &o).await.unwrap();
    o
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_tenant_admin_lists_only_their_tenants_orders_newest_first() {
    // given orders of two tenants
    let s = api_stack().await;
    seed(&s, ACME, "o1", Some("b1"), 1).await;
    seed(&s, ACME, "o2", Some("b2"), 2).await;
    seed(&s, ACME, "o3", None, 3).await;
    seed(&s, GLOBEX, "g1", Some("g1"), 4).await;
    // when
    let r = s.get(&Caller::admin(ACME), "/orders").await;
    // then
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec!["o3", "o2", "o1"]);
    assert!(r.body["next_cursor"].is_null());
    assert_eq!(r.body["items"][0]["totals"]["price"]["minor"], 1234);
    assert_eq!(r.body["items"][0]["totals"]["price"]["currency"], "USD");
}

#[tokio::test]
async fn a_brand_user_sees_only_their_brand() {
    let s = api_stack().await;
    seed(&s, ACME, "o1", Some("b1"), 1).await;
    seed(&s, ACME, "o2", Some("b2"), 2).await;
    seed(&s, ACME, "o3", None, 3).await;
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    // the listing defaults to the one brand
    let r = s.get(&viewer, "/orders").await;
    assert_eq!(ids(&r.body), vec!["o1"]);
    // another brand's order, or an order of no brand, is a 404
    assert_eq!(s.get(&viewer, "/orders/o2").await.status, 404);
    assert_eq!(s.get(&viewer, "/orders/o3").await.status, 404);
    assert_eq!(s.get(&viewer, "/orders/o1").await.status, 200);
    // filtering on another brand is a 404
    let r = s.get(&viewer, "/orders?brand_id=b2").await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[tokio::test]
async fn a_user_of_several_brands_must_choose_one() {
    let s = api_stack().await;
    seed(&s, ACME, "o1", Some("b1"), 1).await;
    let manager = Caller::new(ACME, "brand_manager", &["b1", "b2"]);
    let r = s.get(&manager, "/orders").await;
    assert_eq!((r.status, r.code()), (400, "invalid_parameter"));
    assert!(r.body["error"]["details"]["fields"]["brand_id"].is_array());
    let r = s.get(&manager, "/orders?brand_id=b1").await;
    assert_eq!(ids(&r.body), vec!["o1"]);
}

#[tokio::test]
async fn another_tenants_order_is_indistinguishable_from_a_missing_one() {
    let s = api_stack().await;
    seed(&s, GLOBEX, "g1", Some("g1"), 1).await;
    let r = s.get(&Caller::admin(ACME), "/orders/g1").await;
    let missing = s.get(&Caller::admin(ACME), "/orders/nope").await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(r.body["error"]["message"], missing.body["error"]["message"]);
    // another tenant's brand as a filter, too
    assert_eq!(
        s.get(&Caller::admin(ACME), "/orders?brand_id=g1")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn missing_or_malformed_claims_are_401_with_the_envelope() {
    let s = api_stack().await;
    let r = s.get(&Caller::without_claims(), "/orders").await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let mut bad = Caller::new(ACME, "brand_viewer", &["b1"]);
    bad.claims.insert("custom:brand_ids".into(), "[b1".into());
    assert_eq!(s.get(&bad, "/orders").await.status, 401);
    let mut bad = Caller::admin(ACME);
    bad.claims.insert("custom:role".into(), "superuser".into());
    assert_eq!(s.get(&bad, "/orders").await.status, 401);
    let mut bad = Caller::admin(ACME);
    bad.claims.remove("custom:tenant_id");
    assert_eq!(s.get(&bad, "/orders").await.status, 401);
}

#[tokio::test]
async fn filters_by_status_and_updated_since() {
    let s = api_stack().await;
    let mut o = order(&tenant(ACME), "packed", Some(&brand("b1")), 10);
    o.status = OrderStatus::Packed;
    s.stack
        .store
        .upsert_if_newer(&tenant(ACME), &o)
        .await
        .unwrap();
    seed(&s, ACME, "old", Some("b1"), 1).await;
    seed(&s, ACME, "new", Some("b1"), 20).await;
    let admin = Caller::admin(ACME);
    assert_eq!(
        ids(&s.get(&admin, "/orders?status=packed").await.body),
        vec!["packed"]
    );
    let since = at(10).to_rfc3339();
    assert_eq!(
        ids(&s
            .get(&admin, &format!("/orders?updated_since={since}"))
            .await
            .body),
        vec!["new", "packed"]
    );
    for bad in [
        "/orders?status=lost",
        "/orders?updated_since=yesterday",
        "/orders?limit=0",
        "/orders?limit=101",
        "/orders?limit=x",
        "/orders?colour=red",
    ] {
        let r = s.get(&admin, bad).await;
        assert_eq!((r.status, r.code()), (400, "invalid_parameter"), "{bad}");
        assert!(r.body["error"]["details"]["fields"].is_object(), "{bad}");
    }
}

#[tokio::test]
async fn walking_260_orders_of_a_brand_has_no_gaps_or_repeats_while_new_orders_arrive() {
    // given 260 orders of b1 and 40 of b2
    let s = api_stack().await;
    let t = tenant(ACME);
    let mut expected = BTreeSet::new();
    let writes = (0..300)
        .map(|i| {
            let b = if i % 15 == 14 { "b2" } else { "b1" };
            let o = order(&t, &format!("o{i:03}"), Some(&brand(b)), 1000 + i);
            if b == "b1" {
                expected.insert(o.id.to_string());
            }
            o
        })
        .collect::<Vec<_>>();
    for chunk in writes.chunks(25) {
        futures::future::join_all(chunk.iter().map(|o| s.stack.store.upsert_if_newer(&t, o))).await;
    }
    assert_eq!(expected.len(), 280);
    // when walking b1 in pages of 37, writing a new order between pages
    let admin = Caller::admin(ACME);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/orders?brand_id=b1&limit=37".to_owned(),
            Some(c) => format!("/orders?brand_id=b1&limit=37&cursor={c}"),
        };
        let r = s.get(&admin, &path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(ids(&r.body));
        pages += 1;
        seed(&s, ACME, &format!("late{pages}"), Some("b1"), 5000 + pages).await;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // then every order present at the start is seen exactly once, newest first
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "repeats");
    assert_eq!(unique, expected, "gaps");
    assert_eq!(pages, 280_usize.div_ceil(37) as i64);
}

#[tokio::test]
async fn tampered_and_foreign_cursors_are_rejected() {
    let s = api_stack().await;
    for i in 0..5 {
        seed(&s, ACME, &format!("o{i}"), Some("b1"), i).await;
        seed(&s, GLOBEX, &format!("g{i}"), Some("g1"), i).await;
    }
    let admin = Caller::admin(ACME);
    let r = s.get(&admin, "/orders?limit=2").await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    // tampered
    let mut bytes = cursor.clone().into_bytes();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let r = s
        .get(&admin, &format!("/orders?limit=2&cursor={tampered}"))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    // garbage
    let r = s.get(&admin, "/orders?cursor=%%%").await;
    assert_eq!(r.status, 400);
    // another tenant's cursor
    let other = s.get(&Caller::admin(GLOBEX), "/orders?limit=2").await;
    let foreign = other.body["next_cursor"].as_str().unwrap();
    let r = s
        .get(&admin, &format!("/orders?limit=2&cursor={foreign}"))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    // the same tenant's cursor for another query
    let r = s
        .get(
            &admin,
            &format!("/orders?limit=2&status=open&cursor={cursor}"),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    // and the genuine one works
    let r = s
        .get(&admin, &format!("/orders?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_with_the_envelope() {
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let r = s.get(&admin, "/nowhere").await;
    assert_eq!((r.status, r.code()), (404, "route_not_found"));
    let r = s.call(event("DELETE", "/orders", &admin, None, &[])).await;
    assert_eq!((r.status, r.code()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn a_query_parameter_with_an_empty_value_is_taken_as_absent() {
    // given a tenant with orders
    let s = api_stack().await;
    let admin = Caller::admin(ACME);
    let plain = s.get(&admin, "/orders?limit=5").await;
    // when a client sends its unset fields as empty values (forms, generated clients)
    let empty = s
        .get(
            &admin,
            "/orders?limit=5&cursor=&brand_id=&status=&updated_since=",
        )
        .await;
    // then the answer is the unfiltered first page
    assert_eq!(plain.status, 200);
    assert_eq!((empty.status, &empty.body), (200, &plain.body));
    // and an unknown parameter is still refused, empty or not
    assert_eq!(s.get(&admin, "/orders?stauts=").await.status, 400);
}
