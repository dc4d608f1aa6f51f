//! Webhook pipeline figures on the local stack: a burst of webhook events from the
//! simulator through the gateway's function URL, the queue and the processor.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run -p packr-local --example webhook_bench -- 1000 4
//! ```
//! Arguments: events (default 1000), pollers (default 4), changes raised per second
//! (default 0: back to back). Prints ack latency at the gateway,
//! receipt → applied lag percentiles, the DynamoDB requests and units per processed event
//! (from the emulator's request recorder: items and their sizes, as DynamoDB bills them),
//! the Trackstar GETs, and how many stored objects differ from the simulator; asserts
//! nothing. It resets the emulator's recorder: do not run it beside `make test`.

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
    // changes raised per second (0: back to back, all within a second or two of
    // Trackstar's clock: the worst case for same-second changes)
    let rate: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0.0);

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

    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let recorder = packr_local::recorder::Recorder::new(&endpoint);
    recorder.restart().await?;
    running.sim.reset_requests();

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
        if rate > 0.0 {
            let due = started + Duration::from_secs_f64(raised as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
        }
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
    println!("webhook.lag_ms metric    {lag_metric}  (receipt → verdict recorded)");
    for path in ["direct", "fetched"] {
        let values: Vec<f64> = processor
            .all()
            .into_iter()
            .filter(|m| {
                m.name == "webhook.lag_ms"
                    && m.dimensions.iter().any(|(k, v)| *k == "path" && v == path)
            })
            .map(|m| m.value)
            .collect();
        println!(
            "  of which {path:<8}      {}",
            packr_local::stats::Summary::of(&values)
        );
    }

    let sim_gets = packr_local::recorder::sim_gets(&running.sim);
    let recorded = recorder.take().await?;
    let processed = processor.total("webhook.applied")
        + processor.total("webhook.stale")
        + processor.total("webhook.ignored");
    let per = |n: f64| n / processed.max(1.0);
    let calls = |op: &str| *recorded.calls.get(op).unwrap_or(&0) as f64;
    println!(
        "dynamodb requests        {}",
        recorded
            .calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let object_puts: Vec<_> = recorded
        .puts
        .iter()
        .filter(|item| {
            item.get("pk")
                .and_then(|p| p["S"].as_str())
                .is_some_and(|pk| {
                    pk.contains("#ORDER#") || pk.contains("#INVENTORY#") || pk.contains("#PRODUCT#")
                })
        })
        .collect();
    let object_units: u64 = object_puts
        .iter()
        .map(|item| packr_local::recorder::item_size(item).div_ceil(1024) as u64)
        .sum();
    let index_entries: u64 = object_puts
        .iter()
        .map(|item| {
            packr_local::recorder::GSI_KEYS
                .iter()
                .filter(|k| item.contains_key(**k))
                .count() as u64
        })
        .sum();
    let object_bytes: Vec<usize> = object_puts
        .iter()
        .map(|item| packr_local::recorder::item_size(item))
        .collect();
    let kind_of = |pk: &str| {
        if pk.contains("#EVT#") {
            "receipt"
        } else if pk.contains("#WHSTATS#") {
            "webhook stats"
        } else if pk.contains("#TRACKSTAR#") {
            "rate budget"
        } else {
            "other"
        }
    };
    let mut updates: std::collections::BTreeMap<&str, u64> = Default::default();
    for pk in &recorded.updates {
        *updates.entry(kind_of(pk)).or_default() += 1;
    }
    // the receipts as stored: their size decides their units
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let mut receipt_bytes = Vec::new();
    for pk in recorded
        .updates
        .iter()
        .filter(|pk| pk.contains("#EVT#"))
        .take(200)
    {
        let item = ddb
            .get_item()
            .table_name(&running.stack.resources.table_name)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("RECEIPT".into()),
            )
            .send()
            .await?;
        if let Some(item) = item.item {
            receipt_bytes.push(packr_local::recorder::attribute_item_size(&item));
        }
    }
    let receipt_units = receipt_bytes
        .iter()
        .map(|b| b.div_ceil(1024))
        .max()
        .unwrap_or(1) as f64;
    let max = |v: &[usize]| v.iter().copied().max().unwrap_or(0);
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    println!(
        "object items             {} puts, {:.0} B mean, {} B max → {object_units} table units",
        object_puts.len(),
        mean(&object_bytes),
        max(&object_bytes)
    );
    println!(
        "receipt items            {} updates, {:.0} B mean, {} B max (sampled {})",
        updates.get("receipt").copied().unwrap_or(0),
        mean(&receipt_bytes),
        max(&receipt_bytes),
        receipt_bytes.len()
    );
    println!("other updates            {updates:?}");
    let table_units = object_units as f64
        + updates.get("receipt").copied().unwrap_or(0) as f64 * receipt_units
        + calls("PutItem")
        - object_puts.len() as f64
        + (updates.values().sum::<u64>() - updates.get("receipt").copied().unwrap_or(0)) as f64
        + calls("DeleteItem");
    println!(
        "per processed event      {:.2} table write units (object {:.2}, receipt {:.2}, rest {:.2}), \
         {:.2} index entries written (each 1 unit, 2 when its sort key moves), {:.2} reads",
        per(table_units),
        per(object_units as f64),
        per(updates.get("receipt").copied().unwrap_or(0) as f64 * receipt_units),
        per(table_units - object_units as f64 - updates.get("receipt").copied().unwrap_or(0) as f64 * receipt_units),
        per(index_entries as f64),
        per(calls("GetItem") + calls("Query") + calls("BatchGetItem")),
    );
    println!(
        "processor metrics        dynamodb.writes {:.0}, dynamodb.reads {:.0}, write_units reported {:.0}",
        processor.total("dynamodb.writes"),
        processor.total("dynamodb.reads"),
        processor.total("dynamodb.write_units")
    );
    println!(
        "trackstar GETs           {sim_gets} ({:.3} per processed event)",
        per(sim_gets as f64)
    );

    // does the table hold the simulator's last state of every object?
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
    let (mut checked, mut differ) = (0, 0);
    for order in &truth.orders {
        let stored: Option<packr::domain::Order> =
            packr::store::SyncedStore::get(&store, &tenant, &order.id).await?;
        if let Some(stored) = stored {
            checked += 1;
            if stored.status.as_str() != order.status
                || stored.updated_date
                    != packr::domain::Timestamp::from_datetime(order.updated_date)
            {
                differ += 1;
            }
        }
    }
    for item in &truth.inventory {
        let stored: Option<packr::domain::InventoryItem> =
            packr::store::SyncedStore::get(&store, &tenant, &item.id).await?;
        if let Some(stored) = stored {
            checked += 1;
            if stored.quantities.onhand != item.onhand
                || stored.updated_date != packr::domain::Timestamp::from_datetime(item.updated_date)
            {
                differ += 1;
            }
        }
    }
    for product in &truth.products {
        let stored: Option<packr::domain::Product> =
            packr::store::SyncedStore::get(&store, &tenant, &product.id).await?;
        if let Some(stored) = stored {
            checked += 1;
            if stored.name.as_deref() != Some(product.name.as_str())
                || stored.updated_date
                    != packr::domain::Timestamp::from_datetime(product.updated_date)
            {
                differ += 1;
            }
        }
    }
    println!("objects stored           {checked}, differing from the simulator: {differ}");
    running.shutdown().await;
    Ok(())
}
