//! Ordering: messages of one object (or of one connection, for connection events) run one
//! after another in queue order; groups of different objects run side by side.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use tracing::Instrument;

use super::apply::first_pass;
use super::{remaining, span_of, Job, ProcessorDeps, Step};
use crate::metrics::Metric;
use crate::resource::ResourceKind;
use crate::webhook::envelope::QueuedEvent;

/// The order key: messages with the same key run one after another, in queue order.
fn order_key(event: &QueuedEvent) -> String {
    let object = event
        .payload
        .get("data")
        .and_then(|d| d.get("id"))
        .and_then(|v| v.as_str());
    match (object_kind(&event.event_type), object) {
        (Some(kind), Some(id)) => format!("{}|{kind:?}|{id}", event.tenant_id),
        _ => format!("{}|connection|{}", event.tenant_id, event.connection_id),
    }
}

/// The kind of object an event carries (declared with the resource).
pub(super) fn object_kind(event_type: &str) -> Option<ResourceKind> {
    ResourceKind::of_event(event_type)
}

/// The jobs grouped by order key: groups in the order their first message came, each
/// group in queue order.
pub(super) fn group(jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let mut groups: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    let mut first_seen: Vec<String> = Vec::new();
    for job in jobs {
        let key = order_key(&job.event);
        if !groups.contains_key(&key) {
            first_seen.push(key.clone());
        }
        groups.entry(key).or_default().push(job);
    }
    first_seen
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .collect()
}

/// The first pass over every group: each group in order, groups side by side (at most
/// `limits.concurrency` at once).
pub(super) async fn run_groups(
    deps: &ProcessorDeps,
    groups: Vec<Vec<Job>>,
    deadline: Instant,
) -> Vec<Vec<(String, Step)>> {
    futures::stream::iter(
        groups
            .into_iter()
            .map(|group| run_group(deps, group, deadline)),
    )
    .buffer_unordered(deps.limits.concurrency.max(1))
    .collect()
    .await
}

/// One group's messages in order. Once one is left unstarted or cut off, the rest of the
/// group is left too (a later event of the object must not overtake it).
async fn run_group(
    deps: &ProcessorDeps,
    group: Vec<Job>,
    deadline: Instant,
) -> Vec<(String, Step)> {
    let mut steps = Vec::with_capacity(group.len());
    let mut stopped = false;
    for job in group {
        let message_id = job.message_id.clone();
        if stopped || remaining(deadline) < deps.limits.reserve + deps.limits.per_message {
            stopped = true;
            deps.metrics.emit(Metric::count("webhook.unstarted"));
            steps.push((
                message_id,
                Step::Done {
                    ok: false,
                    observation: None,
                },
            ));
            continue;
        }
        let span = span_of(&job.event);
        let step = first_pass(deps, job, deadline).instrument(span).await;
        if matches!(step, Step::Done { ok: false, .. }) {
            stopped = true;
        }
        steps.push((message_id, step));
    }
    steps
}
