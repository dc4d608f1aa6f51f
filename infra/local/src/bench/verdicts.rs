//! What webhook-processor decided, per event id, read from its own log lines: a tracing
//! layer that sees every `webhook_event` span (its `event_id` field) and the events logged
//! inside it. The processor logs `event processed` once per verdict it recorded (its
//! receipt's conditional `UpdateItem` succeeded), `event already processed; duplicate
//! acknowledged` when the receipt already held a final verdict, and `applying the event
//! failed` on a failure. So "applied twice" is an event id with two recorded verdicts, and
//! "lost" an event id ingest acknowledged with none. Hand-written: the counting is
//! Packr's own, over `tracing_subscriber`'s `Layer`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The processor's span around one event and the messages counted in it.
const EVENT_SPAN: &str = "webhook_event";
const FINISHED: &str = "event processed";
const DUPLICATE: &str = "event already processed; duplicate acknowledged";
const FAILED: &str = "applying the event failed";

/// What the processor logged about one event id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Verdicts recorded (applied, stale or ignored).
    pub finished: u32,
    /// Deliveries acknowledged as duplicates of a recorded verdict.
    pub duplicates: u32,
    /// Failed attempts (retried or kept for replay).
    pub failures: u32,
}

/// One `webhook_event` span of the processor: opened just before a pass over the event
/// starts (the first pass, or the batch's refetch pass), closed when that pass is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpan {
    pub event_id: String,
    pub opened: Instant,
    pub closed: Instant,
}

/// Per event id, shared with the layer.
#[derive(Debug, Clone, Default)]
pub struct VerdictLog {
    tallies: Arc<Mutex<HashMap<String, Tally>>>,
    spans: Arc<Mutex<Vec<EventSpan>>>,
}

impl VerdictLog {
    pub fn snapshot(&self) -> HashMap<String, Tally> {
        self.tallies.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The event spans closed since the last [`Self::clear`], in the order they closed.
    pub fn spans(&self) -> Vec<EventSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut t) = self.tallies.lock() {
            t.clear();
        }
        if let Ok(mut s) = self.spans.lock() {
            s.clear();
        }
    }

    /// The layer feeding this log; install it with a filter on `packr::webhook` at INFO
    /// (see [`install`]).
    pub fn layer(&self) -> VerdictLayer {
        VerdictLayer { log: self.clone() }
    }

    fn count(&self, event_id: &str, message: &str) {
        let Ok(mut tallies) = self.tallies.lock() else {
            return;
        };
        let tally = tallies.entry(event_id.to_owned()).or_default();
        match message {
            FINISHED => tally.finished += 1,
            DUPLICATE => tally.duplicates += 1,
            _ => tally.failures += 1,
        }
    }
}

/// Sets a global subscriber holding only the verdict layer, for the processor's INFO
/// lines (nothing else is formatted or filtered in: the AWS SDK's debug events cost nothing).
pub fn install() -> VerdictLog {
    use tracing_subscriber::layer::SubscriberExt;
    let log = VerdictLog::default();
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("packr::webhook", tracing::Level::INFO);
    let subscriber = tracing_subscriber::registry().with(log.layer().with_filter(filter));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("bench: a tracing subscriber was already set; verdicts are not counted");
    }
    log
}

pub struct VerdictLayer {
    log: VerdictLog,
}

struct EventIdOf(String);

struct OpenedAt(Instant);

#[derive(Default)]
struct FieldText {
    name: &'static str,
    value: Option<String>,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == self.name {
            self.value = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == self.name {
            self.value = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for VerdictLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != EVENT_SPAN {
            return;
        }
        let mut field = FieldText {
            name: "event_id",
            value: None,
        };
        attrs.record(&mut field);
        if let (Some(event_id), Some(span)) = (field.value, ctx.span(id)) {
            let mut extensions = span.extensions_mut();
            extensions.insert(EventIdOf(event_id));
            extensions.insert(OpenedAt(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let extensions = span.extensions();
        if let (Some(EventIdOf(event_id)), Some(OpenedAt(opened))) =
            (extensions.get::<EventIdOf>(), extensions.get::<OpenedAt>())
        {
            if let Ok(mut spans) = self.log.spans.lock() {
                spans.push(EventSpan {
                    event_id: event_id.clone(),
                    opened: *opened,
                    closed: Instant::now(),
                });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = FieldText {
            name: "message",
            value: None,
        };
        event.record(&mut message);
        let Some(message) = message.value else {
            return;
        };
        if ![FINISHED, DUPLICATE, FAILED].contains(&message.as_str()) {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            if let Some(EventIdOf(event_id)) = span.extensions().get::<EventIdOf>() {
                self.log.count(event_id, &message);
                return;
            }
        }
    }
}

/// Lost and twice-applied events: ingest's acknowledged ids against the verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Accounting {
    /// Distinct event ids ingest answered 2xx for.
    pub acked: usize,
    /// Of those, ids with at least one recorded verdict.
    pub finished: usize,
    /// Acknowledged ids with no recorded verdict.
    pub lost: usize,
    /// Ids with more than one recorded verdict.
    pub applied_twice: usize,
    /// Deliveries acknowledged as duplicates (a second copy of a finished event).
    pub duplicates: u64,
    /// Failed attempts (each retried by the queue).
    pub failed_attempts: u64,
}

pub fn account(acked: &[String], verdicts: &HashMap<String, Tally>) -> Accounting {
    let acked: std::collections::BTreeSet<&String> = acked.iter().collect();
    let finished = acked
        .iter()
        .filter(|id| verdicts.get(id.as_str()).is_some_and(|t| t.finished > 0))
        .count();
    Accounting {
        acked: acked.len(),
        finished,
        lost: acked.len() - finished,
        applied_twice: verdicts.values().filter(|t| t.finished > 1).count(),
        duplicates: verdicts.values().map(|t| u64::from(t.duplicates)).sum(),
        failed_attempts: verdicts.values().map(|t| u64::from(t.failures)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn logged(events: &[(&str, &str)]) -> HashMap<String, Tally> {
        let log = VerdictLog::default();
        let subscriber = tracing_subscriber::registry().with(log.layer());
        tracing::subscriber::with_default(subscriber, || {
            for (event_id, message) in events {
                let span = tracing::info_span!("webhook_event", event_id = %event_id);
                let _entered = span.enter();
                match *message {
                    "finished" => tracing::info!(outcome = "applied", "event processed"),
                    "duplicate" => {
                        tracing::info!("event already processed; duplicate acknowledged")
                    }
                    "failed" => tracing::error!(error = "x", "applying the event failed"),
                    _ => tracing::info!("something else"),
                }
            }
        });
        log.snapshot()
    }

    #[test]
    fn each_event_span_is_timed_from_open_to_close_and_other_spans_are_not() {
        // Given two passes over one event and a span of another name
        let log = VerdictLog::default();
        let subscriber = tracing_subscriber::registry().with(log.layer());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..2 {
                let span = tracing::info_span!("webhook_event", event_id = "msg_a");
                let _entered = span.enter();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            let _other = tracing::info_span!("something_else", event_id = "msg_b").entered();
        });
        // Then both passes are recorded, in order, each lasting its sleep
        let spans = log.spans();
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.event_id == "msg_a"));
        assert!(spans
            .iter()
            .all(|s| s.closed.duration_since(s.opened).as_millis() >= 2));
        assert!(spans[0].closed <= spans[1].opened);
        log.clear();
        assert!(log.spans().is_empty());
    }

    #[test]
    fn verdicts_are_counted_per_event_id_of_the_enclosing_span() {
        let tallies = logged(&[
            ("msg_a", "finished"),
            ("msg_a", "duplicate"),
            ("msg_b", "failed"),
            ("msg_b", "finished"),
            ("msg_c", "other"),
        ]);
        assert_eq!(
            tallies["msg_a"],
            Tally {
                finished: 1,
                duplicates: 1,
                failures: 0
            }
        );
        assert_eq!(tallies["msg_b"].failures, 1);
        assert_eq!(tallies["msg_b"].finished, 1);
        assert!(!tallies.contains_key("msg_c"));
    }

    #[test]
    fn an_acknowledged_event_without_a_verdict_is_lost_and_two_verdicts_are_counted_twice() {
        let tallies = logged(&[
            ("msg_a", "finished"),
            ("msg_b", "finished"),
            ("msg_b", "finished"),
        ]);
        let acked = vec!["msg_a".to_owned(), "msg_b".to_owned(), "msg_c".to_owned()];
        let accounting = account(&acked, &tallies);
        assert_eq!(accounting.acked, 3);
        assert_eq!(accounting.finished, 2);
        assert_eq!(accounting.lost, 1);
        assert_eq!(accounting.applied_twice, 1);
    }
}
