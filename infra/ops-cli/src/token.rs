//! `packr token`: mints a dev JWT with the key `make dev`'s authorizer uses.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use packr_local::dev_jwt::DevJwt;

use crate::args::TokenArgs;

pub fn run(args: &TokenArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let jwt = DevJwt::load_or_create(&args.key_file)?;
    let token = jwt.mint(
        &args.sub,
        &args.tenant,
        &args.role,
        &args.brands,
        Duration::from_secs(args.ttl_minutes.saturating_mul(60)),
    );
    writeln!(out, "{token}")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    #[test]
    fn prints_a_token_the_key_verifies() {
        let dir = std::env::temp_dir().join(format!("packr-token-{}", uuid_like()));
        let key = dir.join("jwt.key");
        let cli = Cli::parse_from([
            "packr",
            "token",
            "--tenant",
            "t1",
            "--role",
            "brand_viewer",
            "--brand",
            "b1",
            "--brand",
            "b2",
            "--key-file",
            key.to_str().expect("utf-8 path"),
        ]);
        let Command::Token(args) = cli.command else {
            panic!("parsed as token");
        };
        let mut out = Vec::new();
        run(&args, &mut out).expect("mints");
        let token = String::from_utf8(out).expect("utf-8");
        let claims = DevJwt::load(&key)
            .expect("key stored")
            .verify(token.trim())
            .expect("verifies");
        assert_eq!(claims.tenant_id, "t1");
        assert_eq!(claims.role, "brand_viewer");
        assert_eq!(claims.brand_ids, vec!["b1", "b2"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn uuid_like() -> String {
        format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        )
    }
}
