//! The second pass: the batch's events whose object must be read from Trackstar, settled
//! with one `ids[in]` listing per (connection, kind) and 100 ids.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::FutureExt;
use tracing::{error, Instrument};

use super::apply::ApplyError;
use super::outcome::{fail, finish, Applied};
use super::{allowance, remaining, span_of, Job, ProcessorDeps, Step};
use crate::apply::ContextResolver;
use crate::domain::{Connection, Timestamp};
use crate::health::Observation;
use crate::metrics::Metric;
use crate::resource::{ResourceKind, WireObject};
use crate::store::UpsertOutcome;

/// The boxed error a fetcher answers with.
pub type FetchError = Box<dyn std::error::Error + Send + Sync>;

/// Fetches current objects through the Trackstar API (truncated events, same-second
/// changes).
#[async_trait]
pub trait ObjectFetcher: Send + Sync {
    /// The current copies of `ids` (at most [`MAX_FETCH_IDS`]), one `ids[in]` listing; ids
    /// Trackstar does not have are absent.
    async fn fetch_many(
        &self,
        connection: &Connection,
        kind: ResourceKind,
        ids: &[String],
    ) -> Result<Vec<WireObject>, FetchError>;
}

/// A fetch failure shared by the events of one `ids[in]` listing.
#[derive(Debug, Clone)]
pub struct SharedFetchError(Arc<FetchError>);

impl std::fmt::Display for SharedFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedFetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Ids per `ids[in]` listing (Trackstar's limit).
pub const MAX_FETCH_IDS: usize = 100;

/// An event whose object must be read from Trackstar (truncated, or a same-second copy
/// with other content).
pub(super) struct PendingFetch {
    pub(super) job: Job,
    pub(super) connection: Connection,
    pub(super) kind: ResourceKind,
    pub(super) id: String,
}

/// Settles the fetches of the batch: one `ids[in]` listing per (tenant, connection, kind)
/// and 100 ids, each stored as Trackstar's current state; then each event's verdict.
pub(super) async fn fetch_pending(
    deps: &ProcessorDeps,
    pending: Vec<PendingFetch>,
    deadline: Instant,
) -> Vec<(String, bool, Option<Observation>)> {
    let mut groups: BTreeMap<(String, String, String), Vec<PendingFetch>> = BTreeMap::new();
    for p in pending {
        let key = (
            p.job.event.tenant_id.to_string(),
            p.connection.connection_id.to_string(),
            format!("{:?}", p.kind),
        );
        groups.entry(key).or_default().push(p);
    }
    let mut done = Vec::new();
    for (_, group) in groups {
        let mut rest = group;
        while !rest.is_empty() {
            let chunk: Vec<PendingFetch> = rest.drain(..rest.len().min(MAX_FETCH_IDS)).collect();
            done.extend(fetch_chunk(deps, chunk, deadline).await);
        }
    }
    done
}

async fn fetch_chunk(
    deps: &ProcessorDeps,
    chunk: Vec<PendingFetch>,
    deadline: Instant,
) -> Vec<(String, bool, Option<Observation>)> {
    let mut out = Vec::with_capacity(chunk.len());
    let push = |message_id: String, step: Step, out: &mut Vec<_>| {
        if let Step::Done { ok, observation } = step {
            out.push((message_id, ok, observation));
        }
    };
    if remaining(deadline) < deps.limits.reserve + deps.limits.per_message {
        for p in chunk {
            deps.metrics.emit(Metric::count("webhook.unstarted"));
            push(
                p.job.message_id.clone(),
                Step::Done {
                    ok: false,
                    observation: None,
                },
                &mut out,
            );
        }
        return out;
    }
    let first = &chunk[0];
    let mut ids: Vec<String> = chunk.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let allowed = allowance(deps, deadline);
    // Before the request: a same-second copy stored after this instant may be newer than
    // the answer (see `SyncedStore::upsert_written`).
    let read_at = Timestamp::now();
    let fetched = AssertUnwindSafe(tokio::time::timeout(
        allowed,
        deps.fetcher.fetch_many(&first.connection, first.kind, &ids),
    ))
    .catch_unwind()
    .await
    .unwrap_or_else(|_| {
        error!("fetching objects from Trackstar panicked");
        deps.metrics
            .emit(Metric::count("webhook.failures").with("reason", "panic"));
        Ok(Err("the fetch panicked".into()))
    });
    let objects = match fetched {
        Ok(Ok(objects)) => objects,
        Ok(Err(e)) => {
            let shared = SharedFetchError(Arc::new(e));
            for p in chunk {
                let message_id = p.job.message_id.clone();
                let span = span_of(&p.job.event);
                let error = if is_not_found(shared.0.as_ref().as_ref()) {
                    ApplyError::NotInTrackstar
                } else {
                    ApplyError::Fetch(shared.clone())
                };
                let step = fail(deps, p.job, error).instrument(span).await;
                push(message_id, step, &mut out);
            }
            return out;
        }
        Err(_) => {
            deps.metrics.emit(Metric::count("webhook.cut_off"));
            for p in chunk {
                let message_id = p.job.message_id.clone();
                let span = span_of(&p.job.event);
                let step = fail(deps, p.job, ApplyError::TimedOut(allowed))
                    .instrument(span)
                    .await;
                push(message_id, step, &mut out);
            }
            return out;
        }
    };
    let mut by_id: BTreeMap<String, WireObject> = BTreeMap::new();
    for object in objects {
        if let Some(id) = object.id() {
            by_id.insert(id.to_owned(), object);
        }
    }
    let stores = deps.object_stores();
    for p in chunk {
        let span = span_of(&p.job.event);
        let message_id = p.job.message_id.clone();
        let step = async {
            let Some(wire) = by_id.get(&p.id).cloned() else {
                return fail(deps, p.job, ApplyError::NotInTrackstar).await;
            };
            let stored = async {
                let ctx = ContextResolver::new(deps.tenants.as_ref(), &p.connection)
                    .context(&wire)
                    .await?;
                let current = wire.into_domain(&ctx)?;
                Ok::<_, ApplyError>(
                    stores
                        .store_fetched(&p.job.event.tenant_id, &current, read_at)
                        .await?,
                )
            }
            .await;
            // Trackstar's state went in: the event is applied in the sense that its object
            // is current (whether or not the event itself carried that state).
            match stored {
                Ok(UpsertOutcome::Applied) => finish(deps, p.job, Applied::Applied, true).await,
                // A same-second copy was stored while Trackstar was asked: it may be the
                // later change, or an older one that landed after the read. A retry asks
                // Trackstar again, after that write.
                Ok(UpsertOutcome::ChangedSinceRead) => {
                    fail(deps, p.job, ApplyError::ChangedSinceRead).await
                }
                Ok(_) => finish(deps, p.job, Applied::Stale, true).await,
                Err(e) => fail(deps, p.job, e).await,
            }
        }
        .instrument(span)
        .await;
        push(message_id, step, &mut out);
    }
    out
}

/// A 404 from Trackstar: the object is gone (permanent for this event).
fn is_not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(crate::trackstar::TrackstarError::NotFound { .. }) =
            err.downcast_ref::<crate::trackstar::TrackstarError>()
        {
            return true;
        }
        current = err.source();
    }
    false
}
