//! Cold start and memory of every Packr function (`make bench`, stage `10-coldstart`):
//! each function's release binary is spawned as Lambda starts a sandbox, against a local
//! implementation of the Lambda Runtime API ([`runtime_api`]), fed events from `events/`
//! (or built the way the local stack builds them) that succeed on the local stack, and
//! measured beside a hello-world `lambda_runtime` binary built in the same run.

pub mod bench;
pub mod events;
pub mod report;
pub mod runtime_api;
pub mod sandbox;
