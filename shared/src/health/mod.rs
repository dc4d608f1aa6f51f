//! Sync health: webhook figures recorded per connection and batch, the status of every
//! connection from them, its sync states and its breaker.

pub mod dynamo;
pub mod figures;
pub mod histogram;
pub mod report;
pub mod stats;
pub mod status;

pub use figures::{figures, Backlog, Percentiles, WebhookFigures};
pub use report::{
    brand_lag, connection_health, tenant_health, BreakerSource, ConnectionHealth, HealthError,
    HealthReport, HealthSources, HealthSummary, LagReport, ResourceLag, Scope,
};
pub use stats::{record_batch, HourStats, Observation, Outcome, StatsResource, WebhookStatsStore};
pub use status::{assess, HealthInputs, Reason, Status, Thresholds};
