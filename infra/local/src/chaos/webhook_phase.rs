//! The webhook phase of the run ([`super::run`]): changes raised and delivered under
//! faults (duplicates, reordering, Trackstar bursts, AWS faults, a killed poller, a DynamoDB
//! outage), the pipeline settled, dead letters explained and redriven, then every event
//! accounted for.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use futures::StreamExt;
use packr::domain::{EventId, TenantId};
use packr::ops::{InspectOptions, RedriveOptions, RedriveTarget};
use packr::store::dynamo::DynamoStore;
use packr::store::CursorCodec;
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use trackstar_sim::{MutateRequest, MutationKind};

use super::ledger::Ledger;
use super::{
    explain_dead_letter, trackstar_schedule, truth, ChaosOptions, ChaosReport, DeadLetter,
};
use crate::esm;
use crate::faultproxy::{self, FaultProxy};
use crate::webhooks::WebhookStack;

/// The webhook phase: changes raised and delivered under faults, then every event
/// accounted for.
#[allow(clippy::too_many_arguments)]
pub(super) async fn webhook_phase(
    sdk: &SdkConfig,
    running: &mut WebhookStack,
    proxy: &FaultProxy,
    ledger: &Ledger,
    dlq_url: &str,
    table: String,
    options: ChaosOptions,
    started: Instant,
) -> anyhow::Result<ChaosReport> {
    let connection = running.demo.connection_id.clone();

    // Raise the changes, paced; Trackstar faults and the kill on the way.
    let schedule = trackstar_schedule(&options);
    let mut pending_faults = schedule.iter().peekable();
    let kill_at = options.events / 2;
    let mut killed_poller_held = None;
    let kinds = [
        MutationKind::Order,
        MutationKind::Inventory,
        MutationKind::Product,
    ];
    let mut changed = BTreeSet::new();
    let raise_started = Instant::now();
    let mut raised = 0;
    let mut progress_at = Instant::now();
    let mut fault_until: Option<Instant> = None;
    let mut outage_until: Option<Instant> = None;
    let mut outage_window = None;
    let end_outage = |started: chrono::DateTime<chrono::Utc>, at: usize| {
        proxy.set_outage(faultproxy::Service::DynamoDb, false);
        eprintln!("chaos: DynamoDB is back");
        Some((started, chrono::Utc::now(), at))
    };
    while raised < options.events {
        if outage_until.is_some_and(|until| Instant::now() >= until) {
            if let Some((started, _, at)) = outage_window {
                outage_window = end_outage(started, at);
            }
            outage_until = None;
        }
        if let Some(outage) = options.dynamodb_outage {
            if raised >= outage.at_event && outage_window.is_none() {
                proxy.set_outage(faultproxy::Service::DynamoDb, true);
                eprintln!(
                    "chaos: DynamoDB out for the processor for {} s from event {raised}",
                    outage.lasts.as_secs()
                );
                outage_window = Some((chrono::Utc::now(), chrono::Utc::now(), raised));
                outage_until = Some(Instant::now() + outage.lasts);
            }
        }
        if fault_until.is_some_and(|until| Instant::now() >= until) {
            running.sim.clear_faults(&connection);
            fault_until = None;
        }
        while let Some(fault) = pending_faults.next_if(|f| f.at_event <= raised) {
            running.sim.set_faults(&connection, fault.spec.clone());
            fault_until = Some(Instant::now() + fault.lasts);
        }
        if raised >= kill_at && killed_poller_held.is_none() {
            killed_poller_held = running.kill_poller_mid_batch(Duration::from_secs(20)).await;
            eprintln!(
                "chaos: killed a poller holding {} messages",
                killed_poller_held.unwrap_or(0)
            );
        }
        let due = raise_started + Duration::from_secs_f64(raised as f64 / options.raise_per_second);
        tokio::time::sleep_until(due.into()).await;
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: connection.clone(),
                kind: kinds[raised % kinds.len()],
                count: 1,
            })
            .map_err(|e| anyhow::anyhow!("mutating the simulator: {e:?}"))?;
        for (_, id) in &outcome.changes {
            changed.insert(id.clone());
        }
        raised += outcome.changes.len().max(1);
        if progress_at.elapsed() > Duration::from_secs(15) {
            progress_at = Instant::now();
            let stats = running.sim.webhook_stats();
            eprintln!(
                "chaos: {raised}/{} raised, {} delivered, {} AWS faults injected",
                options.events,
                stats.delivered,
                proxy.stats().injected.values().sum::<u64>()
            );
        }
    }
    if let Some(until) = fault_until {
        tokio::time::sleep_until(until.into()).await;
        running.sim.clear_faults(&connection);
    }
    if let Some(until) = outage_until {
        tokio::time::sleep_until(until.into()).await;
        if let Some((started, _, at)) = outage_window {
            outage_window = end_outage(started, at);
        }
    }
    let raise_elapsed = raise_started.elapsed();
    eprintln!("chaos: all {raised} raised; waiting for the pipeline to settle");
    let mut settled = running.wait_settled(options.settle_timeout).await;

    // Dead letters: explain each from its receipt, redrive them all, settle again.
    let direct_sqs = aws_sdk_sqs::Client::new(sdk);
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        table,
        CursorCodec::new(vec![7; 32]),
    );
    let tenant = TenantId::parse(running.demo.tenant_id.clone())?;
    let mut dead_letters = Vec::new();
    let mut redriven = 0;
    let dlq_depth = esm::queue_depths(&direct_sqs, dlq_url).await?;
    if !dlq_depth.is_empty() {
        let listing = packr::ops::inspect(
            &direct_sqs,
            dlq_url,
            &InspectOptions {
                limit: 10_000,
                peek_timeout: Duration::from_secs(5),
            },
        )
        .await
        .context("inspecting the DLQ")?;
        for entry in &listing.messages {
            let event_id = entry.event_id.clone().unwrap_or_default();
            let receipt = match EventId::parse(event_id.clone()) {
                Ok(id) => ReceiptStore::get(&store, &tenant, &id).await?,
                Err(_) => None,
            };
            let (reason, explained) = explain_dead_letter(
                receipt.as_ref().and_then(|r| r.failure_reason.as_deref()),
                entry.first_received_at,
                outage_window.map(|(start, end, _)| (start, end)),
                options.visibility_timeout,
                options.max_receive_count,
            );
            dead_letters.push(DeadLetter {
                event_type: entry.event_type.clone().unwrap_or_default(),
                reason,
                attempts: receipt.map_or(0, |r| r.processing_attempts),
                explained,
                event_id,
            });
        }
        // Past the visibility the listing set, then move them back.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let summary = packr::ops::redrive(
            &direct_sqs,
            &RedriveTarget {
                dlq_url: dlq_url.to_owned(),
                source_url: Some(running.queue_url.clone()),
            },
            &RedriveOptions::default(),
            &|_| {},
        )
        .await
        .context("redriving the DLQ")?;
        redriven = summary.moved;
        eprintln!(
            "chaos: {} dead letters, {} redriven ({:?}); settling again",
            dead_letters.len(),
            redriven,
            summary.mode
        );
        settled = running.wait_settled(options.settle_timeout).await && settled;
    }
    let dlq_after = {
        let depth = esm::queue_depths(&direct_sqs, dlq_url).await?;
        depth.visible + depth.in_flight + depth.delayed
    };

    // The copy against the truth.
    let truth_data = running
        .sim
        .truth(&connection)
        .context("the simulator has no such connection")?;
    let truth = truth::compare(&store, &tenant, &truth_data, &changed).await?;

    // Every event id.
    let sim_stats = running.sim.webhook_stats();
    let delivered: BTreeSet<String> = running
        .sim
        .state()
        .webhook_records()
        .into_iter()
        .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
        .map(|r| r.msg_id)
        .collect();
    let receipts: Vec<(String, Option<(ReceiptState, u32)>)> =
        futures::stream::iter(delivered.iter().cloned())
            .map(|id| {
                let store = &store;
                let tenant = &tenant;
                async move {
                    let receipt = match EventId::parse(id.clone()) {
                        Ok(event) => ReceiptStore::get(store, tenant, &event).await?,
                        Err(_) => None,
                    };
                    anyhow::Ok((id, receipt.map(|r| (r.state, r.processing_attempts))))
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
    let ledger = ledger.snapshot();
    let mut unfinished = Vec::new();
    let (mut failed_receipts, mut unobserved, mut retried_events) = (0, 0, 0);
    for (id, receipt) in &receipts {
        match receipt {
            Some((state, attempts)) if state.is_final() => {
                retried_events += usize::from(*attempts > 1);
                if ledger.final_verdicts.get(id).copied().unwrap_or(0) == 0 {
                    unobserved += 1;
                }
            }
            other => {
                failed_receipts += usize::from(matches!(other, Some((ReceiptState::Failed, _))));
                unfinished.push(id.clone());
            }
        }
    }
    let mut applied_twice: Vec<String> = ledger
        .final_verdicts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    applied_twice.sort();
    let metrics = running.processor_metrics();
    let processor_verdicts = (
        metrics.total("webhook.applied"),
        metrics.total("webhook.stale"),
        metrics.total("webhook.ignored"),
        metrics.total("webhook.duplicate_events"),
    );
    let trackstar_statuses = running.sim.requests().statuses;
    let proxy_stats = proxy.stats();

    Ok(ChaosReport {
        options,
        elapsed: started.elapsed(),
        raise_elapsed,
        settled,
        raised,
        sim: sim_stats,
        delivered_ids: delivered.len(),
        trackstar_faults: schedule,
        trackstar_statuses,
        proxy: proxy_stats,
        killed_poller_held,
        outage: outage_window,
        dead_letters,
        redriven,
        dlq_after,
        truth,
        unfinished,
        failed_receipts,
        applied_twice,
        unobserved,
        retried_events,
        ledger,
        processor_verdicts,
    })
}
