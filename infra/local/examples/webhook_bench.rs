//! Webhook pipeline figures on the local stack: a burst of webhook events from the
//! simulator through the gateway's function URL, the queue and the processor.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run -p packr-local --example webhook_bench -- 1000 4
//! ```
//! Arguments: events (default 1000), pollers (default 4). Prints ack latency at the gateway
//! and receipt → processed lag percentiles; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};
use trackstar_sim::{MutateRequest, MutationKind};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let pollers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);

    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers,
            orders_per_connection: 400,
            ..WebhookOptions::default()
        },
    )
    .await?;

    // the burst: order, inventory and product changes raised back to back
    let started = Instant::now();
    let mut raised = 0;
    let kinds = [
        MutationKind::Order,
        MutationKind::Inventory,
        MutationKind::Product,
    ];
    let mut i = 0;
    while raised < events {
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: running.demo.connection_id.clone(),
                kind: kinds[i % kinds.len()],
                count: 1,
            })
            .map_err(|e| anyhow::anyhow!("mutate: {e:?}"))?;
        raised += outcome.changes.len();
        i += 1;
    }
    let settled = running.wait_settled(Duration::from_secs(600)).await;
    let elapsed = started.elapsed();

    let stats = running.sim.webhook_stats();
    let processor = running.processor_metrics();
    let ack = running.gateway.ack_latency.summary();
    let done = running.gateway.done_lag.summary();
    let lag_metric = packr_local::stats::Summary::of(&processor.values("webhook.lag_ms"));
    println!("events raised            {raised}");
    println!(
        "settled                  {settled} in {:.1} s ({:.0} events/s end to end)",
        elapsed.as_secs_f64(),
        raised as f64 / elapsed.as_secs_f64()
    );
    println!(
        "webhooks                 delivered {} failed attempts {} gave up {}",
        stats.delivered, stats.failed_attempts, stats.gave_up
    );
    println!(
        "processor                applied {} stale {} failures {}",
        processor.total("webhook.applied"),
        processor.total("webhook.stale"),
        processor.total("webhook.failures") + 0.0
    );
    println!("ack latency (gateway)    {ack}");
    println!("receipt → batch done     {done}");
    println!("webhook.lag_ms metric    {lag_metric}  (receipt → processing starts)");

    // does the table hold the simulator's last state of every order?
    let store = packr::store::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        running.stack.resources.table_name.clone(),
        packr::store::CursorCodec::new(vec![7; 32]),
    );
    let tenant = packr::domain::TenantId::parse(running.demo.tenant_id.clone())?;
    let truth = running
        .sim
        .truth(&running.demo.connection_id)
        .ok_or_else(|| anyhow::anyhow!("no truth"))?;
    let (mut checked, mut behind) = (0, 0);
    for order in &truth.orders {
        let stored: Option<packr::domain::Order> =
            packr::store::SyncedStore::get(&store, &tenant, &order.id).await?;
        if let Some(stored) = stored {
            checked += 1;
            if stored.status.as_str() != order.status {
                behind += 1;
            }
        }
    }
    println!("orders stored            {checked}, status differs from the simulator: {behind}");
    running.shutdown().await;
    Ok(())
}
