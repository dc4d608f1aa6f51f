//! Sync engine figures on the local stack: a full sync of one connection, a floor of bare
//! conditional PutItems of the same items on the same emulator, then an incremental sync
//! after 1,000 changes.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run --release -p packr-local --example sync_bench -- 20000 5000 5000 1000
//! ```
//! Arguments: orders, products, inventory items, changes, inbound shipments, returns
//! (every resource is synced; the last two default to 1,000). Webhooks are off (only the sync
//! engine moves data); 3 sync-worker pollers (one per resource job); the worker's
//! `SYNC_CLOCK_SKEW_SECONDS` is 0 so the incremental can run right after the changes'
//! second. DynamoDB writes are counted from the emulator's request recorder
//! (`/moto-api/recorder/…`): PutItem/UpdateItem calls and the PutItem items' sizes, write
//! units as DynamoDB bills them (⌈size / 1 KB⌉ for the table and for every GSI the item
//! has keys for). moto's own `ConsumedCapacity` is a constant per call, shown beside.
//! `make bench` runs the same measurement (`packr_local::bench::sync`) through `bench_stage`.

use packr_local::bench::sync::{run, SyncSizes};
use packr_local::testing::emulator_config;

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
    let sizes = SyncSizes {
        orders: arg(20_000)?,
        products: arg(5_000)?,
        inventory: arg(5_000)?,
        changes: arg(1_000)?,
        inbound_shipments: arg(1_000)?,
        returns: arg(1_000)?,
        floor_puts: 5_000,
    };
    let sdk = emulator_config().await;
    let r = run(&sdk, sizes).await?;
    println!();
    println!("| measure | sync path | floor / bound |");
    println!("|---|---|---|");
    println!(
        "| full sync: {} orders + {} products + {} inventory items + {} inbound shipments + {} returns (+ warehouses, shipping methods, bills) | {:.1} s (drained: {}), {} records stored | |",
        r.orders,
        r.products,
        r.inventory,
        r.inbound_shipments,
        r.returns,
        r.full_s,
        r.full_drained,
        r.records_stored
    );
    println!(
        "| Trackstar GETs (full) | {} in {:.1} s = {:.2} GET/s | bound 10 GET/s per token |",
        r.full_gets, r.full_s, r.full_gets_per_s
    );
    println!(
        "| records stored per second | {:.0}/s | bare conditional PutItem ×{} at concurrency {}: {:.0}/s |",
        r.records_per_s,
        r.floor_puts,
        r.pollers * r.write_concurrency,
        r.floor_puts_per_s
    );
    println!("| DynamoDB calls (full, recorder) | {:?} | |", r.full_calls);
    println!(
        "| mean PutItem item size | {:.0} B over {} puts | {:.0} B |",
        r.mean_item_bytes, r.synced_puts, r.floor_mean_item_bytes
    );
    println!(
        "| write units per stored record | {:.2} | {:.2}; moto's ConsumedCapacity: {:.2} per put |",
        r.write_units_per_record, r.floor_write_units_per_put, r.floor_moto_units_per_put
    );
    println!(
        "| incremental after {} changes ({} distinct objects) | fired → drained ({}): {:.2} s, {} records stored | |",
        r.incremental_changes,
        r.incremental_distinct,
        r.incremental_drained,
        r.incremental_s,
        r.incremental_records
    );
    println!(
        "| Trackstar GETs (incremental) | {} | ≥ ⌈changed per resource / page limit⌉ |",
        r.incremental_gets
    );
    Ok(())
}
