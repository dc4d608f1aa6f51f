//! Offboarding: a connection, a brand or a whole tenant (issue 19, §2).
//!
//! - **Connection** ([`connection`]): offboarded at once (token deleted, out of the
//!   schedule, webhooks refused, `erase_after` = now + grace); a relink within the grace
//!   keeps its data; after it, the sweep starts a `ConnectionErasure` job.
//! - **Jobs** ([`steps`]): `ConnectionErasure`, `BrandOffboarding` and `TenantOffboarding`
//!   run as lifecycle jobs: each step is one page read (a Query of a partition of the table
//!   or of an index, never a Scan) and its deletes (`BatchWriteItem`s of 25), checkpointed
//!   (`phase` + `checkpoint`), safe to run again. Brand and tenant offboarding run an
//!   **export** phase first, which another module provides ([`ExportPhase`]); the answer's
//!   download links come from its [`Presign`].
//!
//! What stays: the lifecycle job record (`T#<t>#LIFECYCLE`) and the audit trail
//! (`T#<t>#AUDIT`, `T#<t>#AUDITHEAD`) for their retention; an erased connection's record
//! and route (marked deleted: its webhooks are refused, not parked); items no key or index
//! enumerates, which expire by TTL: idempotency records (24 h), webhook receipts that are
//! not failed (30 days; failed ones are listed in `gsi2` and erased), reconciliation seen
//! pages of runs without a report (3 days).

pub mod connection;
pub mod eraser;
mod phases;
pub mod steps;

use std::sync::Arc;

use async_trait::async_trait;

pub use connection::{
    start_due_connection_erasures, ConnectionOffboarder, DueErasures, ErasureSweepDeps,
    OffboardConnectionError, DEFAULT_GRACE_DAYS,
};
pub use eraser::{Eraser, Source};
pub use steps::{OffboardDeps, OffboardSteps};

use super::{ExportFile, LifecycleError, LifecycleJob, Step};

/// The export that runs first in brand and tenant offboarding (helper "export"'s
/// `lifecycle/export.rs` implements it). While the job's phase is empty or starts with
/// `export`, each step of the job is one call of [`ExportPhase::step`], which may set its
/// own `export:<resource>` phases, checkpoint, state and `exports`; when it answers
/// `Done`, the erasure begins (phase and checkpoint reset by the offboarding).
#[async_trait]
pub trait ExportPhase: Send + Sync {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError>;
}

/// A download link for an exported file (helper "export"'s presigner).
#[async_trait]
pub trait Presign: Send + Sync {
    async fn url(&self, file: &ExportFile) -> Result<String, LifecycleError>;
}

/// No export configured: the phase ends at once, and the job records that nothing was
/// exported (`state.export = "not_configured"`).
pub struct NoExport;

#[async_trait]
impl ExportPhase for NoExport {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        set_state(job, "export", serde_json::Value::from("not_configured"));
        Ok(Step::Done)
    }
}

/// Sets one key of the job's state object.
pub(crate) fn set_state(job: &mut LifecycleJob, key: &str, value: serde_json::Value) {
    if !job.state.is_object() {
        job.state = serde_json::json!({});
    }
    if let Some(object) = job.state.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

/// The exporter used when none is given.
pub fn no_export() -> Arc<dyn ExportPhase> {
    Arc::new(NoExport)
}
