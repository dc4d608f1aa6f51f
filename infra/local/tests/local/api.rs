//! The API routes on the local gateway: the dev JWT authorizer (401 as API Gateway answers)
//! and the handlers reached through the HTTP API v2 event.

use std::time::Duration;

use packr_local::dev_jwt::DevJwt;
use packr_local::seed::DEMO_TENANT;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_routes_sit_behind_the_jwt_authorizer() {
    // given the local stack with a known authorizer key
    let (running, jwt) = crate::gateway_with_jwt(5).await;
    let http = reqwest::Client::new();
    let orders = format!("{}/orders", running.gateway_url);
    let get = |token: Option<String>, url: String| {
        let mut request = http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    // a tenant_admin token lists orders
    let admin = jwt.mint("u-admin", DEMO_TENANT, "tenant_admin", &[], HOUR);
    let response = get(Some(admin.clone()), format!("{orders}?limit=5"))
        .await
        .expect("answers");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{body}");

    // no token, another key's token, a foreign audience, an expired token: 401 from the authorizer
    let mut claims = jwt.verify(&admin).expect("verifies");
    let now = chrono::Utc::now().timestamp();
    claims.aud = "someone-else".into();
    let foreign_audience = jwt.mint_claims(&claims);
    claims.aud = packr_local::dev_jwt::audience().into();
    claims.exp = now - 5;
    let expired = jwt.mint_claims(&claims);
    let other_key = DevJwt::generate().mint("u-admin", DEMO_TENANT, "tenant_admin", &[], HOUR);
    for (case, token) in [
        ("no token", None),
        ("bad signature", Some(other_key)),
        ("wrong audience", Some(foreign_audience)),
        ("expired", Some(expired)),
        ("garbage", Some("not.a.jwt".to_owned())),
    ] {
        let response = get(token, orders.clone()).await.expect("answers");
        assert_eq!(response.status(), 401, "{case}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({ "message": "Unauthorized" }),
            "{case}"
        );
    }

    // a brand_viewer of one brand gets 404 when filtering on another brand
    let (own, other) = (&running.demo.brands[0].0, &running.demo.brands[1].0);
    let viewer = jwt.mint(
        "u-viewer",
        DEMO_TENANT,
        "brand_viewer",
        std::slice::from_ref(own),
        HOUR,
    );
    let response = get(Some(viewer.clone()), format!("{orders}?brand_id={other}"))
        .await
        .expect("answers");
    assert_eq!(response.status(), 404);
    let response = get(Some(viewer), format!("{orders}?brand_id={own}"))
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);

    // the unauthenticated route needs no token
    let response = get(None, format!("{}/openapi.json", running.gateway_url))
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);

    // api-sync is hosted from its template environment (SYNC_JOBS_QUEUE_URL included)
    let sync_run = |token: String, key: &'static str| {
        http.post(format!("{}/sync/run", running.gateway_url))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&serde_json::json!({ "mode": "incremental" }))
            .send()
    };
    let response = sync_run(admin.clone(), "local-sync-1")
        .await
        .expect("answers");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["jobs"].as_array().map(Vec::len),
        Some(packr::resource::ResourceKind::ALL.len()),
        "{body}"
    );
    assert_eq!(
        body["jobs"][0]["connection_id"],
        running.demo.connection_id.as_str()
    );
    let staff = jwt.mint("u-staff", DEMO_TENANT, "tenant_staff", &[], HOUR);
    let response = sync_run(staff, "local-sync-2").await.expect("answers");
    assert_eq!(response.status(), 403);

    running.shutdown().await;
}
