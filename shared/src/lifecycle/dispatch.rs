//! What runs a job of each kind: [`JobSteps`], registered per [`JobKindTag`] in a
//! [`Registry`] by the wiring of whoever runs jobs (the `data-lifecycle` function, the ops
//! CLI, tests).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::job::{JobKindTag, LifecycleError, LifecycleJob};

/// What a step left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More work is left: the runner saves the job and calls again.
    More,
    /// Nothing is left: the job is completed.
    Done,
}

/// One kind's work, a bounded step at a time.
#[async_trait]
pub trait JobSteps: Send + Sync {
    /// One bounded unit of work (at most one page read and its writes; never a table
    /// Scan), updating the job's `phase`, `checkpoint`, `state`, `counts` and `exports` in
    /// place. The runner saves the job after it; a crash before that save runs the same
    /// step again from the same job, so a step must change nothing more when re-run (deletes
    /// of absent items, redactions of redacted items, a re-upload of the same part).
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError>;
}

/// The steps of each kind.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<JobKindTag, Arc<dyn JobSteps>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, kind: JobKindTag, steps: Arc<dyn JobSteps>) -> Self {
        self.kinds.insert(kind, steps);
        self
    }

    /// The steps of `kind`: [`LifecycleError::Unsupported`] when none are registered (a
    /// wiring mistake: the job fails with that reason rather than spinning).
    pub fn steps(&self, kind: JobKindTag) -> Result<Arc<dyn JobSteps>, LifecycleError> {
        self.kinds
            .get(&kind)
            .cloned()
            .ok_or(LifecycleError::Unsupported(kind.as_str()))
    }
}
