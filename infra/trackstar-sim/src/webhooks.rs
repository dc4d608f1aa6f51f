//! Webhook delivery on a background task, the way Svix does it: signed POSTs, retries on
//! non-2xx and timeouts following a schedule, a stable `svix-id` per event; optionally
//! duplicated or reordered deliveries, every one or a seeded share of them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use crate::config::WebhookTarget;
use crate::events::WebhookEvent;
use crate::signature::sign_webhook;

/// How deliveries behave; settable at run time (`PUT /_sim/webhooks/options`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryOptions {
    /// Deliver every event twice (same `svix-id`).
    pub duplicates: bool,
    /// Deliver this share of events (0.0..=1.0, drawn per event) a second time right after
    /// their first successful delivery, with the same `svix-id` (a retry after a lost
    /// answer). `duplicates` is a rate of 1.
    pub duplicate_rate: f64,
    /// Shuffle events queued together (up to `reorder_window`) before delivering them.
    pub reorder: bool,
    pub reorder_window: usize,
    /// Hold this share of events (0.0..=1.0, drawn per event) back until `reorder_window`
    /// later events have been handed to delivery (or nothing else is queued), so they
    /// arrive after events raised after them.
    pub reorder_rate: f64,
    /// Seeds the draws of `duplicate_rate` and `reorder_rate` (in raising order, so a seed
    /// gives the same choices whatever the concurrency); `None` keeps the simulator's seed.
    /// Setting options with a seed restarts the draws from it.
    pub seed: Option<u64>,
    /// Delay before each attempt, in ms; the first is normally 0. Svix's real schedule is
    /// 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: the default is compressed for tests.
    pub retry_schedule_ms: Vec<u64>,
    /// A delivery not answered within this is a failed attempt (Svix: 15 s).
    pub timeout_ms: u64,
    /// First attempts in flight at once. Svix delivers in parallel; 1 (the default) delivers
    /// one at a time, each waiting for the previous answer, which keeps the raising order.
    /// Above 1, attempts start in raising order but may finish in any.
    pub concurrency: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            duplicates: false,
            duplicate_rate: 0.0,
            reorder: false,
            reorder_window: 10,
            reorder_rate: 0.0,
            seed: None,
            retry_schedule_ms: vec![0, 50, 200, 500, 1000, 2000],
            timeout_ms: 5000,
            concurrency: 1,
        }
    }
}

impl DeliveryOptions {
    /// Svix's production schedule.
    pub fn svix_schedule() -> Vec<u64> {
        [0u64, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]
            .iter()
            .map(|s| s * 1000)
            .collect()
    }
}

/// Counters of the delivery pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Events handed to the dispatcher.
    pub enqueued: u64,
    /// Events delivered with a 2xx (each counted once).
    pub delivered: u64,
    /// Successful POSTs including duplicates.
    pub deliveries: u64,
    /// Attempts that got a non-2xx or no answer.
    pub failed_attempts: u64,
    /// Events that exhausted the retry schedule.
    pub gave_up: u64,
    /// Events dropped because no webhook target was configured.
    pub dropped: u64,
    /// Events not yet delivered, given up or dropped.
    pub pending: u64,
    /// Events drawn for a second delivery (`duplicate_rate`, `duplicates`).
    pub duplicated: u64,
    /// Events held back behind later ones (`reorder_rate`).
    pub held_back: u64,
}

/// The seeded draws of [`DeliveryOptions::duplicate_rate`] and
/// [`DeliveryOptions::reorder_rate`], made once per event in raising order.
#[derive(Debug)]
pub struct DeliveryDraws {
    rng: StdRng,
}

impl DeliveryDraws {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0xde_11_7e),
        }
    }

    /// Whether the next event is delivered twice.
    pub fn duplicate(&mut self, options: &DeliveryOptions) -> bool {
        options.duplicates || self.draw(options.duplicate_rate)
    }

    /// Whether the next event is held back behind later ones.
    pub fn hold_back(&mut self, options: &DeliveryOptions) -> bool {
        self.draw(options.reorder_rate)
    }

    fn draw(&mut self, rate: f64) -> bool {
        // Always drawn, so one choice does not shift the other's sequence.
        let roll = self.rng.random::<f64>();
        rate > 0.0 && roll < rate.min(1.0)
    }
}

/// One attempt, for inspection by tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub msg_id: String,
    pub event_type: String,
    pub attempt: u32,
    /// Status received, `None` for a timeout or connection error.
    pub status: Option<u16>,
}

/// Attempts kept for [`WebhookDispatcher::records`] (a long chaos run makes ~15,000).
const MAX_RECORDS: usize = 200_000;

#[derive(Debug)]
struct Shared {
    target: Mutex<Option<WebhookTarget>>,
    options: Mutex<DeliveryOptions>,
    draws: Mutex<DeliveryDraws>,
    stats: Mutex<WebhookStats>,
    records: Mutex<Vec<DeliveryRecord>>,
    client: reqwest::Client,
}

#[derive(Debug, Clone)]
struct Outgoing {
    msg_id: String,
    event_type: String,
    body: Vec<u8>,
    /// Drawn when the event is handed to delivery.
    duplicate: bool,
}

/// Hands events to the background delivery task.
#[derive(Debug, Clone)]
pub struct WebhookDispatcher {
    tx: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Svix-style message id: `msg_` and 27 random alphanumerics.
pub fn new_msg_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let id: String = (0..27)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("msg_{id}")
}

impl WebhookDispatcher {
    /// Starts the delivery task on the current tokio runtime; `seed` seeds the draws of
    /// the delivery rates (unless the options bring their own).
    pub fn start(target: Option<WebhookTarget>, seed: u64) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            options: Mutex::new(DeliveryOptions::default()),
            draws: Mutex::new(DeliveryDraws::new(seed)),
            stats: Mutex::new(WebhookStats::default()),
            records: Mutex::new(Vec::new()),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
        });
        let task = tokio::spawn(run(rx, Arc::clone(&shared)));
        (Self { tx, shared }, task)
    }

    pub fn enqueue(&self, event: WebhookEvent) {
        let body = serde_json::to_vec(&event.body).unwrap_or_default();
        lock(&self.shared.stats).enqueued += 1;
        lock(&self.shared.stats).pending += 1;
        let outgoing = Outgoing {
            msg_id: new_msg_id(),
            event_type: event.event_type,
            body,
            duplicate: false,
        };
        if self.tx.send(outgoing).is_err() {
            let mut stats = lock(&self.shared.stats);
            stats.pending = stats.pending.saturating_sub(1);
            stats.dropped += 1;
        }
    }

    pub fn set_target(&self, target: Option<WebhookTarget>) {
        *lock(&self.shared.target) = target;
    }

    pub fn target(&self) -> Option<WebhookTarget> {
        lock(&self.shared.target).clone()
    }

    pub fn set_options(&self, options: DeliveryOptions) {
        if let Some(seed) = options.seed {
            *lock(&self.shared.draws) = DeliveryDraws::new(seed);
        }
        *lock(&self.shared.options) = options;
    }

    pub fn options(&self) -> DeliveryOptions {
        lock(&self.shared.options).clone()
    }

    pub fn stats(&self) -> WebhookStats {
        *lock(&self.shared.stats)
    }

    pub fn records(&self) -> Vec<DeliveryRecord> {
        lock(&self.shared.records).clone()
    }

    /// Waits until nothing is pending; false on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stats().pending == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Outgoing>, shared: Arc<Shared>) {
    // Bounds the first attempts in flight; rebuilt when the concurrency option changes.
    let mut slots = (1, Arc::new(Semaphore::new(1)));
    // Events held back (`reorder_rate`), each with how many later events must go first.
    let mut held: VecDeque<(Outgoing, usize)> = VecDeque::new();
    loop {
        let next = if held.is_empty() {
            rx.recv().await
        } else {
            // Nothing more to let overtake them within a moment: release the held events.
            match tokio::time::timeout(Duration::from_millis(20), rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    let options = lock(&shared.options).clone();
                    for (outgoing, _) in std::mem::take(&mut held) {
                        dispatch(&shared, &mut slots, outgoing, &options).await;
                    }
                    continue;
                }
            }
        };
        let Some(first) = next else { break };
        let options = lock(&shared.options).clone();
        let mut batch = vec![first];
        if options.reorder {
            // Let events raised together arrive, then shuffle them.
            tokio::time::sleep(Duration::from_millis(20)).await;
            while batch.len() < options.reorder_window.max(1) {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let original: Vec<String> = batch.iter().map(|o| o.msg_id.clone()).collect();
            batch.shuffle(&mut rand::rng());
            if batch.len() > 1 && batch.iter().map(|o| &o.msg_id).eq(original.iter()) {
                batch.reverse();
            }
        }
        for mut outgoing in batch {
            let hold = {
                let mut draws = lock(&shared.draws);
                outgoing.duplicate = draws.duplicate(&options);
                draws.hold_back(&options)
            };
            {
                let mut stats = lock(&shared.stats);
                stats.duplicated += u64::from(outgoing.duplicate);
                stats.held_back += u64::from(hold);
            }
            if hold {
                held.push_back((outgoing, options.reorder_window.max(1)));
                continue;
            }
            dispatch(&shared, &mut slots, outgoing, &options).await;
            // One later event went first: release the held events whose turn it is.
            let mut due = Vec::new();
            held.retain_mut(|(outgoing, left)| {
                *left -= 1;
                if *left == 0 {
                    due.push(outgoing.clone());
                }
                *left > 0
            });
            for outgoing in due {
                dispatch(&shared, &mut slots, outgoing, &options).await;
            }
        }
    }
    let options = lock(&shared.options).clone();
    for (outgoing, _) in held {
        dispatch(&shared, &mut slots, outgoing, &options).await;
    }
}

/// Starts an event's first attempt: inline when one at a time, else on its own task once
/// a slot is free.
async fn dispatch(
    shared: &Arc<Shared>,
    slots: &mut (usize, Arc<Semaphore>),
    outgoing: Outgoing,
    options: &DeliveryOptions,
) {
    let concurrency = options.concurrency.max(1);
    if slots.0 != concurrency {
        *slots = (concurrency, Arc::new(Semaphore::new(concurrency)));
    }
    if concurrency == 1 {
        deliver_first(shared, outgoing, options).await;
        return;
    }
    let Ok(permit) = Arc::clone(&slots.1).acquire_owned().await else {
        return; // never closed
    };
    let shared = Arc::clone(shared);
    let options = options.clone();
    tokio::spawn(async move {
        deliver_first(&shared, outgoing, &options).await;
        drop(permit);
    });
}

/// First attempt inline (keeps order when not reordering and one at a time); retries on
/// their own task.
async fn deliver_first(shared: &Arc<Shared>, outgoing: Outgoing, options: &DeliveryOptions) {
    let first_delay = options.retry_schedule_ms.first().copied().unwrap_or(0);
    if first_delay > 0 {
        tokio::time::sleep(Duration::from_millis(first_delay)).await;
    }
    match attempt(shared, &outgoing, 1, options).await {
        AttemptResult::Delivered => {}
        AttemptResult::Failed => {
            let shared = Arc::clone(shared);
            let options = options.clone();
            tokio::spawn(async move {
                for (i, delay) in options.retry_schedule_ms.iter().enumerate().skip(1) {
                    tokio::time::sleep(Duration::from_millis(*delay)).await;
                    let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    match attempt(&shared, &outgoing, n, &options).await {
                        AttemptResult::Delivered | AttemptResult::Dropped => return,
                        AttemptResult::Failed => {}
                    }
                }
                let mut stats = lock(&shared.stats);
                stats.gave_up += 1;
                stats.pending = stats.pending.saturating_sub(1);
            });
        }
        AttemptResult::Dropped => {}
    }
}

enum AttemptResult {
    Delivered,
    Failed,
    Dropped,
}

async fn attempt(
    shared: &Shared,
    outgoing: &Outgoing,
    n: u32,
    options: &DeliveryOptions,
) -> AttemptResult {
    let Some(target) = lock(&shared.target).clone() else {
        let mut stats = lock(&shared.stats);
        stats.dropped += 1;
        stats.pending = stats.pending.saturating_sub(1);
        return AttemptResult::Dropped;
    };
    let status = post(shared, &target, outgoing, options).await;
    record(shared, outgoing, n, status);
    if status.is_some_and(|s| (200..300).contains(&s)) {
        {
            let mut stats = lock(&shared.stats);
            stats.delivered += 1;
            stats.deliveries += 1;
        }
        if outgoing.duplicate {
            let again = post(shared, &target, outgoing, options).await;
            record(shared, outgoing, n, again);
            if again.is_some_and(|s| (200..300).contains(&s)) {
                lock(&shared.stats).deliveries += 1;
            }
        }
        let mut stats = lock(&shared.stats);
        stats.pending = stats.pending.saturating_sub(1);
        AttemptResult::Delivered
    } else {
        lock(&shared.stats).failed_attempts += 1;
        AttemptResult::Failed
    }
}

fn record(shared: &Shared, outgoing: &Outgoing, attempt: u32, status: Option<u16>) {
    let mut records = lock(&shared.records);
    if records.len() < MAX_RECORDS {
        records.push(DeliveryRecord {
            msg_id: outgoing.msg_id.clone(),
            event_type: outgoing.event_type.clone(),
            attempt,
            status,
        });
    }
}

async fn post(
    shared: &Shared,
    target: &WebhookTarget,
    outgoing: &Outgoing,
    options: &DeliveryOptions,
) -> Option<u16> {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign_webhook(&target.secret, &outgoing.msg_id, timestamp, &outgoing.body);
    let response = shared
        .client
        .post(&target.url)
        .timeout(Duration::from_millis(options.timeout_ms.max(1)))
        .header("content-type", "application/json")
        .header("svix-id", &outgoing.msg_id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", signature)
        .body(outgoing.body.clone())
        .send()
        .await;
    match response {
        Ok(r) => Some(r.status().as_u16()),
        Err(e) => {
            tracing::debug!(error = %e, msg_id = %outgoing.msg_id, "webhook attempt failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(duplicate_rate: f64, reorder_rate: f64) -> DeliveryOptions {
        DeliveryOptions {
            duplicate_rate,
            reorder_rate,
            ..DeliveryOptions::default()
        }
    }

    fn choices(seed: u64, options: &DeliveryOptions, n: usize) -> Vec<(bool, bool)> {
        let mut draws = DeliveryDraws::new(seed);
        (0..n)
            .map(|_| (draws.duplicate(options), draws.hold_back(options)))
            .collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_duplicates_and_hold_backs() {
        let options = options(0.2, 0.1);
        assert_eq!(choices(7, &options, 500), choices(7, &options, 500));
        assert_ne!(choices(7, &options, 500), choices(8, &options, 500));
    }

    #[test]
    fn rates_pick_about_their_share_of_events() {
        // given 10,000 draws at 20 % duplicates and 10 % held back
        let drawn = choices(42, &options(0.2, 0.1), 10_000);
        // then each share is within 1.5 points of its rate
        let duplicated = drawn.iter().filter(|(d, _)| *d).count();
        let held = drawn.iter().filter(|(_, h)| *h).count();
        assert!((1_850..=2_150).contains(&duplicated), "{duplicated}");
        assert!((850..=1_150).contains(&held), "{held}");
    }

    #[test]
    fn zero_rates_pick_nothing_and_duplicates_picks_everything() {
        assert!(choices(1, &options(0.0, 0.0), 200)
            .iter()
            .all(|c| *c == (false, false)));
        let every = DeliveryOptions {
            duplicates: true,
            ..DeliveryOptions::default()
        };
        assert!(choices(1, &every, 200).iter().all(|(d, _)| *d));
    }
}
