//! One stage of `make bench` (`infra/scripts/bench.sh`): measures a figure and its floor
//! side by side on the local stack and writes `<out>/<stage>.md` (a markdown fragment for
//! BENCHMARKS.md) and `<out>/<stage>.json` (the raw figures, read by the cost stage).
//! Asserts nothing about time; exits non-zero only when the run itself failed.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo build --release -p packr-local --example bench_stage
//! $CARGO_TARGET_DIR/release/examples/bench_stage --out target/bench lag --events 10000
//! ```
//! The stage scripts in `infra/bench/stages/` run it with the sizes `make bench` uses.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use packr_local::bench::{self, micros, ms, ratio, verdict, StageOut};
use packr_local::stats::Summary;
use packr_local::testing::emulator_config;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Directory of the fragments ($BENCH_OUT).
    #[arg(long, env = "BENCH_OUT", default_value = "target/bench")]
    out: PathBuf,
    #[command(subcommand)]
    stage: Stage,
}

#[derive(Subcommand)]
enum Stage {
    /// 20-ingest: ack at the function URL vs a bare SendMessage of the same body, and the
    /// CPU of refused requests vs a signature check.
    Ingest {
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 4)]
        rounds: usize,
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Refused requests of each kind (unsigned, stale, bad signature, oversize).
        #[arg(long, default_value_t = 1000)]
        rejections: usize,
    },
    /// 30-webhook-lag: receipt → applied under concurrent delivery, lost and applied twice.
    Lag {
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 4)]
        pollers: usize,
        /// The unloaded floor run: events at a low rate, one delivery at a time.
        #[arg(long, default_value_t = 100)]
        floor_events: usize,
        #[arg(long, default_value_t = 10.0)]
        floor_rate: f64,
        /// Events of the bare pipeline floor (at most `events`).
        #[arg(long, default_value_t = 10_000)]
        bare_events: usize,
    },
    /// 40-dynamodb-units: write and read units per webhook event, as DynamoDB bills them.
    Units {
        #[arg(long, default_value_t = 1000)]
        events: usize,
        #[arg(long, default_value_t = 50.0)]
        rate: f64,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Changes of each kind in the runs of one kind alone (0: none).
        #[arg(long, default_value_t = 300)]
        kind_events: usize,
        /// Inbound shipments and returns the simulator seeds (each).
        #[arg(long, default_value_t = 1000)]
        inbound_and_returns: usize,
    },
    /// 50-sync: GETs per second against the rate bound, records per second against puts.
    Sync {
        #[arg(long, default_value_t = 6000)]
        orders: usize,
        #[arg(long, default_value_t = 2000)]
        products: usize,
        #[arg(long, default_value_t = 2000)]
        inventory: usize,
        #[arg(long, default_value_t = 1000)]
        inbound_shipments: usize,
        #[arg(long, default_value_t = 1000)]
        returns: usize,
        #[arg(long, default_value_t = 500)]
        changes: usize,
        #[arg(long, default_value_t = 2000)]
        floor_puts: usize,
        #[arg(long, default_value_t = 15)]
        rate_seconds: u64,
        #[arg(long, default_value_t = 50)]
        rate_callers: usize,
    },
    /// 60-api: GET /orders with concurrent clients vs a bare Query of the same page.
    Api {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        per_client: usize,
    },
    /// 90-cost: AWS cost per 1M webhooks and per 1M API reads from the other stages' JSON.
    Cost {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
    },
}

const SCRIPTS: &str = "infra/bench/stages";

fn command(stage: &str) -> String {
    format!(
        "```sh\neval \"$(MOTO_STATE_DIR=.local/moto-bench infra/scripts/moto.sh start)\"\nBENCH_OUT=target/bench bash {SCRIPTS}/{stage}.sh\n```\n"
    )
}

fn row_ms(name: &str, figure: &Summary, floor: &Summary) -> String {
    format!(
        "| {name} | {} / {} / {} | {} / {} / {} | {} / {} / {} |\n",
        ms(figure.p50),
        ms(figure.p95),
        ms(figure.p99),
        ms(floor.p50),
        ms(floor.p95),
        ms(floor.p99),
        ratio(figure.p50, floor.p50),
        ratio(figure.p95, floor.p95),
        ratio(figure.p99, floor.p99),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.stage {
        Stage::Cost { template } => cost(&args.out, &template),
        stage => {
            let verdicts = bench::verdicts::install();
            let sdk = emulator_config().await;
            match stage {
                Stage::Ingest {
                    events,
                    rounds,
                    rate,
                    rejections,
                } => ingest(&args.out, &sdk, events, rounds, rate, rejections).await,
                Stage::Lag {
                    events,
                    rate,
                    concurrency,
                    pollers,
                    floor_events,
                    floor_rate,
                    bare_events,
                } => {
                    let floor = bench::webhook::LoadOptions {
                        events: floor_events,
                        rate: floor_rate,
                        concurrency: 1,
                        pollers,
                        ..lag_sizes()
                    };
                    let load = bench::webhook::LoadOptions {
                        events,
                        rate,
                        concurrency,
                        pollers,
                        ..lag_sizes()
                    };
                    lag(
                        &args.out,
                        &sdk,
                        &verdicts,
                        &floor,
                        &load,
                        bare_events.min(events),
                    )
                    .await
                }
                Stage::Units {
                    events,
                    rate,
                    concurrency,
                    kind_events,
                    inbound_and_returns,
                } => {
                    let options = bench::webhook::LoadOptions {
                        events,
                        rate,
                        concurrency,
                        record: true,
                        inbound_shipments: Some(inbound_and_returns),
                        returns: Some(inbound_and_returns),
                        ..lag_sizes()
                    };
                    units(&args.out, &sdk, &verdicts, &options, kind_events).await
                }
                Stage::Sync {
                    orders,
                    products,
                    inventory,
                    inbound_shipments,
                    returns,
                    changes,
                    floor_puts,
                    rate_seconds,
                    rate_callers,
                } => {
                    let sizes = bench::sync::SyncSizes {
                        orders,
                        products,
                        inventory,
                        inbound_shipments,
                        returns,
                        changes,
                        floor_puts,
                    };
                    sync(&args.out, &sdk, sizes, rate_seconds, rate_callers).await
                }
                Stage::Api {
                    clients,
                    per_client,
                } => api(&args.out, &sdk, &verdicts, clients, per_client).await,
                Stage::Cost { .. } => unreachable!("handled above"),
            }
        }
    }
}

/// Objects the lag runs spread their changes over: enough that few changes of one
/// object share a second (those need a Trackstar read to settle, see BENCHMARKS.md).
fn lag_sizes() -> bench::webhook::LoadOptions {
    bench::webhook::LoadOptions {
        orders: 4000,
        inventory: 3000,
        products: 3000,
        ..Default::default()
    }
}

async fn ingest(
    out: &Path,
    sdk: &aws_config::SdkConfig,
    events: usize,
    rounds: usize,
    rate: f64,
    rejections: usize,
) -> anyhow::Result<()> {
    let stage = "20-ingest";
    let r = bench::ingest::run(sdk, events, rounds, rate, rejections).await?;
    let mut md = format!(
        "## Webhook ingest: acknowledgement at the function URL vs a bare SQS SendMessage\n\n{}\n\
         {} signed webhooks delivered one at a time by the simulator at {:.0}/s to the local gateway's \
         function URL (webhook-ingest: verify the signature, route, `SendMessage`, answer), no pollers; \
         then the {} message bodies ingest queued (mean {:.0} B) sent again with a bare `SendMessage` \
         (no attributes) to the same queue at the same pace; {} alternating rounds. Ack = request → \
         answer inside the gateway; floor = the SDK call's wall time. CPU = thread CPU time of the \
         handler's future (summed over the polls, whichever thread ran them).\n\n",
        command(stage),
        r.events,
        r.rate,
        r.floor_ms.count,
        r.body_mean_bytes,
        r.rounds,
    );
    md.push_str("| measure | ingest p50 / p95 / p99 | floor p50 / p95 / p99 | ratio p50 / p95 / p99 | goal |\n|---|---|---|---|---|\n");
    let mut ack = row_ms("ack latency vs bare `SendMessage`", &r.ack_ms, &r.floor_ms);
    ack.truncate(ack.len() - 1);
    md.push_str(&format!(
        "{} p95 ≤ 1.5 × floor: {} |\n",
        ack,
        verdict(r.ack_ms.p95 <= 1.5 * r.floor_ms.p95)
    ));
    let mut cpu = row_ms(
        "CPU per event vs the bare call's CPU",
        &r.cpu_ms,
        &r.floor_cpu_ms,
    );
    cpu.truncate(cpu.len() - 1);
    md.push_str(&format!("{cpu} |\n"));
    md.push_str(&format!(
        "\n- ingest CPU per event: mean {} (floor mean {}); deliveries {} delivered, {} failed attempts.\n",
        ms(r.cpu_ms.mean),
        ms(r.floor_cpu_ms.mean),
        r.delivered,
        r.failed_attempts
    ));
    md.push_str(&rejections_table(&r.rejections, &r.cpu_ms));
    StageOut::new(out, stage).write(&md, &serde_json::to_value(&r)?)?;
    print!("{md}");
    Ok(())
}

/// The refused requests' CPU beside the signature check of an accepted delivery.
fn rejections_table(r: &bench::rejections::RejectionReport, accepted_cpu: &Summary) -> String {
    let floor = &r.floor_verify_cpu_ms;
    let mut md = format!(
        "\n### What a refused request costs ingest\n\n\
         {} requests of each kind, interleaved, straight to the same ingest instance (warm, \
         signing secret cached), {} B bodies unless the kind says otherwise; none reaches AWS \
         (`webhook_ingest_bounds` tests count zero AWS calls). CPU = thread CPU time of the \
         handler. Floor = the signature check alone (headers + HMAC) of a validly signed \
         delivery of the same body, measured in the same run: what every accepted delivery \
         pays before any AWS call (the accepted delivery's whole handler: mean {} above).\n\n\
         | refused request | answer (count) | CPU p50 / p95 / p99 | floor p50 / p95 / p99 | ratio p50 / p95 / p99 | mean |\n\
         |---|---|---|---|---|---|\n",
        r.per_kind,
        r.body_bytes,
        ms(accepted_cpu.mean),
    );
    for kind in &r.kinds {
        let c = &kind.cpu_ms;
        md.push_str(&format!(
            "| {} | {} ({}) | {} / {} / {} | {} / {} / {} | {} / {} / {} | {} |\n",
            kind.kind,
            kind.status,
            kind.refused,
            micros(c.p50),
            micros(c.p95),
            micros(c.p99),
            micros(floor.p50),
            micros(floor.p95),
            micros(floor.p99),
            ratio(c.p50, floor.p50),
            ratio(c.p95, floor.p95),
            ratio(c.p99, floor.p99),
            micros(c.mean),
        ));
    }
    md
}

/// "orders 1000, returns 1000": counts by name.
fn counts(by: &std::collections::BTreeMap<String, usize>) -> String {
    by.iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sizes of the bare pipeline's message body and object item: those of Packr's queued
/// event and stored order (20-ingest and 40-dynamodb-units print the measured ones).
const BARE_BODY_BYTES: usize = 1700;
const BARE_ITEM_BYTES: usize = 800;

async fn lag(
    out: &Path,
    sdk: &aws_config::SdkConfig,
    verdicts: &bench::verdicts::VerdictLog,
    unloaded: &bench::webhook::LoadOptions,
    load: &bench::webhook::LoadOptions,
    bare_events: usize,
) -> anyhow::Result<()> {
    let stage = "30-webhook-lag";
    // The unloaded run's requests, recorded by the emulator, are what the second floor
    // re-sends (`bench::same_calls`).
    let recorder = packr_local::recorder::Recorder::new(&std::env::var("AWS_ENDPOINT_URL")?);
    recorder.restart().await?;
    let f = bench::webhook::run(sdk, verdicts, unloaded).await?;
    let recorded = bench::same_calls::recorded_calls(&recorder.take_raw().await?)?;
    let floor_options = bench::webhook::BareOptions {
        events: bare_events,
        rate: load.rate,
        concurrency: load.concurrency,
        consumers: load.pollers,
        body_bytes: BARE_BODY_BYTES,
        item_bytes: BARE_ITEM_BYTES,
        same_calls: None,
    };
    let bare = bench::webhook::bare_pipeline(sdk, floor_options.clone()).await?;
    let same = bench::webhook::bare_pipeline(
        sdk,
        bench::webhook::BareOptions {
            same_calls: Some(std::sync::Arc::new(recorded.clone())),
            ..floor_options
        },
    )
    .await?;
    let r = bench::webhook::run(sdk, verdicts, load).await?;
    let mut md = format!(
        "## Webhook lag: {} events at {:.0}/s delivered {} at a time\n\n{}\n\
         The simulator raises {} changes at {:.0}/s over {} objects and delivers their signed webhooks \
         with `DeliveryOptions.concurrency = {}` to the function URL; {} pollers (batches of ≤ 10) feed \
         webhook-processor. Lag = receipt at ingest → verdict recorded (`webhook.lag_ms`, per finished \
         event). Floor = a bare queue pipeline on the same emulator at the same rate, concurrency and \
         number of consumers, in the same run ({} events): per event a `SendMessage` ({BARE_BODY_BYTES} B body), and \
         per received batch of ≤ 10, for all its messages at once, a conditional `PutItem` \
         ({BARE_ITEM_BYTES} B item with GSI keys) and a conditional `UpdateItem`, then one \
         `DeleteMessageBatch`; its lag is send → both writes done. When the emulator cannot keep up \
         with the offered rate, lag grows with the backlog, so with fewer floor events than Packr's the \
         settled-per-second row is the like-for-like one. Also shown: Packr unloaded, {} events at \
         {:.0}/s one delivery at a time.\n\n\
         Counted per event id: ingest's 2xx answers give the acknowledged ids (the gateway logs the \
         `event_id` of each); the processor's log lines, read by a tracing layer, give per id the verdicts \
         it recorded (`event processed`: its receipt's conditional write succeeded), the duplicates it \
         acknowledged and its failed attempts. Lost = acknowledged ids with no verdict; applied twice = ids \
         with two or more verdicts. Then every stored object is compared with the simulator's last state.\n\n",
        r.events,
        r.rate,
        r.concurrency,
        command(stage),
        r.events,
        r.rate,
        load.orders + load.inventory + load.products,
        r.concurrency,
        r.pollers,
        bare.events,
        f.events,
        f.rate,
    );
    md.push_str("| measure | Packr p50 / p95 / p99 | floor p50 / p95 / p99 | ratio p50 / p95 / p99 | goal |\n|---|---|---|---|---|\n");
    let mut row = row_ms(
        &format!("receipt → applied, {:.0}/s", r.rate),
        &r.lag_ms,
        &bare.lag_ms,
    );
    row.truncate(row.len() - 1);
    md.push_str(&format!(
        "{row} p95 ≤ 1 s: {} |\n",
        verdict(r.lag_ms.p95 <= 1000.0)
    ));
    md.push_str(&format!(
        "| events settled per second (first raised → all applied) | {:.1}/s ({} in {:.1} s) | {:.1}/s ({} in {:.1} s) | {} | {:.0}/s offered |\n",
        r.events as f64 / r.elapsed_s,
        r.events,
        r.elapsed_s,
        bare.completed as f64 / bare.elapsed_s,
        bare.completed,
        bare.elapsed_s,
        ratio(r.events as f64 / r.elapsed_s, bare.completed as f64 / bare.elapsed_s),
        r.rate,
    ));
    md.push_str(&format!(
        "| receipt → applied, unloaded ({} at {:.0}/s) | {} / {} / {} | | | |\n",
        f.events,
        f.rate,
        ms(f.lag_ms.p50),
        ms(f.lag_ms.p95),
        ms(f.lag_ms.p99),
    ));
    md.push_str(&format!(
        "| receipt → processor batch done, {:.0}/s | {} / {} / {} | | | |\n| ack at the function URL, {:.0}/s | {} / {} / {} | | | |\n",
        r.rate,
        ms(r.batch_done_ms.p50),
        ms(r.batch_done_ms.p95),
        ms(r.batch_done_ms.p99),
        r.rate,
        ms(r.ack_ms.p50),
        ms(r.ack_ms.p95),
        ms(r.ack_ms.p99),
    ));
    let a = &r.accounting;
    md.push_str(&format!(
        "\n| count ({:.0}/s run) | value | goal |\n|---|---|---|\n\
         | events raised / acknowledged by ingest (distinct ids) | {} / {} | |\n\
         | ids with a recorded verdict | {} (applied {:.0}, stale {:.0}, ignored {:.0}) | |\n\
         | lost (acknowledged, no verdict) | {} | 0: {} |\n\
         | applied twice (≥ 2 verdicts for one id) | {} | 0: {} |\n\
         | duplicate deliveries acknowledged / failed attempts (retried) | {} / {} | |\n\
         | simulator: delivered / failed attempts / gave up | {} / {} / {} | |\n\
         | stored objects differing from the simulator | {} of {} | 0 |\n\
         | raised in / settled (queue drained) in | {:.1} s / {:.1} s ({}) | |\n\
         | processor invocations, mean records, mean wall time | {}, {:.2}, {} | |\n\
         | Trackstar GETs (same-second changes settled by a read) | {} | |\n",
        r.rate,
        r.events,
        a.acked,
        a.finished,
        r.applied,
        r.stale,
        r.ignored,
        a.lost,
        verdict(a.lost == 0),
        a.applied_twice,
        verdict(a.applied_twice == 0),
        a.duplicates,
        a.failed_attempts,
        r.webhooks.delivered,
        r.webhooks.failed_attempts,
        r.webhooks.gave_up,
        r.objects_differing,
        r.objects_checked,
        r.raise_s,
        r.elapsed_s,
        if r.settled {
            "settled"
        } else {
            "**not settled**"
        },
        r.invocations,
        r.invocation_mean_records,
        ms(r.invocation_mean_ms),
        r.trackstar_gets,
    ));
    use bench::lag_stages::{FLOOR_ROLES, PACKR_ROLES};
    let columns = [
        ("Packr", &r.breakdown, PACKR_ROLES),
        ("bare floor", &bare.breakdown, FLOOR_ROLES),
        ("floor with Packr's requests", &same.breakdown, FLOOR_ROLES),
    ];
    md.push_str(&format!(
        "\n### Stage by stage ({:.0}/s run and its floors)\n\n\
         The floor with Packr's requests re-sends what the unloaded run recorded ({} queued \
         bodies, {} object writes, {} receipt writes, {} other writes): ingest's `SendMessage` \
         with its attributes, the mapping's receive with every attribute, per message the \
         object and receipt `UpdateItem`s on fresh keys, one stats write per batch. Its lag \
         p50 / p95 / p99: {} / {} / {}; settled {:.1}/s; Packr's ratio to it: {} (events/s), \
         {} (p95).\n\n{}\n{}",
        r.rate,
        recorded.queued.len(),
        recorded.objects.len(),
        recorded.receipts.len(),
        recorded.others.len(),
        ms(same.lag_ms.p50),
        ms(same.lag_ms.p95),
        ms(same.lag_ms.p99),
        same.completed as f64 / same.elapsed_s,
        ratio(
            r.events as f64 / r.elapsed_s,
            same.completed as f64 / same.elapsed_s
        ),
        ratio(r.lag_ms.p95, same.lag_ms.p95),
        bench::lag_stages::table(&columns),
        bench::lag_stages::calls_table(&columns),
    ));
    StageOut::new(out, stage).write(
        &md,
        &json!({"unloaded": f, "bare": bare, "same_calls": same, "load": r}),
    )?;
    print!("{md}");
    Ok(())
}

async fn units(
    out: &Path,
    sdk: &aws_config::SdkConfig,
    verdicts: &bench::verdicts::VerdictLog,
    options: &bench::webhook::LoadOptions,
    kind_events: usize,
) -> anyhow::Result<()> {
    let stage = "40-dynamodb-units";
    let kinds: &[bench::units::KindRun] = if kind_events > 0 {
        &bench::units::KIND_RUNS
    } else {
        &[]
    };
    // A short feed horizon (the writers' window + 1 s): the bench waits it out before
    // reading the feed; the service's default is `packr::changes::DEFAULT_HORIZON`.
    let feed_horizon = packr::changes::WRITE_WINDOW + std::time::Duration::from_secs(1);
    let (r, per_kind, feed) =
        bench::units::run(sdk, verdicts, options, kinds, kind_events, feed_horizon).await?;
    let u = r
        .units
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the run recorded no requests"))?;
    let per = |x: f64| u.per_event(x);
    let floor = per(u.object_units);
    let stats = u.other_updates.get("webhook stats").copied().unwrap_or(0) as f64;
    let budget = u.other_updates.get("rate budget").copied().unwrap_or(0) as f64;
    let mut md = format!(
        "## DynamoDB units per webhook event\n\n{}\n\
         {} changes at {:.0}/s, delivered {} at a time, through the pipeline with the emulator's request \
         recorder on; {:.0} events got a verdict. moto reports a constant `ConsumedCapacity`, so units are \
         computed as DynamoDB bills them from the requests the functions sent: each object write (the \
         store's set-every-attribute `UpdateItem`, its item rebuilt from the request) ⌈item size / 1 KB⌉ \
         in the table (an update the larger of the item before and after; refused conditional writes are \
         billed too), and in each index of `template.yaml` the entry it puts, moves (a delete and a put) \
         or deletes, ⌈entry size / 1 KB⌉ by the index's projection; an update that changes no key and no \
         projected attribute of an index writes nothing there, a refused write nothing in any index \
         (`infra/local/src/bench/index_bill.rs`); each receipt `UpdateItem` ⌈stored receipt size / 1 KB⌉ \
         (sizes read back); other `UpdateItem`s (webhook stats, rate budget) and puts 1 unit (items under \
         1 KB); reads 1 unit per `GetItem`/`Query`/`BatchGetItem` key (items under 4 KB). Floor = the \
         event's own object write, the one write any design must make. API reads: see `60-api`.\n\n",
        command(stage),
        r.events,
        r.rate,
        r.concurrency,
        u.processed_events,
    );
    md.push_str("| per webhook event | units | floor (object write) | ratio | goal |\n|---|---|---|---|---|\n");
    let table_units = u.write_units - u.index_units;
    md.push_str(&format!(
        "| table write units (object, receipt, stats, budget) | **{:.2}** | {:.2} | {} | ≤ 2 (issue 9's goal): {} |\n",
        per(table_units),
        floor,
        ratio(per(table_units), floor),
        verdict(per(table_units) <= 2.0)
    ));
    md.push_str(&format!(
        "| write units billed, GSI entries included | **{:.2}** | {:.2} | {} | |\n",
        per(u.write_units),
        floor,
        ratio(per(u.write_units), floor),
    ));
    md.push_str(&format!(
        "| of which: object (mean {:.0} B) | {:.2} | | | |\n| of which: GSI entries (the feed's gsi5 among them: {:.2}) | {:.2} | | | |\n| of which: receipt (mean {:.0} B) | {:.2} | | | |\n| of which: webhook stats (1 per connection per batch) | {:.2} | | | |\n| of which: rate budget (1 per Trackstar read) | {:.2} | | | |\n| of which: other | {:.2} | | | |\n",
        u.object_mean_bytes,
        per(u.object_units),
        per(u.feed_index_units),
        per(u.index_units),
        u.receipt_mean_bytes,
        per(u.receipt_units),
        per(stats),
        per(budget),
        per(u.other_writes as f64),
    ));
    md.push_str(&format!(
        "| read units | {:.3} | 0 | | ~0 |\n| moto's own `ConsumedCapacity` (processor metric, constant per call) | {:.2} | | | |\n\n- calls recorded: {}\n",
        per(u.read_units),
        per(u.moto_reported_write_units),
        u.calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    if !per_kind.is_empty() {
        md.push_str(&format!(
            "\nEach kind alone (issue 18: a new resource's webhook costs no more than an order's): after the \
             mix, on the same stack, {kind_events} changes of one kind at a time at the same rate and delivery \
             concurrency, billed by the same rule; the simulator seeds {} inbound shipments and {} returns \
             beside the orders, inventory and products above. Each kind changes as its WMS changes it most \
             (orders advance and ship, inbound shipments go in transit or move their arrival date, receipts \
             add received quantities, returns advance); warehouses, shipping methods and bills are created, \
             because the simulator seeds only a few of each and updates at this rate would change each \
             several times a second (settled by Trackstar reads, a cost of the load, not of the kind); \
             \"order, created\" is their like-for-like reference. Goal: ≤ the order's (first row).\n\n",
            options.inbound_shipments.unwrap_or(0),
            options.returns.unwrap_or(0),
        ));
        md.push_str(&bench::units::per_kind_table(&per_kind));
    }
    md.push_str(&format!(
        "\nThe mix's object writes billed under each layout of the indexes (issue 22; \
         `index_bill::Layout::options`): the same {} writes ({} created, {} updated, {} refused), \
         receipts, stats and budget as above in every row; the read units of a listing page of 50 \
         orders (and the one more that tells whether another page exists) from the orders as stored \
         after the run: an eventually consistent `Query` 0.5 per 4 KB of entries, and for a KEYS_ONLY \
         listing 0.5 per order read from the table. The first row is the reference design's layout \
         (`90-cost`).\n\n",
        u.object_puts, u.bill.creations, u.bill.updates, u.bill.refused,
    ));
    md.push_str(&bench::index_options::markdown(&u));
    md.push_str(&bench::feed::markdown(&feed, &u, &per_kind));
    StageOut::new(out, stage).write(
        &md,
        &json!({
            "per_kind": per_kind,
            "run": r,
            "write_units_per_event": per(u.write_units),
            "read_units_per_event": per(u.read_units),
            "object_units_per_event": per(u.object_units),
            "index_units_per_event": per(u.index_units),
            "feed_index_units_per_event": per(u.feed_index_units),
            "reference_object_units_per_event": per(u.reference_bill.table_units as f64),
            "reference_index_units_per_event": per(u.reference_bill.total_index_units() as f64),
            "bill": u.bill,
            "reference_bill": u.reference_bill,
            "options": u.options,
            "option_page_reads": u.option_page_reads,
            "feed": feed,
            "method": "billing rule applied to recorded request items (moto ConsumedCapacity is constant)",
        }),
    )?;
    print!("{md}");
    Ok(())
}

async fn sync(
    out: &Path,
    sdk: &aws_config::SdkConfig,
    sizes: bench::sync::SyncSizes,
    rate_seconds: u64,
    rate_callers: usize,
) -> anyhow::Result<()> {
    let stage = "50-sync";
    let rate = bench::sync::get_rate(rate_seconds, rate_callers).await?;
    let r = bench::sync::run(sdk, sizes).await?;
    let mut md = format!(
        "## Sync engine: Trackstar GETs against the rate bound, records stored against bare puts\n\n{}\n\
         GET rate: {} callers on one access token through one `TrackstarClient` for {} s against the \
         simulator at Trackstar's limit. Full sync of every resource ({}): one connection with {} orders, \
         {} products, {} inventory items, {} inbound shipments, {} returns and the simulator's warehouses, \
         shipping methods and bills; {} sync-worker pollers (one job per resource), {} concurrent \
         conditional writes per job; the floor is {} bare conditional `PutItem`s of the sync's own \
         recorded items, every kind in its share ({}), each under the condition the sync sent with it \
         (only-if-newer), at the same total concurrency ({}) on the same emulator, in the same run. Objects stored by kind: {}.\n\n",
        command(stage),
        rate.callers,
        rate_seconds,
        r.resources.join(", "),
        r.orders,
        r.products,
        r.inventory,
        r.inbound_shipments,
        r.returns,
        r.pollers,
        r.write_concurrency,
        r.floor_puts,
        counts(&r.floor_puts_by_kind),
        r.pollers * r.write_concurrency,
        counts(&r.synced_puts_by_kind),
    );
    md.push_str("| measure | figure | floor / bound | ratio | goal |\n|---|---|---|---|---|\n");
    md.push_str(&format!(
        "| Trackstar GETs per second, one token, {} callers | {:.2}/s ({} in {:.1} s; busiest 1-s window {}; {} × 429) | bound {:.0}/s | {} | at the bound, no 429: {} |\n",
        rate.callers,
        rate.per_s,
        rate.answered,
        rate.seconds,
        rate.busiest_window,
        rate.served_429,
        rate.limit_per_s,
        ratio(rate.per_s, rate.limit_per_s),
        verdict(rate.served_429 == 0 && rate.per_s >= 0.9 * rate.limit_per_s),
    ));
    md.push_str(&format!(
        "| full sync of every resource: records stored per second | {:.0}/s ({:.0} records in {:.1} s{}) | bare conditional `PutItem`: {:.0}/s | {} | ≥ 0.9× (issue 18): {} |\n",
        r.records_per_s,
        r.records_stored,
        r.full_s,
        if r.full_drained { "" } else { ", **not drained**" },
        r.floor_puts_per_s,
        ratio(r.records_per_s, r.floor_puts_per_s),
        verdict(r.full_drained && r.records_per_s >= 0.9 * r.floor_puts_per_s),
    ));
    if let (Some(full), Some(floor)) = (r.full_moto_cpu_s, r.floor_moto_cpu_s) {
        // The emulator's CPU per record: what each side asked of it, whatever else ran.
        let per = |cpu: f64, n: f64| cpu * 1000.0 / n.max(1.0);
        let (full_ms, floor_ms) = (per(full, r.records_stored), per(floor, r.floor_puts as f64));
        md.push_str(&format!(
            "| full sync: the emulator's CPU per record stored (records per emulator CPU-second) | {full_ms:.2} ms ({:.0}/s; {full:.1} CPU-s in {:.1} s) | bare conditional `PutItem`: {floor_ms:.2} ms ({:.0}/s; {floor:.1} CPU-s in {:.1} s) | {} | |\n",
            1000.0 / full_ms.max(1e-9),
            r.full_s,
            1000.0 / floor_ms.max(1e-9),
            r.floor_s,
            ratio(floor_ms, full_ms),
        ));
    }
    if r.floor_updates > 0 {
        // The second floor: the sync's own UpdateItems re-sent bare.
        let per = |cpu: Option<f64>, n: f64| cpu.map(|c| c * 1000.0 / n.max(1.0));
        md.push_str(&format!(
            "| full sync: records stored per second, against its own object `UpdateItem`s re-sent bare (same expression, condition, names and values, on copies) | {:.0}/s | bare conditional `UpdateItem`: {:.0}/s ({} in {:.1} s; emulator CPU {} ms each) | {} | |\n",
            r.records_per_s,
            r.floor_updates_per_s,
            r.floor_updates,
            r.floor_updates_s,
            per(r.floor_updates_moto_cpu_s, r.floor_updates as f64)
                .map_or_else(|| "?".to_owned(), |ms| format!("{ms:.2}")),
            ratio(r.records_per_s, r.floor_updates_per_s),
        ));
    }
    md.push_str(&format!(
        "| full sync: Trackstar GETs per second | {:.2}/s ({} pages) | bound {:.0}/s | {} | |\n",
        r.full_gets_per_s,
        r.full_gets,
        rate.limit_per_s,
        ratio(r.full_gets_per_s, rate.limit_per_s),
    ));
    md.push_str(&format!(
        "| write units per stored record (⌈size/1 KB⌉ × (table + projection-ALL GSIs with keys) + 1 for the feed's gsi5 entry, +1 per state write) | {:.2} (mean item {:.0} B) | {:.2} per floor put (moto reports {:.2}) | {} | |\n",
        r.write_units_per_record,
        r.mean_item_bytes,
        r.floor_write_units_per_put,
        r.floor_moto_units_per_put,
        ratio(r.write_units_per_record, r.floor_write_units_per_put),
    ));
    md.push_str(&format!(
        "| incremental after {} changes ({} objects): fired → drained | {:.2} s, {:.0} records, {} GETs | ≥ {} GETs (a page per resource) | | |\n",
        r.incremental_changes,
        r.incremental_distinct,
        r.incremental_s,
        r.incremental_records,
        r.incremental_gets,
        r.resources.len(),
    ));
    StageOut::new(out, stage).write(&md, &json!({"get_rate": rate, "sync": r}))?;
    print!("{md}");
    Ok(())
}

async fn api(
    out: &Path,
    sdk: &aws_config::SdkConfig,
    verdicts: &bench::verdicts::VerdictLog,
    clients: usize,
    per_client: usize,
) -> anyhow::Result<()> {
    let stage = "60-api";
    let r = bench::api::run(sdk, verdicts, clients, per_client).await?;
    let mut md = format!(
        "## Tenant API: `GET /orders` with {} clients vs a bare DynamoDB Query of the same page\n\n{}\n\
         {} objects stored through the webhook pipeline first. Then {} concurrent clients × {} requests of \
         `GET /orders?limit={}` through the local gateway (JWT verified, API Gateway v2 event, the \
         `api-orders` handler, its Query on `gsi2`), and {} concurrent tasks × {} of the same Query \
         (`gsi2`, newest first, limit {}) sent bare with the SDK to the same emulator.\n\n",
        r.clients,
        command(stage),
        r.objects_stored,
        r.clients,
        r.requests_per_client,
        r.page_limit,
        r.clients,
        r.requests_per_client,
        r.page_limit + 1,
    );
    md.push_str("| measure | API p50 / p95 / p99 | bare Query p50 / p95 / p99 | ratio p50 / p95 / p99 | goal |\n|---|---|---|---|---|\n");
    let mut row = row_ms("latency under concurrent clients", &r.api_ms, &r.floor_ms);
    row.truncate(row.len() - 1);
    md.push_str(&format!("{row} |\n"));
    md.push_str(&format!(
        "\n| per API read | figure | floor | ratio |\n|---|---|---|---|\n\
         | DynamoDB read units (eventually consistent Query: ⌈Σ item size / 4 KB⌉ × 0.5, +1 per GetItem) | {:.2} | bare Query of the page: {:.2} ({} items, {} B) | {} |\n\
         | DynamoDB calls (request recorder) | {} | 1 Query | |\n\
         | wall time, {} requests in | {:.1} s ({} failed) | {:.1} s | {} |\n\
         | one request unloaded (client-side, median of 20) | {} | | |\n\
         | tenant quota: DynamoDB write units per request (UpdateItems per check under the clients) | {} ({}) | 1 UpdateItem per request | |\n",
        r.read_units_per_api_read,
        r.floor_read_units,
        r.page_items,
        r.page_bytes,
        ratio(r.read_units_per_api_read, r.floor_read_units),
        r.calls_per_read
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.api_ms.count,
        r.api_wall_s,
        r.api_failed,
        r.floor_wall_s,
        ratio(r.api_wall_s, r.floor_wall_s),
        ms(r.api_unloaded_ms),
        r.quota_write_units_per_request
            .map_or_else(|| "no quota".to_owned(), |u| format!("{u:.3}")),
        r.quota_checks.map_or_else(String::new, |(checks, fallbacks)| format!(
            "{checks} checks, {fallbacks} answered by the in-process fallback"
        )),
    ));
    StageOut::new(out, stage).write(&md, &serde_json::to_value(&r)?)?;
    print!("{md}");
    Ok(())
}

// ---- 90-cost -------------------------------------------------------------------------------

/// A published price used by the model.
struct Price {
    item: &'static str,
    usd: f64,
    unit: &'static str,
    source: &'static str,
}

/// us-east-1, on-demand, first tier, free tiers ignored; looked up 2026-12-01.
const PRICES: &[Price] = &[
    Price {
        item: "Lambda duration, arm64",
        usd: 0.000_013_333_4,
        unit: "per GB-second",
        source: "aws.amazon.com/lambda/pricing (first 7.5 billion GB-s/month); figure as quoted by cloudchipr.com/blog/aws-lambda-pricing",
    },
    Price {
        item: "Lambda requests",
        usd: 0.20,
        unit: "per 1M requests",
        source: "aws.amazon.com/lambda/pricing",
    },
    Price {
        item: "Lambda INIT (cold start) duration",
        usd: 0.000_013_333_4,
        unit: "per GB-second (billed since 2025-08-01 for every runtime)",
        source: "AWS Compute Blog, 'AWS Lambda standardizes billing for INIT Phase' (2025)",
    },
    Price {
        item: "SQS standard queue requests",
        usd: 0.40,
        unit: "per 1M requests (each 64 KB chunk of a payload is one)",
        source: "aws.amazon.com/sqs/pricing; figure as quoted by cloudburn.io/blog/amazon-sqs-pricing (March 2026)",
    },
    Price {
        item: "DynamoDB on-demand write request units",
        usd: 0.625,
        unit: "per 1M WRU",
        source: "aws.amazon.com/dynamodb/pricing/on-demand (after the November 2024 reduction); figure as quoted by airbyte.com/data-engineering-resources/dynamodb-pricing",
    },
    Price {
        item: "DynamoDB on-demand read request units",
        usd: 0.125,
        unit: "per 1M RRU",
        source: "as above",
    },
    Price {
        item: "API Gateway HTTP API requests",
        usd: 1.00,
        unit: "per 1M requests (first 300M/month, metered per 512 KB)",
        source: "aws.amazon.com/api-gateway/pricing; figure as quoted by apigatewaycost.com/aws and awsforengineers.com",
    },
    Price {
        item: "Lambda function URL",
        usd: 0.0,
        unit: "no line item of its own: the invocation's Lambda request and duration",
        source: "aws.amazon.com/lambda/pricing (requests and duration are what is billed)",
    },
];

fn price(item: &str) -> f64 {
    PRICES
        .iter()
        .find(|p| p.item == item)
        .map_or(0.0, |p| p.usd)
}

/// The public lambda-perf figures the reference design uses (maxday/lambda-perf,
/// data/2025/2025-12-21.json: a hello-world function, 10 cold starts a day).
const NODE_INIT_MS: f64 = 118.152; // nodejs22.x, zip, 512 MB, arm64: average cold start
const NODE_MEMORY_USED_MB: f64 = 73.4; // the same function's max memory used
const RUST_PERF_INIT_MS: f64 = 13.905; // rust on provided.al2023, 256 MB, arm64
/// AWS: cold starts "typically occur in under 1% of invocations" (same blog post).
const COLD_START_SHARE: f64 = 0.01;

fn read_json(dir: &Path, stage: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(format!("{stage}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

fn get(value: &Option<Value>, path: &[&str]) -> Option<f64> {
    let mut v = value.as_ref()?;
    for key in path {
        v = v.get(key)?;
    }
    v.as_f64()
}

/// One line of a cost breakdown: what, per unit of work, its USD per 1M units of work.
struct Line {
    what: String,
    quantity: Option<String>,
    usd_per_million: Option<f64>,
}

fn line(what: &str, quantity: Option<String>, usd_per_million: Option<f64>) -> Line {
    Line {
        what: what.to_owned(),
        quantity,
        usd_per_million,
    }
}

const NOT_MEASURED: &str = "not measured in this run";

fn total(lines: &[Line]) -> f64 {
    lines.iter().filter_map(|l| l.usd_per_million).sum()
}

fn gb_s_per_million(memory_mb: f64, billed_ms: f64) -> f64 {
    memory_mb / 1024.0 * billed_ms.ceil() / 1000.0 * 1e6
}

fn cost(out: &Path, template: &Path) -> anyhow::Result<()> {
    let stage = "90-cost";
    let tpl = packr_local::template::Template::load(template)?;
    let memory = |id: &str| -> f64 {
        tpl.function(id)
            .ok()
            .and_then(|f| f.memory_mb)
            .map_or(128.0, |m| m as f64)
    };
    let (ingest_mb, processor_mb, orders_mb) = (
        memory("WebhookIngestFunction"),
        memory("WebhookProcessorFunction"),
        memory("ApiOrdersFunction"),
    );
    let ingest = read_json(out, "20-ingest");
    let units = read_json(out, "40-dynamodb-units");
    let api = read_json(out, "60-api");
    let coldstart = read_json(out, "10-coldstart");
    let init_of = |name: &str| -> Option<f64> {
        coldstart
            .as_ref()?
            .get("functions")?
            .as_array()?
            .iter()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name))?
            .get("init_ms")?
            .as_f64()
    };
    let gb_s = price("Lambda duration, arm64");
    let request = price("Lambda requests");
    let sqs = price("SQS standard queue requests");
    let wru = price("DynamoDB on-demand write request units");
    let rru = price("DynamoDB on-demand read request units");
    let http_api = price("API Gateway HTTP API requests");

    // Measured inputs.
    // Ingest's mean ack at 100/s, one delivery at a time (20-ingest).
    let ingest_ms = get(&ingest, &["ack_ms", "mean"]);
    let body = get(&ingest, &["body_mean_bytes"]);
    // The processor's invocations of the units run (50/s): the 30-webhook-lag run at 200/s
    // saturates the emulator, which stretches every call.
    let batch_ms = get(&units, &["run", "invocation_mean_ms"]);
    let batch_records = get(&units, &["run", "invocation_mean_records"]);
    let w = get(&units, &["write_units_per_event"]);
    let r = get(&units, &["read_units_per_event"]);
    // The reference keeps the indexes before issue 22 (its apply billed under them, from
    // the same recorded writes).
    let object_w = get(&units, &["reference_object_units_per_event"]);
    let index_w = get(&units, &["reference_index_units_per_event"]);
    let api_ms = get(&api, &["api_unloaded_ms"]);
    let api_rru = get(&api, &["read_units_per_api_read"]);
    let q = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f);

    // Packr, per webhook.
    let per_event_invocations = batch_records.map(|n| 1.0 / n.max(1.0));
    let chunks = body.map_or(1.0, |b| (b / 65_536.0).ceil().max(1.0));
    let mut packr = vec![
        line("ingest: Lambda request", Some("1".into()), Some(request)),
        line(
            &format!("ingest: duration ({ingest_mb:.0} MB × measured mean ack)"),
            q(ingest_ms, &|m| format!("{m:.2} ms")),
            ingest_ms.map(|m| gb_s_per_million(ingest_mb, m) * gb_s),
        ),
        line(
            "SQS: SendMessage + (ReceiveMessage + DeleteMessageBatch) per batch",
            q(per_event_invocations, &|i| {
                format!("{:.3} requests", chunks + 2.0 * i)
            }),
            per_event_invocations.map(|i| (chunks + 2.0 * i) * sqs),
        ),
        line(
            "processor: Lambda requests (one per batch)",
            q(per_event_invocations, &|i| format!("{i:.3}")),
            per_event_invocations.map(|i| i * request),
        ),
        line(
            &format!("processor: duration ({processor_mb:.0} MB × mean batch time / records, 40-dynamodb-units run)"),
            batch_ms
                .zip(batch_records)
                .map(|(m, n)| format!("{m:.1} ms / {n:.2}")),
            batch_ms
                .zip(batch_records)
                .map(|(m, n)| gb_s_per_million(processor_mb, m) * gb_s / n.max(1.0)),
        ),
        line(
            "DynamoDB writes (40-dynamodb-units)",
            q(w, &|u| format!("{u:.2} WRU")),
            w.map(|u| u * wru),
        ),
        line(
            "DynamoDB reads",
            q(r, &|u| format!("{u:.3} RRU")),
            r.map(|u| u * rru),
        ),
    ];
    let cold = |name: &str, mb: f64| -> Line {
        match init_of(name) {
            Some(init) => line(
                &format!(
                    "{name}: cold starts ({:.0} % of invocations × init)",
                    COLD_START_SHARE * 100.0
                ),
                Some(format!("{init:.1} ms")),
                Some(COLD_START_SHARE * gb_s_per_million(mb, init) * gb_s),
            ),
            None => line(
                &format!("{name}: cold starts (10-coldstart)"),
                Some(NOT_MEASURED.into()),
                None,
            ),
        }
    };
    packr.push(cold("webhook-ingest", ingest_mb));
    packr.push(cold("webhook-processor", processor_mb));

    // Reference: the same shape and the same measured durations (favourable to it), a
    // Powertools-style idempotency record (a conditional put of the lock, an update to
    // complete it, a read), its own apply write of the same object into the same table
    // with the indexes as they were before issue 22 (projection ALL on the listings and
    // the SKU lookup, the feed's gsi5), Node.js cold starts.
    let reference_w = object_w.zip(index_w).map(|(o, i)| o + i + 2.0);
    let mut reference: Vec<Line> = packr
        .iter()
        .filter(|l| !l.what.starts_with("DynamoDB") && !l.what.contains("cold starts"))
        .map(|l| line(&l.what, l.quantity.clone(), l.usd_per_million))
        .collect();
    reference.push(line(
        "DynamoDB writes: lock put + lock update + the apply (object and its GSI entries, the indexes before issue 22)",
        q(reference_w, &|u| format!("{u:.2} WRU")),
        reference_w.map(|u| u * wru),
    ));
    reference.push(line(
        "DynamoDB reads: the idempotency record",
        Some("1 RRU".into()),
        Some(rru),
    ));
    for (name, mb) in [("ingest", ingest_mb), ("processor", processor_mb)] {
        reference.push(line(
            &format!("{name}: Node.js cold starts (1 % × lambda-perf init)"),
            Some(format!("{NODE_INIT_MS:.1} ms")),
            Some(COLD_START_SHARE * gb_s_per_million(mb, NODE_INIT_MS) * gb_s),
        ));
    }

    // Per API read.
    let api_packr = vec![
        line(
            "API Gateway HTTP API request",
            Some("1".into()),
            Some(http_api),
        ),
        line(
            "api-orders: Lambda request",
            Some("1".into()),
            Some(request),
        ),
        line(
            &format!("api-orders: duration ({orders_mb:.0} MB × measured unloaded request)"),
            q(api_ms, &|m| format!("{m:.2} ms")),
            api_ms.map(|m| gb_s_per_million(orders_mb, m) * gb_s),
        ),
        line(
            "DynamoDB reads (60-api)",
            q(api_rru, &|u| format!("{u:.2} RRU")),
            api_rru.map(|u| u * rru),
        ),
        cold("api-orders", orders_mb),
    ];
    let mut api_reference: Vec<Line> = api_packr
        .iter()
        .filter(|l| !l.what.contains("cold starts"))
        .map(|l| line(&l.what, l.quantity.clone(), l.usd_per_million))
        .collect();
    api_reference.push(line(
        "api: Node.js cold starts (1 % × lambda-perf init)",
        Some(format!("{NODE_INIT_MS:.1} ms")),
        Some(COLD_START_SHARE * gb_s_per_million(orders_mb, NODE_INIT_MS) * gb_s),
    ));

    let table = |title: &str, lines: &[Line]| -> String {
        let mut s = format!("| {title} | per unit of work | USD per 1M |\n|---|---|---|\n");
        for l in lines {
            s.push_str(&format!(
                "| {} | {} | {} |\n",
                l.what,
                l.quantity.as_deref().unwrap_or(NOT_MEASURED),
                l.usd_per_million
                    .map_or_else(|| NOT_MEASURED.to_owned(), |u| format!("${u:.4}"))
            ));
        }
        s.push_str(&format!(
            "| **total (measured lines)** | | **${:.4}** |\n",
            total(lines)
        ));
        s
    };
    let missing: Vec<&str> = [
        ("20-ingest", ingest.is_none()),
        ("40-dynamodb-units", units.is_none()),
        ("60-api", api.is_none()),
        ("10-coldstart", coldstart.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(s, _)| *s)
    .collect();

    let mut md = format!(
        "## Cost model: AWS cost per 1M webhooks and per 1M API reads\n\n{}\n\
         From this run's figures (the stages' JSON in `$BENCH_OUT`) and the memory settings in \
         `template.yaml` (webhook-ingest {ingest_mb:.0} MB, webhook-processor {processor_mb:.0} MB, \
         api-orders {orders_mb:.0} MB, arm64). Billed duration = measured mean, rounded up to 1 ms. \
         The durations are the local stack's, where every AWS call goes to a Python emulator: they \
         overstate Lambda's GB-seconds, and the ratios, not the dollars, are the point. Free tiers \
         are ignored; cold starts are charged for {:.0} % of invocations (AWS: under 1 %).{}\n\n",
        command(stage),
        COLD_START_SHARE * 100.0,
        if missing.is_empty() {
            String::new()
        } else {
            format!(" Stages without figures in this run: {}.", missing.join(", "))
        }
    );
    md.push_str(&table("Packr, per webhook", &packr));
    md.push('\n');
    md.push_str(&table(
        "Reference design (Node.js, Powertools-style idempotency), per webhook",
        &reference,
    ));
    md.push('\n');
    md.push_str(&table("Packr, per API read (`GET /orders`)", &api_packr));
    md.push('\n');
    md.push_str(&table("Reference design, per API read", &api_reference));
    let (pw, rw, pa, ra) = (
        total(&packr),
        total(&reference),
        total(&api_packr),
        total(&api_reference),
    );
    md.push_str(&format!(
        "\n| per 1M | Packr | reference | Packr / reference |\n|---|---|---|---|\n\
         | webhooks | ${pw:.2} | ${rw:.2} | {} |\n| API reads | ${pa:.2} | ${ra:.2} | {} |\n",
        ratio(pw, rw),
        ratio(pa, ra)
    ));
    if coldstart.is_none() {
        md.push_str(&format!(
            "\nPackr's cold starts: {NOT_MEASURED} (`10-coldstart` absent), so Packr's totals leave them out \
             while the reference's include Node.js's; for scale, lambda-perf's hello-world Rust on \
             provided.al2023 (256 MB, arm64) starts in {RUST_PERF_INIT_MS:.1} ms against Node.js 22's \
             {NODE_INIT_MS:.1} ms.\n"
        ));
    }
    md.push_str("\nPrices (us-east-1, on-demand, first tier; looked up 2026-12-01):\n\n| item | USD | unit | source |\n|---|---|---|---|\n");
    for p in PRICES {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.item, p.usd, p.unit, p.source
        ));
    }
    md.push_str(&format!(
        "\nReference-design figures: Node.js 22 (zip, arm64, 512 MB) hello-world average cold start \
         {NODE_INIT_MS} ms and {NODE_MEMORY_USED_MB} MB max memory used, from the public lambda-perf \
         benchmark (github.com/maxday/lambda-perf, `data/2025/2025-12-21.json`); the reference is given \
         Packr's measured durations and memory settings (its 73 MB fit in them), so it differs only in \
         its DynamoDB requests (2 lock writes + the apply, 1 read, as AWS Lambda Powertools' idempotency \
         utility does) and its cold starts.\n"
    ));
    StageOut::new(out, stage).write(
        &md,
        &json!({
            "usd_per_million_webhooks": {"packr": pw, "reference": rw},
            "usd_per_million_api_reads": {"packr": pa, "reference": ra},
            "missing_stages": missing,
        }),
    )?;
    print!("{md}");
    Ok(())
}
