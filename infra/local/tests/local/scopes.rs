//! The local gateway's authorizer checks each route's scopes as `template.yaml` declares
//! them: a token without the route's scope, or an ID-token-like one with no scope at all,
//! is refused with API Gateway's 403 before any function runs; the role check in the
//! function comes on top.

use std::time::Duration;

use packr_local::dev_jwt::{ADMIN_SCOPE, READ_SCOPE};
use packr_local::seed::DEMO_TENANT;
use serde_json::{json, Value};

const HOUR: Duration = Duration::from_secs(3600);

struct Answer {
    status: u16,
    /// `www-authenticate`: present on the authorizer's refusals only.
    challenge: Option<String>,
    body: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_refuse_tokens_without_their_scope_before_any_function_runs() {
    // given the local stack with a known authorizer key
    let (running, jwt) = crate::gateway_with_jwt(2).await;
    let http = reqwest::Client::new();
    let base = running.gateway_url.clone();
    let call = |method: &'static str, path: &'static str, token: String| {
        let request = match method {
            "GET" => http.get(format!("{base}{path}")),
            _ => http
                .post(format!("{base}{path}"))
                .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                .json(&json!({ "mode": "incremental" })),
        };
        async move {
            let response = request.bearer_auth(token).send().await.expect("answers");
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.json().await.expect("JSON");
            Answer {
                status,
                challenge,
                body,
            }
        }
    };
    let brand = running.demo.brands[0].0.clone();
    let mint = |role: &str, scopes: Option<&[&str]>| {
        let brands = if role.starts_with("brand_") {
            vec![brand.clone()]
        } else {
            Vec::new()
        };
        let scopes: Option<Vec<String>> =
            scopes.map(|s| s.iter().map(|s| (*s).to_owned()).collect());
        jwt.mint_scoped("u1", DEMO_TENANT, role, &brands, scopes.as_deref(), HOUR)
    };
    let forbidden_by_the_authorizer = |answer: &Answer, case: &str| {
        assert_eq!(answer.status, 403, "{case}: {}", answer.body);
        assert_eq!(answer.body, json!({ "message": "Forbidden" }), "{case}");
        let challenge = answer.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{case}: {challenge}"
        );
    };

    // when tokens with each role's own scopes call the routes of their groups
    // then they pass the authorizer
    let admin = jwt.mint("u1", DEMO_TENANT, "tenant_admin", &[], HOUR);
    assert_eq!(call("GET", "/orders", admin.clone()).await.status, 200);
    assert_eq!(call("POST", "/sync/run", admin).await.status, 202);
    let viewer = jwt.mint(
        "u2",
        DEMO_TENANT,
        "brand_viewer",
        std::slice::from_ref(&brand),
        HOUR,
    );
    assert_eq!(call("GET", "/orders", viewer.clone()).await.status, 200);

    // when a token lacks the route's scope: a viewer (read only) writes, a staff token
    // (read, write) runs a sync, an admin-only token reads
    forbidden_by_the_authorizer(
        &call("POST", "/orders", viewer).await,
        "brand_viewer on POST /orders",
    );
    let staff = jwt.mint("u3", DEMO_TENANT, "tenant_staff", &[], HOUR);
    forbidden_by_the_authorizer(
        &call("POST", "/sync/run", staff).await,
        "tenant_staff on POST /sync/run",
    );
    let admin_scope_only = mint("tenant_admin", Some(&[ADMIN_SCOPE]));
    forbidden_by_the_authorizer(
        &call("GET", "/orders", admin_scope_only).await,
        "admin scope only on GET /orders",
    );

    // when an ID-token-like JWT (every Packr claim, no scope claim) calls any route
    // then the authorizer refuses it, even with the admin role
    let id_token = mint("tenant_admin", None);
    assert!(
        !jwt.verify_all(&id_token)
            .expect("verifies")
            .contains_key("scope"),
        "the token has no scope claim"
    );
    for (method, path) in [("GET", "/orders"), ("GET", "/audit"), ("POST", "/sync/run")] {
        forbidden_by_the_authorizer(
            &call(method, path, id_token.clone()).await,
            &format!("ID token on {method} {path}"),
        );
    }

    // when a staff token is given the admin scope, the function's role check still refuses
    let staff_with_admin_scope = mint("tenant_staff", Some(&[READ_SCOPE, ADMIN_SCOPE]));
    let answer = call("POST", "/sync/run", staff_with_admin_scope).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(
        answer.challenge, None,
        "refused by the function, not the authorizer"
    );
    assert_eq!(answer.body["error"]["code"], "forbidden", "{}", answer.body);

    running.shutdown().await;
}
