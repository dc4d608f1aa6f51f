//! The `packr` operator CLI: argument parsing, queue resolution, progress and tables. The
//! operations themselves are `packr::ops`.
//!
//! ```text
//! packr dlq redrive [--queue webhook|sync-jobs | --dlq-url URL [--source-url URL]] [--max N] [--dry-run]
//! packr dlq inspect [--queue webhook|sync-jobs | --dlq-url URL] [--limit N]
//! packr token --tenant T --role R [--brand B ...] [--sub S] [--ttl-minutes N] [--key-file PATH]
//! packr sync run --tenant T [--connection C] [--resource orders|inventory|products ...] [--full]
//! packr health [--tenant T]
//! packr replay --tenant T [--brand B] [--event ID ...] [--max-age-hours N] [--dry-run] [--max N]
//! packr reconcile --tenant T --connection C [--resource R ...] [--dry-run]
//! packr audit verify --tenant T
//! packr privacy reapply --tenant T [--records-from TABLE] [--no-wait]
//! packr changes tail --tenant T [--kind R ...] [--brand B] [--from-start | --since TIME] [--objects] [--once] [--max N]
//! ```

mod args;
mod audit;
mod changes;
mod dlq;
mod health;
mod privacy;
mod render;
mod replay;
mod sync;
mod tenant;
mod token;

use std::io::Write;
use std::process::ExitCode;

pub use args::{
    AuditCommand, AuditVerifyArgs, ChangesCommand, ChangesTailArgs, Cli, Command, DlqCommand,
    HealthArgs, InspectArgs, MethodArg, PrivacyCommand, PrivacyReapplyArgs, QueueArgs, QueueName,
    ReconcileArgs, RedriveArgs, ReplayArgs, ResourceArg, SyncCommand, SyncRunArgs, TenantArgs,
    TenantCommand, TokenArgs,
};
pub use dlq::{resolve_queues, QueueError};
pub use health::{
    failing as health_failing, tenant_arg as health_tenant, HealthCommandError, QueueFigures,
};
pub use replay::{enqueue_reconcile, ReconcileRequest, ReplayArgsError};
pub use sync::{enqueue as enqueue_sync, SyncReport, SyncRequest, SyncRunError};
pub use tenant::{Hooks as OffboardHooks, TENANT_OFFBOARDING_JOB};
pub use token::run as mint_token;

/// Logs (warnings and up unless `RUST_LOG` says otherwise) go to stderr, apart from the
/// tables on stdout.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command. `env` looks up environment variables (queue URLs, the table);
/// tables go to `out`. The exit code is non-zero when anything failed (an `Err` is printed
/// by `main` and exits non-zero too).
pub async fn run(
    cli: Cli,
    sdk: &aws_config::SdkConfig,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let sqs = &aws_sdk_sqs::Client::new(sdk);
    match cli.command {
        Command::Dlq(DlqCommand::Redrive(args)) => dlq::redrive(sqs, &args, env, out).await,
        Command::Dlq(DlqCommand::Inspect(args)) => dlq::inspect(sqs, &args, env, out).await,
        Command::Token(args) => token::run(&args, out),
        Command::Sync(SyncCommand::Run(args)) => sync::run(sdk, &args, env, out).await,
        Command::Health(args) => health::run(sdk, &args, env, out).await,
        Command::Replay(args) => replay::run_replay(sdk, &args, env, out).await,
        Command::Reconcile(args) => replay::run_reconcile(sdk, &args, env, out).await,
        Command::Audit(AuditCommand::Verify(args)) => audit::verify(sdk, &args, env, out).await,
        Command::Changes(ChangesCommand::Tail(args)) => changes::tail(sdk, &args, env, out).await,
        Command::Privacy(PrivacyCommand::Reapply(args)) => {
            privacy::reapply(sdk, &args, env, out).await
        }
        Command::Tenant(TenantCommand::Offboard(args)) => {
            tenant::offboard(sdk, &args, env, &tenant::Hooks::from_env(sdk, env), out).await
        }
        Command::Tenant(TenantCommand::OffboardStatus(args)) => {
            tenant::status(sdk, &args, env, &tenant::Hooks::from_env(sdk, env), out).await
        }
    }
}
