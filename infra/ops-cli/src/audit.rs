//! `packr audit verify --tenant T`: walks the tenant's audit chain (TABLE_NAME,
//! AUDIT_SECRET_ARN) with `packr::audit::verify` and prints what it found. Exits non-zero
//! when an entry was edited, deleted or inserted, or the head does not match.
//!
//! [`record`]: the entry of an action the CLI took for a tenant (replay, sync run,
//! reconcile), in the same chain as the API's.

use std::io::Write;
use std::process::ExitCode;

use aws_config::SdkConfig;
use packr::domain::{TenantId, Timestamp, UserId};
use packr::store::{AuditEntry, AuditStore};

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

/// Records `action` on `target` for `tenant` as the CLI's (actor `packr-cli`, role `ops`).
/// The action has happened by then (jobs or events are queued): a failure to record is an
/// error the operator sees, never hidden.
pub(crate) async fn record(
    sdk: &SdkConfig,
    env: &dyn Fn(&str) -> Option<String>,
    tenant: &TenantId,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let entry = AuditEntry {
        id: AuditEntry::new_id(),
        tenant_id: tenant.clone(),
        actor: UserId::parse("packr-cli").expect("a valid user id"),
        actor_role: "ops".to_owned(),
        action: action.to_owned(),
        target,
        at: Timestamp::now(),
        request_id: format!("cli_{}", AuditEntry::new_id().trim_start_matches("aud_")),
        details: Some(details),
    };
    audit_log(sdk, env)?
        .append(tenant, &entry)
        .await
        .map(|_| ())
        .map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "{action} ran but could not be recorded in the audit log (is AUDIT_SECRET_ARN set?)"
            ))
        })
}
