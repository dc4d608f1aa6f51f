//! The sync engine: Packr's copy is built and repaired by pulling from Trackstar, not only
//! by webhooks (which are at-least-once, can be lost for good, and are never sent for a
//! connection's initial historical sync).
//!
//! - [`scheduler`]: the EventBridge schedule's target; one incremental job per active
//!   (connection, resource) on the sync-jobs queue.
//! - [`worker`]: the sync-jobs consumer; runs job chunks ([`runner`]).
//! - [`state`] / [`dynamo`]: lease + fencing token, watermark, checkpoint per job.
//! - [`backfill`]: on-demand syncs asked of Trackstar (`POST /sync/backfill`) and their
//!   records.
//! - [`window`]: the half-open, whole-second `[from, to)` window with its overlap.
//! - [`source`]: pages from Trackstar through the one client.
//! - [`job`]: the job message and the queue; [`request_sync`] for every trigger (exchange,
//!   connection events, `POST /sync/run`, `packr sync run`); [`targets`] for which
//!   connections an on-demand sync covers.
//! - [`reconcile`]: the `reconcile` mode — walk Trackstar's full list beside the local
//!   copy, repair drift, tombstone what Trackstar no longer has, keep a report.
//!
//! Objects are stored through [`crate::apply`], the same only-if-newer path the webhook
//! processor uses.

pub mod backfill;
pub mod config;
pub mod dynamo;
pub mod job;
pub mod reconcile;
pub mod runner;
pub mod scheduler;
pub mod source;
pub mod state;
pub mod targets;
pub mod window;
pub mod wiring;
pub mod worker;

pub use crate::resource::ResourceKind;
pub use backfill::{Backfill, BackfillStatus, BackfillStore, BackfillView, Marked};
pub use config::SyncConfig;
pub use dynamo::DynamoSyncStateStore;
pub use job::{
    request_sync, MemorySyncJobQueue, SqsSyncJobQueue, SyncJob, SyncJobQueue, SyncMode,
    SyncQueueError,
};
pub use runner::{run_chunk, ChunkOutcome, Skip, Stop, SyncError, WorkerDeps};
pub use scheduler::{
    handle_event, run_reconcile_schedule, run_schedule, ScheduleReport, SchedulerDeps,
};
pub use source::{SourcePage, SyncSource, TrackstarSource};
pub use state::{
    Checkpoint, JobKey, Lease, Refusal, RunCounts, RunSummary, SyncState, SyncStateStore,
    Unavailable,
};
pub use targets::{sync_targets, SyncTargets, TargetError};
pub use window::Window;
