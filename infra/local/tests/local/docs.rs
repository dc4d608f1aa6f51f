//! The API reference page in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `infra/scripts/chromium.sh`, which `make test` runs) loads `/docs` from the
//! local gateway under the page's Content-Security-Policy, and the rendered page lists every
//! operation of the served `openapi.json` — method, path and operationId, as a reader sees
//! them. The browser reaches nothing but loopback: every other request goes to a recording
//! proxy that refuses it, and the test asserts it recorded none.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use packr::api::docs::{ASSETS, CONTENT_SECURITY_POLICY};
use serde_json::{json, Value};

/// One operation: what the reference page shows of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Operation {
    method: String,
    path: String,
    id: String,
}

impl Operation {
    fn new(method: &str, path: &str, id: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            id: id.to_owned(),
        }
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of an OpenAPI document.
fn document_operations(doc: &Value) -> BTreeSet<Operation> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.insert(Operation::new(
                    method,
                    path,
                    op["operationId"].as_str().unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// The text between `start` and the next `end` in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The operations Swagger UI rendered: each `opblock` with its method, path (`data-path`)
/// and operationId (shown with `displayOperationId`).
fn rendered_operations(dom: &str) -> BTreeSet<Operation> {
    dom.split("<div class=\"opblock opblock-")
        .skip(1)
        .filter_map(|block| {
            let method = between(block, "class=\"opblock-summary-method\">", "<")?;
            let path = between(block, "data-path=\"", "\"")?;
            let id = between(block, "class=\"opblock-summary-operation-id\">", "<")?;
            Some(Operation::new(method, &path.replace("&amp;", "&"), id))
        })
        .collect()
}

/// What the document has that the page does not show.
fn missing<'a>(
    document: &'a BTreeSet<Operation>,
    rendered: &BTreeSet<Operation>,
) -> Vec<&'a Operation> {
    document
        .iter()
        .filter(|op| !rendered.contains(op))
        .collect()
}

#[test]
fn an_operation_the_page_does_not_show_is_reported_missing() {
    // given a page showing two operations, as Swagger UI renders them
    let block = |method: &str, path: &str, id: &str| {
        format!(
            "<div class=\"opblock opblock-{}\" id=\"operations-default-{id}\"><div class=\"opblock-summary\">\
             <span class=\"opblock-summary-method\">{method}</span><span class=\"opblock-summary-path\" \
             data-path=\"{path}\"><a class=\"nostyle\"><span>{path}</span></a></span>\
             <span class=\"opblock-summary-operation-id\">{id}</span></div></div>",
            method.to_ascii_lowercase()
        )
    };
    let dom = format!(
        "<html><body>{}{}</body></html>",
        block("GET", "/orders", "ListOrders"),
        block("GET", "/orders/{order_id}", "GetOrder")
    );
    let rendered = rendered_operations(&dom);
    assert_eq!(rendered.len(), 2);
    // when the document has those two and a third
    let doc = json!({ "paths": {
        "/orders": { "get": { "operationId": "ListOrders" }, "post": { "operationId": "CreateOrder" } },
        "/orders/{order_id}": { "get": { "operationId": "GetOrder" }, "parameters": [] }
    }});
    let expected = document_operations(&doc);
    assert_eq!(expected.len(), 3);
    // then exactly the third is missing
    assert_eq!(
        missing(&expected, &rendered),
        vec![&Operation::new("post", "/orders", "CreateOrder")]
    );
    // and an operation shown under another id or path counts as missing too
    let renamed = dom.replace(">GetOrder<", ">FetchOrder<");
    assert_eq!(missing(&expected, &rendered_operations(&renamed)).len(), 2);
}

/// A proxy that records the first line of every request sent to it and refuses it: the
/// browser's route to anything but loopback.
struct RecordingProxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RecordingProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                seen2
                    .lock()
                    .expect("not poisoned")
                    .push(line.trim().to_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops it; what it recorded.
    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let seen = self.seen.lock().expect("not poisoned").clone();
        seen
    }
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PACKR_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: run `bash infra/scripts/chromium.sh` (make test does)",
        path.display()
    );
    path
}

/// Loads `url` in headless Chromium with a fresh profile, no network but loopback (the rest
/// through `proxy`), and lets the page run for a virtual 10 s (virtual time waits for the
/// page's loads). The DOM it rendered and the
/// browser's log (console messages included).
fn render(url: &str, proxy: u16, dir: &Path) -> (String, String) {
    let (dom_path, log_path) = (dir.join("dom.html"), dir.join("chromium.log"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-quic",
            // The browser's own services (clock, sign-in, component updates) ask their
            // hosts even so: sent to a closed loopback port instead.
            "--disable-features=NetworkTimeServiceQuerying",
            "--gaia-url=http://127.0.0.1:1",
            "--component-updater=url-source=http://127.0.0.1:1/",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--proxy-server=http://127.0.0.1:{proxy}"))
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom_path).expect("a DOM file"))
        .stderr(std::fs::File::create(&log_path).expect("a log file"))
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("chromium waits") {
            Some(status) => {
                assert!(status.success(), "chromium exited with {status}");
                break;
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    (
        std::fs::read_to_string(&dom_path).expect("the DOM"),
        std::fs::read_to_string(&log_path).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_every_operation_in_a_real_browser_under_its_policy() {
    // given the local stack (as `make dev` runs it) on a loopback port
    let (running, _jwt) = crate::gateway_with_jwt(1).await;
    let base = running.gateway_url.clone();
    let http = reqwest::Client::new();

    // the page is served open, under its policy; the vendored assets are immutable
    let page = http
        .get(format!("{base}/docs"))
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert_eq!(h["content-security-policy"], CONTENT_SECURITY_POLICY);
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
    assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    let bundle = ASSETS
        .iter()
        .find(|a| a.name.ends_with("-bundle.js"))
        .expect("the bundle");
    let asset = http
        .get(format!("{base}/docs/assets/{}", bundle.name))
        .send()
        .await
        .expect("answers");
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        asset.bytes().await.expect("the bundle").len(),
        bundle.body.len()
    );

    // and the document the page renders
    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let expected = document_operations(&doc);
    assert!(expected.len() >= 39, "{} operations", expected.len());

    // when headless Chromium loads the page
    let dir = std::env::temp_dir().join(format!("packr-docs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let proxy = RecordingProxy::start();
    let url = format!("{base}/docs");
    let (dom, log) = {
        let (url, dir, port) = (url.clone(), dir.clone(), proxy.port);
        tokio::task::spawn_blocking(move || render(&url, port, &dir))
            .await
            .expect("joined")
    };
    let outside = proxy.finish();
    let _ = std::fs::remove_dir_all(&dir);

    // then the rendered page lists every operation of the document, and nothing else
    let rendered = rendered_operations(&dom);
    assert_eq!(
        missing(&expected, &rendered),
        Vec::<&Operation>::new(),
        "operations of openapi.json the page does not show"
    );
    assert_eq!(rendered, expected);
    // (and would report one more of the document as missing)
    let mut more = doc.clone();
    more["paths"]["/nowhere"] = json!({ "delete": { "operationId": "DeleteNowhere" } });
    assert_eq!(
        missing(&document_operations(&more), &rendered),
        vec![&Operation::new("delete", "/nowhere", "DeleteNowhere")]
    );
    // the policy blocked nothing the page needs, and the page asked nothing of another host
    let violations: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Content Security Policy"))
        .collect();
    assert_eq!(violations, Vec::<&str>::new());
    assert_eq!(outside, Vec::<String>::new(), "requests beyond loopback");
}
