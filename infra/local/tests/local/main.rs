//! Integration tests of the local stack, against the AWS emulator (`AWS_ENDPOINT_URL`):
//! one binary, a module per concern.

mod api;
mod audit;
mod contract;
mod esm;
mod faultproxy;
mod function_url;
mod scopes;
mod sync;
mod webhooks;
