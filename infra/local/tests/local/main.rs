//! Integration tests of the local stack, against the AWS emulator (`AWS_ENDPOINT_URL`):
//! one binary, a module per concern.

mod api;
mod audit;
mod contract;
mod docs;
mod esm;
mod faultproxy;
mod function_url;
mod lifecycle;
mod scopes;
mod sync;
mod warehouse;
mod webhooks;

/// The local stack on a fresh emulator with a known dev JWT key: `orders` orders per
/// connection, one poller, the rest as `WebhookOptions` defaults.
async fn gateway_with_jwt(
    orders: usize,
) -> (
    packr_local::webhooks::WebhookStack,
    packr_local::dev_jwt::DevJwt,
) {
    use packr_local::testing::{emulator_config, fresh_local_stack};
    use packr_local::webhooks::{start, WebhookOptions};
    let sdk = emulator_config().await;
    let stack = std::sync::Arc::new(fresh_local_stack(&sdk).await);
    let jwt = packr_local::dev_jwt::DevJwt::generate();
    let running = start(
        &sdk,
        stack,
        WebhookOptions {
            orders_per_connection: orders,
            pollers: 1,
            jwt: Some(jwt.clone()),
            ..WebhookOptions::default()
        },
    )
    .await
    .expect("the stack starts");
    (running, jwt)
}
