//! `GET /orders` under concurrent clients through the local gateway (JWT verified, the
//! API Gateway v2 event built, the `api-orders` handler, its DynamoDB Query) against a
//! bare DynamoDB `Query` of the same page on the same emulator; and the read units one
//! API read costs, computed from the items its Query returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};

use super::verdicts::VerdictLog;
use super::webhook::{drive, LoadOptions};
use crate::dev_jwt::DevJwt;
use crate::recorder::{attribute_item_size, Recorder};
use crate::stats::Summary;
use crate::testing::fresh_local_stack;
use crate::webhooks::{start, WebhookOptions};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiReport {
    pub clients: usize,
    pub requests_per_client: usize,
    pub page_limit: usize,
    pub objects_stored: usize,
    pub api_ms: Summary,
    pub api_failed: usize,
    pub api_wall_s: f64,
    pub floor_ms: Summary,
    pub floor_wall_s: f64,
    /// Items the bare Query returned (the page plus the look-ahead item).
    pub page_items: usize,
    pub page_bytes: usize,
    /// DynamoDB calls one `GET /orders` made (request recorder).
    pub calls_per_read: std::collections::BTreeMap<String, u64>,
    /// Eventually consistent Query: ⌈Σ item size / 4 KB⌉ × 0.5, plus 1 per `GetItem`.
    pub read_units_per_api_read: f64,
    /// The bare Query's units by the same rule.
    pub floor_read_units: f64,
    /// Wall time of one handler invocation as the gateway timed it, unloaded (ms, median of 20).
    pub api_unloaded_ms: f64,
    /// DynamoDB write units of the tenant quota per API request under the concurrent
    /// clients (`api-orders`' quota counters: `UpdateItem`s per check, 1 unit each); `None`
    /// if the function runs without quotas.
    pub quota_write_units_per_request: Option<f64>,
    /// Of those checks, how many the in-process fallback answered (the shared window not
    /// reached within the quota timeout): a figure with many of them measures the fallback.
    pub quota_checks: Option<(u64, u64)>,
}

pub async fn run(
    sdk: &SdkConfig,
    verdicts: &VerdictLog,
    clients: usize,
    per_client: usize,
) -> anyhow::Result<ApiReport> {
    let page_limit = 50;
    let jwt = DevJwt::generate();
    let stack = Arc::new(fresh_local_stack(sdk).await);
    let running = start(
        sdk,
        stack,
        WebhookOptions {
            pollers: 2,
            orders_per_connection: 150,
            jwt: Some(jwt.clone()),
            ..WebhookOptions::default()
        },
    )
    .await?;
    // Orders to page through: changes raised through the simulator, applied by the pipeline.
    let seeded = drive(
        sdk,
        &running,
        verdicts,
        &LoadOptions {
            events: 240,
            rate: 60.0,
            concurrency: 4,
            pollers: 2,
            ..LoadOptions::default()
        },
    )
    .await?;
    let token = jwt.mint(
        "bench",
        &running.demo.tenant_id,
        "tenant_admin",
        &[],
        Duration::from_secs(3600),
    );
    let url = format!("{}/orders?limit={page_limit}", running.gateway_url);
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(clients)
        .build()?;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let table = running.stack.resources.table_name.clone();
    let partition = format!("T#{}#ORDER", running.demo.tenant_id);
    let bare = {
        let ddb = ddb.clone();
        let table = table.clone();
        let partition = partition.clone();
        move || {
            ddb.query()
                .table_name(&table)
                .index_name("gsi2")
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", "gsi2pk")
                .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(page_limit + 1).unwrap_or(51))
                .send()
        }
    };
    let get = {
        let http = http.clone();
        let url = url.clone();
        let token = token.clone();
        move || http.get(&url).bearer_auth(&token).send()
    };

    // One read of each, recorded: the calls one API read makes and the page's items.
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let recorder = Recorder::new(&endpoint);
    let page = bare().await?;
    let items = page.items.unwrap_or_default();
    let page_bytes: usize = items.iter().map(attribute_item_size).sum();
    let floor_read_units = (page_bytes.div_ceil(4096) as f64 * 0.5).max(0.5);
    recorder.restart().await?;
    let answer = get().await?;
    anyhow::ensure!(
        answer.status().is_success(),
        "GET /orders answered {}",
        answer.status()
    );
    answer.bytes().await?;
    let recorded = recorder.take().await?;
    let gets = recorded.calls.get("GetItem").copied().unwrap_or(0) as f64;
    let queries = recorded.calls.get("Query").copied().unwrap_or(0) as f64;
    let read_units_per_api_read = floor_read_units * queries.max(1.0) + gets;

    // Unloaded handler time (the gateway's view of one invocation), for the cost model.
    let mut unloaded = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        get().await?.bytes().await?;
        unloaded.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let api_unloaded_ms = Summary::of(&unloaded).p50;

    // Warm both, then 50 clients of each.
    for _ in 0..clients {
        get().await?.bytes().await?;
        bare().await?;
    }
    let quota = running
        .gateway
        .api
        .as_ref()
        .and_then(|host| host.functions.get("api-orders"))
        .and_then(|deps| deps.quota.clone());
    let quota_before = quota.as_ref().map(|q| q.stats());
    let api_started = Instant::now();
    let api: Vec<Result<f64, String>> = stream::iter(0..clients)
        .map(|_| {
            let get = get.clone();
            async move {
                let mut out = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    let result = match get().await {
                        Ok(r) if r.status().is_success() => r
                            .bytes()
                            .await
                            .map(|_| t.elapsed().as_secs_f64() * 1000.0)
                            .map_err(|e| e.to_string()),
                        Ok(r) => Err(format!("status {}", r.status())),
                        Err(e) => Err(e.to_string()),
                    };
                    out.push(result);
                }
                out
            }
        })
        .buffer_unordered(clients)
        .flat_map(stream::iter)
        .collect()
        .await;
    let api_wall_s = api_started.elapsed().as_secs_f64();
    let quota_during = quota
        .as_ref()
        .zip(quota_before)
        .map(|(q, before)| q.stats().since(before));
    let quota_write_units_per_request = quota_during.map(|q| q.write_units_per_check());
    let quota_checks = quota_during.map(|q| (q.checks, q.fallbacks));
    let floor_started = Instant::now();
    let floor: Vec<Result<f64, String>> = stream::iter(0..clients)
        .map(|_| {
            let bare = bare.clone();
            async move {
                let mut out = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let t = Instant::now();
                    out.push(
                        bare()
                            .await
                            .map(|_| t.elapsed().as_secs_f64() * 1000.0)
                            .map_err(|e| e.to_string()),
                    );
                }
                out
            }
        })
        .buffer_unordered(clients)
        .flat_map(stream::iter)
        .collect()
        .await;
    let floor_wall_s = floor_started.elapsed().as_secs_f64();
    running.shutdown().await;
    let ok = |v: &[Result<f64, String>]| {
        v.iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect::<Vec<_>>()
    };
    if let Some(Err(e)) = floor.iter().find(|r| r.is_err()) {
        anyhow::bail!("a bare Query failed: {e}");
    }
    Ok(ApiReport {
        clients,
        requests_per_client: per_client,
        page_limit,
        objects_stored: seeded.objects_checked,
        api_ms: Summary::of(&ok(&api)),
        api_failed: api.iter().filter(|r| r.is_err()).count(),
        api_wall_s,
        floor_ms: Summary::of(&ok(&floor)),
        floor_wall_s,
        page_items: items.len(),
        page_bytes,
        calls_per_read: recorded.calls,
        read_units_per_api_read,
        floor_read_units,
        api_unloaded_ms,
        quota_write_units_per_request,
        quota_checks,
    })
}
