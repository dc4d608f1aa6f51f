//! The reliability run (`make chaos`): the webhook pipeline of the local stack under
//! duplicate and reordered deliveries, Trackstar 5xx bursts and 429 storms, a share of
//! webhook-processor's AWS calls failing (through [`crate::faultproxy`]), one poller
//! killed mid-batch and one DynamoDB outage long enough for messages to exhaust their
//! receives and dead-letter; then DynamoDB against the simulator's truth, every event id
//! accounted for, and every dead letter explained and redriven. [`run`] does it; [`report`] renders
//! the table.
//!
//! How events are counted (per event id, the `svix-id` Trackstar gives a delivery):
//! - *raised*: changes the simulator made (each one webhook event);
//! - *delivered*: event ids the simulator got a 2xx for (its delivery records);
//! - *finished*: event ids whose receipt in DynamoDB holds a final verdict (`applied`,
//!   `stale`, `ignored`), read back after the run;
//! - *final verdicts at the wire*: per event id, the receipt writes recording a final
//!   verdict that the emulator accepted, seen by the proxy's tap ([`ledger`]).
//!
//! Lost = raised − delivered, plus delivered without a final receipt. Applied twice =
//! event ids with more than one accepted final verdict (the conditional write admits one;
//! a second would mean two attempts both took the event as new).

pub mod ledger;
pub mod report;
pub mod sync_checks;
mod sync_driver;
pub mod sync_failures;
pub mod sync_faults;
pub mod sync_phase;
pub mod sync_report;
pub mod truth;
mod webhook_phase;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use packr::webhook::processor::DEFAULT_MAX_RECEIVE_COUNT;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use trackstar_sim::{DeliveryOptions, FaultSpec};

use crate::esm::EsmConfig;
use crate::faultproxy::{self, Fault, FaultConfig, ProxyStats};
use crate::stack::LocalStack;
use crate::sync::SyncOptions;
use crate::webhooks::{self, WebhookOptions};
use ledger::{Ledger, LedgerSnapshot};
use truth::TruthReport;

/// What the run does. `Default` is `make chaos`'s.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    pub seed: u64,
    /// Changes the simulator raises (one webhook event each).
    pub events: usize,
    /// Changes raised per second. The default stays within what the pipeline settles on
    /// the emulator: moto's `ReceiveMessage` recomputes the queue's attributes for every
    /// message it returns (a walk over the whole queue), so a backlog of thousands of
    /// messages slows every call it serves; at 60/s a 10,000-event run built a backlog of
    /// ~5,000 and settled at a few events per second.
    pub raise_per_second: f64,
    pub duplicate_rate: f64,
    pub reorder_rate: f64,
    /// How many later events a held-back one lets go first.
    pub reorder_window: usize,
    /// Webhook deliveries in flight at once (Svix delivers in parallel).
    pub delivery_concurrency: usize,
    /// Share of webhook-processor's DynamoDB and SQS calls the proxy fails.
    pub aws_fault_rate: f64,
    /// Trackstar 5xx bursts and 429 storms, spread over the run.
    pub trackstar_bursts: usize,
    pub trackstar_storms: usize,
    /// Pollers of the webhook queue.
    pub pollers: usize,
    /// Visibility timeout the pollers receive with (the template's is 180 s; shorter keeps
    /// the run bounded: a killed poller's messages and retried failures come back sooner).
    pub visibility_timeout: Duration,
    pub orders: usize,
    pub inventory: usize,
    pub products: usize,
    /// How long the pipeline may take to settle after the last change.
    pub settle_timeout: Duration,
    /// DynamoDB out for the processor (every call answered 500) from this event on, for
    /// this long; `None`: no outage.
    pub dynamodb_outage: Option<Outage>,
    /// The webhook queue's `maxReceiveCount` (the template's), to explain dead letters.
    pub max_receive_count: u32,
}

/// A DynamoDB outage during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// Starts after this many changes were raised.
    pub at_event: usize,
    pub lasts: Duration,
}

impl Outage {
    /// An outage from 90 % of the run (late, so the backlog it builds stays small for the
    /// emulator), long enough for the messages received in its first
    /// 30 s to fail every one of their `max_receive_count` receives (one per visibility
    /// timeout) and dead-letter.
    pub fn dead_lettering(events: usize, visibility: Duration, max_receive_count: u32) -> Self {
        Self {
            at_event: events * 9 / 10,
            lasts: visibility * max_receive_count.saturating_sub(1) + Duration::from_secs(30),
        }
    }
}

impl Default for ChaosOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            events: 10_000,
            raise_per_second: 12.0,
            duplicate_rate: 0.20,
            reorder_rate: 0.10,
            reorder_window: 10,
            delivery_concurrency: 4,
            aws_fault_rate: 0.05,
            trackstar_bursts: 3,
            trackstar_storms: 3,
            pollers: 2,
            visibility_timeout: Duration::from_secs(40),
            orders: 400,
            inventory: 150,
            products: 150,
            settle_timeout: Duration::from_secs(2_400),
            dynamodb_outage: Some(Outage::dead_lettering(
                10_000,
                Duration::from_secs(40),
                DEFAULT_MAX_RECEIVE_COUNT,
            )),
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
        }
    }
}

/// A Trackstar fault set at some point of the run, for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackstarFault {
    /// Set after this many changes were raised.
    pub at_event: usize,
    /// Cleared this long after (an outage lasts a while; a count of failed requests would
    /// last as long as the client's open breaker lets one probe through every 30 s).
    pub lasts: Duration,
    pub spec: FaultSpec,
}

/// The seeded schedule of Trackstar faults: bursts where every request answers 500, 502 or
/// 503, and storms where every request answers 429, each for 2–5 s, at events spread over
/// the middle 80 % of the run, never overlapping.
pub fn trackstar_schedule(options: &ChaosOptions) -> Vec<TrackstarFault> {
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x07ac_57a2);
    let n = options.trackstar_bursts + options.trackstar_storms;
    // One slot per fault (so they do not overlap), its start drawn within the slot's first half.
    let first = options.events / 10;
    let slot = (options.events * 8 / 10 / n.max(1)).max(1);
    let mut kinds: Vec<bool> = (0..n).map(|i| i < options.trackstar_storms).collect();
    for i in (1..kinds.len()).rev() {
        kinds.swap(i, rng.random_range(0..=i));
    }
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, storm)| {
            let at_event = first + i * slot + rng.random_range(0..(slot / 2).max(1));
            let lasts = Duration::from_millis(rng.random_range(2_000..=5_000));
            let spec = if storm {
                FaultSpec {
                    rate_limit_storm: u32::MAX,
                    ..FaultSpec::default()
                }
            } else {
                FaultSpec::error([500u16, 502, 503][rng.random_range(0..3)], None)
            };
            TrackstarFault {
                at_event,
                lasts,
                spec,
            }
        })
        .collect()
}

/// One dead letter and why it died: its receipt's failure reason, or (when no receipt
/// could be written) the DynamoDB outage all its receives fell in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
    /// Processing attempts its receipt counts.
    pub attempts: u32,
    /// Whether the reason accounts for it.
    pub explained: bool,
}

/// Why a dead letter died. A failure recorded on its receipt explains it. Without one, the
/// outage explains it if every attempt could have met DynamoDB down, so that none could
/// write its failure: the first attempt was still within its visibility timeout (an
/// invocation runs at most that long) when the outage began, and the last allowed receive
/// (`max_receive_count - 1` visibility timeouts after the first) came no later than the
/// outage's end plus `slack`. Seed 424242 had one such letter, first received in a batch
/// that started before the outage and was still being worked through when it began.
pub fn explain_dead_letter(
    failure_reason: Option<&str>,
    first_received_at: Option<chrono::DateTime<chrono::Utc>>,
    outage: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    visibility: Duration,
    max_receive_count: u32,
) -> (String, bool) {
    if let Some(reason) = failure_reason {
        return (reason.to_owned(), true);
    }
    let slack = chrono::Duration::seconds(10);
    match (first_received_at, outage) {
        (Some(first), Some((start, end))) => {
            let last_receive = first
                + chrono::Duration::from_std(visibility * max_receive_count.saturating_sub(1))
                    .unwrap_or_default();
            let first_attempt_until =
                first + chrono::Duration::from_std(visibility).unwrap_or_default();
            if first_attempt_until > start && last_receive <= end + slack {
                (
                    format!(
                        "all {max_receive_count} receives in the DynamoDB outage: no attempt could write its receipt"
                    ),
                    true,
                )
            } else {
                (
                    format!(
                        "no failure on its receipt, and its receives were not all in the outage \
                         (first received {}s from the outage's start)",
                        (first - start).num_seconds()
                    ),
                    false,
                )
            }
        }
        (None, _) => (
            "no failure on its receipt and no receive time".to_owned(),
            false,
        ),
        (Some(_), None) => ("no failure recorded on its receipt".to_owned(), false),
    }
}

/// Everything the run saw; [`ChaosReport::failures`] says which checks failed.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    pub options: ChaosOptions,
    pub elapsed: Duration,
    pub raise_elapsed: Duration,
    pub settled: bool,
    pub raised: usize,
    pub sim: trackstar_sim::WebhookStats,
    pub delivered_ids: usize,
    pub trackstar_faults: Vec<TrackstarFault>,
    /// Trackstar answers by status (the processor's refetches).
    pub trackstar_statuses: BTreeMap<u16, u64>,
    pub proxy: ProxyStats,
    /// Messages the killed poller held; `None`: no poller was killed.
    pub killed_poller_held: Option<usize>,
    /// When the DynamoDB outage began and ended (UTC), and the event it began at.
    pub outage: Option<(
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        usize,
    )>,
    pub dead_letters: Vec<DeadLetter>,
    pub redriven: u64,
    pub dlq_after: u64,
    pub truth: TruthReport,
    /// Delivered event ids without a final receipt.
    pub unfinished: Vec<String>,
    /// Delivered event ids whose receipt says `failed`.
    pub failed_receipts: usize,
    /// Event ids with more than one accepted final verdict.
    pub applied_twice: Vec<String>,
    /// Event ids with a final receipt but no final verdict seen at the wire.
    pub unobserved: usize,
    /// Events whose receipt counts more than one processing attempt.
    pub retried_events: usize,
    pub ledger: LedgerSnapshot,
    /// The processor's own counts: applied, stale, ignored, duplicates acknowledged.
    pub processor_verdicts: (f64, f64, f64, f64),
}

impl ChaosReport {
    /// Events lost: never delivered by the simulator, or delivered and never finished.
    pub fn lost(&self) -> usize {
        self.raised.saturating_sub(self.delivered_ids) + self.unfinished.len()
    }

    /// The verdicts the processor's metrics count, plus those whose answer the proxy lost
    /// (the retry then reads them as duplicates).
    pub fn counted_verdicts(&self) -> u64 {
        let (applied, stale, ignored, _) = self.processor_verdicts;
        (applied + stale + ignored) as u64 + self.ledger.lost_verdict_answers
    }

    /// The processor's counts against the event ids. Its metrics are emitted once per
    /// invocation, at the end, so the verdicts the killed invocation recorded before it
    /// died are never counted (as on Lambda when a sandbox dies mid-invocation): up to
    /// the messages the killed poller held may be missing, never more, and none may be
    /// counted twice. (The exact, per-id check is the one at the wire: `applied_twice`,
    /// `unobserved`.)
    pub fn verdict_counts_add_up(&self) -> bool {
        let counted = self.counted_verdicts();
        let delivered = self.delivered_ids as u64;
        let killed = self.killed_poller_held.unwrap_or(0) as u64;
        counted <= delivered && delivered - counted <= killed
    }

    /// The checks that failed, in words; empty when the run passed.
    pub fn failures(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if !self.settled {
            failed.push("the pipeline did not settle in time".to_owned());
        }
        if !self.truth.ok() {
            failed.push(format!(
                "DynamoDB differs from the simulator: {} mismatched, {} missing",
                self.truth.orders.mismatched
                    + self.truth.inventory.mismatched
                    + self.truth.products.mismatched,
                self.truth.orders.missing
                    + self.truth.inventory.missing
                    + self.truth.products.missing
            ));
        }
        if self.lost() > 0 {
            failed.push(format!("{} events lost", self.lost()));
        }
        if !self.applied_twice.is_empty() {
            failed.push(format!("{} events applied twice", self.applied_twice.len()));
        }
        if self.unobserved > 0 {
            failed.push(format!(
                "{} finished events whose verdict the proxy never saw",
                self.unobserved
            ));
        }
        if !self.verdict_counts_add_up() {
            failed.push(format!(
                "the processor's verdicts ({}, lost answers included) do not add up to the {} event ids",
                self.counted_verdicts(),
                self.delivered_ids
            ));
        }
        let unexplained = self.dead_letters.iter().filter(|d| !d.explained).count();
        if unexplained > 0 {
            failed.push(format!("{unexplained} dead letters unexplained"));
        }
        if (self.dead_letters.len() as u64) > self.redriven {
            failed.push(format!(
                "{} dead letters, {} redriven",
                self.dead_letters.len(),
                self.redriven
            ));
        }
        if self.options.dynamodb_outage.is_some() && self.outage.is_none() {
            failed.push("the DynamoDB outage never began".to_owned());
        }
        if self.dlq_after > 0 {
            failed.push(format!("{} messages left in the DLQ", self.dlq_after));
        }
        if self.killed_poller_held.is_none() {
            failed.push("no poller was killed mid-batch".to_owned());
        }
        if self.sim.gave_up > 0 {
            failed.push(format!(
                "Trackstar gave up on {} deliveries",
                self.sim.gave_up
            ));
        }
        failed
    }
}

/// Which phases a run has (`CHAOS_PHASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phases {
    /// The webhook phase, then the sync phase on the same stack (`make chaos`).
    All,
    Webhooks,
    Sync,
}

impl Phases {
    /// `all` (or empty), `webhooks`, `sync`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "" | "all" => Some(Self::All),
            "webhooks" => Some(Self::Webhooks),
            "sync" => Some(Self::Sync),
            _ => None,
        }
    }

    pub fn webhooks(self) -> bool {
        self != Self::Sync
    }

    pub fn sync(self) -> bool {
        self != Self::Webhooks
    }
}

/// What a run of one or both phases found.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub webhooks: Option<ChaosReport>,
    pub sync: Option<sync_report::SyncReport>,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn failures(&self) -> Vec<String> {
        let mut failed = self
            .webhooks
            .as_ref()
            .map(ChaosReport::failures)
            .unwrap_or_default();
        if let Some(sync) = &self.sync {
            failed.extend(
                sync.failures()
                    .into_iter()
                    .map(|f| format!("sync phase: {f}")),
            );
        }
        failed
    }
}

/// Runs the chaos on a provisioned `stack` (on the emulator `sdk` points at): the webhook
/// phase, then the sync phase on the same stack, or one of them (`phases`).
pub async fn run(
    sdk: &SdkConfig,
    stack: Arc<LocalStack>,
    options: ChaosOptions,
    phases: Phases,
    sync_options: sync_phase::SyncPhaseOptions,
) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let ledger = Ledger::default();
    let proxy = faultproxy::start(
        &stack.aws_endpoint_url,
        FaultConfig {
            rate: options.aws_fault_rate,
            seed: options.seed,
            serialize_conditional_writes: true,
            partial_batch_gets: 0.0,
        },
        Some(ledger.tap()),
    )
    .await
    .context("starting the fault proxy")?;
    let dlq_url = stack
        .resources
        .queue_url("WebhookDeadLetterQueue")
        .context("WebhookDeadLetterQueue was not provisioned")?
        .to_owned();
    let table = stack.resources.table_name.clone();

    let mut running = webhooks::start(
        sdk,
        stack,
        WebhookOptions {
            sim_seed: options.seed,
            orders_per_connection: options.orders,
            inventory_per_connection: options.inventory,
            products_per_connection: options.products,
            esm: EsmConfig {
                visibility_timeout: Some(options.visibility_timeout),
                ..EsmConfig::default()
            },
            pollers: options.pollers,
            // The sync engine would repair what webhooks lost: only webhooks move data in
            // the webhook phase. The sync phase runs sync-worker's pollers of its own.
            sync: SyncOptions {
                run_schedules: false,
                pollers: 0,
                ..SyncOptions::default()
            },
            processor_aws_endpoint: Some(proxy.url.clone()),
            ..WebhookOptions::default()
        },
    )
    .await
    .context("starting the webhook pipeline")?;
    running.sim.set_webhook_options(DeliveryOptions {
        duplicate_rate: options.duplicate_rate,
        reorder_rate: options.reorder_rate,
        reorder_window: options.reorder_window,
        concurrency: options.delivery_concurrency,
        seed: Some(options.seed),
        ..DeliveryOptions::default()
    });
    running.sim.reset_requests();

    let webhooks = if phases.webhooks() {
        Some(
            webhook_phase::webhook_phase(
                sdk,
                &mut running,
                &proxy,
                &ledger,
                &dlq_url,
                table,
                options,
                started,
            )
            .await?,
        )
    } else {
        None
    };
    let sync = if phases.sync() {
        Some(sync_phase::run(sdk, &running, &proxy, &ledger, sync_options).await?)
    } else {
        None
    };
    running.shutdown().await;
    proxy.shutdown().await;
    Ok(RunReport {
        webhooks,
        sync,
        elapsed: started.elapsed(),
    })
}

/// Faults injected of one kind, all services.
pub fn injected_of(stats: &ProxyStats, fault: Fault) -> u64 {
    stats
        .injected
        .iter()
        .filter(|((_, f), _)| *f == fault)
        .map(|(_, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_dead_letter_is_explained_by_its_receipt_or_by_an_outage_covering_all_its_receives() {
        let visibility = Duration::from_secs(40);
        let outage = Some((at(0), at(190)));
        // a failure on the receipt explains it, outage or not
        assert_eq!(
            explain_dead_letter(Some("order not found"), Some(at(500)), None, visibility, 5),
            ("order not found".to_owned(), true)
        );
        // first received 20 s in: receives at 20, 60, …, 180, all in the outage
        assert!(explain_dead_letter(None, Some(at(20)), outage, visibility, 5).1);
        // first received 60 s in: its fifth receive (220 s) came after DynamoDB was back
        assert!(!explain_dead_letter(None, Some(at(60)), outage, visibility, 5).1);
        // first received 30 s before it: that attempt was still running when DynamoDB
        // went down, and the other four met it down too
        assert!(explain_dead_letter(None, Some(at(-30)), outage, visibility, 5).1);
        // first received more than a visibility timeout before it: that attempt had ended
        let (reason, explained) = explain_dead_letter(None, Some(at(-45)), outage, visibility, 5);
        assert!(!explain_dead_letter(None, Some(at(-40)), outage, visibility, 5).1);
        assert!(!explained);
        assert!(reason.contains("-45s from the outage's start"), "{reason}");
        // or with no outage at all
        assert!(!explain_dead_letter(None, Some(at(20)), None, visibility, 5).1);
        assert!(!explain_dead_letter(None, None, outage, visibility, 5).1);
    }

    #[test]
    fn the_default_outage_outlasts_every_receive_of_a_message_received_early_in_it() {
        let outage = Outage::dead_lettering(10_000, Duration::from_secs(40), 5);
        assert_eq!(outage.at_event, 9_000);
        assert_eq!(outage.lasts, Duration::from_secs(190));
    }

    #[test]
    fn the_trackstar_schedule_is_seeded_and_within_the_run() {
        let options = ChaosOptions {
            seed: 3,
            ..ChaosOptions::default()
        };
        let schedule = trackstar_schedule(&options);
        assert_eq!(schedule, trackstar_schedule(&options));
        assert_eq!(schedule.len(), 6);
        assert!(schedule
            .iter()
            .all(|f| (1_000..9_000).contains(&f.at_event)));
        assert!(schedule.windows(2).all(|w| w[0].at_event < w[1].at_event));
        assert_eq!(
            schedule
                .iter()
                .filter(|f| f.spec.rate_limit_storm > 0)
                .count(),
            3
        );
    }
}
