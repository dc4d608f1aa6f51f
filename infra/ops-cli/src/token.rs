//! `packr token`: mints a dev JWT with the key `make dev`'s authorizer uses.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use packr_local::dev_jwt::{default_scopes, DevJwt};

use crate::args::TokenArgs;

pub fn run(args: &TokenArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let jwt = DevJwt::load_or_create(&args.key_file)?;
    let scopes = if args.no_scope {
        None
    } else if args.scopes.is_empty() {
        Some(default_scopes(&args.role))
    } else {
        Some(args.scopes.clone())
    };
    let token = jwt.mint_scoped(
        &args.sub,
        &args.tenant,
        &args.role,
        &args.brands,
        scopes.as_deref(),
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
        let claims = minted("brand_viewer", &["--brand", "b1", "--brand", "b2"]);
        assert_eq!(claims.tenant_id, "t1");
        assert_eq!(claims.role, "brand_viewer");
        assert_eq!(claims.brand_ids, vec!["b1", "b2"]);
    }

    /// Mints a token for tenant `t1` with `role` and `extra` arguments through the CLI, and
    /// returns its claims as the key verifies them.
    fn minted(role: &str, extra: &[&str]) -> packr_local::dev_jwt::Claims {
        let dir = std::env::temp_dir().join(format!("packr-token-{}", uuid_like()));
        let key = dir.join("jwt.key");
        let mut argv = vec![
            "packr",
            "token",
            "--tenant",
            "t1",
            "--role",
            role,
            "--key-file",
            key.to_str().expect("utf-8 path"),
        ];
        argv.extend_from_slice(extra);
        let cli = Cli::parse_from(argv);
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
        let _ = std::fs::remove_dir_all(dir);
        claims
    }

    #[test]
    fn a_token_carries_its_role_s_scopes_unless_told_otherwise() {
        // given / when / then: the role's own scopes by default
        assert_eq!(
            minted("tenant_staff", &[]).scope.as_deref(),
            Some("packr/read packr/write")
        );
        // chosen ones with --scope
        assert_eq!(
            minted(
                "tenant_staff",
                &["--scope", "packr/admin", "--scope", "other"]
            )
            .scope
            .as_deref(),
            Some("packr/admin other")
        );
        // none at all with --no-scope (an ID token's shape)
        assert_eq!(minted("tenant_staff", &["--no-scope"]).scope, None);
    }

    #[test]
    fn scope_and_no_scope_exclude_each_other() {
        let parsed = Cli::try_parse_from([
            "packr",
            "token",
            "--tenant",
            "t1",
            "--role",
            "tenant_staff",
            "--scope",
            "packr/read",
            "--no-scope",
        ]);
        assert!(parsed.is_err());
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
