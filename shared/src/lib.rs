//! Packr's library crate: domain types, ports (narrow traits per capability), their AWS
//! adapters, and the handlers the Lambda binaries wire up.

pub mod api;
pub mod apply;
pub mod audit;
pub mod changes;
pub mod domain;
pub mod errors;
pub mod health;
pub mod idempotency;
pub mod lifecycle;
pub mod metrics;
pub mod ops;
pub mod redact;
pub mod resource;
pub mod runtime;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod trackstar;
pub mod webhook;
