//! `packr-dev` (`make dev`): the whole system on one machine, no AWS account, no Docker.
//!
//! Starts moto on a free loopback port, provisions it from `template.yaml`, seeds the demo
//! tenant, starts the Trackstar simulator, the local gateway (with webhook-ingest's function
//! URL and the API routes behind the dev JWT authorizer, key in `.local/dev/jwt.key`), the
//! event source mappings feeding webhook-processor and sync-worker, and the schedules
//! (sync-scheduler); enqueues a full sync of the demo connection, prints what listens
//! where, and on Ctrl-C / SIGTERM stops everything it started.
//! State (PID and port of the emulator, its log, the env file) lives in `.local/dev/`.

mod banner;
mod shutdown;
mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::dev_jwt::{default_key_file, DevJwt};
use crate::emulator::{self, MotoProcess, LOCAL_REGION};
use crate::local_env::local_environment;
use crate::provision::provision;
use crate::seed::{DEMO_CONNECTION, DEMO_TENANT};
use crate::stack::LocalStack;
use crate::sync::SyncOptions;
use crate::template::Template;
use crate::webhooks::WebhookOptions;
use anyhow::Context;
use packr::sync::{ResourceKind, SyncMode};

/// Resource name prefix of the dev stack.
pub const DEV_PREFIX: &str = "packr-dev";

#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The repository root (holds `template.yaml`, `.venv/`, `.local/`).
    pub root: PathBuf,
    /// Gateway port on 127.0.0.1; 0 picks a free one.
    pub gateway_port: u16,
    /// Trackstar simulator port on 127.0.0.1; 0 picks a free one.
    pub sim_port: u16,
}

pub async fn run(options: DevOptions) -> anyhow::Result<()> {
    let state = state::StateDir::new(options.root.join(".local/dev"))?;
    state.stop_stale_emulator();
    let template_path = options.root.join("template.yaml");
    let template = Template::load(&template_path)?;

    let moto = MotoProcess::start(&options.root, &state.moto_log()).await?;
    state.record_emulator(moto.pid(), moto.port())?;

    let outcome = run_with_emulator(&options, &template, &moto, &state).await;

    let pid = moto.pid();
    if let Err(error) = moto.stop().await {
        eprintln!("packr-dev: stopping moto (pid {pid}) failed: {error}");
    }
    state.clear();
    outcome
}

async fn run_with_emulator(
    options: &DevOptions,
    template: &Template,
    moto: &MotoProcess,
    state: &state::StateDir,
) -> anyhow::Result<()> {
    let sdk = emulator::sdk_config(&moto.endpoint()).await;
    let resources = provision(&sdk, template, DEV_PREFIX)
        .await
        .context("provisioning the emulator from template.yaml")?;
    let environment = local_environment(template, &resources, &BTreeMap::new())?;
    for unresolved in &environment.unresolved {
        eprintln!("packr-dev: no local value for {unresolved}");
    }
    let stack = Arc::new(LocalStack {
        aws_endpoint_url: moto.endpoint(),
        region: LOCAL_REGION.to_owned(),
        prefix: DEV_PREFIX.to_owned(),
        resources,
        function_environment: environment.functions,
    });

    // seed: the demo tenant with two brands, the simulator, the function URL and the pollers.
    let webhooks = crate::webhooks::start(
        &sdk,
        stack.clone(),
        WebhookOptions {
            gateway_port: options.gateway_port,
            sim_port: options.sim_port,
            jwt: Some(DevJwt::load_or_create(&default_key_file(&options.root))?),
            sync: SyncOptions {
                template: Some(options.root.join("template.yaml")),
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .context("starting the webhook pipeline (seed, simulator, gateway, pollers)")?;
    state.write_stack(&webhooks.stack)?;
    // The demo connection's first full sync, as a new connection gets one: the API shows
    // the simulator's objects within seconds, without any webhook.
    webhooks
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &ResourceKind::ALL,
            SyncMode::Full,
            "local-dev-start",
        )
        .await
        .context("enqueueing the demo connection's full sync")?;
    banner::print(&webhooks.stack, moto, &webhooks, state);

    shutdown::requested().await;
    println!(
        "\npackr-dev: stopping (pollers, gateway, simulator, then moto pid {})",
        moto.pid()
    );
    webhooks.shutdown().await;
    Ok(())
}

/// Human-readable logs on stderr for a person watching: the handlers' own spans and events
/// (`webhook queued`, `event processed` …). `RUST_LOG` overrides the default filter.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,packr=info,packr_local=info,trackstar_sim=warn")
    });
    let _ = tracing_subscriber::fmt()
        .compact()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
