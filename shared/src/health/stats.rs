//! Webhook figures per connection, recorded by the processor once per SQS batch.
//!
//! The processor tallies a batch's outcomes per (tenant, connection) and writes each tally
//! with ONE `UpdateItem` on the hourly item `T#<tenant>#WHSTATS#<connection>` /
//! `H#<yyyy-mm-ddThh>` (expires [`STATS_TTL_HOURS`] after its hour): `ADD` to counters and
//! to sparse log-scale histogram buckets, `SET` of the newest received/applied times. A
//! batch of ten events for one connection costs one write unit in all (the item stays well
//! under 1 KB), i.e. ~0.1 WCU per webhook, and nothing is read on the webhook path.
//!
//! | attribute     | meaning (per hour of processing)                                      |
//! |---------------|-----------------------------------------------------------------------|
//! | `ok`          | events finished (applied, stale or ignored)                            |
//! | `dup`         | duplicate deliveries acknowledged                                      |
//! | `fail`        | failed processing attempts                                             |
//! | `dl`          | events dead-lettered (failed on the queue's last receive) minus those of them since finished |
//! | `l<i>`        | processing latency histogram (bucket `i`, see [`super::histogram`])     |
//! | `g<r><i>`     | lag receipt → applied, per resource `r` (its declared `stats_code`: `o`rders, `i`nventory, `p`roducts …; `x` other) |
//! | `o<r><slot>`  | unapplied events received in 10-minute slot `slot` (unix s / 600): +1 at an event's first failure, −1 when a failed event finishes |
//! | `lr`, `la`    | newest receipt time / applied time seen (unix ms)                      |

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::histogram::Histogram;
use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::resource::ResourceKind;
use crate::store::StoreError;

/// Hours an hourly item is kept (the backlog and replay counts look back this far).
pub const STATS_TTL_HOURS: i64 = 96;
/// Seconds per backlog slot.
pub const SLOT_SECONDS: i64 = 600;

/// What an event belongs to, for per-resource lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatsResource {
    Resource(ResourceKind),
    /// Connection events and types Packr does not sync.
    Other,
}

impl StatsResource {
    pub fn of_event_type(event_type: &str) -> Self {
        ResourceKind::of_event(event_type).map_or(Self::Other, Self::Resource)
    }

    fn code(self) -> char {
        match self {
            Self::Resource(kind) => kind.spec().stats_code,
            Self::Other => 'x',
        }
    }

    fn from_code(c: char) -> Option<Self> {
        if c == 'x' {
            return Some(Self::Other);
        }
        ResourceKind::ALL
            .into_iter()
            .find(|kind| kind.spec().stats_code == c)
            .map(Self::Resource)
    }
}

/// How processing one event ended, with what the receipt said before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied, stale or ignored. `was_failed`: the receipt said `failed` before (a retry or
    /// a replay that succeeded); `was_dead_lettered`: it had failed on every receive.
    Finished {
        was_failed: bool,
        was_dead_lettered: bool,
    },
    Duplicate,
    /// `first`: the receipt did not say `failed` before; `dead_lettered`: this was the
    /// queue's last receive, so the message goes to the DLQ.
    Failed {
        first: bool,
        dead_lettered: bool,
    },
}

/// One processed event, as the stats see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub resource: StatsResource,
    pub received_at: Timestamp,
    pub outcome: Outcome,
    pub latency_ms: u64,
}

/// The figures of one hour item (decoded), or the delta a batch adds to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourStats {
    /// Start of the hour (unix seconds).
    pub hour: i64,
    pub ok: i64,
    pub dup: i64,
    pub fail: i64,
    pub dead_lettered: i64,
    pub latency: Histogram,
    pub lag: BTreeMap<StatsResource, Histogram>,
    /// (resource, slot) → unapplied delta.
    pub open: BTreeMap<(StatsResource, i64), i64>,
    pub last_received_ms: Option<i64>,
    pub last_applied_ms: Option<i64>,
}

pub fn hour_of(t: Timestamp) -> i64 {
    t.unix_seconds().div_euclid(3600) * 3600
}

/// `H#<yyyy-mm-ddThh>` of an hour start.
pub fn hour_sk(hour: i64) -> String {
    let t = Timestamp::from_unix_seconds(hour).unwrap_or_else(Timestamp::now);
    format!("H#{}", t.as_datetime().format("%Y-%m-%dT%H"))
}

pub fn parse_hour_sk(sk: &str) -> Option<i64> {
    let text = sk.strip_prefix("H#")?;
    let t = chrono::NaiveDateTime::parse_from_str(&format!("{text}:00:00"), "%Y-%m-%dT%H:%M:%S")
        .ok()?;
    Some(t.and_utc().timestamp())
}

impl HourStats {
    /// Adds one observation processed at `now`.
    pub fn observe(&mut self, o: &Observation, now: Timestamp) {
        let received = o.received_at.unix_millis();
        self.last_received_ms = Some(self.last_received_ms.map_or(received, |v| v.max(received)));
        let slot = (
            o.resource,
            o.received_at.unix_seconds().div_euclid(SLOT_SECONDS),
        );
        match o.outcome {
            Outcome::Finished {
                was_failed,
                was_dead_lettered,
            } => {
                self.ok += 1;
                self.latency.record(o.latency_ms);
                let lag = (now.unix_millis() - received).max(0) as u64;
                self.lag.entry(o.resource).or_default().record(lag);
                let applied = now.unix_millis();
                self.last_applied_ms =
                    Some(self.last_applied_ms.map_or(applied, |v| v.max(applied)));
                if was_failed {
                    *self.open.entry(slot).or_default() -= 1;
                }
                if was_dead_lettered {
                    self.dead_lettered -= 1;
                }
            }
            Outcome::Duplicate => self.dup += 1,
            Outcome::Failed {
                first,
                dead_lettered,
            } => {
                self.fail += 1;
                if first {
                    *self.open.entry(slot).or_default() += 1;
                }
                if dead_lettered {
                    self.dead_lettered += 1;
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ok == 0 && self.dup == 0 && self.fail == 0 && self.last_received_ms.is_none()
    }

    /// The update: `ADD` of every non-zero counter and bucket, `SET` of the times and TTL.
    /// Returns the expression and `(placeholder, attribute, value)` triples: attribute `i`
    /// is named `#n<i>` and its value is `:v<i>` (names are always substituted, so no
    /// attribute can clash with a DynamoDB reserved word).
    pub fn update_expression(&self, expires_at: i64) -> (String, Vec<(String, String, i64)>) {
        let mut adds: Vec<(String, i64)> = Vec::new();
        for (name, v) in [
            ("ok", self.ok),
            ("dup", self.dup),
            ("fail", self.fail),
            ("dl", self.dead_lettered),
        ] {
            if v != 0 {
                adds.push((name.to_owned(), v));
            }
        }
        for (b, n) in &self.latency.buckets {
            adds.push((format!("l{b}"), *n as i64));
        }
        for (r, h) in &self.lag {
            for (b, n) in &h.buckets {
                adds.push((format!("g{}{b}", r.code()), *n as i64));
            }
        }
        for ((r, slot), v) in &self.open {
            if *v != 0 {
                adds.push((format!("o{}{slot}", r.code()), *v));
            }
        }
        let mut sets: Vec<(String, i64)> = vec![("expires_at".to_owned(), expires_at)];
        if let Some(v) = self.last_received_ms {
            sets.push(("lr".into(), v));
        }
        if let Some(v) = self.last_applied_ms {
            sets.push(("la".into(), v));
        }
        let mut values = Vec::new();
        let mut set_parts = Vec::new();
        let mut add_parts = Vec::new();
        for (attr, v) in sets {
            let i = values.len();
            set_parts.push(format!("#n{i} = :v{i}"));
            values.push((format!(":v{i}"), attr, v));
        }
        for (attr, v) in adds {
            let i = values.len();
            add_parts.push(format!("#n{i} :v{i}"));
            values.push((format!(":v{i}"), attr, v));
        }
        let mut expression = format!("SET {}", set_parts.join(", "));
        if !add_parts.is_empty() {
            expression.push_str(&format!(" ADD {}", add_parts.join(", ")));
        }
        (expression, values)
    }

    /// Decodes a stored item's numeric attributes (unknown ones are ignored).
    pub fn from_numbers(hour: i64, numbers: &HashMap<String, i64>) -> Self {
        let mut s = HourStats {
            hour,
            ..Default::default()
        };
        for (name, v) in numbers {
            let v = *v;
            match name.as_str() {
                "ok" => s.ok = v,
                "dup" => s.dup = v,
                "fail" => s.fail = v,
                "dl" => s.dead_lettered = v,
                "lr" => s.last_received_ms = Some(v),
                "la" => s.last_applied_ms = Some(v),
                _ => {
                    let mut chars = name.chars();
                    match chars.next() {
                        Some('l') => {
                            if let Ok(b) = chars.as_str().parse::<u16>() {
                                s.latency.add_count(b, v.max(0) as u64);
                            }
                        }
                        Some('g') => {
                            let r = chars.next().and_then(StatsResource::from_code);
                            if let (Some(r), Ok(b)) = (r, chars.as_str().parse::<u16>()) {
                                s.lag.entry(r).or_default().add_count(b, v.max(0) as u64);
                            }
                        }
                        Some('o') => {
                            let r = chars.next().and_then(StatsResource::from_code);
                            if let (Some(r), Ok(slot)) = (r, chars.as_str().parse::<i64>()) {
                                s.open.insert((r, slot), v);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        s
    }
}

/// Groups a batch's observations into one delta per (tenant, connection).
pub fn tally(
    observations: &[Observation],
    now: Timestamp,
) -> BTreeMap<(TenantId, ConnectionId), HourStats> {
    let mut out: BTreeMap<(TenantId, ConnectionId), HourStats> = BTreeMap::new();
    for o in observations {
        out.entry((o.tenant.clone(), o.connection.clone()))
            .or_insert_with(|| HourStats {
                hour: hour_of(now),
                ..Default::default()
            })
            .observe(o, now);
    }
    out
}

/// The webhook stats port.
#[async_trait]
pub trait WebhookStatsStore: Send + Sync {
    /// Adds a batch's delta to its hour item (one `UpdateItem`).
    async fn add(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        delta: &HourStats,
    ) -> Result<(), StoreError>;

    /// The hour items from the hour of `since` on, oldest first.
    async fn hours(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        since: Timestamp,
    ) -> Result<Vec<HourStats>, StoreError>;
}

/// Writes a batch's tallies; a failed write is logged and skipped (stats never fail an
/// event). Returns how many writes were made.
pub async fn record_batch(
    store: &dyn WebhookStatsStore,
    observations: &[Observation],
    now: Timestamp,
) -> usize {
    let mut writes = 0;
    for ((tenant, connection), delta) in tally(observations, now) {
        writes += 1;
        if let Err(e) = store.add(&tenant, &connection, &delta).await {
            tracing::warn!(
                tenant_id = %tenant,
                connection_id = %connection,
                error = %e,
                "could not record the batch's webhook stats; going on"
            );
        }
    }
    writes
}
