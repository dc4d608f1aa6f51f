//! The chaos run's table (markdown: printed, and written into BENCHMARKS.md by
//! `infra/scripts/chaos.sh`).

use std::fmt::Write as _;

use super::{injected_of, ChaosReport, RunReport};
use crate::faultproxy::{Fault, Service};

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".to_owned();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "**FAIL**"
    }
}

/// The table of a run (the webhook phase's rows, then the sync phase's), its notes and
/// the verdict, as markdown.
pub fn render(run: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| what | measured | expected | check |");
    let _ = writeln!(out, "|---|---|---|---|");
    if let Some(report) = &run.webhooks {
        webhook_rows(report, &mut out);
    }
    if let Some(sync) = &run.sync {
        for [what, measured, expected, check] in sync.rows() {
            let _ = writeln!(out, "| {what} | {measured} | {expected} | {check} |");
        }
    }
    if let Some(report) = &run.webhooks {
        webhook_notes(report, &mut out);
    }
    if let Some(sync) = &run.sync {
        let notes = sync.notes();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nSync phase findings:\n");
            for note in notes {
                let _ = writeln!(out, "- {note}");
            }
        }
    }
    let failures = run.failures();
    let _ = writeln!(
        out,
        "\n**Result: {}**",
        if failures.is_empty() {
            "every check passed".to_owned()
        } else {
            format!("FAILED: {}", failures.join("; "))
        }
    );
    out
}

/// The webhook phase's rows.
fn webhook_rows(report: &ChaosReport, out: &mut String) {
    let o = &report.options;
    let s = &report.sim;
    let p = &report.proxy;
    let n = |v: usize| thousands(v as u64);
    let mut row = |what: &str, measured: String, expected: &str, check: &str| {
        let _ = writeln!(out, "| {what} | {measured} | {expected} | {check} |");
    };

    // What was done.
    row(
        "changes raised by the simulator (one event each)",
        format!(
            "{} in {:.0} s ({:.0}/s; orders, inventory, products in turn)",
            n(report.raised),
            report.raise_elapsed.as_secs_f64(),
            report.raised as f64 / report.raise_elapsed.as_secs_f64().max(0.001)
        ),
        &thousands(o.events as u64),
        "",
    );
    row(
        "deliveries (2xx), duplicates included",
        format!(
            "{} for {} event ids; {} events delivered twice ({})",
            thousands(s.deliveries),
            n(report.delivered_ids),
            thousands(s.duplicated),
            pct(s.duplicated, s.delivered)
        ),
        &format!("{:.0} % duplicated", o.duplicate_rate * 100.0),
        "",
    );
    row(
        "events held back behind later ones (reordered)",
        format!(
            "{} ({}), each behind up to {} later events; {} deliveries at once",
            thousands(s.held_back),
            pct(s.held_back, s.enqueued),
            o.reorder_window,
            o.delivery_concurrency
        ),
        &format!("{:.0} % reordered", o.reorder_rate * 100.0),
        "",
    );
    let bursts: Vec<String> = report
        .trackstar_faults
        .iter()
        .map(|f| {
            let status = if f.spec.rate_limit_storm > 0 {
                429
            } else {
                f.spec.status.unwrap_or(0)
            };
            format!(
                "{status} for {:.1} s at event {}",
                f.lasts.as_secs_f64(),
                f.at_event
            )
        })
        .collect();
    let served = |pred: &dyn Fn(u16) -> bool| -> u64 {
        report
            .trackstar_statuses
            .iter()
            .filter(|(status, _)| pred(**status))
            .map(|(_, n)| n)
            .sum()
    };
    row(
        "Trackstar 5xx bursts and 429 storms (on the processor's refetches)",
        format!(
            "{}; Trackstar answered {} requests: {} × 2xx, {} × 5xx, {} × 429",
            bursts.join(", "),
            thousands(served(&|_| true)),
            thousands(served(&|s| (200..300).contains(&s))),
            thousands(served(&|s| s >= 500)),
            thousands(served(&|s| s == 429))
        ),
        &format!(
            "{} bursts, {} storms",
            o.trackstar_bursts, o.trackstar_storms
        ),
        "",
    );
    let ddb = (
        p.total_requests(Service::DynamoDb),
        p.total_injected(Service::DynamoDb),
    );
    let sqs = (
        p.total_requests(Service::Sqs),
        p.total_injected(Service::Sqs),
    );
    row(
        "processor's AWS calls through the fault proxy (its clients and its pollers)",
        format!(
            "DynamoDB {} calls, {} failed ({}); SQS {} calls, {} failed ({})",
            thousands(ddb.0),
            thousands(ddb.1),
            pct(ddb.1, ddb.0),
            thousands(sqs.0),
            thousands(sqs.1),
            pct(sqs.1, sqs.0)
        ),
        &format!("{:.0} % failed", o.aws_fault_rate * 100.0),
        "",
    );
    row(
        "faults injected, by kind",
        Fault::ALL
            .iter()
            .map(|f| format!("{} {}", f.as_str(), thousands(injected_of(p, *f))))
            .collect::<Vec<_>>()
            .join("; "),
        "",
        "",
    );
    row(
        "poller killed mid-batch",
        match report.killed_poller_held {
            Some(held) => format!(
                "1, holding {held} messages (back after the {} s visibility timeout)",
                o.visibility_timeout.as_secs()
            ),
            None => "none held a batch".to_owned(),
        },
        "1",
        mark(report.killed_poller_held.is_some()),
    );

    // What came of it.
    let t = &report.truth;
    for (kind, tally) in [
        ("orders", &t.orders),
        ("inventory items", &t.inventory),
        ("products", &t.products),
    ] {
        row(
            &format!("{kind} in DynamoDB vs the simulator"),
            format!(
                "{} of {} compared ({} changed by the run); {} mismatched, {} missing",
                n(tally.compared),
                n(tally.in_simulator),
                n(tally.changed),
                n(tally.mismatched),
                n(tally.missing)
            ),
            "0 mismatched, 0 missing",
            mark(tally.ok()),
        );
    }
    row(
        "events lost (raised − delivered, + delivered without a final receipt)",
        format!(
            "{} ({} − {} + {}; {} receipts `failed`)",
            n(report.lost()),
            n(report.raised),
            n(report.delivered_ids),
            n(report.unfinished.len()),
            n(report.failed_receipts)
        ),
        "0",
        mark(report.lost() == 0),
    );
    let once = report
        .ledger
        .final_verdicts
        .values()
        .filter(|v| **v == 1)
        .count();
    row(
        "events applied twice (final verdicts accepted per event id, at the wire)",
        format!(
            "{} (1 verdict: {} ids, ≥ 2: {}, finished but unseen: {}); {} verdict writes refused as duplicates",
            n(report.applied_twice.len()),
            n(once),
            n(report.applied_twice.len()),
            n(report.unobserved),
            thousands(report.ledger.refused_verdicts)
        ),
        "0",
        mark(report.applied_twice.is_empty() && report.unobserved == 0),
    );
    let (applied, stale, ignored, duplicates) = report.processor_verdicts;
    let (applied, stale, ignored, duplicates) = (
        applied as u64,
        stale as u64,
        ignored as u64,
        duplicates as u64,
    );
    let lost_answers = report.ledger.lost_verdict_answers;
    row(
        "processor's own counts (its metrics), with the verdicts whose answer was lost",
        format!(
            "applied {} + stale {} + ignored {} = {}, + {} verdicts recorded whose answer the proxy lost (the retry reads them as duplicates) = {}; duplicates acknowledged {}; {} events took more than one attempt; object writes accepted {} / refused as not newer {}",
            thousands(applied),
            thousands(stale),
            thousands(ignored),
            thousands(applied + stale + ignored),
            thousands(lost_answers),
            thousands(applied + stale + ignored + lost_answers),
            thousands(duplicates),
            n(report.retried_events),
            thousands(report.ledger.object_writes),
            thousands(report.ledger.object_writes_refused)
        ),
        &format!(
            "{} ids, less at most the {} messages of the killed invocation (its metrics die with it)",
            n(report.delivered_ids),
            n(report.killed_poller_held.unwrap_or(0))
        ),
        mark(report.verdict_counts_add_up()),
    );
    row(
        "DynamoDB outage for the processor (every call answered 500, none forwarded)",
        match report.outage {
            Some((start, end, at)) => format!(
                "{:.0} s from event {} ({} – {} UTC); {} calls answered 500 meanwhile",
                (end - start).num_milliseconds() as f64 / 1000.0,
                n(at),
                start.format("%H:%M:%S"),
                end.format("%H:%M:%S"),
                thousands(p.outage_answers.get(&Service::DynamoDb).copied().unwrap_or(0))
            ),
            None => "none".to_owned(),
        },
        &match o.dynamodb_outage {
            Some(outage) => format!(
                "{} s from event {}: longer than {} receives × {} s visibility, so messages dead-letter",
                outage.lasts.as_secs(),
                n(outage.at_event),
                o.max_receive_count,
                o.visibility_timeout.as_secs()
            ),
            None => "none".to_owned(),
        },
        mark(o.dynamodb_outage.is_some() == report.outage.is_some()),
    );
    let unexplained = report.dead_letters.iter().filter(|d| !d.explained).count();
    row(
        "dead letters",
        if report.dead_letters.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{} ({} explained, reasons below), {} redriven with `packr::ops::redrive` (`packr dlq redrive`), then settled again",
                n(report.dead_letters.len()),
                n(report.dead_letters.len() - unexplained),
                thousands(report.redriven)
            )
        },
        "none, or all explained and redriven",
        mark(unexplained == 0 && report.dead_letters.len() as u64 <= report.redriven),
    );
    row(
        "DLQ at the end",
        thousands(report.dlq_after),
        "0",
        mark(report.dlq_after == 0),
    );
    row(
        "settled",
        format!(
            "{} ({:.0} s in all, pipeline started to last check)",
            if report.settled { "yes" } else { "no" },
            report.elapsed.as_secs_f64()
        ),
        "yes",
        mark(report.settled),
    );
}

/// The webhook phase's notes: dead letters and mismatches.
fn webhook_notes(report: &ChaosReport, out: &mut String) {
    if !report.dead_letters.is_empty() {
        let _ = writeln!(
            out,
            "\nDead letters (from their receipts and receive times):\n"
        );
        let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
        for letter in &report.dead_letters {
            *reasons.entry(letter.reason.as_str()).or_default() += 1;
        }
        for (reason, count) in reasons {
            let _ = writeln!(out, "- {count} × {reason}");
        }
    }
    if !report.truth.samples.is_empty() {
        let _ = writeln!(
            out,
            "\nMismatches (first {}):\n",
            report.truth.samples.len()
        );
        for sample in &report.truth.samples {
            let _ = writeln!(out, "- {sample}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
