//! `GET /docs`: the API reference page. Swagger UI renders the served `openapi.json`; its
//! bundle, stylesheet and licences are pinned in `infra/docs-ui/package.json` (npm, with
//! `package-lock.json`), vendored in `infra/docs-ui/vendor/` (`vendor.sh check` proves them
//! byte-identical to `npm ci`), embedded here and served by api-docs itself at
//! `GET /docs/assets/{file}`: the page loads nothing from another origin.
//!
//! Every answer carries a Content-Security-Policy that allows only what the page needs:
//! scripts and stylesheets from its own origin (the start script is a file, not inline),
//! `fetch` of its own origin (the document, and "Try it out"), images from its own origin
//! and `data:` (Swagger UI's icons), and no framing.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};

use super::error::ApiError;
use super::request::{request_id, respond};
use super::routes::RouteId;

/// The pinned swagger-ui-dist version (`infra/docs-ui/package.json`; a test keeps them equal).
macro_rules! ui_version {
    () => {
        "5.36.0"
    };
}
pub const UI_VERSION: &str = ui_version!();

/// The page's path, and where its assets are served.
pub const PAGE_PATH: &str = "/docs";
pub const ASSETS_PREFIX: &str = "/docs/assets/";

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Vendored assets carry the UI version in their names, so they never change under a name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page and Packr's own start script change with Packr: revalidated each time.
const REVALIDATE: &str = "no-cache";

/// One file under `/docs/assets/`.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    pub cache_control: &'static str,
}

macro_rules! vendored {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/docs-ui/vendor/",
            $file
        ))
    };
}

const BUNDLE: &str = concat!("swagger-ui-", ui_version!(), "-bundle.js");
const CSS: &str = concat!("swagger-ui-", ui_version!(), ".css");
const LICENSE: &str = concat!("swagger-ui-", ui_version!(), "-LICENSE.txt");
const NOTICE: &str = concat!("swagger-ui-", ui_version!(), "-NOTICE.txt");
const THIRD_PARTY: &str = concat!("swagger-ui-", ui_version!(), "-bundle.js.LICENSE.txt");
const INIT: &str = "packr-docs.js";

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

pub const ASSETS: &[Asset] = &[
    Asset {
        name: BUNDLE,
        content_type: JS,
        body: vendored!("swagger-ui-bundle.js"),
        cache_control: IMMUTABLE,
    },
    Asset {
        name: CSS,
        content_type: "text/css; charset=utf-8",
        body: vendored!("swagger-ui.css"),
        cache_control: IMMUTABLE,
    },
    Asset {
        name: LICENSE,
        content_type: TEXT,
        body: vendored!("LICENSE"),
        cache_control: IMMUTABLE,
    },
    Asset {
        name: NOTICE,
        content_type: TEXT,
        body: vendored!("NOTICE"),
        cache_control: IMMUTABLE,
    },
    Asset {
        name: THIRD_PARTY,
        content_type: TEXT,
        body: vendored!("swagger-ui-bundle.js.LICENSE.txt"),
        cache_control: IMMUTABLE,
    },
    Asset {
        name: INIT,
        content_type: JS,
        body: include_bytes!("packr-docs.js"),
        cache_control: REVALIDATE,
    },
];

/// The media types the assets are served as, without parameters (for the OpenAPI document).
pub fn asset_media_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = ASSETS
        .iter()
        .map(|a| a.content_type.split(';').next().unwrap_or(a.content_type))
        .collect();
    types.sort_unstable();
    types.dedup();
    types
}

/// The page: links to the assets by their versioned names; relative, so it works under a
/// stage or base path too.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("index.html")
        .replace("{{VERSION}}", UI_VERSION)
        .replace("{{CSS}}", CSS)
        .replace("{{BUNDLE}}", BUNDLE)
        .replace("{{INIT}}", INIT)
        .replace("{{LICENSE}}", LICENSE)
        .replace("{{NOTICE}}", NOTICE)
        .replace("{{THIRD_PARTY}}", THIRD_PARTY)
});

fn with_headers(
    mut response: Response<Body>,
    cache_control: Option<&'static str>,
) -> Response<Body> {
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    if let Some(value) = cache_control {
        h.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static(value),
        );
    }
    response
}

fn file(content_type: &'static str, body: Body, cache_control: &'static str) -> Response<Body> {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    with_headers(response, Some(cache_control))
}

fn body_of(bytes: &'static [u8]) -> Body {
    match std::str::from_utf8(bytes) {
        Ok(text) => Body::Text(text.to_owned()),
        Err(_) => Body::Binary(bytes.to_vec()),
    }
}

/// The asset named `name`, if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// `GET /docs` and `GET /docs/assets/{file}` (no authorizer, no dependencies); `None` for
/// any other request. An unknown asset is a 404 in Packr's error envelope.
pub fn serve(request: &Request) -> Option<Response<Body>> {
    if request.method() != http::Method::GET {
        return None;
    }
    let path = request.uri().path();
    if path == PAGE_PATH {
        return Some(file(
            "text/html; charset=utf-8",
            Body::Text(PAGE.clone()),
            REVALIDATE,
        ));
    }
    let name = path.strip_prefix(ASSETS_PREFIX)?;
    Some(match asset(name) {
        Some(a) => file(a.content_type, body_of(a.body), a.cache_control),
        None => {
            let err = ApiError::new(
                http::StatusCode::NOT_FOUND,
                "asset_not_found",
                "no such asset of the docs page",
            );
            with_headers(respond(Err(err), &request_id(request)), None)
        }
    })
}

/// The docs routes as routed handlers (the router's view of api-docs).
pub fn handle(id: RouteId, request: &Request) -> Response<Body> {
    serve(request).unwrap_or_else(|| {
        let err = ApiError::new(
            http::StatusCode::NOT_FOUND,
            "route_not_found",
            format!("{id:?} does not answer this request"),
        );
        respond(Err(err), &request_id(request))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Response<Body> {
        let request = http::Request::builder()
            .method("GET")
            .uri(format!("https://api.example.com{path}"))
            .body(Body::Empty)
            .unwrap();
        serve(&request).expect("a docs path")
    }

    fn text(response: &Response<Body>) -> String {
        String::from_utf8(response.body().as_ref().to_vec()).unwrap()
    }

    #[test]
    fn the_page_links_every_script_and_stylesheet_to_an_asset_served_here() {
        // when the page is asked for
        let r = get("/docs");
        // then it is HTML under the policy, and each src/href under docs/assets/ names an asset
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(
            r.headers()["content-security-policy"],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        let page = text(&r);
        assert!(!page.contains("{{"), "every placeholder is filled");
        let linked: Vec<&str> = page
            .split("\"docs/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(linked.len(), 6, "{linked:?}");
        for name in &linked {
            assert!(asset(name).is_some(), "{name} is not served");
        }
        // and no script is inline, nothing comes from another origin
        assert_eq!(page.matches("<script").count(), 2);
        assert_eq!(page.matches("<script src=\"docs/assets/").count(), 2);
        assert!(!page.contains("//"), "no absolute or protocol-relative URL");
    }

    #[test]
    fn vendored_assets_are_immutable_under_versioned_names_and_an_unknown_one_is_a_404() {
        let r = get(&format!("/docs/assets/{BUNDLE}"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], JS);
        assert_eq!(r.headers()["cache-control"], IMMUTABLE);
        assert!(r.body().as_ref().len() > 1_000_000);
        for a in ASSETS.iter().filter(|a| a.cache_control == IMMUTABLE) {
            assert!(a.name.contains(UI_VERSION), "{}", a.name);
        }
        let r = get("/docs/assets/packr-docs.js");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert!(text(&r).contains("validatorUrl: null"));
        let r = get("/docs/assets/swagger-ui-0.0.1-bundle.js");
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "asset_not_found");
    }

    #[test]
    fn other_paths_and_methods_are_not_the_docs_pages() {
        let post = http::Request::builder()
            .method("POST")
            .uri("https://api.example.com/docs")
            .body(Body::Empty)
            .unwrap();
        assert!(serve(&post).is_none());
        let other = http::Request::builder()
            .method("GET")
            .uri("https://api.example.com/docs/other")
            .body(Body::Empty)
            .unwrap();
        assert!(serve(&other).is_none());
    }

    #[test]
    fn api_docs_default_route_serves_the_page_and_names_get_for_another_method() {
        // given api-docs' handler (what its main runs for every request)
        let call = |method: &str, path: &str| {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("https://api.example.com{path}"))
                .body(Body::Empty)
                .unwrap();
            super::super::openapi::default_route(&request)
        };
        // then GET answers the page and the assets, another method a 405 naming GET
        assert_eq!(call("GET", "/docs").status(), 200);
        assert_eq!(call("GET", &format!("/docs/assets/{CSS}")).status(), 200);
        for (method, path) in [
            ("POST", "/docs".to_owned()),
            ("DELETE", format!("/docs/assets/{CSS}")),
        ] {
            let r = call(method, &path);
            assert_eq!(r.status(), 405, "{method} {path}");
            assert_eq!(r.headers()["allow"], "GET", "{method} {path}");
        }
        // and a path beside them stays a 404
        assert_eq!(call("GET", "/docs/assets/a/b").status(), 404);
        assert_eq!(call("GET", "/docs/other").status(), 404);
    }

    #[test]
    fn the_ui_version_is_the_one_npm_pins() {
        // given the package.json and the lock that vendor.sh installs from
        let package: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/docs-ui/package.json"
        )))
        .unwrap();
        let lock: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/docs-ui/package-lock.json"
        )))
        .unwrap();
        // then both name exactly this version
        assert_eq!(
            package["dependencies"]["swagger-ui-dist"],
            serde_json::json!(UI_VERSION)
        );
        assert_eq!(
            lock["packages"]["node_modules/swagger-ui-dist"]["version"],
            serde_json::json!(UI_VERSION)
        );
    }
}
