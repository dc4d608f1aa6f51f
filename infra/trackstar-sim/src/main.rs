//! `trackstar-sim`: runs the simulator until Ctrl-C and prints its URL.

use std::path::PathBuf;

use clap::Parser;
use trackstar_sim::{SimConfig, SimConnection, WebhookTarget};

#[derive(Debug, Parser)]
#[command(about = "A local stand-in for the Trackstar API")]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 50)]
    orders_per_connection: usize,
    #[arg(long, default_value_t = 20)]
    inventory_per_connection: usize,
    #[arg(long, default_value_t = 20)]
    products_per_connection: usize,
    /// Default: a tenth of the orders (1 to 10).
    #[arg(long)]
    inbound_shipments_per_connection: Option<usize>,
    /// Default: a tenth of the orders (1 to 10).
    #[arg(long)]
    returns_per_connection: Option<usize>,
    #[arg(long, default_value = "sim_api_key")]
    api_key: String,
    /// Extra connections as `connection_id:access_token[:integration_name]`.
    #[arg(long = "connection")]
    connections: Vec<String>,
    #[arg(long, default_value_t = 10)]
    get_rate_per_sec: u32,
    #[arg(long, default_value_t = 50)]
    write_rate_per_sec: u32,
    #[arg(long)]
    webhook_url: Option<String>,
    /// `whsec_<base64>`; a fresh one is made (and printed) when omitted.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Complete on-demand sync jobs on their own after this many ms (default: only
    /// through `POST /_sim/on-demand-syncs/{id}/complete`).
    #[arg(long)]
    on_demand_auto_complete_ms: Option<u64>,
    /// Write the webhook fixtures into this directory and exit.
    #[arg(long)]
    write_fixtures: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    if let Some(dir) = args.write_fixtures {
        for path in trackstar_sim::fixtures::write_fixtures(&dir)? {
            println!("wrote {}", path.display());
        }
        return Ok(());
    }
    let mut config = SimConfig {
        seed: args.seed,
        orders_per_connection: args.orders_per_connection,
        inventory_per_connection: args.inventory_per_connection,
        products_per_connection: args.products_per_connection,
        inbound_shipments_per_connection: args.inbound_shipments_per_connection,
        returns_per_connection: args.returns_per_connection,
        api_key: args.api_key,
        get_rate_per_sec: args.get_rate_per_sec,
        write_rate_per_sec: args.write_rate_per_sec,
        on_demand_auto_complete_ms: args.on_demand_auto_complete_ms,
        ..SimConfig::default()
    };
    for spec in &args.connections {
        let parts: Vec<&str> = spec.split(':').collect();
        let (Some(id), Some(token)) = (parts.first(), parts.get(1)) else {
            anyhow::bail!("--connection takes connection_id:access_token[:integration]");
        };
        let mut connection = SimConnection::new(id, token);
        if let Some(integration) = parts.get(2) {
            connection = connection.with_integration(integration);
        }
        config.connections.push(connection);
    }
    if let Some(url) = args.webhook_url {
        let secret = args
            .webhook_secret
            .unwrap_or_else(trackstar_sim::new_secret);
        println!("webhook secret: {secret}");
        config.webhook = Some(WebhookTarget { url, secret });
    }
    let sim = trackstar_sim::spawn_on(config, args.port).await?;
    println!("trackstar-sim listening on {}", sim.base_url);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
