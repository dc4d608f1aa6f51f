use serde_json::json;

use crate::support::{sim, API_KEY, CONN, TOKEN};

#[tokio::test]
async fn missing_or_wrong_api_key_is_401() {
    let s = sim().await;
    let none = s
        .http
        .get(s.handle.url("/connections"))
        .send()
        .await
        .expect("response");
    let wrong = s
        .http
        .get(s.handle.url("/connections"))
        .header("x-trackstar-api-key", "nope")
        .send()
        .await
        .expect("response");
    assert_eq!(none.status(), 401);
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(body["origin"], "trackstar");
    assert!(body["error"].is_string());
    s.handle.shutdown().await;
}

#[tokio::test]
async fn wms_needs_a_known_access_token() {
    let s = sim().await;
    let unknown = s
        .http
        .get(s.handle.url("/wms/orders"))
        .header("x-trackstar-api-key", API_KEY)
        .header("x-trackstar-access-token", "tok_unknown")
        .send()
        .await
        .expect("response");
    let missing = s
        .http
        .get(s.handle.url("/wms/orders"))
        .header("x-trackstar-api-key", API_KEY)
        .send()
        .await
        .expect("response");
    assert_eq!(unknown.status(), 401);
    assert_eq!(missing.status(), 401);
    s.handle.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = sim().await;
    let ok = s.get("/wms/orders?limit=1").send().await.expect("response");
    let denied = s
        .http
        .get(s.handle.url("/wms/orders"))
        .send()
        .await
        .expect("response");
    for response in [ok, denied] {
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(id.starts_with("req_"), "{id}");
    }
    s.handle.shutdown().await;
}

#[tokio::test]
async fn link_exchange_returns_known_connections_and_creates_new_ones() {
    let s = sim().await;
    let token = s
        .http
        .post(s.handle.url("/link/token"))
        .header("x-trackstar-api-key", API_KEY)
        .send()
        .await
        .expect("response");
    assert_eq!(token.status(), 200);
    let token: serde_json::Value = token.json().await.expect("json");
    assert!(token["link_token"].is_string());

    let exchange = |code: &str| {
        s.http
            .post(s.handle.url("/link/exchange"))
            .header("x-trackstar-api-key", API_KEY)
            .json(&json!({"auth_code": code, "customer_id": "brand_1"}))
            .send()
    };
    let known: serde_json::Value = exchange(&format!("auth_{CONN}"))
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(known["access_token"], TOKEN);
    assert_eq!(known["connection_id"], CONN);

    let new: serde_json::Value = exchange("auth_conn_new")
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(new["connection_id"], "conn_new");
    let new_token = new["access_token"].as_str().expect("token").to_owned();
    let orders = s
        .http
        .get(s.handle.url("/wms/orders?limit=1"))
        .header("x-trackstar-api-key", API_KEY)
        .header("x-trackstar-access-token", &new_token)
        .send()
        .await
        .expect("response");
    assert_eq!(orders.status(), 200, "the new connection has seeded data");

    let (status, list) = s.get_json("/connections").await;
    assert_eq!(status, 200);
    assert_eq!(list["total_count"], 2);
    let (status, one) = s.get_json("/connections/conn_new").await;
    assert_eq!(status, 200);
    assert_eq!(one["data"][0]["customer_id"], "brand_1");
    let (status, _) = s.get_json("/connections/conn_nope").await;
    assert_eq!(status, 404);
    s.handle.shutdown().await;
}
