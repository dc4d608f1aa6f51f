//! PLACEHOLDER (helper "export"): the retention sweep is helper "retention"'s; the lead
//! replaces this file with theirs at the merge. Until then the schedule's event runs this
//! empty body, so `data-lifecycle`'s wiring, template and local schedule are in place.

use super::wiring::LifecycleDeps;
use super::LifecycleError;

/// What one sweep did, per retention class.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// The retention sweep (placeholder: does nothing yet).
pub async fn run(
    _deps: &LifecycleDeps,
    _deadline: std::time::Instant,
) -> Result<SweepReport, LifecycleError> {
    Ok(SweepReport::default())
}
