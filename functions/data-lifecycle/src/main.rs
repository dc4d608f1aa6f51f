//! data-lifecycle: runs lifecycle jobs from the lifecycle-jobs queue (SQS batches, partial
//! batch failures, continuations at the deadline) and the retention sweep on its schedule.
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use packr::lifecycle::{handler, wiring};
use packr::runtime::deadline_from_epoch_ms;

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let env = &packr::runtime::ProcessEnv;
    let deps = wiring::data_lifecycle_from_env(&sdk, env, "data-lifecycle").await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let deps = &deps;
        let deadline = deadline_from_epoch_ms(event.context.deadline);
        async move { Ok::<_, Error>(handler::handle_event(deps, event.payload, deadline).await?) }
    }))
    .await
}
