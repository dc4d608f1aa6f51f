//! sync-scheduler: the incremental-sync schedule's target; enqueues one job per active
//! (connection, resource).
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use packr::sync::{scheduler, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let deps = wiring::scheduler_from_env(&sdk, &packr::runtime::ProcessEnv, "sync-scheduler")?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let deps = &deps;
        async move { Ok::<_, Error>(scheduler::handle_event(deps, &event.payload).await?) }
    }))
    .await
}
