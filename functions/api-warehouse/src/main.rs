//! api-warehouse: what goes on in the warehouse beyond orders and products: inbound
//! shipments (list, read, create and change while open) and returns (list, read, create),
//! both write-through to Trackstar; warehouses, shipping methods and bills (read only).
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
