//! An event's outcome: its receipt written once (the first final verdict wins), its
//! metrics emitted, and its observation for the webhook stats.

use tracing::{error, info, warn};

use super::apply::ApplyError;
use super::{Job, ProcessorDeps, Step};
use crate::errors::error_chain;
use crate::health::{Observation, Outcome, StatsResource};
use crate::metrics::Metric;
use crate::webhook::receipts::{PriorReceipt, ReceiptState, Verdict};

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// Older than (or the same version as) the stored state: not applied.
    Stale,
    /// Recorded and acknowledged, nothing to apply.
    Ignored,
}

impl Applied {
    pub(super) fn receipt_state(self) -> ReceiptState {
        match self {
            Applied::Applied => ReceiptState::Applied,
            Applied::Stale => ReceiptState::Stale,
            Applied::Ignored => ReceiptState::Ignored,
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Applied::Applied => "applied",
            Applied::Stale => "stale",
            Applied::Ignored => "ignored",
        }
    }
}

pub(super) fn duplicate(deps: &ProcessorDeps, job: &Job) {
    deps.metrics.emit(
        Metric::count("webhook.duplicate_events").with("event_type", job.event.event_type.clone()),
    );
    info!("event already processed; duplicate acknowledged");
}

pub(super) fn observe(job: &Job, outcome: Outcome) -> Option<Observation> {
    Some(Observation {
        tenant: job.event.tenant_id.clone(),
        connection: job.event.connection_id.clone(),
        resource: StatsResource::of_event_type(&job.event.event_type),
        received_at: job.event.received_at,
        outcome,
        latency_ms: job.received.elapsed().as_millis() as u64,
    })
}

/// Records the verdict (the one write of the event's receipt) and reports it; `fetched`:
/// the object was read from Trackstar (the lag metric tells the two paths apart).
pub(super) async fn finish(
    deps: &ProcessorDeps,
    job: Job,
    applied: Applied,
    fetched: bool,
) -> Step {
    let now = (deps.clock)();
    let prior = match deps
        .receipts
        .record_verdict(&job.event, applied.receipt_state(), now)
        .await
    {
        Ok(Verdict::Recorded(prior)) => prior,
        Ok(Verdict::AlreadyFinal(_)) => {
            duplicate(deps, &job);
            return Step::Done {
                ok: true,
                observation: observe(&job, Outcome::Duplicate),
            };
        }
        Err(e) => {
            // Applied, but not recorded: a retry finds the object as stored (only-if-newer
            // changes nothing) and records it then.
            warn!(error = %e, "applied, but the receipt could not be written; retrying");
            return fail(deps, job, ApplyError::Store(e)).await;
        }
    };
    let was_failed = prior.state == Some(ReceiptState::Failed);
    let event = &job.event;
    let lag = (now.unix_millis() - event.received_at.unix_millis()).max(0);
    let event_type = event.event_type.clone();
    deps.metrics.emit(
        Metric::count(match applied {
            Applied::Applied => "webhook.applied",
            Applied::Stale => "webhook.stale",
            Applied::Ignored => "webhook.ignored",
        })
        .with("event_type", event_type.clone()),
    );
    deps.metrics.emit(
        Metric::millis("webhook.lag_ms", lag as f64)
            .with("event_type", event_type.clone())
            .with("path", if fetched { "fetched" } else { "direct" }),
    );
    deps.metrics.emit(
        Metric::millis(
            "webhook.processing_latency_ms",
            job.received.elapsed().as_secs_f64() * 1000.0,
        )
        .with("event_type", event_type),
    );
    info!(outcome = applied.as_str(), lag_ms = lag, "event processed");
    let outcome = Outcome::Finished {
        was_failed,
        // It had failed on every receive it was given: it sat in the DLQ.
        was_dead_lettered: was_failed && prior.processing_attempts >= deps.max_receive_count,
    };
    Step::Done {
        ok: true,
        observation: observe(&job, outcome),
    }
}

/// Records a failure on the receipt (with the event, for replay). A permanent one is
/// acknowledged (`ok`); a transient one goes back to the queue.
pub(super) async fn fail(deps: &ProcessorDeps, job: Job, e: ApplyError) -> Step {
    let reason = error_chain(&e);
    let permanent = e.is_permanent();
    error!(error = %reason, permanent, "applying the event failed");
    deps.metrics.emit(
        Metric::count("webhook.failures")
            .with("event_type", job.event.event_type.clone())
            .with("reason", e.reason_code()),
    );
    let now = (deps.clock)();
    let prior = match deps
        .receipts
        .mark_failed(&job.event, &reason, permanent, now)
        .await
    {
        Ok(Verdict::Recorded(prior)) => prior,
        // Finished by another attempt meanwhile.
        Ok(Verdict::AlreadyFinal(_)) => {
            duplicate(deps, &job);
            return Step::Done {
                ok: true,
                observation: observe(&job, Outcome::Duplicate),
            };
        }
        Err(e) => {
            warn!(error = %e, "could not record the failure on the receipt");
            // Unrecorded, a permanent failure must not be acknowledged: it would be lost.
            return Step::Done {
                ok: false,
                observation: None,
            };
        }
    };
    let outcome = failed(prior, job.receives, permanent, deps);
    Step::Done {
        ok: permanent,
        observation: observe(&job, outcome),
    }
}

fn failed(prior: PriorReceipt, receives: u32, permanent: bool, deps: &ProcessorDeps) -> Outcome {
    let first = prior.state != Some(ReceiptState::Failed);
    Outcome::Failed {
        first,
        // Out of the queue, awaiting a replay: on its last receive, or at once when no
        // retry can help.
        dead_lettered: if permanent {
            first
        } else {
            receives >= deps.max_receive_count
        },
    }
}
