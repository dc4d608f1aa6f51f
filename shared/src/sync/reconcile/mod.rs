//! Reconciliation: per connection and resource, walk Trackstar's full list and the local
//! copy, classify every id ([`DriftClass`]), repair through the one upsert path, tombstone
//! what Trackstar no longer has — only after a complete walk — and keep a report.
//!
//! Runs are sync jobs of mode `reconcile` on the sync-jobs queue (same lease, checkpoint
//! per page and deadline continuation as sync runs; lowest priority of the rate budget).

pub mod dynamo;
pub mod metrics;
pub mod report;
pub mod run;

pub use dynamo::REPORT_TTL;
pub use metrics::emit_report_metrics;
pub use report::{
    BrandDrift, DriftClass, DriftTally, ReconcileReport, ReconcileSummary, ReportStore,
    MAX_BRAND_SAMPLES, MAX_SAMPLES,
};
pub use run::ReconcileProgress;
