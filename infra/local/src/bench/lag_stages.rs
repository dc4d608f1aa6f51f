//! The lag stage, stage by stage: for Packr and for the bare floor in the same run, where an
//! event's time goes — ingest, queue wait, the consumer's batch (before the first event
//! starts, each event's pass, waits for an earlier event of the same object, the
//! same-second refetch, after the last event), its AWS calls, the pollers' receives and
//! deletes — and what the emulator and this process spent in CPU.
//!
//! Read from outside the functions: the batches the harness handed over
//! ([`BatchTime`]), the processor's own `webhook_event` spans ([`EventSpan`], one per pass
//! over an event), and the AWS calls timed at the SDK's HTTP client ([`CallLog`]).

use std::collections::HashMap;

use super::calls::{CallLog, CallTotal, CpuSpent};
use super::verdicts::EventSpan;
use crate::stats::{BatchTime, Summary};

/// What one pipeline spent, per stage.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StageBreakdown {
    pub events: usize,
    pub elapsed_s: f64,
    pub consumers: usize,
    pub cpu: CpuSpent,
    /// Packr: request → answer at the function URL; floor: its `SendMessage`.
    pub ingest_ms: Summary,
    /// Sent (SQS's `SentTimestamp`, or the floor's send) → handed to the consumer.
    pub queue_wait_ms: Summary,
    pub batches: usize,
    pub batch_records_mean: f64,
    pub batch_wall_ms: Summary,
    pub batch_wall_total_ms: f64,
    /// CPU of the consumer's handler, summed over the batches.
    pub consumer_cpu_ms: f64,
    /// Batch handed over → its first event's pass starts (reading, lookups), mean per batch.
    pub before_first_ms: f64,
    /// An event's first pass (its writes), per event.
    pub pass_ms: Summary,
    /// Events whose pass started after another of the same batch had to finish first (one
    /// object's events run in queue order), and their summed wait.
    pub ordering_waits: usize,
    pub ordering_wait_ms: f64,
    /// Events settled by the batch's refetch pass, and their summed time from the end of
    /// their first pass to the end of the refetch pass.
    pub refetches: usize,
    pub refetch_ms: f64,
    /// Last event done → batch done (the stats write), mean per batch.
    pub after_last_ms: f64,
    /// Every AWS call, by role and operation.
    pub calls: Vec<(String, String, CallTotal)>,
}

impl StageBreakdown {
    /// The breakdown of a run: `batches` handed over, the `spans` of the passes over their
    /// events, the `calls` made.
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        events: usize,
        elapsed_s: f64,
        consumers: usize,
        cpu: CpuSpent,
        ingest_ms: Summary,
        batches: &[BatchTime],
        spans: &[EventSpan],
        calls: &CallLog,
    ) -> Self {
        let mut by_event: HashMap<&str, Vec<&EventSpan>> = HashMap::new();
        for span in spans {
            by_event.entry(&span.event_id).or_default().push(span);
        }
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let mut out = StageBreakdown {
            events,
            elapsed_s,
            consumers,
            cpu,
            ingest_ms,
            batches: batches.len(),
            ..Self::default()
        };
        let (mut waits, mut walls, mut passes) = (Vec::new(), Vec::new(), Vec::new());
        let (mut before_first, mut after_last, mut records) = (0.0, 0.0, 0usize);
        for batch in batches {
            walls.push(ms(batch.ended.duration_since(batch.started)));
            out.consumer_cpu_ms += batch.cpu_ms;
            records += batch.records.len();
            // Each event's passes within this batch, in order.
            let mut firsts = Vec::new();
            let mut last_closed = batch.started;
            for (event_id, queued_ms) in &batch.records {
                waits.push(*queued_ms);
                let mut passes_of: Vec<&&EventSpan> = by_event
                    .get(event_id.as_str())
                    .map(|s| {
                        s.iter()
                            .filter(|s| s.opened >= batch.started && s.closed <= batch.ended)
                            .collect()
                    })
                    .unwrap_or_default();
                passes_of.sort_by_key(|s| s.opened);
                let Some(first) = passes_of.first() else {
                    continue;
                };
                firsts.push(first.opened);
                passes.push(ms(first.closed.duration_since(first.opened)));
                if let Some(refetch) = passes_of.get(1) {
                    out.refetches += 1;
                    out.refetch_ms += ms(refetch.closed.duration_since(first.closed));
                }
                for pass in &passes_of {
                    last_closed = last_closed.max(pass.closed);
                }
            }
            let Some(start) = firsts.iter().min().copied() else {
                continue;
            };
            before_first += ms(start.duration_since(batch.started));
            after_last += ms(batch.ended.saturating_duration_since(last_closed));
            for opened in firsts {
                // Events of distinct objects all start together; a later start waited.
                let wait = ms(opened.duration_since(start));
                if wait >= 1.0 {
                    out.ordering_waits += 1;
                    out.ordering_wait_ms += wait;
                }
            }
        }
        let n = batches.len().max(1) as f64;
        out.batch_records_mean = records as f64 / n;
        out.before_first_ms = before_first / n;
        out.after_last_ms = after_last / n;
        out.batch_wall_total_ms = walls.iter().sum();
        out.batch_wall_ms = Summary::of(&walls);
        out.queue_wait_ms = Summary::of(&waits);
        out.pass_ms = Summary::of(&passes);
        out.calls = calls
            .snapshot()
            .into_iter()
            .map(|((role, op), total)| (role, op, total))
            .collect();
        out
    }

    /// The calls of `roles` whose operation starts with `prefix`, summed.
    pub fn calls_of(&self, roles: &[&str], prefix: &str) -> CallTotal {
        self.calls
            .iter()
            .filter(|(role, op, _)| roles.contains(&role.as_str()) && op.starts_with(prefix))
            .fold(CallTotal::default(), |acc, (_, _, t)| CallTotal {
                count: acc.count + t.count,
                total_ms: acc.total_ms + t.total_ms,
            })
    }

    fn per_event(&self, x: f64) -> f64 {
        x / self.events.max(1) as f64
    }
}

/// The roles of each pipeline's parts.
pub const PACKR_ROLES: Roles = Roles {
    ingest: "ingest",
    consumer: "processor",
    poller: "poller",
    harness: "harness",
};
pub const FLOOR_ROLES: Roles = Roles {
    ingest: "floor-producer",
    consumer: "floor-consumer",
    poller: "floor-poller",
    harness: "floor-harness",
};

#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub ingest: &'static str,
    pub consumer: &'static str,
    pub poller: &'static str,
    pub harness: &'static str,
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn calls_cell(t: CallTotal, events: usize) -> String {
    format!(
        "{} calls ({:.2}/event), {:.1} ms each, {:.1} ms/event",
        t.count,
        t.count as f64 / events.max(1) as f64,
        t.mean_ms(),
        t.total_ms / events.max(1) as f64
    )
}

/// A column of the table: a pipeline's name, its breakdown and the roles of its parts.
pub type Column<'a> = (&'a str, &'a StageBreakdown, Roles);

/// The markdown table: one row per stage, one column per pipeline (Packr, the floors).
pub fn table(columns: &[Column<'_>]) -> String {
    let mut md = format!(
        "| stage | {} |\n|---|{}\n",
        columns.iter().map(|c| c.0).collect::<Vec<_>>().join(" | "),
        "---|".repeat(columns.len())
    );
    let mut row = |stage: &str, cell: &dyn Fn(&StageBreakdown, Roles) -> String| {
        let cells: Vec<String> = columns.iter().map(|(_, b, r)| cell(b, *r)).collect();
        md.push_str(&format!("| {stage} | {} |\n", cells.join(" | ")));
    };
    let pct = |s: &Summary| format!("p50 {} / p95 {} ms", f1(s.p50), f1(s.p95));
    let waits = |count: usize, total: f64, events: usize| {
        format!(
            "{count} events, {:.0} ms each, {:.1} ms/event",
            total / count.max(1) as f64,
            total / events.max(1) as f64
        )
    };
    row("events settled", &|b, _| {
        format!(
            "{} in {:.1} s ({:.1}/s)",
            b.events,
            b.elapsed_s,
            b.events as f64 / b.elapsed_s.max(1e-9)
        )
    });
    row("emulator (moto) CPU", &|b, _| match b.cpu.emulator_ms {
        Some(cpu) => format!(
            "{:.1} ms/event ({:.0} % of wall)",
            b.per_event(cpu),
            100.0 * cpu / b.cpu.wall_ms.max(1e-9)
        ),
        None => "not found".to_owned(),
    });
    row(
        "this process's CPU (Packr: simulator, gateway, functions, pollers)",
        &|b, _| format!("{:.1} ms/event", b.per_event(b.cpu.process_ms)),
    );
    row(
        "ingest: ack at the function URL (Packr) / SendMessage (floors)",
        &|b, _| pct(&b.ingest_ms),
    );
    row("ingest's AWS calls", &|b, r| {
        calls_cell(b.calls_of(&[r.ingest], ""), b.events)
    });
    row("queue wait (queued → handed to the consumer)", &|b, _| {
        pct(&b.queue_wait_ms)
    });
    row("consumer batches", &|b, _| {
        format!(
            "{} batches, {:.2} records, wall p50 {} / p95 {} ms",
            b.batches,
            b.batch_records_mean,
            f1(b.batch_wall_ms.p50),
            f1(b.batch_wall_ms.p95)
        )
    });
    row("consumer CPU", &|b, _| {
        format!("{:.2} ms/event", b.per_event(b.consumer_cpu_ms))
    });
    row(
        "batch handed over → first event starts (read, lookups), per batch",
        &|b, _| format!("{:.1} ms", b.before_first_ms),
    );
    row("an event's first pass (object write, receipt)", &|b, _| {
        pct(&b.pass_ms)
    });
    row("consumer's DynamoDB calls", &|b, r| {
        calls_cell(b.calls_of(&[r.consumer], "DynamoDB:"), b.events)
    });
    row(
        "late starts inside a batch (waits for the same object, CPU skew)",
        &|b, _| waits(b.ordering_waits, b.ordering_wait_ms, b.events),
    );
    row(
        "same-second refetch (first pass done → settled)",
        &|b, _| waits(b.refetches, b.refetch_ms, b.events),
    );
    row(
        "last event done → batch done (stats write), per batch",
        &|b, _| format!("{:.1} ms", b.after_last_ms),
    );
    row("poller ReceiveMessage", &|b, r| {
        calls_cell(b.calls_of(&[r.poller], "SQS:ReceiveMessage"), b.events)
    });
    row("poller DeleteMessageBatch", &|b, r| {
        calls_cell(b.calls_of(&[r.poller], "SQS:DeleteMessageBatch"), b.events)
    });
    row("pollers' time (of pollers × elapsed)", &|b, r| {
        let available = (b.consumers as f64 * b.elapsed_s * 1000.0).max(1e-9);
        format!(
            "batch in hand {:.0} %, receiving {:.0} %, deleting {:.0} %",
            100.0 * b.batch_wall_total_ms / available,
            100.0 * b.calls_of(&[r.poller], "SQS:Receive").total_ms / available,
            100.0 * b.calls_of(&[r.poller], "SQS:Delete").total_ms / available,
        )
    });
    row("harness's own AWS calls (settle checks)", &|b, r| {
        calls_cell(b.calls_of(&[r.harness], ""), b.events)
    });
    md
}

/// Every AWS call of each run: role, operation, count per event, mean ms.
pub fn calls_table(columns: &[Column<'_>]) -> String {
    let mut md =
        String::from("| pipeline | role | operation | calls | per event | mean ms | ms per event |\n|---|---|---|---|---|---|---|\n");
    for (name, b, _) in columns {
        for (role, op, t) in &b.calls {
            md.push_str(&format!(
                "| {name} | {role} | {op} | {} | {:.2} | {:.1} | {:.1} |\n",
                t.count,
                t.count as f64 / b.events.max(1) as f64,
                t.mean_ms(),
                t.total_ms / b.events.max(1) as f64
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn span(id: &str, t0: Instant, from: u64, to: u64) -> EventSpan {
        EventSpan {
            event_id: id.to_owned(),
            opened: t0 + Duration::from_millis(from),
            closed: t0 + Duration::from_millis(to),
        }
    }

    #[test]
    fn a_batch_is_split_into_its_stages() {
        // Given a batch of three events: a and b of distinct objects start together 5 ms
        // in; c (a's object) waits for a; b is refetched after every first pass; the
        // batch ends 4 ms after the last pass.
        let t0 = Instant::now();
        let batch = BatchTime {
            started: t0,
            ended: t0 + Duration::from_millis(60),
            cpu_ms: 3.0,
            records: vec![
                ("a".to_owned(), 100.0),
                ("b".to_owned(), 200.0),
                ("c".to_owned(), 300.0),
            ],
        };
        let spans = vec![
            span("a", t0, 5, 25),
            span("b", t0, 5, 15),
            span("c", t0, 25, 45),
            span("b", t0, 46, 56),
            // A pass over `a` in another batch is not this batch's.
            span("a", t0, 500, 510),
        ];
        let calls = CallLog::default();
        calls.record("processor", "DynamoDB:UpdateItem", 4.0);
        let b = StageBreakdown::of(
            3,
            1.0,
            1,
            CpuSpent::default(),
            Summary::default(),
            &[batch],
            &spans,
            &calls,
        );
        // Then
        assert_eq!(b.batches, 1);
        assert_eq!(b.batch_records_mean, 3.0);
        assert_eq!(b.before_first_ms, 5.0);
        assert_eq!(b.ordering_waits, 1);
        assert_eq!(b.ordering_wait_ms, 20.0);
        assert_eq!(b.refetches, 1);
        assert_eq!(b.refetch_ms, 41.0);
        assert_eq!(b.after_last_ms, 4.0);
        assert_eq!(b.pass_ms.count, 3);
        assert_eq!(b.queue_wait_ms.p50, 200.0);
        assert_eq!(b.consumer_cpu_ms, 3.0);
        assert_eq!(b.calls_of(&["processor"], "DynamoDB:").count, 1);
        assert_eq!(b.calls_of(&["poller"], "").count, 0);
        let empty = StageBreakdown::default();
        let md = table(&[("Packr", &b, PACKR_ROLES), ("floor", &empty, FLOOR_ROLES)]);
        assert!(md.contains("| late starts inside a batch (waits for the same object, CPU skew) | 1 events, 20 ms each"));
    }
}
