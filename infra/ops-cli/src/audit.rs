//! `packr audit verify --tenant T`: walks the tenant's audit chain (TABLE_NAME,
//! AUDIT_SECRET_ARN) with `packr::audit::verify` and prints what it found. Exits non-zero
//! when an entry was edited, deleted or inserted, or the head does not match.

use std::io::Write;
use std::process::ExitCode;

use aws_config::SdkConfig;
use packr::domain::{TenantId, Timestamp};

use crate::args::AuditVerifyArgs;
use crate::replay::{audit_log, required};

#[derive(Debug, thiserror::Error)]
pub enum AuditCommandError {
    #[error("`{0}` is not a tenant id")]
    Tenant(String),
}

pub async fn verify(
    sdk: &SdkConfig,
    args: &AuditVerifyArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let tenant = TenantId::parse(args.tenant.clone())
        .map_err(|_| AuditCommandError::Tenant(args.tenant.clone()))?;
    required(env, "AUDIT_SECRET_ARN")?;
    let log = audit_log(sdk, env)?;
    let report = log.verify(&tenant, Timestamp::now()).await?;
    writeln!(
        out,
        "tenant {}: head #{}, {} entries checked, {} expired",
        report.tenant, report.head_seq, report.entries, report.expired
    )?;
    if report.intact() {
        writeln!(out, "chain intact")?;
        return Ok(ExitCode::SUCCESS);
    }
    for finding in &report.findings {
        writeln!(out, "TAMPERED: {finding}")?;
    }
    Ok(ExitCode::FAILURE)
}
