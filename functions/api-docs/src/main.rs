//! api-docs: Serves the OpenAPI document. No authorizer, no AWS clients.
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    run(service_fn(|request: Request| async move {
        Ok::<_, Error>(packr::api::openapi::serve(&request))
    }))
    .await
}
