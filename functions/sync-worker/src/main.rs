//! sync-worker: runs sync job chunks from the sync-jobs queue before the invocation deadline
//! (SQS batches, partial batch failures).
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use packr::runtime::deadline_from_epoch_ms;
use packr::sync::{wiring, worker};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let deps = wiring::worker_from_env(&sdk, &packr::runtime::ProcessEnv, "sync-worker").await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deps = &deps;
        let deadline = deadline_from_epoch_ms(event.context.deadline);
        async move { Ok::<_, Error>(worker::handle_batch(deps, event.payload, deadline).await) }
    }))
    .await
}
