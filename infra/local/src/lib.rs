//! The local stack: provisions the AWS emulator (moto) from `template.yaml` and runs the
//! local gateway. `make dev` runs it all (`packr-dev`, see [`dev`]); tests use [`testing`].

pub mod bench;
pub mod chaos;
pub mod dev;
pub mod dev_jwt;
pub mod emulator;
pub mod esm;
pub mod faultproxy;
pub mod gateway;
pub mod lifecycle;
pub mod local_env;
pub mod provision;
pub mod recorder;
pub mod schedule;
pub mod seed;
pub mod stack;
pub mod stats;
pub mod sync;
pub mod template;
pub mod testing;
pub mod webhooks;
