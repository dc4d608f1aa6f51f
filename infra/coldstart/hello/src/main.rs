//! The hello-world of `lambda_runtime`'s documentation: the floor every function's cold
//! start, warm invoke, peak memory and binary size is compared with (`make bench`, stage
//! `10-coldstart`). Built in the same run with the same release profile as the functions.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (event, _context) = event.into_parts();
    let first_name = event["firstName"].as_str().unwrap_or("world");
    Ok(json!({ "message": format!("Hello, {first_name}!") }))
}
