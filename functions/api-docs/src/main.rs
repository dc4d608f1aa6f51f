//! api-docs: the OpenAPI document (`GET /openapi.json`), its reference page (`GET /docs`
//! and `GET /docs/assets/{file}`) and the HTTP API's `$default` route (405 with `Allow` for
//! a known path, else 404). No authorizer, no AWS clients.
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    packr::runtime::init_tracing();
    run(service_fn(|request: Request| async move {
        Ok::<_, Error>(packr::api::openapi::default_route(&request))
    }))
    .await
}
