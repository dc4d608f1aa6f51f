//! `make chaos`: the reliability run of the local stack (see `packr_local::chaos`): the
//! webhook phase, then the sync phase on the same stack (`CHAOS_PHASE=webhooks` or `sync`
//! runs one). Needs the emulator (`AWS_ENDPOINT_URL`); prints the table, writes it to
//! `--out` when given, exits 1 when a check failed.
//!
//! ```sh
//! eval "$(infra/scripts/moto.sh start)"
//! cargo run --release -p packr-local --bin packr-chaos -- --seed 7 --events 10000
//! CHAOS_PHASE=sync CHAOS_SEED=7 cargo run --release -p packr-local --bin packr-chaos
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use packr_local::chaos::sync_failures::FailureLayer;
use packr_local::chaos::sync_phase::SyncPhaseOptions;
use packr_local::chaos::{self, report, ChaosOptions, Outage, Phases};
use packr_local::testing::{emulator_config, fresh_local_stack};
use tracing_subscriber::prelude::*;

#[derive(Debug, Parser)]
#[command(
    name = "packr-chaos",
    about = "The webhook pipeline under faults, then every event accounted for"
)]
struct Args {
    /// Seeds every draw of the run (deliveries, AWS faults, Trackstar faults, data).
    #[arg(long, env = "CHAOS_SEED")]
    seed: Option<u64>,
    /// Changes raised (one webhook event each).
    #[arg(long, env = "CHAOS_EVENTS", default_value_t = 10_000)]
    events: usize,
    /// Changes raised per second.
    #[arg(long, env = "CHAOS_RATE", default_value_t = ChaosOptions::default().raise_per_second)]
    rate: f64,
    /// Pollers of the webhook queue.
    #[arg(long, env = "CHAOS_POLLERS", default_value_t = ChaosOptions::default().pollers)]
    pollers: usize,
    /// Seconds DynamoDB is out for the processor, from 90 % of the events (0: no outage).
    /// The default outlasts 5 receives × 40 s visibility, so messages dead-letter and the
    /// run explains and redrives them.
    #[arg(long, env = "CHAOS_OUTAGE_SECONDS")]
    outage_seconds: Option<u64>,
    /// `all` (the webhook phase, then the sync phase), `webhooks` or `sync`.
    #[arg(long, env = "CHAOS_PHASE", default_value = "all")]
    phase: String,
    /// Seconds the sync phase raises changes while its syncs run.
    #[arg(long, env = "CHAOS_SYNC_SECONDS", default_value_t = SyncPhaseOptions::default().duration.as_secs())]
    sync_seconds: u64,
    /// Changes raised per second in the sync phase.
    #[arg(long, env = "CHAOS_SYNC_RATE", default_value_t = SyncPhaseOptions::default().raise_per_second)]
    sync_rate: f64,
    /// Write the table (markdown) here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    // The log (RUST_LOG, off by default) on stderr; sync-worker's failure lines also to the
    // sync phase, which explains each failed job by them.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
                ),
        )
        .with(
            FailureLayer.with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("packr::sync::worker", tracing::Level::ERROR),
            ),
        )
        .init();
    let args = Args::parse();
    let seed = args
        .seed
        .unwrap_or_else(|| u64::from(rand::random::<u16>()));
    let defaults = ChaosOptions::default();
    let dynamodb_outage = match args.outage_seconds {
        Some(0) => None,
        Some(seconds) => Some(Outage {
            at_event: args.events * 9 / 10,
            lasts: Duration::from_secs(seconds),
        }),
        None => Some(Outage::dead_lettering(
            args.events,
            defaults.visibility_timeout,
            defaults.max_receive_count,
        )),
    };
    let options = ChaosOptions {
        seed,
        events: args.events,
        raise_per_second: args.rate,
        pollers: args.pollers,
        dynamodb_outage,
        ..defaults
    };
    let phases = Phases::parse(&args.phase).ok_or_else(|| {
        anyhow::anyhow!(
            "CHAOS_PHASE={:?}: expected all, webhooks or sync",
            args.phase
        )
    })?;
    let sync_options = SyncPhaseOptions {
        seed,
        duration: Duration::from_secs(args.sync_seconds),
        raise_per_second: args.sync_rate,
        ..SyncPhaseOptions::default()
    };
    eprintln!(
        "chaos: seed {seed} (CHAOS_SEED={seed} make chaos reproduces the run), phases {phases:?}, {} events at {}/s",
        options.events, options.raise_per_second
    );
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let report = chaos::run(&sdk, stack, options, phases, sync_options).await?;
    let table = report::render(&report);
    println!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, &table)?;
    }
    let failures = report.failures();
    eprintln!(
        "chaos: seed {seed}, {:.0} s, {}",
        report.elapsed.as_secs_f64(),
        if failures.is_empty() {
            "passed"
        } else {
            "FAILED"
        }
    );
    // Give the runtime a moment to close the last connections.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
