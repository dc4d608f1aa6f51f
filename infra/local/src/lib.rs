//! The local stack: provisions the AWS emulator (moto) from `template.yaml` and runs the
//! local gateway. `make dev` runs it all (`packr-dev`); tests use [`testing`].

pub mod provision;
pub mod template;
pub mod testing;
