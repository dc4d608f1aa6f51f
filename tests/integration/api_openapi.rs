//! The OpenAPI document: served at `GET /openapi.json`, committed as `openapi.json`.
//! Regenerate the file with `UPDATE_OPENAPI=1 cargo test -p packr-tests openapi`.

use packr::api::openapi::document_text;
use packr::api::router::ROUTES;
use serde_json::Value;

use crate::api_support::*;

fn committed_path() -> String {
    format!("{}/../openapi.json", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn the_served_document_equals_the_committed_openapi_json() {
    let generated = document_text();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(committed_path())
        .expect("openapi.json is committed at the repository root");
    assert_eq!(
        committed, generated,
        "openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p packr-tests openapi"
    );
    // and the route serves the same document, without a token
    let s = api_stack().await;
    let r = s
        .call(event(
            "GET",
            "/openapi.json",
            &Caller::without_claims(),
            None,
            &[],
        ))
        .await;
    assert_eq!(r.status, 200);
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(r.body, committed);
}

#[test]
fn the_document_is_openapi_3_1_and_describes_every_route() {
    let doc: Value = serde_json::from_str(&document_text()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in ROUTES {
        let op = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} is missing", route.route_key());
        assert!(op["responses"].is_object());
    }
    assert!(
        doc["components"]["schemas"]["CreateOrderBody"]["properties"]["line_items"].is_object()
    );
    assert!(doc["components"]["schemas"]["Error"].is_object());
}

/// `template.yaml` routes every API route to the function the route table names, and the
/// OpenAPI route alone has no authorizer.
#[test]
fn template_routes_match_the_route_table() {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, e) in events {
            if e["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &e["Properties"];
            let open = p["Auth"]["Authorizer"].as_str() == Some("NONE");
            found.push((
                p["Method"].as_str().unwrap().to_owned(),
                p["Path"].as_str().unwrap().to_owned(),
                binary.clone(),
                !open,
            ));
        }
    }
    found.sort();
    let mut expected: Vec<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
                r.authorized,
            )
        })
        .collect();
    // and the `$default` route, open, on api-docs (405/404 for what no route matches)
    expected.push(("ANY".into(), "$default".into(), "api-docs".into(), false));
    expected.sort();
    assert_eq!(found, expected);
}
