//! `packr`: Packr's operator CLI. Everything but wiring lives in the library.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use clap::Parser;
use packr_cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    packr_cli::init_logging();
    if let packr_cli::Command::Token(args) = &cli.command {
        // No AWS configuration (and no IMDS lookup) for a local token.
        return match packr_cli::mint_token(args, &mut std::io::stdout()) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let env = |name: &str| std::env::var(name).ok();
    match packr_cli::run(cli, &sdk, &env, &mut std::io::stdout()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
