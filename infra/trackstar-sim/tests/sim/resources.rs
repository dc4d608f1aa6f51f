//! Warehouses, shipping methods and bills served like the other resources; resource
//! policies; records Trackstar sees late.

use reqwest::Method;
use serde_json::{json, Value};
use trackstar_sim::{FaultSpec, ResourceKind, ResourcePolicy};

use crate::support::{sim, Receiver, CONN};

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn new_resources_list_get_and_404_like_the_others() {
    // given the demo connection's seeded truth
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    for (path, expected) in [
        ("/wms/warehouses", truth.warehouses.len()),
        ("/wms/shipping-methods", truth.shipping_methods.len()),
        ("/wms/billing", truth.bills.len()),
    ] {
        // when listed
        let (status, page) = s.get_json(path).await;
        // then every object is served once, and each one can be fetched by id
        assert_eq!(status, 200, "{path}");
        assert_eq!(page["total_count"], expected, "{path}");
        assert!(expected >= 3, "{path} has a handful ({expected})");
        let first = ids(&page)[0].clone();
        let (status, one) = s.get_json(&format!("{path}/{first}")).await;
        assert_eq!(status, 200);
        assert_eq!(one["data"]["id"], first.as_str());
        let (status, missing) = s.get_json(&format!("{path}/nope")).await;
        assert_eq!(status, 404);
        assert_eq!(missing["id"], "nope");
    }
    // and the warehouses are the ones orders and inventory name
    let (_, warehouses) = s.get_json("/wms/warehouses").await;
    let served = ids(&warehouses);
    for order in &truth.orders {
        let id = order.warehouse_id.clone().expect("warehouse");
        assert!(served.contains(&id), "{id}");
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn bills_filter_by_warehouse_customer_and_page_with_the_filter_kept() {
    // given two warehouse customers with bills each
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let mine = truth
        .bills
        .iter()
        .filter(|b| b.warehouse_customer_id.as_deref() == Some("wc_demo_1"))
        .count();
    assert!(mine > 1 && mine < truth.bills.len());
    // when listed one per page for one customer
    let mut seen = Vec::new();
    let mut path = "/wms/billing?warehouse_customer_id=wc_demo_1&limit=1".to_owned();
    loop {
        let (status, page) = s.get_json(&path).await;
        assert_eq!(status, 200);
        seen.extend(ids(&page));
        match page["next_token"].as_str() {
            Some(token) => {
                path = format!(
                    "/wms/billing?warehouse_customer_id=wc_demo_1&limit=1&page_token={token}"
                )
            }
            None => break,
        }
    }
    // then exactly that customer's bills arrive, each once
    assert_eq!(seen.len(), mine);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), mine);
    // and fields the schema lacks, or enum values it forbids, are 422s
    for bad in [
        "/wms/billing?status=open",
        "/wms/warehouses?warehouse_customer_id=wc_demo_1",
        "/wms/inbound-shipments?status=shipped",
        "/wms/shipping-methods?trackstar_updated_date[gte]=soon",
    ] {
        let (status, body) = s.get_json(bad).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(body["error"], "Validation error");
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn inbound_shipments_filter_by_warehouse_and_status() {
    let s = sim().await;
    let truth = s.handle.truth(CONN).expect("truth");
    let east = truth
        .inbound_shipments
        .iter()
        .filter(|i| i.warehouse_id.as_deref() == Some("wh_east"))
        .count();
    let (status, page) = s
        .get_json("/wms/inbound-shipments?warehouse_id=wh_east")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&page).len(), east);
    let open = truth
        .inbound_shipments
        .iter()
        .filter(|i| i.status == "open")
        .count();
    let (_, page) = s.get_json("/wms/inbound-shipments?status[in]=open").await;
    assert_eq!(ids(&page).len(), open);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn faults_and_rate_limits_apply_to_the_new_resources() {
    // given two injected 503s on the connection
    let s = sim().await;
    s.handle.set_faults(CONN, FaultSpec::error(503, Some(2)));
    // when the new lists are read three times
    let mut statuses = Vec::new();
    for path in ["/wms/warehouses", "/wms/shipping-methods", "/wms/billing"] {
        let response = s.get(path).send().await.expect("response");
        statuses.push(response.status().as_u16());
    }
    // then the first two failed and the third was served
    assert_eq!(statuses, vec![503, 503, 200]);
    // given one read a second allowed
    s.handle.set_limits(trackstar_sim::Limits {
        get_rate_per_sec: 1,
        write_rate_per_sec: 1,
    });
    // when two reads follow each other
    let first = s.get("/wms/billing").send().await.expect("response");
    let second = s
        .get("/wms/shipping-methods")
        .send()
        .await
        .expect("response");
    // then the second is a 429 with the rate-limit headers
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "1");
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    s.handle.shutdown().await;
}

#[tokio::test]
async fn a_refused_resource_answers_403_or_501_for_that_connection_only() {
    // given bills forbidden and warehouses not implemented for the demo connection
    let s = sim().await;
    let response = s
        .http
        .post(s.handle.url("/_sim/resource-policy"))
        .json(&json!({"connection_id": CONN, "kind": "bills", "answer": "forbidden"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    s.handle.set_resource_policy(
        CONN,
        ResourceKind::Warehouses,
        ResourcePolicy::NotImplemented,
    );
    // when lists and gets of them are made
    let (status, forbidden) = s.get_json("/wms/billing").await;
    let (get_status, _) = s.get_json("/wms/billing/anything").await;
    let (missing, lacking) = s.get_json("/wms/warehouses/wh_east").await;
    // then 403 with Trackstar's "disabled by policy" and 501, in Trackstar's envelope
    assert_eq!((status, get_status), (403, 403));
    assert!(forbidden["error"]
        .as_str()
        .expect("error")
        .contains("disabled by policy"));
    assert_eq!(forbidden["origin"], "trackstar");
    assert_eq!(missing, 501);
    assert!(lacking["error"]
        .as_str()
        .expect("error")
        .contains("not implemented"));
    // and the other resources are still served
    assert_eq!(s.get_json("/wms/orders?limit=1").await.0, 200);
    assert_eq!(s.get_json("/wms/shipping-methods").await.0, 200);
    // when the policy is lifted, bills are served again
    s.handle
        .set_resource_policy(CONN, ResourceKind::Bills, ResourcePolicy::Allowed);
    assert_eq!(s.get_json("/wms/billing").await.0, 200);
    // and a bad answer is refused naming the body
    let response = s
        .http
        .post(s.handle.url("/_sim/resource-policy"))
        .json(&json!({"connection_id": CONN, "kind": "bills", "answer": "maybe"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 422);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn a_late_record_is_missed_by_updated_date_and_read_by_trackstar_updated_date() {
    // given a receiver and a last run a minute ago
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let last_run = (trackstar_sim::data::now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for kind in ["orders", "inbound_shipments", "returns", "bills"] {
        // when Trackstar first sees a record its WMS changed two days ago
        let response = s
            .http
            .post(s.handle.url("/_sim/late-record"))
            .json(&json!({"connection_id": CONN, "kind": kind}))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        let late: Value = response.json().await.expect("json");
        let id = late["id"].as_str().expect("id").to_owned();
        let path = match kind {
            "inbound_shipments" => "/wms/inbound-shipments".to_owned(),
            "bills" => "/wms/billing".to_owned(),
            other => format!("/wms/{other}"),
        };
        // then an updated_date window misses it and a trackstar_updated_date one reads it
        let (_, by_wms) = s
            .get_json(&format!("{path}?updated_date[gte]={last_run}"))
            .await;
        let (_, by_trackstar) = s
            .get_json(&format!("{path}?trackstar_updated_date[gte]={last_run}"))
            .await;
        assert!(!ids(&by_wms).contains(&id), "{kind}");
        assert_eq!(ids(&by_trackstar), vec![id.clone()], "{kind}");
        // and the object served carries the old WMS date and no Trackstar date of its own
        let (_, one) = s.get_json(&format!("{path}/{id}")).await;
        assert_eq!(one["data"]["updated_date"], late["updated_date"]);
        assert!(one["data"].get("trackstar_updated_date").is_none());
        // and the control API shows its clock
        let (_, clock) = s
            .get_json(&format!("/_sim/trackstar-dates/{CONN}/{kind}/{id}"))
            .await;
        assert_eq!(
            clock["trackstar_updated_date"],
            late["trackstar_updated_date"]
        );
    }
    // and no webhook was sent for any of them
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    assert_eq!(receiver.received().len(), 0);
    assert_eq!(s.handle.webhook_stats().enqueued, 0);
    // and an unknown kind or connection is refused
    for (body, status) in [
        (json!({"connection_id": CONN, "kind": "parcels"}), 422),
        (json!({"connection_id": "conn_nope", "kind": "orders"}), 404),
        (
            json!({"connection_id": CONN, "kind": "orders", "age_hours": 0}),
            422,
        ),
    ] {
        let response = s
            .req(Method::POST, "/_sim/late-record")
            .json(&body)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), status, "{body}");
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn the_control_api_creates_and_updates_each_new_kind_with_its_webhook() {
    let receiver = Receiver::start(0).await;
    let s = sim().await;
    s.handle.set_webhook_target(Some(receiver.target.clone()));
    let mut expected = Vec::new();
    for (kind, event) in [
        ("warehouse", "warehouse"),
        ("shipping_method", "shipping-method"),
        ("bill", "bill"),
        ("inbound_shipment", "inbound-shipment"),
        ("return", "return"),
    ] {
        for action in ["create", "update"] {
            // when a kind is created or updated through POST /_sim/mutate
            let response = s
                .http
                .post(s.handle.url("/_sim/mutate"))
                .json(&json!({"connection_id": CONN, "kind": kind, "action": action}))
                .send()
                .await
                .expect("response");
            // then the outcome names one change of that kind
            assert_eq!(response.status(), 200);
            let outcome: Value = response.json().await.expect("json");
            let changes = outcome["changes"].as_array().expect("changes");
            assert_eq!(changes.len(), 1, "{kind} {action}: {outcome}");
            let event_type = format!("{event}.{action}d");
            assert_eq!(changes[0][0], event_type.as_str());
            expected.push(event_type);
        }
    }
    // and a receipt is its own event
    let response = s
        .http
        .post(s.handle.url("/_sim/mutate"))
        .json(&json!({"connection_id": CONN, "kind": "inbound_receipt"}))
        .send()
        .await
        .expect("response");
    let outcome: Value = response.json().await.expect("json");
    assert_eq!(outcome["changes"][0][0], "inbound-shipment.receipt.created");
    expected.push("inbound-shipment.receipt.created".to_owned());
    // and the webhooks arrive in that order
    assert!(
        s.handle
            .wait_webhooks_idle(std::time::Duration::from_secs(5))
            .await
    );
    let received: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["event_type"].as_str().expect("type").to_owned())
        .collect();
    assert_eq!(received, expected);
    // and an unknown action is refused
    let response = s
        .http
        .post(s.handle.url("/_sim/mutate"))
        .json(&json!({"connection_id": CONN, "kind": "bill", "action": "delete"}))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 422);
    s.handle.shutdown().await;
}
