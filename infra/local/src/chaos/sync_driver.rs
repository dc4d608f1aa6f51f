//! The sync phase's moving parts: the worker's pollers (one killed and replaced on cue)
//! and the driver that acts on each fault a full run's pages bring due
//! ([`super::sync_faults`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::Utc;
use packr::sync::{
    DynamoSyncStateStore, JobKey, ResourceKind, SyncJob, SyncStateStore, WorkerDeps,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use trackstar_sim::{FaultSpec, SimState};

use super::sync_checks::{FaultWindow, Invocation};
use super::sync_faults::{Due, PageFault, POLLER};
use super::sync_phase::SyncPhaseOptions;
use super::sync_report::{FiredFault, Stall};
use crate::esm::{self, EsmConfig, Poller};
use crate::faultproxy::{FaultProxy, Service};

/// What the phase's pollers need to start one more (a killed one's replacement).
pub(super) struct Pollers {
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) queue_url: String,
    pub(super) queue_arn: String,
    pub(super) esm: EsmConfig,
    pub(super) worker: Arc<WorkerDeps>,
    pub(super) timeout: Duration,
    pub(super) invocations: Arc<Mutex<Vec<Invocation>>>,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) running: Mutex<Vec<Poller>>,
}

impl Pollers {
    pub(super) fn spawn(&self, index: usize) -> Poller {
        let worker = Arc::clone(&self.worker);
        let log = Arc::clone(&self.invocations);
        let timeout = self.timeout;
        esm::spawn_tracked_poller(
            self.sqs.clone(),
            self.queue_url.clone(),
            self.queue_arn.clone(),
            self.esm.clone(),
            move |event: SqsEvent| {
                let worker = Arc::clone(&worker);
                let log = Arc::clone(&log);
                async move {
                    let job: Option<SyncJob> = event
                        .records
                        .first()
                        .and_then(|r| r.body.as_deref())
                        .and_then(|b| serde_json::from_str(b).ok());
                    let started = Utc::now();
                    // Lambda's deadline: the invocation's start plus the function's Timeout.
                    let deadline = Instant::now() + timeout;
                    let response = POLLER
                        .scope(
                            index,
                            packr::sync::worker::handle_batch(&worker, event, deadline),
                        )
                        .await;
                    if let Some(job) = job {
                        lock(&log).push(Invocation {
                            resource: job.resource,
                            mode: job.mode.to_string(),
                            started,
                            ended: Utc::now(),
                            failed: !response.batch_item_failures.is_empty(),
                        });
                    }
                    response
                }
            },
            self.stop.clone(),
        )
    }

    pub(super) fn kill(&self, index: usize) -> bool {
        let mut running = lock(&self.running);
        let Some(poller) = running.get(index) else {
            return false;
        };
        poller.kill();
        running[index] = self.spawn(index);
        true
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the fault driver saw, shared with the phase.
#[derive(Default)]
pub(super) struct Faults {
    pub(super) fired: Vec<FiredFault>,
    pub(super) windows: Vec<FaultWindow>,
    pub(super) stall: Option<Stall>,
}

/// Acts on each fault the worker's pages bring due.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drive_faults<K>(
    mut due: tokio::sync::mpsc::UnboundedReceiver<Due>,
    pollers: Arc<Pollers>,
    burst_proxy: Arc<FaultProxy>,
    sim: Arc<SimState>,
    states: DynamoSyncStateStore,
    key: K,
    options: SyncPhaseOptions,
    log: Arc<Mutex<Faults>>,
) where
    K: Fn(ResourceKind) -> JobKey + Clone + Send + Sync + 'static,
{
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x5e_7a_c5);
    // While the DynamoDB burst lasts: a held worker goes on only after it, so its late writes
    // reach the emulator's fence rather than the burst's 500s.
    let bursting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // While a worker is held, and a few seconds after: the burst waits, for the same reason.
    let stalling = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let connection = key(ResourceKind::Orders).connection_id.to_string();
    while let Some(due) = due.recv().await {
        // Each fault on its own: a stall held for a takeover delays no other.
        let status = [500, 502, 503][rng.random_range(0..3)];
        let (pollers, burst_proxy, sim, states, key, options, log, connection) = (
            Arc::clone(&pollers),
            Arc::clone(&burst_proxy),
            Arc::clone(&sim),
            states.clone(),
            key.clone(),
            options.clone(),
            Arc::clone(&log),
            connection.clone(),
        );
        let bursting = Arc::clone(&bursting);
        let stalling = Arc::clone(&stalling);
        tokio::spawn(async move {
            let at = Utc::now();
            lock(&log).fired.push(FiredFault {
                fault: due.fault,
                resource: due.resource,
                page: due.page,
                at,
            });
            eprintln!(
                "chaos sync: {:?} at full page {} ({})",
                due.fault, due.page, due.resource
            );
            let window = |what: &str, from, to| FaultWindow {
                what: what.to_owned(),
                from,
                to,
            };
            match due.fault {
                PageFault::Kill => {
                    // The page is in hand, nothing stored, no checkpoint: the poller dies here.
                    let killed = due.poller.is_some_and(|p| pollers.kill(p));
                    if !killed {
                        let _ = due.resume.send(());
                    }
                }
                PageFault::Stall => {
                    stalling.store(true, std::sync::atomic::Ordering::SeqCst);
                    let job = key(due.resource);
                    let fence = states.get(&job).await.ok().flatten().map_or(0, |s| s.fence);
                    // Until another worker holds a newer fencing token (its message comes back
                    // after the visibility timeout, the lease having expired before).
                    let limit = Instant::now() + options.lease + options.visibility * 3;
                    let mut taken_over = false;
                    while Instant::now() < limit {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        let now = states.get(&job).await.ok().flatten().map_or(0, |s| s.fence);
                        if now > fence {
                            taken_over = true;
                            break;
                        }
                    }
                    while bursting.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    // Give the new holder time to checkpoint past the held page.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let held = Utc::now() - at;
                    lock(&log).stall = Some(Stall {
                        resource: due.resource,
                        fence,
                        held_ms: held.num_milliseconds(),
                        taken_over,
                    });
                    let _ = due.resume.send(());
                    // Its late writes take a moment; the burst waits for them.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    stalling.store(false, std::sync::atomic::Ordering::SeqCst);
                }
                PageFault::DynamoBurst => {
                    while stalling.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    bursting.store(true, std::sync::atomic::Ordering::SeqCst);
                    burst_proxy.set_outage(Service::DynamoDb, true);
                    let _ = due.resume.send(());
                    tokio::time::sleep(options.dynamo_burst).await;
                    burst_proxy.set_outage(Service::DynamoDb, false);
                    bursting.store(false, std::sync::atomic::Ordering::SeqCst);
                    lock(&log).windows.push(window(
                        "DynamoDB burst for the sync functions",
                        at,
                        Utc::now(),
                    ));
                }
                PageFault::TrackstarErrors | PageFault::TrackstarStorm => {
                    let spec = if due.fault == PageFault::TrackstarStorm {
                        FaultSpec {
                            rate_limit_storm: 10_000,
                            ..FaultSpec::default()
                        }
                    } else {
                        FaultSpec::error(status, None)
                    };
                    let what = if spec.rate_limit_storm > 0 {
                        "Trackstar 429 storm".to_owned()
                    } else {
                        format!("Trackstar {} burst", spec.status.unwrap_or(500))
                    };
                    sim.set_faults(&connection, spec);
                    let _ = due.resume.send(());
                    tokio::time::sleep(options.trackstar_burst).await;
                    sim.clear_faults(&connection);
                    lock(&log).windows.push(window(&what, at, Utc::now()));
                }
            }
        });
    }
}
