//! Reconciliation figures on the local stack: one connection holding N orders, fully
//! synced, then drift injected (a quarter each: local copies lost — missed webhooks —,
//! changes Packr missed, local copies ahead of Trackstar's list, orders deleted upstream),
//! then one reconciliation run of the orders.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run --release -p packr-local --example reconcile_bench -- 20000 1
//! ```
//! Arguments: orders, drift in percent. Webhooks are off. Read units are counted from the
//! emulator's request recorder: the BatchGetItem keys (strongly consistent, one unit per
//! item up to 4 KB) and the local phase's Query of the connection's ids (eventually
//! consistent: half a unit per 4 KB read, from the mean item size).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use packr::domain::{OrderStatus, TenantId};
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, PageLimit, PageRequest, SyncedStore};
use packr::sync::reconcile::{DriftClass, ReportStore};
use packr::sync::{ResourceKind, SyncMode};
use packr_local::recorder::{sim_gets as gets, Recorder};
use packr_local::seed::{DEMO_CONNECTION, DEMO_TENANT};
use packr_local::sync::SyncOptions;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let orders: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let drift_pct: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let quarter = (orders * drift_pct / 100 / 4).max(1);

    let sdk = emulator_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            orders_per_connection: orders,
            products_per_connection: 10,
            inventory_per_connection: 10,
            sync: SyncOptions {
                pollers: 1,
                worker_env: BTreeMap::from([("SYNC_CLOCK_SKEW_SECONDS".into(), "0".into())]),
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await?;
    running.sim.set_webhook_target(None);
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        running.stack.resources.table_name.clone(),
        CursorCodec::new(b"bench".to_vec()),
    );
    let tenant = TenantId::parse(DEMO_TENANT)?;
    let recorder = Recorder::new(&endpoint);

    // 1. the connection fully synced
    let synced = Instant::now();
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &[ResourceKind::Orders],
            SyncMode::Full,
            "bench",
        )
        .await?;
    running.sync.wait_drained(Duration::from_secs(3600)).await;
    println!(
        "full sync of {orders} orders: {:.1} s",
        synced.elapsed().as_secs_f64()
    );

    // 2. drift, a quarter of each kind
    let truth = running
        .sim
        .truth(DEMO_CONNECTION)
        .expect("demo connection")
        .orders;
    let ids: Vec<String> = truth.iter().map(|o| o.id.clone()).collect();
    let table = running.stack.resources.table_name.clone();
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    for id in &ids[..quarter] {
        dynamo
            .delete_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("T#{DEMO_TENANT}#ORDER#{id}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
            )
            .send()
            .await?;
    }
    let stale: Vec<String> = ids[quarter..2 * quarter].to_vec();
    let deleted: Vec<String> = ids[3 * quarter..4 * quarter].to_vec();
    running.sim.state().with_data(DEMO_CONNECTION, |data| {
        for o in data.orders.iter_mut().filter(|o| stale.contains(&o.id)) {
            o.updated_date += chrono::Duration::seconds(10);
            o.status = "picked".into();
        }
        data.orders.retain(|o| !deleted.contains(&o.id));
    });
    for id in &ids[2 * quarter..3 * quarter] {
        let mut ahead = SyncedStore::<packr::domain::Order>::get(&store, &tenant, id)
            .await?
            .expect("synced");
        ahead.updated_date = ahead.updated_date.plus_seconds(30);
        ahead.status = OrderStatus::Packed;
        store.upsert_if_newer(&tenant, &ahead).await?;
    }
    let injected = 4 * quarter;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // 3. one reconciliation of the orders
    running.sim.reset_requests();
    recorder.restart().await?;
    let started = Instant::now();
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &[ResourceKind::Orders],
            SyncMode::Reconcile,
            "bench",
        )
        .await?;
    let drained = running.sync.wait_drained(Duration::from_secs(3600)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let spent = gets(&running.sim);
    let calls = recorder.take().await?;
    let reports = store
        .list_reports(
            &tenant,
            None,
            &PageRequest::first(PageLimit::parse(Some(1))?),
        )
        .await?;
    let report = reports.items.first().expect("a report");
    let t = &report.tally;
    let compared: u64 = DriftClass::ALL.iter().map(|c| t.count(*c)).sum();
    let mean_item = 1_188.0_f64; // the sync bench's measured mean stored order (BENCHMARKS.md)
    let batch_units = calls.batch_get_keys as f64 * (mean_item / 4096.0).ceil();
    let local_units = (orders as f64 * mean_item / 4096.0 / 2.0).ceil();

    println!();
    println!("| measure | reconciliation | floor / bound |");
    println!("|---|---|---|");
    println!(
        "| reconcile {orders} orders, {injected} drifted ({drift_pct} %) | {elapsed:.1} s (drained: {drained}, complete: {}) | |",
        report.complete
    );
    println!(
        "| Trackstar GETs | {spent} ({:.2} GET/s) | bound 10 GET/s; floor ⌈{orders}/1000⌉ = {} list pages |",
        spent as f64 / elapsed,
        orders.div_ceil(1000)
    );
    for class in DriftClass::ALL {
        println!("| {} | {} | |", class.as_str(), t.count(class));
    }
    println!(
        "| repaired | {} | injected and repairable: {} (the {} ahead stay: Trackstar's copy is older) |",
        t.repaired,
        3 * quarter,
        quarter
    );
    println!(
        "| read units per compared object | {:.2} ({} BatchGetItem keys ≈ {batch_units:.0} units + local walk ≈ {local_units:.0} units, over {compared} compared) | |",
        (batch_units + local_units) / compared.max(1) as f64,
        calls.batch_get_keys
    );
    println!("| DynamoDB calls | {:?} | |", calls.calls);
    running.shutdown().await;
    Ok(())
}
