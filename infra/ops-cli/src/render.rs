//! Plain-text tables for the terminal (and for pipes: no colours, no control characters).

use std::io::{self, Write};

use packr::domain::TenantId;
use packr::ops::redrive::error_chain;
use packr::ops::{DlqReport, RedriveSummary};

use packr::health::HealthReport;

use crate::health::QueueFigures;
use packr::sync::SyncJob;
use packr::webhook::replay::ReplayReport;

use crate::sync::SyncReport;

pub fn redrive_summary(out: &mut dyn Write, s: &RedriveSummary) -> io::Result<()> {
    let row = |out: &mut dyn Write, key: &str, value: &dyn std::fmt::Display| {
        writeln!(out, "{key:<11} {value}")
    };
    row(out, "dlq", &s.dlq_url)?;
    row(out, "source", &s.source_url)?;
    row(out, "mode", &s.mode)?;
    if let Some(reason) = &s.fallback_reason {
        row(out, "why", reason)?;
    }
    if let Some(n) = s.would_move {
        row(out, "would move", &n)?;
    } else {
        row(out, "moved", &s.moved)?;
        row(out, "failed", &s.failed)?;
        if s.undeleted > 0 {
            row(
                out,
                "undeleted",
                &format!("{} (sent, but still in the DLQ)", s.undeleted),
            )?;
        }
    }
    row(out, "duration", &format!("{:.1?}", s.duration))?;
    if let Some(reason) = &s.task_failure {
        row(out, "task error", reason)?;
    }
    if let Some(error) = &s.stopped_by {
        row(out, "stopped by", &error_chain(error))?;
    }
    for failure in &s.failures {
        writeln!(out, "  {}  {}", failure.message_id, failure.failure)?;
    }
    Ok(())
}

pub fn dlq_report(out: &mut dyn Write, r: &DlqReport) -> io::Result<()> {
    writeln!(out, "dlq         {}", r.dlq_url)?;
    writeln!(out, "visible     {}", r.visible)?;
    writeln!(out, "in flight   {}", r.in_flight)?;
    if r.messages.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<38} {:<20} {:<30} {:<24} {:>8}  first seen",
        "message id", "tenant", "event id", "event type", "receives"
    )?;
    let dash = "-".to_string();
    for m in &r.messages {
        writeln!(
            out,
            "{:<38} {:<20} {:<30} {:<24} {:>8}  {}",
            m.message_id,
            m.tenant_id
                .as_ref()
                .or(m.group_id.as_ref())
                .unwrap_or(&dash),
            m.event_id.as_ref().unwrap_or(&dash),
            m.event_type.as_ref().unwrap_or(&dash),
            m.receive_count.map_or(dash.clone(), |n| n.to_string()),
            m.sent_at.map_or(dash.clone(), |t| t.to_rfc3339()),
        )?;
    }
    if r.truncated {
        writeln!(out, "(listing stopped at the limit; there may be more)")?;
    }
    Ok(())
}

pub fn sync_report(out: &mut dyn Write, tenant: &TenantId, r: &SyncReport) -> io::Result<()> {
    writeln!(out, "{:<40} {:<10} mode", "connection", "resource")?;
    for job in &r.jobs {
        writeln!(
            out,
            "{:<40} {:<10} {}",
            job.connection_id, job.resource, job.mode
        )?;
    }
    for c in &r.skipped {
        writeln!(
            out,
            "skipped {} ({}: it cannot sync)",
            c.connection_id,
            c.status.as_str()
        )?;
    }
    writeln!(out, "{} jobs queued for tenant {tenant}", r.jobs.len())
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

pub fn health(
    out: &mut dyn Write,
    reports: &[(TenantId, HealthReport)],
    queues: &[QueueFigures],
) -> io::Result<()> {
    writeln!(
        out,
        "{:<16} {:<24} {:<10} {:<10} {:>9} {:>11} {:>8} {:>8} {:>7} {:<9}  reasons",
        "tenant",
        "connection",
        "brand",
        "status",
        "sync lag",
        "wh p95 1h",
        "fail 24h",
        "backlog",
        "replay",
        "breaker"
    )?;
    for (tenant, report) in reports {
        for c in &report.connections {
            let lag = c.resources.iter().filter_map(|r| r.sync_lag_seconds).max();
            let reasons: Vec<&str> = c.reasons.iter().map(|r| r.code.as_str()).collect();
            writeln!(
                out,
                "{:<16} {:<24} {:<10} {:<10} {:>9} {:>11} {:>8} {:>8} {:>7} {:<9}  {}",
                tenant.as_str(),
                c.connection_id,
                c.brand_id.as_deref().unwrap_or("-"),
                format!("{:?}", c.status).to_lowercase(),
                or_dash(lag.map(|s| format!("{s}s"))),
                or_dash(c.webhooks.lag_1h.p95_ms.map(|ms| format!("{ms}ms"))),
                c.webhooks.failures_24h,
                c.webhooks.backlog.events,
                c.webhooks.failed_awaiting_replay,
                c.breaker.state,
                if reasons.is_empty() {
                    "-".to_owned()
                } else {
                    reasons.join(",")
                },
            )?;
        }
        let s = report.summary;
        writeln!(
            out,
            "{:<16} {} connections: {} healthy, {} degraded, {} unhealthy",
            tenant.as_str(),
            s.connections,
            s.healthy,
            s.degraded,
            s.unhealthy
        )?;
    }
    if !queues.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<14} {:>8} {:>10} {:>12}",
            "queue", "visible", "in flight", "oldest age"
        )?;
        for q in queues {
            writeln!(
                out,
                "{:<14} {:>8} {:>10} {:>12}",
                q.name,
                q.visible,
                q.in_flight,
                or_dash(q.oldest_age_seconds.map(|s| format!("{s}s")))
            )?;
        }
    }
    Ok(())
}

pub fn replay_report(out: &mut dyn Write, tenant: &TenantId, r: &ReplayReport) -> io::Result<()> {
    writeln!(out, "tenant      {tenant}")?;
    writeln!(out, "dry run     {}", r.dry_run)?;
    writeln!(out, "matched     {}", r.matched)?;
    writeln!(out, "enqueued    {}", r.enqueued)?;
    writeln!(out, "skipped     {}", r.skipped.len())?;
    if r.enqueued > 0 {
        writeln!(out, "spread      {} s", r.spread_seconds)?;
    }
    if r.truncated {
        writeln!(out, "(stopped at the cap; run again for the rest)")?;
    }
    if !r.skipped.is_empty() {
        writeln!(out)?;
        writeln!(out, "{:<40} reason", "event id")?;
        for s in &r.skipped {
            writeln!(out, "{:<40} {}", s.event_id, s.reason.as_str())?;
        }
    }
    Ok(())
}

pub fn reconcile_jobs(out: &mut dyn Write, tenant: &TenantId, jobs: &[SyncJob]) -> io::Result<()> {
    writeln!(
        out,
        "{:<40} {:<10} {:<10} dry run",
        "connection", "resource", "mode"
    )?;
    for job in jobs {
        writeln!(
            out,
            "{:<40} {:<10} {:<10} {}",
            job.connection_id, job.resource, job.mode, job.dry_run
        )?;
    }
    writeln!(
        out,
        "{} reconcile jobs queued for tenant {tenant}",
        jobs.len()
    )
}
