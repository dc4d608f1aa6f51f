//! `packr-coldstart`: cold start, warm invoke and peak RSS of every function of
//! template.yaml beside a hello-world floor (stage `10-coldstart` of `make bench`).
//! Needs the emulator (`AWS_ENDPOINT_URL`) and the release binaries in `--release-dir`.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use packr_coldstart::bench::{self, Options};
use packr_coldstart::report::Report;

#[derive(Parser)]
struct Args {
    /// The release binaries: every function's and coldstart-hello.
    #[arg(long, env = "BENCH_RELEASE_DIR")]
    release_dir: PathBuf,
    /// Where 10-coldstart.md / .json and the functions' logs go.
    #[arg(long, env = "BENCH_OUT")]
    out: PathBuf,
    /// Cold starts per binary.
    #[arg(long, env = "COLDSTART_RUNS", default_value_t = 25)]
    runs: usize,
    /// The repository (template.yaml, events/).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Only these functions (binary names, comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// A variable added to every function's environment (not the floor's), NAME=VALUE;
    /// repeatable.
    #[arg(long = "function-env", value_parser = parse_assignment)]
    function_env: Vec<(String, String)>,
    /// An earlier run's 10-coldstart.json to print a before/after table against.
    #[arg(long, env = "COLDSTART_BEFORE")]
    before: Option<PathBuf>,
    /// The release profile, as the stage describes it.
    #[arg(
        long,
        env = "COLDSTART_PROFILE",
        default_value = "[profile.release] of Cargo.toml"
    )]
    profile: String,
    /// The command that reproduces this stage, printed in the fragment.
    #[arg(
        long,
        env = "COLDSTART_COMMAND",
        default_value = "bash infra/bench/stages/10-coldstart.sh"
    )]
    command: String,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let options = Options {
        release_dir: args.release_dir,
        repo: args.repo,
        logs: args.out.join("coldstart-logs"),
        runs: args.runs.max(1),
        limit: Duration::from_secs(60),
        only: args.only,
        extra_environment: args.function_env.into_iter().collect(),
    };
    let results = bench::run(&options).await?;
    let report = Report::from_results(&results);
    let before = match &args.before {
        None => None,
        Some(path) => Some(
            serde_json::from_str::<Report>(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("parsing {}", path.display()))?,
        ),
    };
    let markdown = report.markdown(&args.command, &args.profile, before.as_ref());
    std::fs::write(
        args.out.join("10-coldstart.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(args.out.join("10-coldstart.md"), &markdown)?;
    print!("{markdown}");
    Ok(())
}
