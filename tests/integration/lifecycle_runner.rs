//! The lifecycle job runner against the emulator's table: steps to completion, checkpoints
//! saved after every step, continuations at the deadline, failures kept on the job and
//! resumed from the last save, leases that fence a worker that lost its job, and the
//! lifecycle-jobs queue consumer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use packr::domain::Timestamp;
use packr::lifecycle::{
    run_job, start_job, worker, JobKind, JobKindTag, JobStatus, JobSteps, LifecycleError,
    LifecycleJob, LifecycleJobStore, LifecycleMessage, MemoryLifecycleQueue, Registry, RunOutcome,
    RunnerDeps, Step,
};
use packr::metrics::RecordingSink;

use crate::helpers::{stack, tenant};

/// A kind whose work is `units` numbered units, one per step, the checkpoint naming the
/// last one done. It records every unit it performs, and can be told to fail once at a
/// unit or to take long at one.
struct Units {
    units: u32,
    performed: Mutex<Vec<u32>>,
    fail_once_at: Mutex<Option<u32>>,
    slow_at: Option<(u32, Duration)>,
}

impl Units {
    fn new(units: u32) -> Self {
        Self {
            units,
            performed: Mutex::new(Vec::new()),
            fail_once_at: Mutex::new(None),
            slow_at: None,
        }
    }

    fn performed(&self) -> Vec<u32> {
        self.performed.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobSteps for Units {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        let next = job
            .checkpoint
            .as_deref()
            .map_or(1, |c| c.parse::<u32>().unwrap() + 1);
        if let Some((at, by)) = self.slow_at {
            if at == next {
                tokio::time::sleep(by).await;
            }
        }
        {
            let mut fail = self.fail_once_at.lock().unwrap();
            if *fail == Some(next) {
                *fail = None;
                return Err(LifecycleError::transient(
                    "unit",
                    std::io::Error::other("injected"),
                ));
            }
        }
        self.performed.lock().unwrap().push(next);
        job.phase = "units".into();
        job.checkpoint = Some(next.to_string());
        job.add("done", 1);
        Ok(if next >= self.units {
            Step::Done
        } else {
            Step::More
        })
    }
}

fn deps(jobs: LifecycleJobStore, steps: Arc<Units>, owner: &str) -> RunnerDeps {
    RunnerDeps {
        jobs,
        registry: Registry::new().with(JobKindTag::TenantOffboarding, steps),
        queue: Arc::new(MemoryLifecycleQueue::new()),
        metrics: Arc::new(RecordingSink::new()),
        owner: owner.into(),
        lease_hold: Duration::from_secs(60),
        deadline_margin: Duration::from_millis(200),
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

#[tokio::test]
async fn a_job_runs_its_steps_to_completion_and_keeps_its_counts() {
    // Given a queued job of a kind with 5 units
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let steps = Arc::new(Units::new(5));
    let d = deps(jobs.clone(), steps.clone(), "w1");
    let queue = MemoryLifecycleQueue::new();
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::TenantOffboarding,
        Some("admin".into()),
        Timestamp::now(),
    );
    let (stored, created) = start_job(&jobs, &queue, job.clone()).await.unwrap();
    assert!(created);
    assert_eq!(stored.status, JobStatus::Queued);
    assert_eq!(queue.drain().len(), 1, "its first run is enqueued");

    // When it runs with time to spare
    let outcome = run_job(&d, &t, &job.id, far()).await.unwrap();

    // Then every unit ran once, in order, and the stored job says so
    assert_eq!(outcome, RunOutcome::Finished(JobStatus::Completed));
    assert_eq!(steps.performed(), vec![1, 2, 3, 4, 5]);
    let done = jobs.get(&t, &job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.counts["done"], 5);
    assert_eq!(done.steps, 5);
    assert!(done.finished_at.is_some() && done.started_at.is_some());

    // And running it again, or starting it again, does nothing more
    assert_eq!(
        run_job(&d, &t, &job.id, far()).await.unwrap(),
        RunOutcome::Finished(JobStatus::Completed)
    );
    let (again, created) = start_job(&jobs, &queue, job).await.unwrap();
    assert!(!created);
    assert_eq!(again.status, JobStatus::Completed);
    assert!(
        queue.drain().is_empty(),
        "a finished job is not enqueued again"
    );
    assert_eq!(steps.performed().len(), 5);
}

#[tokio::test]
async fn a_job_cut_by_its_deadline_continues_from_its_checkpoint() {
    // Given a job whose third unit takes longer than the invocation has left
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let mut units = Units::new(4);
    units.slow_at = Some((3, Duration::from_secs(5)));
    let steps = Arc::new(units);
    let d = deps(jobs.clone(), steps.clone(), "w1");
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::TenantOffboarding,
        None,
        Timestamp::now(),
    );
    jobs.create(&job).await.unwrap();

    // When it runs with 1.5 s left
    let outcome = run_job(
        &d,
        &t,
        &job.id,
        Instant::now() + Duration::from_millis(1500),
    )
    .await
    .unwrap();

    // Then it stops for a continuation with units 1 and 2 saved, the cut one not
    assert_eq!(outcome, RunOutcome::Continue);
    let saved = jobs.get(&t, &job.id).await.unwrap().unwrap();
    assert_eq!(saved.status, JobStatus::Running);
    assert_eq!(saved.checkpoint.as_deref(), Some("2"));
    assert_eq!(saved.counts["done"], 2);

    // And the next run, with its lease free again at once, finishes from there
    let mut fast = Units::new(4);
    fast.slow_at = None;
    let fast = Arc::new(fast);
    let d2 = deps(jobs.clone(), fast.clone(), "w2");
    assert_eq!(
        run_job(&d2, &t, &job.id, far()).await.unwrap(),
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert_eq!(fast.performed(), vec![3, 4]);
    assert_eq!(
        jobs.get(&t, &job.id).await.unwrap().unwrap().counts["done"],
        4
    );
}

#[tokio::test]
async fn a_failing_step_is_kept_on_the_job_and_the_next_run_resumes_after_the_last_save() {
    // Given a job whose unit 3 fails once
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let steps = Arc::new(Units::new(4));
    *steps.fail_once_at.lock().unwrap() = Some(3);
    let d = deps(jobs.clone(), steps.clone(), "w1");
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::TenantOffboarding,
        None,
        Timestamp::now(),
    );
    jobs.create(&job).await.unwrap();

    // When it runs
    let error = run_job(&d, &t, &job.id, far()).await.unwrap_err();

    // Then the run fails with the step's error, recorded on the still-running job
    assert!(
        matches!(error, LifecycleError::Transient { .. }),
        "{error:?}"
    );
    let saved = jobs.get(&t, &job.id).await.unwrap().unwrap();
    assert_eq!(saved.status, JobStatus::Running);
    assert_eq!(saved.checkpoint.as_deref(), Some("2"));
    assert!(saved.error.as_deref().unwrap().contains("injected"));

    // And the retry resumes at unit 3, clears the error and completes: no unit done twice
    assert_eq!(
        run_job(&d, &t, &job.id, far()).await.unwrap(),
        RunOutcome::Finished(JobStatus::Completed)
    );
    assert_eq!(steps.performed(), vec![1, 2, 3, 4]);
    let done = jobs.get(&t, &job.id).await.unwrap().unwrap();
    assert_eq!(done.error, None);
    assert_eq!(done.counts["done"], 4);
}

#[tokio::test]
async fn a_held_job_is_busy_for_others_and_a_worker_that_lost_its_lease_cannot_save() {
    // Given worker 1 holding a job's lease
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::TenantOffboarding,
        None,
        Timestamp::now(),
    );
    jobs.create(&job).await.unwrap();
    let now = Timestamp::now();
    let (held, lease1) = jobs
        .take(&t, &job.id, "w1", now, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();

    // When worker 2 tries while the lease holds
    let steps = Arc::new(Units::new(2));
    let d2 = deps(jobs.clone(), steps.clone(), "w2");
    // Then it is busy and does nothing
    assert_eq!(
        run_job(&d2, &t, &job.id, far()).await.unwrap(),
        RunOutcome::Busy
    );
    assert!(steps.performed().is_empty());

    // When the lease has expired (worker 1 stalled) and worker 2 takes over
    let later = now.plus_seconds(61);
    let (_, lease2) = jobs
        .take(&t, &job.id, "w2", later, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(lease2.fence > lease1.fence);

    // Then worker 1's late save is fenced and changes nothing
    let mut late = held.clone();
    late.add("done", 99);
    assert!(matches!(
        jobs.save(&late, &lease1, None).await,
        Err(LifecycleError::LeaseLost)
    ));
    assert!(jobs
        .get(&t, &job.id)
        .await
        .unwrap()
        .unwrap()
        .counts
        .is_empty());
}

#[tokio::test]
async fn a_job_of_a_kind_without_steps_fails_with_the_reason_and_another_tenants_job_is_not_found()
{
    // Given a person erasure job and a runner that knows only tenant offboardings
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let d = deps(jobs.clone(), Arc::new(Units::new(1)), "w1");
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::PersonErasure {
            erasure_id: "er_1".into(),
        },
        None,
        Timestamp::now(),
    );
    jobs.create(&job).await.unwrap();

    // When it runs, it fails for good, saying why
    assert_eq!(
        run_job(&d, &t, &job.id, far()).await.unwrap(),
        RunOutcome::Finished(JobStatus::Failed)
    );
    let failed = jobs.get(&t, &job.id).await.unwrap().unwrap();
    assert!(failed.error.unwrap().contains("person_erasure"));

    // And the same id under another tenant is not found
    assert!(matches!(
        run_job(&d, &tenant("globex"), &job.id, far()).await,
        Err(LifecycleError::NotFound(_))
    ));
    assert!(jobs
        .get(&tenant("globex"), &job.id)
        .await
        .unwrap()
        .is_none());
}

fn sqs_event(bodies: &[&str]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("m{i}"));
        message.body = Some((*body).to_owned());
        event.records.push(message);
    }
    event
}

#[tokio::test]
async fn the_queue_consumer_continues_at_the_deadline_drops_unknown_jobs_and_fails_unreadable_messages(
) {
    // Given a job of 3 units whose second is slow, and a consumer with a short invocation
    let s = stack().await;
    let jobs = LifecycleJobStore::new(s.store.clone());
    let mut units = Units::new(3);
    units.slow_at = Some((2, Duration::from_secs(5)));
    let queue = Arc::new(MemoryLifecycleQueue::new());
    let d = RunnerDeps {
        queue: queue.clone(),
        ..deps(jobs.clone(), Arc::new(units), "w1")
    };
    let t = tenant("acme");
    let job = LifecycleJob::new(
        t.clone(),
        JobKind::TenantOffboarding,
        None,
        Timestamp::now(),
    );
    jobs.create(&job).await.unwrap();
    let message = serde_json::to_string(&LifecycleMessage {
        tenant_id: t.clone(),
        job_id: job.id.clone(),
        reason: "created".into(),
    })
    .unwrap();
    let unknown = serde_json::to_string(&LifecycleMessage {
        tenant_id: t.clone(),
        job_id: "lc_missing".into(),
        reason: "created".into(),
    })
    .unwrap();

    // When a batch holds it, a message for a job that does not exist, and garbage
    let response = worker::handle_batch(
        &d,
        sqs_event(&[&message, &unknown, "{not json"]),
        Instant::now() + Duration::from_millis(1500),
    )
    .await;

    // Then only the garbage is left to SQS's retries (and its DLQ)
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["m2".to_owned()]);
    // And the job cut by the deadline was put back as a continuation, once
    let requeued = queue.drain();
    assert_eq!(requeued.len(), 1);
    assert_eq!(requeued[0].job_id, job.id);
    assert_eq!(requeued[0].reason, "continuation");
}
