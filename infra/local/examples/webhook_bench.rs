//! Webhook pipeline figures on the local stack: a burst of webhook events from the
//! simulator through the gateway's function URL, the queue and the processor.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run -p packr-local --example webhook_bench -- 1000 4
//! ```
//! Arguments: events (default 1000), pollers (default 4), changes raised per second
//! (default 0: back to back), deliveries in flight at once (default 1). Prints ack latency
//! at the gateway, receipt → applied lag percentiles, lost and twice-applied events, the
//! DynamoDB requests and units per processed event (from the emulator's request recorder:
//! items and their sizes, as DynamoDB bills them), the Trackstar GETs, and how many stored
//! objects differ from the simulator; asserts nothing. It resets the emulator's recorder:
//! do not run it beside `make test`. `make bench` runs the same measurement
//! (`packr_local::bench::webhook`) through `bench_stage`.

use packr_local::bench::{verdicts, webhook};
use packr_local::testing::emulator_config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let pollers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    // changes raised per second (0: back to back, all within a second or two of
    // Trackstar's clock: the worst case for same-second changes)
    let rate: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0.0);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);

    let log = verdicts::install();
    let sdk = emulator_config().await;
    let r = webhook::run(
        &sdk,
        &log,
        &webhook::LoadOptions {
            events,
            rate,
            concurrency,
            pollers,
            record: true,
            ..webhook::LoadOptions::default()
        },
    )
    .await?;
    println!("events raised            {}", r.events);
    println!(
        "settled                  {} in {:.1} s ({:.0} events/s end to end)",
        r.settled,
        r.elapsed_s,
        r.events as f64 / r.elapsed_s
    );
    println!(
        "webhooks                 delivered {} failed attempts {} gave up {}",
        r.webhooks.delivered, r.webhooks.failed_attempts, r.webhooks.gave_up
    );
    println!(
        "processor                applied {} stale {} ignored {} failures {}",
        r.applied, r.stale, r.ignored, r.failures
    );
    println!("per event id             {:?}", r.accounting);
    println!("ack latency (gateway)    {}", r.ack_ms);
    println!("ingest CPU per event     {}", r.ingest_cpu_ms);
    println!("receipt → batch done     {}", r.batch_done_ms);
    println!(
        "webhook.lag_ms metric    {}  (receipt → verdict recorded)",
        r.lag_ms
    );
    if let Some(u) = &r.units {
        println!(
            "dynamodb requests        {}",
            u.calls
                .iter()
                .map(|(op, n)| format!("{op} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "object items             {} puts, {:.0} B mean → {:.0} table units, {:.0} index units",
            u.object_puts, u.object_mean_bytes, u.object_units, u.index_units
        );
        println!(
            "receipt items            {} updates, {:.0} B mean → {:.0} units",
            u.receipt_updates, u.receipt_mean_bytes, u.receipt_units
        );
        println!("other updates            {:?}", u.other_updates);
        println!(
            "per processed event      {:.2} write units (object {:.2}, index {:.2}, receipt {:.2}), {:.3} reads; moto reported {:.2}",
            u.per_event(u.write_units),
            u.per_event(u.object_units),
            u.per_event(u.index_units),
            u.per_event(u.receipt_units),
            u.per_event(u.read_units),
            u.per_event(u.moto_reported_write_units),
        );
    }
    println!(
        "trackstar GETs           {} ({:.3} per processed event)",
        r.trackstar_gets,
        r.trackstar_gets as f64 / r.processed().max(1.0)
    );
    println!(
        "objects stored           {}, differing from the simulator: {}",
        r.objects_checked, r.objects_differing
    );
    Ok(())
}
