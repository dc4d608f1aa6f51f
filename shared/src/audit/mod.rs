//! The tamper-evident audit trail: every mutation through the API is recorded before its
//! success answer, and each tenant's entries form a hash chain that `packr audit verify`
//! walks.
//!
//! **A failed audit write fails the request** (503 `audit_unavailable`) rather than being
//! kept aside and retried. The audit entry goes to the same table the request already
//! wrote (idempotency record, local copy): when that write fails, a fallback store
//! elsewhere would be a second system to keep durable and to drain into the chain in
//! order, and until it drained the mutation would be visible without its entry. Failing
//! the request is safe because of where the entry is written in each handler:
//! - *write-through* (orders create/cancel, products create/update): after Trackstar
//!   accepted and the answer is stored. The failure gives the `Idempotency-Key` up
//!   (`api::writes::idempotent`), so the client's retry with the same key runs again;
//!   Packr sends Trackstar the same key, Trackstar answers with what it already did (no
//!   second upstream write), the local upsert is idempotent, and the retry records the one
//!   entry. A replay of a completed key records nothing (nothing happened).
//! - *local writes without an upstream key* (message post, connection exchange and
//!   reinstall): before the local write. An exchange's auth code is single-use, so a retry
//!   cannot run it again: recording first means a failed audit write leaves no unaudited
//!   connection behind (the admin links again), and a message retry posts one message, not
//!   two. The price: if the local write fails after the entry, the log holds an entry for
//!   an action that did not complete — one entry too many, never one too few.
//! - *queueing* (sync run, replay) and link tokens: after the work; a retry queues again,
//!   which the sync leases and the only-if-newer apply make harmless.
//!
//! **The chain is keyed** (HMAC-SHA256 under a Secrets Manager key, `AUDIT_SECRET_ARN`),
//! not a bare hash: with a bare SHA-256 anyone who can write the table could edit an entry
//! and recompute every later hash and the head. With a key, table access is not enough; the
//! key is readable only by the functions that append (the API functions) and the operator
//! who verifies. A compromised API function role holds both and could rewrite the chain:
//! the chain guards against table-level tampering, not against Packr's own code.
//!
//! Modules: [`chain`] (key, canonical encoding, MACs), [`verify`] (the walk), [`keys`]
//! (where the key comes from); the DynamoDB side is `store::dynamo::DynamoAuditLog`.

pub mod chain;
pub mod keys;
pub mod verify;

pub use chain::{ChainKey, LinkFields, GENESIS};
pub use keys::{ChainKeys, KeyError};
pub use verify::{verify, Finding, VerifyReport};

use std::sync::Arc;

use crate::runtime::{ConfigError, Env};
use crate::secrets::SecretSource;
use crate::store::dynamo::{DynamoAuditLog, DynamoStore, DEFAULT_RETENTION_DAYS};

/// The audit log of a function: the chain key from the secret `AUDIT_SECRET_ARN` (read on
/// first use; without it every append fails, so nothing goes unaudited silently) and the
/// retention `AUDIT_RETENTION_DAYS` (default 365).
pub fn log_from_env(
    store: DynamoStore,
    secrets: Arc<dyn SecretSource>,
    env: &dyn Env,
) -> Result<DynamoAuditLog, ConfigError> {
    let keys = match env.var("AUDIT_SECRET_ARN").filter(|v| !v.trim().is_empty()) {
        Some(name) => ChainKeys::from_secret(secrets, name),
        None => ChainKeys::Missing,
    };
    let days = match env
        .var("AUDIT_RETENTION_DAYS")
        .filter(|v| !v.trim().is_empty())
    {
        None => DEFAULT_RETENTION_DAYS,
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| ConfigError::Invalid {
                name: "AUDIT_RETENTION_DAYS",
                reason: "a number of days, 1 to 36500".to_owned(),
            })?,
    };
    Ok(DynamoAuditLog::new(store, keys).with_retention_days(days))
}

/// The audit log of an operator tool: the key from the secret `secret_name` (none: appends
/// and verification fail), read through Secrets Manager on first use.
pub fn log_with_secret(
    sdk: &aws_config::SdkConfig,
    store: DynamoStore,
    secret_name: Option<String>,
) -> DynamoAuditLog {
    let keys = match secret_name.filter(|v| !v.trim().is_empty()) {
        Some(name) => ChainKeys::from_secret(
            Arc::new(crate::secrets::SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(sdk),
            )),
            name,
        ),
        None => ChainKeys::Missing,
    };
    DynamoAuditLog::new(store, keys)
}
