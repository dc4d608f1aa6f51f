//! `make dev`: runs the Packr local stack. All logic is in `packr_local::dev`.

use clap::Parser;
use packr_local::dev::{run, DevOptions};

#[derive(Parser)]
#[command(
    about = "Runs Packr locally: AWS emulator provisioned from template.yaml, Trackstar simulator, local gateway, SQS pollers"
)]
struct Args {
    /// Repository root (template.yaml, .venv/, .local/).
    #[arg(long, default_value_os_t = packr_local::template::repo_root())]
    root: std::path::PathBuf,
    /// Gateway port on 127.0.0.1 (0 = a free one).
    #[arg(long, env = "PACKR_GATEWAY_PORT", default_value_t = 0)]
    gateway_port: u16,
    /// Trackstar simulator port on 127.0.0.1 (0 = a free one).
    #[arg(long, env = "PACKR_SIM_PORT", default_value_t = 0)]
    sim_port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    packr_local::dev::init_logs();
    let args = Args::parse();
    run(DevOptions {
        root: args.root,
        gateway_port: args.gateway_port,
        sim_port: args.sim_port,
    })
    .await
}
