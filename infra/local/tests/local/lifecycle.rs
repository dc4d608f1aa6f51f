//! data-lifecycle on the local stack: a job message on the lifecycle-jobs queue is run by
//! its pollers (as Lambda's event source mapping runs the function), and the retention
//! sweep runs from its schedule.

use std::sync::Arc;
use std::time::Duration;

use packr::domain::{BrandId, TenantId, Timestamp};
use packr::lifecycle::{start_job, JobKind, JobStatus, LifecycleJob, LifecycleJobStore};
use packr::store::dynamo::DynamoStore;
use packr::store::CursorCodec;
use packr_local::sync::SyncOptions;
use packr_local::testing::{emulator_config, fresh_local_stack};
use packr_local::webhooks::{start, WebhookOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_job_queued_on_the_lifecycle_jobs_queue_is_run_by_the_local_stack() {
    // given the local stack (data-lifecycle behind its queue) and a brand offboarding job
    // created and queued as api-connections does it
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        Arc::clone(&stack),
        WebhookOptions {
            pollers: 1,
            sync: SyncOptions {
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    let jobs = LifecycleJobStore::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.resources.table_name.clone(),
        CursorCodec::new(b"local-test".to_vec()),
    ));
    let queue = packr::lifecycle::SqsLifecycleQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        stack
            .resources
            .queue_url("LifecycleJobsQueue")
            .expect("provisioned"),
    );
    let tenant = TenantId::parse("demo-3pl").expect("tenant");
    let job = LifecycleJob::new(
        tenant.clone(),
        JobKind::BrandOffboarding {
            brand_id: BrandId::parse("brand_gone").expect("brand"),
        },
        Some("user_1".into()),
        Timestamp::now(),
    );
    let (queued, created) = start_job(&jobs, &queue, job).await.expect("queued");
    assert!(created);
    assert_eq!(queued.status, JobStatus::Queued);

    // when the pollers take the message
    let lifecycle = &running.sync.lifecycle;
    assert!(
        lifecycle.wait_drained(Duration::from_secs(60)).await,
        "the lifecycle-jobs queue was not drained"
    );

    // then data-lifecycle ran the job to completion under its lease, exporting first (a
    // file per resource in the emulator's bucket, empty ones too: the brand has nothing),
    // and deleted the message (the queue is empty, nothing in flight)
    let ran = jobs
        .get(&tenant, &queued.id)
        .await
        .expect("read")
        .expect("the job is kept");
    assert_eq!(ran.status, JobStatus::Completed, "{:?}", ran.error);
    assert!(ran.finished_at.is_some());
    assert!(
        ran.exports
            .iter()
            .any(|f| f.resource == "orders" && f.lines == 0),
        "{:?}",
        ran.exports
    );
    assert_eq!(lifecycle.metrics.total("lifecycle.jobs_completed"), 1.0);
    assert_eq!(lifecycle.metrics.total("lifecycle.jobs_failed"), 0.0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_runs_on_data_lifecycle_from_its_schedule() {
    // given the local stack with its schedules held
    let sdk = emulator_config().await;
    let stack = Arc::new(fresh_local_stack(&sdk).await);
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            sync: SyncOptions {
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    // when DataLifecycleSchedule fires
    let reports = running
        .sync
        .schedules
        .fire("DataLifecycleSchedule")
        .await
        .expect("the sweep runs");
    // then data-lifecycle answered the sweep's report, once
    assert_eq!(reports.len(), 1);
    assert!(reports[0].get("sweep").is_some(), "{reports:?}");
    assert_eq!(running.sync.schedules.fired("DataLifecycleSchedule"), 1);
    running.shutdown().await;
}
