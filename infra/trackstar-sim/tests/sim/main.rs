//! Integration tests of the simulator over HTTP: one binary, one module per concern.

mod support;

mod auth;
mod contract;
mod faults;
mod idempotency;
mod lists;
mod ratelimit;
mod resources;
mod syncs;
mod webhooks;
mod wms_writes;
mod writes;
