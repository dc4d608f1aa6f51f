//! How a connection event changes its connection: a pure function of the stored
//! connection, the event and the event's time, so the processor can re-apply it to a newer
//! copy when a concurrent write won (`store::modify_connection`).
//!
//! **Ordering.** Svix delivers at least once and in any order, so every connection event is
//! guarded by its *event time* ([`event_time`]):
//! - the event's own timestamp where Trackstar sends one: `data.deleted_date`
//!   (`connection.deleted`), `data.created_date` (`connection.created`), the error's
//!   `data.updated_date`, else `last_seen`, else `created_date` (`connection-error.*`);
//! - else the Svix timestamp of the delivery ingest accepted (`QueuedEvent::delivered_at`;
//!   a retried delivery carries a later one, so it is only a fallback), else when ingest
//!   received it (messages queued before `delivered_at` existed).
//!
//! The rules, per part of the connection:
//! - **lifecycle**: `connection.deleted` is final — a `connection.created` after it (late or
//!   not; Trackstar does not reuse connection ids) is stale, and so is a `connection.created`
//!   not newer than the last lifecycle event applied (a second one queues no second full
//!   sync);
//! - **errors**, per error (`data.id`, else the `failed_url` Trackstar reports it for): an
//!   event older than the error's stored event time is stale; a deletion leaves a
//!   tombstone (kept 30 days) so an older `created`/`updated` cannot bring it back; at
//!   equal times a deletion beats an update, an update a creation;
//! - **stuck schedules**: a report older than the stored one is stale; a completion clears
//!   only reports made at or before it.
//!
//! A stale event is acknowledged as `stale` and changes nothing. What sync-job and
//! force-sync events ask for beyond the connection is in `sync_job_events`.

use serde_json::Value;

use super::envelope::{EventKind, QueuedEvent};
use crate::domain::{
    Connection, ConnectionError, ConnectionStatus, ErrorTombstone, StuckSchedule, Timestamp,
};
use crate::sync::ResourceKind;

/// How long a deleted error's tombstone is kept (Svix retries for about 28 h; replays of
/// failed events may come later).
pub const TOMBSTONE_SECONDS: i64 = 30 * 24 * 3600;
/// At most this many tombstones per connection (the newest are kept).
pub const MAX_TOMBSTONES: usize = 100;

/// An event's time and where it came from (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    pub at: Timestamp,
    pub source: &'static str,
}

/// What applying the event decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The connection was changed (store it); these resources need a full sync.
    Applied { full_sync: Vec<ResourceKind> },
    /// Older than what the connection already reflects: nothing changes.
    Stale,
    /// Nothing to do for this event.
    Ignored,
}

fn timestamp(data: &Value, field: &'static str) -> Option<EventTime> {
    let at = Timestamp::parse(data.get(field)?.as_str()?).ok()?;
    Some(EventTime { at, source: field })
}

/// The time that orders `event` among the events of its connection (see the module doc).
pub fn event_time(kind: &EventKind, data: &Value, event: &QueuedEvent) -> EventTime {
    let fields: &[&'static str] = match kind {
        EventKind::ConnectionCreated => &["created_date"],
        EventKind::ConnectionDeleted => &["deleted_date"],
        EventKind::ConnectionErrorCreated
        | EventKind::ConnectionErrorUpdated
        | EventKind::ConnectionErrorDeleted => &["updated_date", "last_seen", "created_date"],
        _ => &[],
    };
    fields
        .iter()
        .find_map(|f| timestamp(data, f))
        .or_else(|| {
            event.delivered_at.map(|at| EventTime {
                at,
                source: "svix_timestamp",
            })
        })
        .unwrap_or(EventTime {
            at: event.received_at,
            source: "received_at",
        })
}

/// The error an event is about: `data.id`, else the URL Trackstar reports it for.
pub fn error_id(data: &Value) -> String {
    ["id", "failed_url"]
        .iter()
        .find_map(|k| data.get(*k).and_then(|v| v.as_str()))
        .filter(|v| !v.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

/// The Trackstar function a schedule event names (`get_orders`), from `function_name`,
/// `function` or `resource` (`orders` → `get_orders`).
pub fn schedule_function(data: &Value) -> Option<String> {
    let raw = ["function_name", "function", "resource"]
        .iter()
        .find_map(|k| data.get(*k).and_then(|v| v.as_str()))?
        .trim()
        .to_ascii_lowercase();
    if raw.is_empty() {
        return None;
    }
    Some(match ResourceKind::parse(&raw) {
        Some(r) => format!("get_{}", r.as_str()),
        None => raw,
    })
}

/// Clears the stuck reports of `function` (every function when none is named) made at or
/// before `at`; whether any was cleared.
fn clear_stuck(connection: &mut Connection, function: Option<String>, at: Timestamp) -> bool {
    let before = connection.stuck_schedules.len();
    connection.stuck_schedules.retain(|s| {
        let named = function.as_ref().is_none_or(|f| &s.function == f);
        let reported_before = s.event_at.unwrap_or(s.recorded_at) <= at;
        !(named && reported_before)
    });
    connection.stuck_schedules.len() != before
}

fn tombstone_at(connection: &Connection, error_id: &str) -> Option<Timestamp> {
    connection
        .marks
        .error_tombstones
        .iter()
        .find(|t| t.error_id == error_id)
        .map(|t| t.deleted_at)
}

fn prune_tombstones(connection: &mut Connection, now: Timestamp) {
    let oldest = now.plus_seconds(-TOMBSTONE_SECONDS);
    let tombstones = &mut connection.marks.error_tombstones;
    tombstones.retain(|t| t.deleted_at >= oldest);
    if tombstones.len() > MAX_TOMBSTONES {
        tombstones.sort_by_key(|t| std::cmp::Reverse(t.deleted_at));
        tombstones.truncate(MAX_TOMBSTONES);
    }
}

/// Applies one connection event of time `at` to `connection` (`now`: the processing time,
/// for `recorded_at` and the full-sync request).
pub fn apply(
    connection: &mut Connection,
    kind: &EventKind,
    data: &Value,
    at: Timestamp,
    now: Timestamp,
) -> Decision {
    let mut full_sync = Vec::new();
    match kind {
        EventKind::ConnectionCreated => {
            let marks = &connection.marks;
            if marks.deleted_at.is_some() || marks.lifecycle_at.is_some_and(|l| l >= at) {
                return Decision::Stale;
            }
            connection.status = ConnectionStatus::Active;
            connection.marks.lifecycle_at = Some(at);
            connection.full_sync_requested_at = Some(now);
            full_sync = ResourceKind::ALL.to_vec();
        }
        EventKind::ConnectionDeleted => {
            let marks = &connection.marks;
            if marks.deleted_at.is_some() || marks.lifecycle_at.is_some_and(|l| l > at) {
                return Decision::Stale;
            }
            connection.status = ConnectionStatus::Disconnected;
            connection.marks.deleted_at = Some(at);
            connection.marks.lifecycle_at = Some(at);
        }
        EventKind::ConnectionHistoricalSyncCompleted => {
            connection.full_sync_requested_at = Some(now);
            clear_stuck(connection, schedule_function(data), at);
            let resource = data
                .get("resource")
                .and_then(|v| v.as_str())
                .and_then(ResourceKind::parse);
            // A resource Packr does not sync (returns, …) needs nothing; an unnamed one,
            // everything.
            full_sync = match (data.get("resource"), resource) {
                (_, Some(resource)) => vec![resource],
                (None, None) => ResourceKind::ALL.to_vec(),
                (Some(_), None) => Vec::new(),
            };
        }
        EventKind::ConnectionErrorCreated | EventKind::ConnectionErrorUpdated => {
            let error_id = error_id(data);
            let stored_at = connection
                .errors
                .iter()
                .find(|e| e.error_id == error_id)
                .and_then(|e| e.event_at);
            let newer_stored = match kind {
                // At equal times an update beats a creation.
                EventKind::ConnectionErrorCreated => stored_at.is_some_and(|s| s >= at),
                _ => stored_at.is_some_and(|s| s > at),
            };
            // At equal times a deletion beats both.
            let deleted_since = tombstone_at(connection, &error_id).is_some_and(|d| d >= at);
            if newer_stored || deleted_since {
                return Decision::Stale;
            }
            let message = ["error_message", "message", "error"]
                .iter()
                .find_map(|k| data.get(*k).and_then(|v| v.as_str()))
                .map(|m| m.chars().take(500).collect());
            connection.errors.retain(|e| e.error_id != error_id);
            connection
                .marks
                .error_tombstones
                .retain(|t| t.error_id != error_id);
            connection.errors.push(ConnectionError {
                error_id,
                message,
                recorded_at: now,
                event_at: Some(at),
            });
        }
        EventKind::ConnectionErrorDeleted => {
            let error_id = error_id(data);
            let recurred = connection
                .errors
                .iter()
                .any(|e| e.error_id == error_id && e.event_at.is_some_and(|s| s > at));
            let deleted_already = tombstone_at(connection, &error_id).is_some_and(|d| d >= at);
            if recurred || deleted_already {
                return Decision::Stale;
            }
            connection.errors.retain(|e| e.error_id != error_id);
            let tombstones = &mut connection.marks.error_tombstones;
            tombstones.retain(|t| t.error_id != error_id);
            tombstones.push(ErrorTombstone {
                error_id,
                deleted_at: at,
            });
        }
        EventKind::ConnectionScheduleStuck => {
            let function = schedule_function(data).unwrap_or_else(|| "unknown".into());
            let newer_stored = connection
                .stuck_schedules
                .iter()
                .any(|s| s.function == function && s.event_at.unwrap_or(s.recorded_at) > at);
            if newer_stored {
                return Decision::Stale;
            }
            let latest_data = data
                .get("latest_data")
                .and_then(|v| v.as_str())
                .and_then(|v| Timestamp::parse(v).ok());
            connection
                .stuck_schedules
                .retain(|s| s.function != function);
            connection.stuck_schedules.push(StuckSchedule {
                function,
                latest_data,
                recorded_at: now,
                event_at: Some(at),
            });
        }
        EventKind::ConnectionForceSyncCompleted | EventKind::ConnectionSyncJobCompleted => {
            if !clear_stuck(connection, schedule_function(data), at) {
                return Decision::Ignored;
            }
        }
        _ => return Decision::Ignored,
    }
    prune_tombstones(connection, now);
    connection.updated_at = now;
    Decision::Applied { full_sync }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnectionId, CorrelationId, EventId, TenantId};
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn connection() -> Connection {
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
            created_at: ts("2025-01-01T00:00:00Z"),
            updated_at: ts("2025-01-01T00:00:00Z"),
            version: 0,
            marks: Default::default(),
        }
    }

    const NOW: &str = "2025-09-30T12:00:00Z";

    fn run(c: &mut Connection, kind: EventKind, data: Value, at: &str) -> Decision {
        apply(c, &kind, &data, ts(at), ts(NOW))
    }

    fn error(at: &str) -> Value {
        json!({"failed_url": "https://wms/x", "error_message": format!("seen {at}"), "updated_date": at})
    }

    fn queued(payload: Value, delivered: Option<&str>) -> QueuedEvent {
        QueuedEvent {
            event_id: EventId::parse("msg_1").unwrap(),
            tenant_id: TenantId::parse("acme").unwrap(),
            brand_id: None,
            connection_id: ConnectionId::parse("conn_1").unwrap(),
            event_type: "connection.deleted".into(),
            received_at: ts("2025-09-30T10:00:05Z"),
            delivered_at: delivered.map(ts),
            correlation_id: CorrelationId::generate(),
            payload,
        }
    }

    #[test]
    fn the_event_time_is_the_payloads_own_timestamp_then_the_svix_timestamp_then_receipt() {
        let data = json!({"deleted_date": "2025-09-30T09:00:00Z"});
        let e = queued(json!({}), Some("2025-09-30T10:00:00Z"));
        let t = event_time(&EventKind::ConnectionDeleted, &data, &e);
        assert_eq!(
            (t.at, t.source),
            (ts("2025-09-30T09:00:00Z"), "deleted_date")
        );
        let t = event_time(&EventKind::ConnectionScheduleStuck, &json!({}), &e);
        assert_eq!(
            (t.at, t.source),
            (ts("2025-09-30T10:00:00Z"), "svix_timestamp")
        );
        let t = event_time(
            &EventKind::ConnectionScheduleStuck,
            &json!({}),
            &queued(json!({}), None),
        );
        assert_eq!(
            (t.at, t.source),
            (ts("2025-09-30T10:00:05Z"), "received_at")
        );
    }

    #[test]
    fn a_late_created_never_revives_a_deleted_connection() {
        // given a deleted connection
        let mut c = connection();
        let deleted = run(
            &mut c,
            EventKind::ConnectionDeleted,
            json!({}),
            "2025-09-30T02:00:00Z",
        );
        assert_eq!(deleted, Decision::Applied { full_sync: vec![] });
        // when its (older) created arrives late, and even a newer one
        for at in ["2025-09-30T01:00:00Z", "2025-09-30T03:00:00Z"] {
            assert_eq!(
                run(&mut c, EventKind::ConnectionCreated, json!({}), at),
                Decision::Stale
            );
        }
        // then it stays deleted
        assert_eq!(c.status, ConnectionStatus::Disconnected);
        assert_eq!(c.full_sync_requested_at, None);
    }

    #[test]
    fn a_second_created_queues_no_second_full_sync() {
        let mut c = connection();
        let first = run(
            &mut c,
            EventKind::ConnectionCreated,
            json!({}),
            "2025-09-30T01:00:00Z",
        );
        assert_eq!(
            first,
            Decision::Applied {
                full_sync: ResourceKind::ALL.to_vec()
            }
        );
        let again = run(
            &mut c,
            EventKind::ConnectionCreated,
            json!({}),
            "2025-09-30T01:00:00Z",
        );
        assert_eq!(again, Decision::Stale);
    }

    #[test]
    fn an_older_error_update_does_not_overwrite_a_newer_one() {
        let mut c = connection();
        let newer = "2025-09-30T02:00:00Z";
        run(
            &mut c,
            EventKind::ConnectionErrorUpdated,
            error(newer),
            newer,
        );
        let older = "2025-09-30T01:00:00Z";
        let late = run(
            &mut c,
            EventKind::ConnectionErrorUpdated,
            error(older),
            older,
        );
        assert_eq!(late, Decision::Stale);
        assert_eq!(c.errors.len(), 1);
        assert_eq!(
            c.errors[0].message.as_deref(),
            Some("seen 2025-09-30T02:00:00Z")
        );
    }

    #[test]
    fn a_deleted_error_is_not_brought_back_by_an_older_update() {
        let mut c = connection();
        let t1 = "2025-09-30T01:00:00Z";
        let t2 = "2025-09-30T02:00:00Z";
        run(&mut c, EventKind::ConnectionErrorDeleted, error(t2), t2);
        assert!(c.errors.is_empty());
        for kind in [
            EventKind::ConnectionErrorCreated,
            EventKind::ConnectionErrorUpdated,
        ] {
            assert_eq!(run(&mut c, kind, error(t1), t1), Decision::Stale);
        }
        // at the same time the deletion wins too
        assert_eq!(
            run(&mut c, EventKind::ConnectionErrorUpdated, error(t2), t2),
            Decision::Stale
        );
        assert!(c.errors.is_empty());
        // a newer occurrence is a new error
        let t3 = "2025-09-30T03:00:00Z";
        run(&mut c, EventKind::ConnectionErrorCreated, error(t3), t3);
        assert_eq!(c.errors.len(), 1);
        assert!(c.marks.error_tombstones.is_empty());
    }

    #[test]
    fn errors_are_told_apart_by_id_then_failed_url() {
        let mut c = connection();
        let at = "2025-09-30T01:00:00Z";
        run(
            &mut c,
            EventKind::ConnectionErrorCreated,
            json!({"failed_url": "https://wms/orders", "updated_date": at}),
            at,
        );
        run(
            &mut c,
            EventKind::ConnectionErrorCreated,
            json!({"failed_url": "https://wms/products", "updated_date": at}),
            at,
        );
        let mut ids: Vec<_> = c.errors.iter().map(|e| e.error_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["https://wms/orders", "https://wms/products"]);
    }

    #[test]
    fn old_tombstones_are_pruned() {
        let mut c = connection();
        let old = "2025-08-01T00:00:00Z";
        run(&mut c, EventKind::ConnectionErrorDeleted, error(old), old);
        assert_eq!(
            c.marks.error_tombstones.len(),
            0,
            "pruned at once: over 30 days"
        );
        let recent = "2025-09-29T00:00:00Z";
        run(
            &mut c,
            EventKind::ConnectionErrorDeleted,
            error(recent),
            recent,
        );
        assert_eq!(c.marks.error_tombstones.len(), 1);
    }

    #[test]
    fn a_completion_clears_only_stuck_reports_made_before_it() {
        let mut c = connection();
        let stuck = "2025-09-30T02:00:00Z";
        run(
            &mut c,
            EventKind::ConnectionScheduleStuck,
            json!({"function_name": "get_orders"}),
            stuck,
        );
        let earlier = run(
            &mut c,
            EventKind::ConnectionForceSyncCompleted,
            json!({"function_name": "get_orders"}),
            "2025-09-30T01:00:00Z",
        );
        assert_eq!(earlier, Decision::Ignored);
        assert_eq!(c.stuck_schedules.len(), 1);
        let later = run(
            &mut c,
            EventKind::ConnectionForceSyncCompleted,
            json!({"function_name": "get_orders"}),
            "2025-09-30T03:00:00Z",
        );
        assert_eq!(later, Decision::Applied { full_sync: vec![] });
        assert!(c.stuck_schedules.is_empty());
    }
}
