//! api-connections: Trackstar link flow, connections and the audit log (tenant_admin only).
//! Behind the HTTP API's JWT authorizer; the routes are in `template.yaml`.
use lambda_http::{run, service_fn, Error, Request};
use packr::api;

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    let sdk = packr::runtime::aws().await;
    let deps = api::wiring::from_env(&sdk, &packr::runtime::ProcessEnv).await?;
    run(service_fn(|request: Request| {
        let deps = &deps;
        async move { Ok::<_, Error>(api::dispatch(deps, request).await) }
    }))
    .await
}
