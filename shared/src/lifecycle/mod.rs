//! The tenant data lifecycle (issue 19): offboarding jobs, their export, the retention
//! sweep. PROVISIONAL (helper "export"): the lead's `mod.rs`, `job.rs`, `runner.rs`,
//! `queue.rs` and `dispatch.rs` replace the stand-ins here at the merge.

pub mod export;
mod export_source;
mod export_upload;
pub mod job;
pub mod sweep;
pub mod wiring;

pub use export::{ExportError, ExportScope, Exporter};
pub use job::{ExportFile, JobKind, JobStatus, JobSteps, LifecycleError, LifecycleJob, Step};
