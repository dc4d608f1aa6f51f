//! `iam-check --template template.yaml --recording <moto recording>`: exits 1 when a
//! function made a request its role refuses, or when a function with AWS permissions made
//! none (unless excused with `--not-exercised <function>=<reason>`); 2 when the template or
//! the recording cannot be read.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use packr_iam_check::{check, recording, roles};
use packr_local::template::Template;

#[derive(Parser)]
#[command(
    about = "Checks the functions' recorded AWS requests against their roles in template.yaml"
)]
struct Args {
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// moto's recording (MOTO_RECORDER_FILEPATH), one JSON request per line.
    #[arg(long)]
    recording: PathBuf,
    /// `<function>=<reason>`: a function whose permissions the suite need not exercise.
    #[arg(long = "not-exercised", value_name = "FUNCTION=REASON")]
    not_exercised: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("iam-check: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let args = Args::parse();
    let template = Template::load(&args.template)?;
    let functions = roles::function_policies(&template)?;
    let names = recording::Names::new(&template)?;
    let text = std::fs::read_to_string(&args.recording)
        .with_context(|| format!("reading {}", args.recording.display()))?;
    let recorded = recording::parse(&text, &names)?;
    let mut excused = BTreeMap::new();
    for entry in &args.not_exercised {
        let (name, reason) = entry
            .split_once('=')
            .with_context(|| format!("--not-exercised {entry}: expected <function>=<reason>"))?;
        excused.insert(name.to_owned(), reason.to_owned());
    }
    let report = check::run(&functions, &recorded.authorizations, &excused);
    println!(
        "iam-check: {} recorded requests: {} authorizations of functions checked, {} by test setup \
         (not a function's), {} unsigned",
        recorded.lines,
        recorded.authorizations.len(),
        recorded.unattributed,
        recorded.unsigned
    );
    print!("{}", check::render(&report, &functions));
    let verdict = if report.failed() { "FAILED" } else { "passed" };
    println!(
        "iam-check: {verdict} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(!report.failed())
}
