use std::collections::BTreeSet;

use serde_json::Value;
use trackstar_sim::SimConfig;

use crate::support::{sim, sim_with, CONN};

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn pagination_walks_every_page_with_the_filters_kept() {
    // given 300 orders over two warehouse customers
    let s = sim_with(SimConfig {
        orders_per_connection: 300,
        get_rate_per_sec: 1000,
        ..SimConfig::default()
    })
    .await;
    let since = "2025-08-01T00:00:00Z";
    let filter = format!("updated_date[gte]={since}&warehouse_customer_id=wc_demo_1");
    let truth = s.handle.truth(CONN).expect("truth");
    let expected: BTreeSet<String> = truth
        .orders
        .iter()
        .filter(|o| o.warehouse_customer_id.as_deref() == Some("wc_demo_1"))
        .filter(|o| {
            o.updated_date
                >= since
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .expect("date")
        })
        .map(|o| o.id.clone())
        .collect();
    assert!(expected.len() > 40, "enough orders for several pages");

    // when walking pages of 20
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/wms/orders?limit=20&{filter}");
        if let Some(t) = &token {
            path.push_str(&format!("&page_token={t}"));
        }
        let (status, page) = s.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total_count"].as_u64(), Some(ids(&page).len() as u64));
        seen.extend(ids(&page));
        pages += 1;
        match page["next_token"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
        assert!(pages < 100, "pagination terminates");
    }

    // then every matching order came exactly once, in updated_date order
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(unique, expected);
    assert!(pages >= 3);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn page_token_is_bound_to_its_filters() {
    // given a first page filtered on status
    let s = sim().await;
    let (_, page) = s
        .get_json("/wms/orders?limit=2&status[in]=open,fulfilled")
        .await;
    let token = page["next_token"].as_str().expect("more pages").to_owned();

    // when the token is used with other filters, or mangled
    let (other, body) = s
        .get_json(&format!(
            "/wms/orders?limit=2&status=open&page_token={token}"
        ))
        .await;
    let (garbage, _) = s.get_json("/wms/orders?page_token=not-a-token").await;
    let (same, _) = s
        .get_json(&format!(
            "/wms/orders?limit=5&status[in]=open,fulfilled&page_token={token}"
        ))
        .await;

    // then other filters and garbage are 400s, the same filters (any limit) are fine
    assert_eq!(other, 400);
    assert!(body["error"].is_string());
    assert_eq!(garbage, 400);
    assert_eq!(same, 200);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn limit_out_of_range_is_422_and_default_is_1000() {
    let s = sim().await;
    for bad in ["0", "1001", "-1", "ten"] {
        let (status, body) = s.get_json(&format!("/wms/orders?limit={bad}")).await;
        assert_eq!(status, 422, "limit={bad}");
        assert!(body["detail"]["query"]["limit"].is_array(), "{body}");
    }
    let (status, page) = s.get_json("/wms/orders").await;
    assert_eq!(status, 200);
    assert_eq!(page["total_count"], 50);
    assert!(page["next_token"].is_null());
    let (status, _) = s.get_json("/wms/orders?limit=1000").await;
    assert_eq!(status, 200);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn resource_filters_select_the_matching_objects() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let first = &truth.orders[0];
    let second = &truth.orders[1];

    let (_, by_ids) = s
        .get_json(&format!("/wms/orders?ids[in]={},{}", first.id, second.id))
        .await;
    let mut got = ids(&by_ids);
    got.sort();
    let mut want = vec![first.id.clone(), second.id.clone()];
    want.sort();
    assert_eq!(got, want);

    let (_, by_number) = s
        .get_json(&format!("/wms/orders?order_number={}", first.order_number))
        .await;
    assert_eq!(ids(&by_number), vec![first.id.clone()]);

    let (_, not_open) = s.get_json("/wms/orders?status[neq]=open").await;
    assert!(not_open["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|o| o["status"] != "open"));

    let sku = truth.products[0].sku.clone().expect("sku");
    let (_, products) = s.get_json(&format!("/wms/products?sku={sku}")).await;
    assert_eq!(products["total_count"], 1);

    let (_, inventory) = s
        .get_json("/wms/inventory?active=true&trackstar_updated_date[gte]=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(
        inventory["total_count"].as_u64(),
        Some(truth.inventory.len() as u64)
    );

    let (status, _) = s.get_json("/wms/inventory?status=open").await;
    assert_eq!(status, 422, "inventory has no status filter");
    s.handle.shutdown().await;
}

#[tokio::test]
async fn every_resource_lists_and_gets_by_id() {
    let s = sim().await;
    for resource in [
        "orders",
        "inventory",
        "products",
        "inbound-shipments",
        "returns",
    ] {
        let (status, page) = s.get_json(&format!("/wms/{resource}")).await;
        assert_eq!(status, 200, "{resource}");
        let first = ids(&page).into_iter().next().expect("objects exist");
        let (status, one) = s.get_json(&format!("/wms/{resource}/{first}")).await;
        assert_eq!(status, 200);
        assert_eq!(one["data"]["id"], first.as_str());
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn unknown_id_is_404_with_error_and_id() {
    let s = sim().await;
    let (status, body) = s.get_json("/wms/orders/ord_missing").await;
    assert_eq!(status, 404);
    assert_eq!(body["id"], "ord_missing");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(body["origin"], "trackstar");
    s.handle.shutdown().await;
}
