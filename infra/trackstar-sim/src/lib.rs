//! The Trackstar simulator: a local stand-in for Trackstar's API (see
//! `../shared/trackstar-contract.md`) so Packr and its tests run with no internet.
//!
//! It serves orders, inventory, products, inbound shipments, returns, warehouses, shipping
//! methods and bills ([`data`]), their writes and webhooks, force and on-demand syncs
//! ([`syncs`]), and keeps Trackstar's own change clock apart from the WMS's
//! ([`data::TrackstarDates`]). Tests drive it through [`SimHandle`] or the control API
//! ([`control`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = trackstar_sim::spawn(trackstar_sim::SimConfig::default()).await?;
//! // point the Trackstar client at sim.base_url with api key "sim_api_key", token "tok_demo"
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
pub mod control;
pub mod data;
pub mod error;
pub mod events;
pub mod faults;
pub mod filters;
pub mod fixtures;
mod handle;
pub mod idempotency;
pub mod pagination;
pub mod ratelimit;
pub mod requests;
mod routes;
pub mod server;
pub mod signature;
pub mod state;
pub mod syncs;
pub mod validation;
pub mod webhooks;

pub use config::{SimConfig, SimConnection, WebhookTarget, WriteAction};
pub use data::mutate::{MutateAction, MutationKind};
pub use data::{ResourceKind, TrackstarDates};
pub use faults::FaultSpec;
pub use handle::{spawn, spawn_on, SimHandle};
pub use requests::RequestsSnapshot;
pub use signature::{new_secret, sign_webhook, verify_webhook};
pub use state::{Limits, MutateOutcome, MutateRequest, ResourcePolicy, SimState};
pub use syncs::{SyncJob, SyncJobOptions, SyncJobStatus};
pub use webhooks::{DeliveryDraws, DeliveryOptions, DeliveryRecord, WebhookStats};
