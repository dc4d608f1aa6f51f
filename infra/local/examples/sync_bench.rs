//! Sync engine figures on the local stack: a full sync of one connection, a floor of bare
//! conditional PutItems of the same items on the same emulator, then an incremental sync
//! after 1,000 changes.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run --release -p packr-local --example sync_bench -- 20000 5000 5000 1000
//! ```
//! Arguments: orders, products, inventory items, changes. Webhooks are off (only the sync
//! engine moves data); 3 sync-worker pollers (one per resource job); the worker's
//! `SYNC_CLOCK_SKEW_SECONDS` is 0 so the incremental can run right after the changes'
//! second. DynamoDB writes are counted from the emulator's request recorder
//! (`/moto-api/recorder/…`): PutItem/UpdateItem calls and the PutItem items' sizes, write
//! units as DynamoDB bills them (⌈size / 1 KB⌉ for the table and for every GSI the item
//! has keys for). moto's own `ConsumedCapacity` is a constant per call, shown beside.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures::stream::{self, StreamExt};
use packr::sync::{SyncMode, SyncResource};
use packr_local::recorder::{sim_gets as gets, to_attribute, Recorder};
use packr_local::seed::{DEMO_CONNECTION, DEMO_TENANT};
use packr_local::sync::SyncOptions;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};
use trackstar_sim::{MutateRequest, MutationKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut arg = |default: usize| -> anyhow::Result<usize> {
        Ok(args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (orders, products, inventory, changes) =
        (arg(20_000)?, arg(5_000)?, arg(5_000)?, arg(1_000)?);
    let pollers = 3;

    let sdk = emulator_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            orders_per_connection: orders,
            products_per_connection: products,
            inventory_per_connection: inventory,
            sync: SyncOptions {
                pollers,
                worker_env: BTreeMap::from([("SYNC_CLOCK_SKEW_SECONDS".into(), "0".into())]),
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await?;
    running.sim.set_webhook_target(None);
    let recorder = Recorder::new(&endpoint);
    let write_concurrency = running.sync.worker.config.write_concurrency;

    // 1. full sync
    running.sim.reset_requests();
    recorder.restart().await?;
    let started = Instant::now();
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &SyncResource::ALL,
            SyncMode::Full,
            "bench",
        )
        .await?;
    let drained = running.sync.wait_drained(Duration::from_secs(3600)).await;
    let full_elapsed = started.elapsed().as_secs_f64();
    let full_gets = gets(&running.sim);
    let full_writes = recorder.take().await?;
    let applied = running.sync.worker_metrics.total("sync.records");
    let (full_units, mean_item) = full_writes.units();
    let synced_puts = full_writes.puts.len();

    // 2. floor: bare conditional PutItems of the recorded items, same emulator, same
    //    concurrency (pollers × write concurrency)
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let table = running.stack.resources.table_name.clone();
    let floor_n = 5_000.min(synced_puts.max(1));
    let step = (synced_puts / floor_n).max(1);
    let samples: Vec<HashMap<String, AttributeValue>> = full_writes
        .puts
        .iter()
        .step_by(step)
        .take(floor_n)
        .enumerate()
        .map(|(i, item)| {
            let mut item: HashMap<String, AttributeValue> = item
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect();
            item.insert("pk".into(), AttributeValue::S(format!("T#floor#X#{i}")));
            item
        })
        .collect();
    recorder.restart().await?;
    let floor_started = Instant::now();
    let results: Vec<Result<f64, String>> = stream::iter(samples.into_iter().map(|item| {
        let dynamo = dynamo.clone();
        let table = table.clone();
        async move {
            dynamo
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map(|out| {
                    out.consumed_capacity()
                        .and_then(|c| c.capacity_units())
                        .unwrap_or(0.0)
                })
                .map_err(|e| format!("{e:?}"))
        }
    }))
    .buffer_unordered(pollers * write_concurrency)
    .collect()
    .await;
    let floor_elapsed = floor_started.elapsed().as_secs_f64();
    let floor_ok = results.iter().filter(|r| r.is_ok()).count();
    let moto_units: f64 = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    let floor_writes = recorder.take().await?;
    let (floor_units, floor_item) = floor_writes.units();

    // 3. incremental after `changes` changes
    let next_second = || async {
        let into = u64::from(chrono::Utc::now().timestamp_subsec_millis());
        tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
    };
    next_second().await;
    let mut made = 0;
    let mut changed = std::collections::BTreeSet::new();
    let kinds = [
        (MutationKind::Order, changes * 6 / 10),
        (MutationKind::Inventory, changes * 2 / 10),
        (
            MutationKind::Product,
            changes - changes * 6 / 10 - changes * 2 / 10,
        ),
    ];
    for (kind, count) in kinds {
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: DEMO_CONNECTION.to_owned(),
                kind,
                count,
            })
            .map_err(|e| anyhow::anyhow!("mutate: {e:?}"))?;
        made += outcome.changes.len();
        changed.extend(outcome.changes.into_iter().map(|(_, id)| id));
    }
    next_second().await;
    running.sim.reset_requests();
    let applied_before = running.sync.worker_metrics.total("sync.records");
    let fired = Instant::now();
    let reports = running.sync.fire_incremental().await?;
    let inc_drained = running.sync.wait_drained(Duration::from_secs(600)).await;
    let inc_elapsed = fired.elapsed().as_secs_f64();
    let inc_gets = gets(&running.sim);
    let inc_applied = running.sync.worker_metrics.total("sync.records") - applied_before;

    println!();
    println!("| measure | sync path | floor / bound |");
    println!("|---|---|---|");
    println!(
        "| full sync: {orders} orders + {products} products + {inventory} inventory items | {full_elapsed:.1} s (drained: {drained}), {applied} records stored | |"
    );
    println!(
        "| Trackstar GETs (full) | {full_gets} in {full_elapsed:.1} s = {:.2} GET/s | bound 10 GET/s per token |",
        full_gets as f64 / full_elapsed
    );
    println!(
        "| records stored per second | {:.0}/s | bare conditional PutItem ×{floor_ok} at concurrency {}: {:.0}/s |",
        applied / full_elapsed,
        pollers * write_concurrency,
        floor_ok as f64 / floor_elapsed
    );
    println!(
        "| DynamoDB calls (full, recorder) | {:?} | {:?} |",
        full_writes.calls, floor_writes.calls
    );
    println!(
        "| mean PutItem item size | {mean_item:.0} B over {synced_puts} puts | {floor_item:.0} B |"
    );
    let state_writes = full_writes.calls.get("UpdateItem").copied().unwrap_or(0);
    println!(
        "| write units per stored record (⌈size/1 KB⌉ × (table + GSIs with keys); +1 per state UpdateItem) | {:.2} ({full_units} object + {state_writes} state units / {synced_puts}) | {:.2} ({floor_units} / {}); moto's ConsumedCapacity: {:.2} per put |",
        (full_units + state_writes) as f64 / synced_puts.max(1) as f64,
        floor_units as f64 / floor_writes.puts.len().max(1) as f64,
        floor_writes.puts.len(),
        moto_units / floor_ok.max(1) as f64
    );
    println!(
        "| incremental after {made} changes ({} distinct objects) | schedule fired → last change stored (queue drained: {inc_drained}): {inc_elapsed:.2} s, {inc_applied} records stored | |",
        changed.len()
    );
    println!(
        "| Trackstar GETs (incremental) | {inc_gets} | ≥ ⌈changed per resource / page limit⌉ |"
    );
    println!("scheduler report: {reports:?}");
    running.shutdown().await;
    Ok(())
}
