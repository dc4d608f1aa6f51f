//! Reads of the warehouse resources through the real handlers (api-warehouse), on objects
//! seeded directly in the table: inbound shipments and returns (brand-owned, with status
//! and warehouse filters), bills (brand-owned, no status), warehouses and shipping methods
//! (tenant-wide: every role of the tenant sees them, no `brand_id`). Keyset listings newest
//! first, each filter, brand scoping, another tenant's id and a malformed id a 404.

use packr::domain::{InboundShipmentStatus, ReturnStatus};
use packr::resource::Resource;
use packr::store::SyncedStore;
use serde_json::Value;

use crate::api_support::*;
use crate::helpers::*;
use crate::warehouse_objects::*;

/// The ids of a listing's page, in order.
fn ids(r: &Answer) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn seed<T: Resource>(s: &ApiStack, objects: Vec<T>) {
    for object in objects {
        let store: &dyn SyncedStore<T> = &s.stack.store;
        store
            .upsert_if_newer(object.tenant_id(), &object)
            .await
            .unwrap();
    }
}

/// acme: is_1 (b1, open, wh_1), is_2 (b1, received, wh_2), is_3 (b2, open, wh_1), is_4
/// (no brand, in transit, wh_1), updated in that order; globex: is_g (g1, open, wh_1).
async fn seed_inbound(s: &ApiStack) {
    let (acme, globex) = (tenant(ACME), tenant(GLOBEX));
    use InboundShipmentStatus::*;
    seed(
        s,
        vec![
            inbound(&acme, "is_1", Some(&brand("b1")), Open, "wh_1", 10),
            inbound(&acme, "is_2", Some(&brand("b1")), Received, "wh_2", 20),
            inbound(&acme, "is_3", Some(&brand("b2")), Open, "wh_1", 30),
            inbound(&acme, "is_4", None, InTransit, "wh_1", 40),
            inbound(&globex, "is_g", Some(&brand("g1")), Open, "wh_1", 50),
        ],
    )
    .await;
}

#[tokio::test]
async fn inbound_shipments_list_newest_first_with_each_filter() {
    // given acme's and globex's inbound shipments
    let s = api_stack().await;
    seed_inbound(&s).await;
    let admin = Caller::admin(ACME);
    let list = |q: &str| format!("/inbound-shipments{q}");

    // when the admin lists them: every acme shipment, newest first, no globex one
    assert_eq!(
        ids(&s.get(&admin, &list("")).await),
        ["is_4", "is_3", "is_2", "is_1"]
    );
    // then each filter narrows the listing
    assert_eq!(
        ids(&s.get(&admin, &list("?status=open")).await),
        ["is_3", "is_1"]
    );
    assert_eq!(
        ids(&s.get(&admin, &list("?status=in_transit")).await),
        ["is_4"]
    );
    assert!(ids(&s.get(&admin, &list("?status=cancelled")).await).is_empty());
    assert_eq!(
        ids(&s.get(&admin, &list("?warehouse_id=wh_2")).await),
        ["is_2"]
    );
    assert_eq!(ids(&s.get(&admin, &list("?brand_id=b2")).await), ["is_3"]);
    let since = at(20).to_rfc3339();
    assert_eq!(
        ids(&s
            .get(&admin, &list(&format!("?updated_since={since}")))
            .await),
        ["is_4", "is_3", "is_2"]
    );
    assert_eq!(
        ids(&s
            .get(&admin, &list("?brand_id=b1&status=open&warehouse_id=wh_1"))
            .await),
        ["is_1"]
    );
    // and a status the resource does not have, or an unknown parameter, is a 400 naming it
    let r = s.get(&admin, &list("?status=shipped")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_parameter"));
    assert!(r.body["error"]["details"]["fields"]["status"].is_array());
    for bad in ["wh%231", "%C3%97", "wh%20east"] {
        let r = s.get(&admin, &list(&format!("?warehouse_id={bad}"))).await;
        assert_eq!((r.status, r.code()), (400, "invalid_parameter"), "{bad}");
        assert!(r.body["error"]["details"]["fields"]["warehouse_id"].is_array());
    }
    let r = s.get(&admin, &list("?warehouse=wh_1")).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["warehouse"].is_array());
    s.sim.shutdown().await;
}

#[tokio::test]
async fn inbound_shipment_listings_page_by_keyset() {
    let s = api_stack().await;
    seed_inbound(&s).await;
    let staff = Caller::new(ACME, "tenant_staff", &[]);
    // given pages of two
    let first = s.get(&staff, "/inbound-shipments?limit=2").await;
    assert_eq!(ids(&first), ["is_4", "is_3"]);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    // when the next page is asked with the cursor
    let second = s
        .get(
            &staff,
            &format!("/inbound-shipments?limit=2&cursor={cursor}"),
        )
        .await;
    // then it holds the rest, and no further cursor
    assert_eq!(ids(&second), ["is_2", "is_1"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    // and the cursor of one filter is refused for another listing
    let r = s
        .get(
            &staff,
            &format!("/inbound-shipments?limit=2&status=open&cursor={cursor}"),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    // and a limit out of bounds is named
    let r = s.get(&staff, "/inbound-shipments?limit=0").await;
    assert!(r.body["error"]["details"]["fields"]["limit"].is_array());
    s.sim.shutdown().await;
}

#[tokio::test]
async fn a_brand_user_sees_only_its_brands_inbound_shipments() {
    let s = api_stack().await;
    seed_inbound(&s).await;
    let manager = Caller::new(ACME, "brand_manager", &["b1"]);
    // when b1's manager lists without naming a brand: b1's only
    assert_eq!(
        ids(&s.get(&manager, "/inbound-shipments").await),
        ["is_2", "is_1"]
    );
    // and another brand is a 404, as is another brand's shipment
    assert_eq!(
        s.get(&manager, "/inbound-shipments?brand_id=b2")
            .await
            .status,
        404
    );
    let r = s.get(&manager, "/inbound-shipments/is_3").await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    // and its own shipment is served whole
    let r = s.get(&manager, "/inbound-shipments/is_1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["warehouse_id"], "wh_1");
    assert_eq!(r.body["line_items"][0]["expected_quantity"], 100);
    assert_eq!(r.body["purchase_order_number"], "PO-is_1");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn another_tenants_or_a_malformed_id_is_a_404_for_every_read() {
    // given one object of each brand-owned kind in globex, and acme's admin
    let s = api_stack().await;
    seed_inbound(&s).await;
    let globex = tenant(GLOBEX);
    let g1 = brand("g1");
    seed(
        &s,
        vec![a_return(
            &globex,
            "ret_g",
            Some(&g1),
            ReturnStatus::Open,
            "wh_1",
            1,
        )],
    )
    .await;
    seed(&s, vec![bill(&globex, "bill_g", Some(&g1), 1)]).await;
    seed(&s, vec![warehouse(&globex, "wh_g", 1)]).await;
    let admin = Caller::admin(ACME);
    // then globex's ids are 404 for acme, as are malformed ids
    for path in [
        "/inbound-shipments/is_g",
        "/returns/ret_g",
        "/bills/bill_g",
        "/warehouses/wh_g",
        "/inbound-shipments/bad%20id",
        "/returns/a%23b",
        "/bills/%C3%A9",
        &format!("/warehouses/{}", "w".repeat(129)),
        "/inbound-shipments/nope",
    ] {
        let r = s.get(&admin, path).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found"),
            "{path}: {}",
            r.body
        );
    }
    // and globex's own admin reads them
    let g = Caller::admin(GLOBEX);
    for path in [
        "/inbound-shipments/is_g",
        "/returns/ret_g",
        "/bills/bill_g",
        "/warehouses/wh_g",
    ] {
        assert_eq!(s.get(&g, path).await.status, 200, "{path}");
    }
    s.sim.shutdown().await;
}

#[tokio::test]
async fn returns_list_with_status_warehouse_brand_and_date_filters() {
    let s = api_stack().await;
    let acme = tenant(ACME);
    use ReturnStatus::*;
    seed(
        &s,
        vec![
            a_return(&acme, "ret_1", Some(&brand("b1")), Open, "wh_1", 10),
            a_return(&acme, "ret_2", Some(&brand("b2")), Received, "wh_2", 20),
            a_return(&acme, "ret_3", Some(&brand("b1")), Received, "wh_1", 30),
            a_return(
                &tenant(GLOBEX),
                "ret_g",
                Some(&brand("g1")),
                Open,
                "wh_1",
                40,
            ),
        ],
    )
    .await;
    let admin = Caller::admin(ACME);
    assert_eq!(
        ids(&s.get(&admin, "/returns").await),
        ["ret_3", "ret_2", "ret_1"]
    );
    assert_eq!(
        ids(&s.get(&admin, "/returns?status=received").await),
        ["ret_3", "ret_2"]
    );
    assert_eq!(
        ids(&s.get(&admin, "/returns?warehouse_id=wh_1").await),
        ["ret_3", "ret_1"]
    );
    assert_eq!(
        ids(&s.get(&admin, "/returns?brand_id=b1&status=received").await),
        ["ret_3"]
    );
    let since = at(15).to_rfc3339();
    assert_eq!(
        ids(&s
            .get(&admin, &format!("/returns?updated_since={since}"))
            .await),
        ["ret_3", "ret_2"]
    );
    let r = s.get(&admin, "/returns?updated_since=yesterday").await;
    assert!(r.body["error"]["details"]["fields"]["updated_since"].is_array());
    // a brand viewer of b2 sees b2's return only
    let viewer = Caller::new(ACME, "brand_viewer", &["b2"]);
    assert_eq!(ids(&s.get(&viewer, "/returns").await), ["ret_2"]);
    assert_eq!(s.get(&viewer, "/returns/ret_1").await.status, 404);
    let r = s.get(&viewer, "/returns/ret_2").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "received");
    s.sim.shutdown().await;
}

#[tokio::test]
async fn bills_are_brand_scoped_and_have_no_status_or_warehouse_filter() {
    let s = api_stack().await;
    let acme = tenant(ACME);
    seed(
        &s,
        vec![
            bill(&acme, "bill_1", Some(&brand("b1")), 10),
            bill(&acme, "bill_2", Some(&brand("b2")), 20),
            bill(&tenant(GLOBEX), "bill_g", Some(&brand("g1")), 30),
        ],
    )
    .await;
    let admin = Caller::admin(ACME);
    assert_eq!(ids(&s.get(&admin, "/bills").await), ["bill_2", "bill_1"]);
    assert_eq!(ids(&s.get(&admin, "/bills?brand_id=b1").await), ["bill_1"]);
    let since = at(15).to_rfc3339();
    assert_eq!(
        ids(&s
            .get(&admin, &format!("/bills?updated_since={since}"))
            .await),
        ["bill_2"]
    );
    for q in ["status=open", "warehouse_id=wh_1"] {
        let r = s.get(&admin, &format!("/bills?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        let name = q.split('=').next().unwrap();
        assert!(r.body["error"]["details"]["fields"][name].is_array(), "{q}");
    }
    let manager = Caller::new(ACME, "brand_manager", &["b2"]);
    assert_eq!(ids(&s.get(&manager, "/bills").await), ["bill_2"]);
    let r = s.get(&manager, "/bills/bill_2").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["amount"],
        serde_json::json!({"minor": 125, "currency": "USD"})
    );
    assert_eq!(s.get(&manager, "/bills/bill_1").await.status, 404);
    s.sim.shutdown().await;
}

#[tokio::test]
async fn warehouses_and_shipping_methods_are_the_whole_tenants_for_every_role() {
    // given two warehouses and two shipping methods of acme, one of each of globex
    let s = api_stack().await;
    let (acme, globex) = (tenant(ACME), tenant(GLOBEX));
    seed(
        &s,
        vec![
            warehouse(&acme, "wh_1", 10),
            warehouse(&acme, "wh_2", 20),
            warehouse(&globex, "wh_g", 30),
        ],
    )
    .await;
    seed(
        &s,
        vec![
            shipping_method(&acme, "sm_ground", 10),
            shipping_method(&acme, "sm_express", 20),
            shipping_method(&globex, "sm_g", 30),
        ],
    )
    .await;
    // when every role of acme lists them: all of acme's, none of globex's
    for caller in [
        Caller::admin(ACME),
        Caller::new(ACME, "tenant_staff", &[]),
        Caller::new(ACME, "brand_manager", &["b1"]),
        Caller::new(ACME, "brand_viewer", &["b2"]),
        // a user of several brands needs no brand_id here
        Caller::new(ACME, "brand_viewer", &["b1", "b2"]),
    ] {
        let role = caller.claims["custom:role"].clone();
        assert_eq!(
            ids(&s.get(&caller, "/warehouses").await),
            ["wh_2", "wh_1"],
            "{role}"
        );
        assert_eq!(
            ids(&s.get(&caller, "/shipping-methods").await),
            ["sm_express", "sm_ground"],
            "{role}"
        );
        let r = s.get(&caller, "/warehouses/wh_1").await;
        assert_eq!(r.status, 200, "{role}");
        assert_eq!(r.body["name"], "Warehouse wh_1");
        assert_eq!(s.get(&caller, "/warehouses/wh_g").await.status, 404);
    }
    // and the tenant-wide listings take no brand, status or warehouse filter
    let viewer = Caller::new(ACME, "brand_viewer", &["b1"]);
    for (path, name) in [
        ("/warehouses?brand_id=b1", "brand_id"),
        ("/shipping-methods?status=open", "status"),
        ("/shipping-methods?warehouse_id=wh_1", "warehouse_id"),
    ] {
        let r = s.get(&viewer, path).await;
        assert_eq!((r.status, r.code()), (400, "invalid_parameter"), "{path}");
        assert_eq!(
            r.body["error"]["details"]["fields"][name][0], "is not a known parameter",
            "{path}"
        );
    }
    // and they page and filter by date
    let since = at(15).to_rfc3339();
    assert_eq!(
        ids(&s
            .get(&viewer, &format!("/shipping-methods?updated_since={since}"))
            .await),
        ["sm_express"]
    );
    let first = s.get(&viewer, "/warehouses?limit=1").await;
    assert_eq!(ids(&first), ["wh_2"]);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let next = s
        .get(&viewer, &format!("/warehouses?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&next), ["wh_1"]);
    // and globex sees its own
    assert_eq!(
        ids(&s.get(&Caller::admin(GLOBEX), "/warehouses").await),
        ["wh_g"]
    );
    s.sim.shutdown().await;
}
