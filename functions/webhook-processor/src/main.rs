//! webhook-processor: applies queued webhook events (SQS batches, partial batch failures).
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use packr::webhook::{processor, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let deps =
        wiring::processor_from_env(&sdk, &packr::runtime::ProcessEnv, "webhook-processor").await?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deps = &deps;
        // Lambda's own deadline for this invocation: the processor stops in time.
        let deadline = packr::runtime::deadline_from_epoch_ms(event.context.deadline);
        async move {
            Ok::<_, Error>(processor::handle_batch_until(deps, event.payload, deadline).await)
        }
    }))
    .await
}
