//! PLACEHOLDER (see `mod.rs`): the step interface of COMMON.md.

use async_trait::async_trait;

use super::{LifecycleError, LifecycleJob};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    More,
    Done,
}

#[async_trait]
pub trait JobSteps: Send + Sync {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError>;
}
