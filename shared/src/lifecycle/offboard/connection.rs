//! Offboarding one connection (on `connection.deleted`, and on `DELETE
//! /connections/{id}` once Trackstar deleted it): at once, its access token is deleted
//! (no recovery window), it leaves the sync schedule (`gsi4` `SYNCSCHED`: only active
//! connections carry it) so schedules and running syncs stop (the worker re-reads the
//! connection before every page), its route is marked deleted so ingest refuses its
//! webhooks, and it records `erase_after = now + grace` (which puts it on the sweep's
//! sparse list, `gsi4` `CONNERASE`). A relink within the grace clears `erase_after`
//! ([`relinked`]) and keeps the data; once the grace ended, the data-lifecycle sweep starts
//! a [`JobKind::ConnectionErasure`] per connection ([`start_due_connection_erasures`]).
//!
//! Every part is idempotent: a second offboarding keeps the first erase time, a deleted
//! secret counts as deleted, the route mark is a plain set.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::domain::{Connection, ConnectionId, ConnectionStatus, TenantId, Timestamp};
use crate::lifecycle::{start_job, JobKind, LifecycleJob, LifecycleJobStore, LifecycleQueue};
use crate::metrics::{Metric, MetricsSink};
use crate::secrets::{SecretDeleter, SecretError};
use crate::store::dynamo::DynamoStore;
use crate::store::{modify_connection, Change, StoreError};

/// The grace period's default (`ConnectionErasureGraceDays`).
pub const DEFAULT_GRACE_DAYS: u64 = 30;
/// Due connections one sweep starts at most (the next sweep takes the rest).
pub const SWEEP_LIMIT: i32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum OffboardConnectionError {
    #[error("the data store failed")]
    Store(#[from] StoreError),
    #[error("the access token could not be deleted")]
    Secret(#[from] SecretError),
    #[error("the erasure job could not be started")]
    Job(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What offboarding a connection needs: the table (connection, route), where secrets are
/// deleted, and the grace period.
#[derive(Clone)]
pub struct ConnectionOffboarder {
    pub store: DynamoStore,
    pub secrets: Arc<dyn SecretDeleter>,
    pub grace: Duration,
    pub metrics: Arc<dyn MetricsSink>,
}

/// The grace period from `CONNECTION_ERASURE_GRACE_DAYS` (template parameter
/// `ConnectionErasureGraceDays`), 30 days when unset.
pub fn grace_from_env(
    env: &dyn crate::runtime::Env,
) -> Result<Duration, crate::runtime::ConfigError> {
    let days = match env
        .var("CONNECTION_ERASURE_GRACE_DAYS")
        .filter(|v| !v.trim().is_empty())
    {
        None => DEFAULT_GRACE_DAYS,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| crate::runtime::ConfigError::Invalid {
                name: "CONNECTION_ERASURE_GRACE_DAYS",
                reason: "not a whole number of days".into(),
            })?,
    };
    Ok(Duration::from_secs(days * 24 * 3600))
}

/// A connection as offboarding left it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offboarded {
    pub connection: Connection,
    /// Whether this call offboarded it (false: it was already).
    pub newly: bool,
}

impl ConnectionOffboarder {
    /// Offboards `connection` of `tenant` at `now` (see the module doc); `None` if the
    /// tenant has no such connection. `deleted_at`: the deletion's own time (an event's),
    /// kept as the connection's deletion mark.
    pub async fn offboard(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        deleted_at: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Offboarded>, OffboardConnectionError> {
        let erase_after = now.plus_seconds(self.grace.as_secs() as i64);
        let changed = modify_connection(&self.store, tenant, connection, |c| {
            let offboarded = c.marks.erase_after.is_some() || c.marks.erased_at.is_some();
            if offboarded && c.status == ConnectionStatus::Disconnected {
                return Change::Keep(false);
            }
            mark_offboarded(c, deleted_at, Some(erase_after), now);
            Change::Write(true)
        })
        .await?;
        let Some((stored, newly)) = changed else {
            return Ok(None);
        };
        self.finish(&stored).await?;
        if newly {
            self.metrics
                .emit(Metric::count("lifecycle.connection_offboarded"));
            info!(connection_id = %connection, erase_after = %erase_after, "connection offboarded; its data is erased after the grace period");
        }
        Ok(Some(Offboarded {
            connection: stored,
            newly,
        }))
    }

    /// The parts after the connection record: the route marked deleted, the token gone.
    /// Run again on a repeated offboarding (a crash may have come between).
    pub async fn finish(&self, connection: &Connection) -> Result<(), OffboardConnectionError> {
        let deleted_at = connection.marks.deleted_at.unwrap_or(connection.updated_at);
        self.store
            .mark_route_deleted(&connection.connection_id, Some(deleted_at))
            .await?;
        if self.secrets.delete(&connection.access_token_secret).await? {
            info!(connection_id = %connection.connection_id, "access token deleted");
        }
        Ok(())
    }
}

/// The connection marked offboarded: disconnected (out of the sync schedule), deleted at
/// `deleted_at`, its data due for erasure at `erase_after` (none: erased with its tenant).
pub fn mark_offboarded(
    c: &mut Connection,
    deleted_at: Timestamp,
    erase_after: Option<Timestamp>,
    now: Timestamp,
) {
    c.status = ConnectionStatus::Disconnected;
    c.marks.deleted_at.get_or_insert(deleted_at);
    c.marks.lifecycle_at = Some(
        c.marks
            .lifecycle_at
            .map_or(deleted_at, |l| l.max(deleted_at)),
    );
    if c.marks.erase_after.is_none() {
        c.marks.erase_after = erase_after;
        c.marks.erasure_job = None;
    }
    c.updated_at = now;
}

/// A relink of an offboarded connection (the exchange, for the same connection id): its
/// data is kept (`erase_after` cleared; a connection erased already is synced afresh, its
/// erasure mark cleared so its events apply again). Returns whether it was offboarded. The
/// caller stores the connection and calls [`route_relinked`].
pub fn relinked(c: &mut Connection) -> bool {
    let was = c.is_offboarded();
    c.marks.erase_after = None;
    c.marks.erased_at = None;
    c.marks.erasure_job = None;
    was
}

/// The route of a relinked connection routable again.
pub async fn route_relinked(
    store: &DynamoStore,
    connection: &ConnectionId,
) -> Result<(), StoreError> {
    store.mark_route_deleted(connection, None).await.map(|_| ())
}

/// What the sweep's [`start_due_connection_erasures`] uses.
#[derive(Clone)]
pub struct ErasureSweepDeps {
    pub store: DynamoStore,
    pub jobs: LifecycleJobStore,
    pub queue: Arc<dyn LifecycleQueue>,
}

/// What the sweep started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueErasures {
    /// Jobs created (one per connection).
    pub started: usize,
    /// Connections whose job existed already (queued again, in case its run was lost).
    pub resumed: usize,
}

/// For the data-lifecycle sweep: every offboarded connection whose grace ended by `now`
/// (the sparse `gsi4` partition `CONNERASE`, no scan) gets one `ConnectionErasure` job,
/// created and enqueued. One job per connection: its id is recorded on the connection (a
/// compare-and-set) before the job is created, so two sweeps agree on it, and the sweep
/// after a crash between the two creates that same job (or queues it again).
pub async fn start_due_connection_erasures(
    deps: &ErasureSweepDeps,
    now: Timestamp,
) -> Result<DueErasures, OffboardConnectionError> {
    let mut done = DueErasures::default();
    for due in deps
        .store
        .connections_due_for_erasure(now, SWEEP_LIMIT)
        .await?
    {
        let tenant = due.tenant_id.clone();
        let candidate = erasure_job(&due, now);
        let claimed = modify_connection(&deps.store, &tenant, &due.connection_id, |c| {
            match (c.marks.erase_after, &c.marks.erasure_job) {
                // Relinked since the index was read, or not due after all.
                (None, _) => Change::Keep(None),
                (Some(at), _) if at > now => Change::Keep(None),
                (Some(_), Some(existing)) => Change::Keep(Some(existing.clone())),
                (Some(_), None) => {
                    c.marks.erasure_job = Some(candidate.id.clone());
                    Change::Write(Some(candidate.id.clone()))
                }
            }
        })
        .await?;
        let Some((connection, Some(job_id))) = claimed else {
            continue;
        };
        let mut job = candidate.clone();
        job.id = job_id.clone();
        let (_, created) = start_job(&deps.jobs, deps.queue.as_ref(), job)
            .await
            .map_err(|e| OffboardConnectionError::Job(Box::new(e)))?;
        if created {
            done.started += 1;
        } else {
            done.resumed += 1;
        }
        info!(connection_id = %connection.connection_id, job_id = %job_id, created, "connection erasure started");
    }
    if done.started + done.resumed > 0 {
        info!(
            started = done.started,
            resumed = done.resumed,
            "due connection erasures"
        );
    }
    Ok(done)
}

/// A new `ConnectionErasure` job of `connection`.
pub fn erasure_job(connection: &Connection, now: Timestamp) -> LifecycleJob {
    LifecycleJob::new(
        connection.tenant_id.clone(),
        JobKind::ConnectionErasure {
            connection_id: connection.connection_id.clone(),
        },
        Some("data-lifecycle".to_owned()),
        now,
    )
}

/// Logs a failure to offboard without personal data (ids and the error chain only).
pub fn log_failure(connection: &ConnectionId, e: &OffboardConnectionError) {
    warn!(connection_id = %connection, error = %crate::errors::error_chain(e), "offboarding the connection failed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnectionId, TenantId};

    fn connection() -> Connection {
        let at = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        Connection {
            tenant_id: TenantId::parse("acme").unwrap(),
            connection_id: ConnectionId::parse("conn_1").unwrap(),
            brand_id: None,
            integration_name: "sandbox".into(),
            status: ConnectionStatus::Active,
            access_token_secret: "s".into(),
            errors: Vec::new(),
            stuck_schedules: Vec::new(),
            full_sync_requested_at: None,
            created_at: at,
            updated_at: at,
            version: 0,
            marks: Default::default(),
        }
    }

    #[test]
    fn an_offboarded_connection_keeps_its_first_erase_time_and_a_relink_clears_every_mark() {
        // given an active connection offboarded at t0, then again at t1
        let mut c = connection();
        let t0 = c.created_at;
        let t1 = t0.plus_seconds(3600);
        mark_offboarded(&mut c, t0, Some(t0.plus_seconds(10)), t0);
        mark_offboarded(&mut c, t1, Some(t1.plus_seconds(10)), t1);
        // then it is offboarded once, from t0
        assert!(c.is_offboarded());
        assert_eq!(c.status, ConnectionStatus::Disconnected);
        assert_eq!(c.marks.deleted_at, Some(t0));
        assert_eq!(c.marks.erase_after, Some(t0.plus_seconds(10)));
        // when it was erased and is then linked again
        c.marks.erase_after = None;
        c.marks.erased_at = Some(t1);
        assert!(c.is_offboarded());
        assert!(relinked(&mut c));
        // then nothing marks it offboarded any more
        assert!(!c.is_offboarded());
        assert!(!relinked(&mut c));
    }
}
