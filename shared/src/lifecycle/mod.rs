//! PLACEHOLDER until the lead's lifecycle framework lands on main (then main's `mod.rs`,
//! `job.rs`, `dispatch.rs` replace these, and `offboard` is added to main's list).
//! The interface is COMMON.md's.

pub mod dispatch;
pub mod job;
pub mod offboard;

pub use dispatch::{JobSteps, Step};
pub use job::{ExportFile, JobKind, JobStatus, LifecycleError, LifecycleJob};
