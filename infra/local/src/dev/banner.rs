//! The table `packr-dev` prints once everything is up.

use std::path::Path;

use super::state::StateDir;
use crate::emulator::MotoProcess;
use crate::schedule::Pace;
use crate::stack::LocalStack;
use crate::webhooks::WebhookStack;

pub(super) fn print(
    stack: &LocalStack,
    moto: &MotoProcess,
    webhooks: &WebhookStack,
    state: &StateDir,
) {
    let relative = |path: &Path| path.display().to_string();
    let gateway = &webhooks.gateway_url;
    let sim = &webhooks.sim.base_url;
    let demo = &webhooks.demo;
    let mut rows: Vec<(String, String)> = vec![
        (
            "AWS emulator (moto)".to_owned(),
            format!(
                "{}  pid {}, log {}",
                stack.aws_endpoint_url,
                moto.pid(),
                relative(&state.moto_log())
            ),
        ),
        (
            "local gateway".to_owned(),
            format!(
                "{gateway}  API routes (JWT authorizer), the API reference {gateway}/docs, GET /_local/health, GET /_local/stack"
            ),
        ),
        (
            "webhook function URL".to_owned(),
            format!("{}  (webhook-ingest)", webhooks.webhook_url),
        ),
        (
            "Trackstar simulator".to_owned(),
            format!("{sim}  control API {sim}/_sim/…, posts webhooks to the function URL"),
        ),
        (
            "SQS poller (ESM)".to_owned(),
            "WebhookQueue → webhook-processor, batch 10, partial batch failures".to_owned(),
        ),
        (
            "SQS poller (ESM)".to_owned(),
            format!(
                "SyncJobsQueue → sync-worker, batch {}, deadline {} s (the function's Timeout), {} pollers",
                webhooks.sync.batch_size,
                webhooks.sync.timeout.as_secs(),
                webhooks.sync.pollers
            ),
        ),
        (
            "SQS poller (ESM)".to_owned(),
            format!(
                "LifecycleJobsQueue → data-lifecycle (offboardings, erasures), batch {}, deadline {} s, {} poller(s); exports in bucket {}",
                webhooks.sync.lifecycle.batch_size,
                webhooks.sync.lifecycle.timeout.as_secs(),
                webhooks.sync.lifecycle.pollers,
                stack
                    .resources
                    .bucket_name("ExportBucket")
                    .unwrap_or("(not provisioned)")
            ),
        ),
        (
            "demo tenant".to_owned(),
            format!(
                "{}  brands {}",
                demo.tenant_id,
                demo.brands
                    .iter()
                    .map(|(brand, wc)| format!("{brand} ({wc})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "demo connection".to_owned(),
            format!(
                "{}  token in secret {}",
                demo.connection_id, demo.access_token_secret
            ),
        ),
        (
            "DynamoDB table".to_owned(),
            stack.resources.table_name.clone(),
        ),
    ];
    let pace = webhooks.sync.schedules.pace();
    for rule in webhooks.sync.schedules.rules() {
        let expression = rule.spec.schedule_expression.as_deref().unwrap_or("-");
        let targets: Vec<&str> = rule
            .spec
            .targets
            .iter()
            .map(|t| t.function.as_str())
            .collect();
        let running = webhooks
            .sync
            .schedules
            .active()
            .any(|r| r.spec.logical_id == rule.spec.logical_id);
        let how = match (running, pace) {
            (false, _) if !rule.spec.enabled => "disabled".to_owned(),
            (false, _) => "no target hosted locally".to_owned(),
            (true, Pace::RealTime) => "running".to_owned(),
            (true, Pace::Speedup(factor)) => format!("running {factor}× faster"),
            (true, Pace::Every(every)) => format!("running every {} ms", every.as_millis()),
        };
        rows.push((
            format!("schedule {}", rule.spec.logical_id),
            format!(
                "{expression} → {}  ({how})",
                if targets.is_empty() {
                    "no targets".to_owned()
                } else {
                    targets.join(", ")
                }
            ),
        ));
    }
    for (id, url) in &stack.resources.queue_urls {
        rows.push((format!("SQS {id}"), url.clone()));
    }
    for (id, arn) in &stack.resources.secret_arns {
        rows.push((format!("secret {id}"), arn.clone()));
    }
    for (id, name) in &stack.resources.bucket_names {
        rows.push((format!("S3 bucket {id}"), name.clone()));
    }
    let width = rows.iter().map(|(what, _)| what.len()).max().unwrap_or(0);

    println!();
    println!("Packr local stack is up. Ctrl-C stops everything.");
    println!();
    for (what, whereabouts) in &rows {
        println!("  {what:<width$}  {whereabouts}");
    }
    println!();
    println!("Watch webhooks flow (the simulator changes orders and posts signed webhooks):");
    println!(
        "  curl -s -X POST {sim}/_sim/mutate -H 'content-type: application/json' \\\n       -d '{{\"connection_id\":\"{}\",\"kind\":\"order\",\"count\":5}}'",
        demo.connection_id
    );
    println!(
        "  curl -s -X PUT {sim}/_sim/webhooks/options -H 'content-type: application/json' -d '{{\"duplicates\":true,\"reorder\":true}}'"
    );
    println!("  curl -s {sim}/_sim/webhooks          # deliveries, as the simulator saw them");
    println!(
        "  curl -s '{gateway}/_local/orders?tenant={}&limit=5'   # stored orders (local debugging route)",
        demo.tenant_id
    );
    println!("  curl -s {gateway}/_local/webhooks     # ack latency, metrics, queue depths");
    println!(
        "  curl -s {sim}/_sim/truth/{}          # the simulator's truth",
        demo.connection_id
    );
    println!();
    let incremental = webhooks
        .sync
        .schedules
        .rules()
        .iter()
        .find(|r| r.spec.logical_id == crate::sync::INCREMENTAL_RULE)
        .and_then(|r| r.spec.schedule_expression.clone())
        .unwrap_or_else(|| "-".to_owned());
    println!(
        "Sync: a full sync of {} was queued at start (GET /orders shows the simulator's orders in seconds).",
        demo.connection_id
    );
    println!(
        "  incremental sync of every active connection: {incremental}, pace: {} (set {}=60 for 60× faster, or {}=5000 for every 5 s)",
        match pace {
            Pace::RealTime => "real time".to_owned(),
            Pace::Speedup(factor) => format!("{factor}× faster"),
            Pace::Every(every) => format!("every {} ms", every.as_millis()),
        },
        crate::schedule::SPEEDUP_VAR,
        crate::schedule::EVERY_MS_VAR,
    );
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' -H \"Idempotency-Key: $(date +%s%N)\" \\\n       -d '{{\"mode\":\"full\"}}' '{gateway}/sync/run'   # an admin's full sync ($TOKEN as below)"
    );
    println!("  (source .local/dev/env) && cargo run -q -p packr-cli -- sync run --tenant demo-3pl --full   # the same from the ops CLI");
    println!();
    if let Some(api) = &webhooks.gateway.api {
        let token = api.jwt.mint(
            "dev-admin",
            &demo.tenant_id,
            "tenant_admin",
            &[],
            std::time::Duration::from_secs(12 * 3600),
        );
        println!("Call the API (a tenant_admin token of the demo tenant, valid 12 h; more with `packr token`):");
        println!("  TOKEN={token}");
        println!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{gateway}/orders?limit=5'");
        println!(
            "  TOKEN=$(cargo run -q -p packr-cli -- token --tenant {} --role brand_viewer --brand {})",
            demo.tenant_id,
            demo.brands.first().map(|(b, _)| b.as_str()).unwrap_or("BRAND")
        );
        println!();
    }
    println!(
        "Environment (also in {}; `source` it):",
        relative(&state.env_file())
    );
    for (name, value) in stack.environment() {
        println!("  export {name}={value}");
    }
    println!();
    println!("State: {}", relative(state.dir()));
}
