//! webhook-ingest: Trackstar's webhooks through a Lambda function URL, verified and queued.
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use packr::webhook::{ingest, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let deps = wiring::ingest_from_env(&sdk, &packr::runtime::ProcessEnv, "webhook-ingest")?;
    run(service_fn(
        |event: LambdaEvent<LambdaFunctionUrlRequest>| {
            let deps = &deps;
            async move { Ok::<_, Error>(ingest::handle(deps, event.payload).await) }
        },
    ))
    .await
}
