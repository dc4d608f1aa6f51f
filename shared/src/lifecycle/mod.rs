//! The tenant data lifecycle: retention, offboarding (a connection, a brand, a tenant) and
//! the erasure of a person, run as **lifecycle jobs**.
//!
//! A job is one item (`T#<t>#LIFECYCLE`, `<job id>`, [`job`]) that says what is to be done
//! ([`JobKind`]), how far it got (`phase`, `checkpoint`, `counts`) and who runs it now (a
//! lease). The [`runner`] takes the lease, calls the kind's [`JobSteps::step`] — one bounded
//! unit of work: a page read and its writes — and saves the job after each step, fenced by
//! the lease, until the kind says it is done or the invocation's deadline nears. A job is
//! therefore idempotent, checkpointed and resumable after a crash: a step that ran but was
//! not saved runs again, and every step is written so that running it again changes
//! nothing more. The `data-lifecycle` function runs jobs from the lifecycle-jobs queue
//! ([`queue`]) and re-enqueues a continuation at its deadline; the ops CLI runs them
//! in-process.

pub mod dispatch;
pub mod export;
mod export_source;
mod export_upload;
pub mod handler;
pub mod job;
pub mod offboard;
pub mod queue;
pub mod retention;
pub mod runner;
pub mod sweep;
pub mod wiring;
pub mod worker;

pub use dispatch::{JobSteps, Registry, Step};
pub use export::{ExportError, ExportScope, Exporter};
pub use job::{
    ExportFile, JobKind, JobKindTag, JobStatus, LifecycleError, LifecycleJob, LifecycleJobStore,
};
pub use queue::{
    LifecycleMessage, LifecycleQueue, LifecycleQueueError, MemoryLifecycleQueue, SqsLifecycleQueue,
};
pub use runner::{run_job, start_job, RunOutcome, RunnerDeps};
pub use worker::handle_batch;
