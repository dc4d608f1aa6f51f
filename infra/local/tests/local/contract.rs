//! The API against its own OpenAPI document, as a client team tests it: schemathesis (pinned
//! in `.venv` by `infra/requirements.txt`) runs every check (server errors, status code,
//! content type and response-header conformance, response schemas, negative data rejected,
//! positive data accepted, ignored auth, unsupported methods …) and its stateful phase
//! against the local gateway, once with a tenant_admin token and once with a brand_viewer
//! token, and must find nothing. Bounded: a fixed number of examples per operation and a
//! fixed seed (`PACKR_SCHEMATHESIS_SEED` picks another; `PACKR_SCHEMATHESIS_EXAMPLES`
//! more examples).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use packr_local::dev_jwt::DevJwt;
use packr_local::seed::DEMO_TENANT;
use packr_local::sync::SyncOptions;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};

const HOUR: Duration = Duration::from_secs(3600);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs schemathesis with `token`; its exit status and what it printed.
fn schemathesis(url: &str, token: &str) -> (bool, String) {
    let bin = repo().join(".venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: run `bash infra/scripts/venv.sh` (make test does)",
        bin.display()
    );
    let seed = std::env::var("PACKR_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261201".into());
    let examples = std::env::var("PACKR_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "5".into());
    let output = Command::new(bin)
        .arg("--config-file")
        .arg(repo().join("infra/schemathesis/schemathesis.toml"))
        .args([
            "run",
            &format!("{url}/openapi.json"),
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "60",
            "--suppress-health-check",
            "too_slow",
        ])
        .env("PYTHONPATH", repo().join("infra/schemathesis"))
        .env("PACKR_ST_TOKEN", token)
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_for_either_role() {
    // given the local stack with demo data and a known authorizer key (no sync workers:
    // exchanges queue syncs that nothing needs to run here)
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let jwt = DevJwt::generate();
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            orders_per_connection: 10,
            products_per_connection: 10,
            inventory_per_connection: 10,
            pollers: 1,
            jwt: Some(jwt.clone()),
            sync: SyncOptions {
                pollers: 0,
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    let brand = running.demo.brands[0].0.clone();
    let tokens = [
        (
            "tenant_admin",
            jwt.mint("st-admin", DEMO_TENANT, "tenant_admin", &[], HOUR),
        ),
        (
            "brand_viewer",
            jwt.mint("st-viewer", DEMO_TENANT, "brand_viewer", &[brand], HOUR),
        ),
    ];
    let url = running.gateway_url.clone();
    for (role, token) in tokens {
        // when schemathesis tests every operation with this role's token
        let url = url.clone();
        let (passed, report) = tokio::task::spawn_blocking(move || schemathesis(&url, &token))
            .await
            .expect("joined");
        // then it finds no failure
        let summary: String = report
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("schemathesis as {role}:\n{summary}");
        assert!(passed, "schemathesis as {role} found failures:\n{report}");
    }
    running.shutdown().await;
}
