//! Packr's library crate: domain types, ports (narrow traits per capability), their AWS
//! adapters, and the handlers the Lambda binaries wire up.

pub mod domain;
pub mod secrets;
pub mod trackstar;
