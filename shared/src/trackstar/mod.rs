//! The resilient Trackstar client (`trackstar-contract.md`): per-token rate limits,
//! timeouts, jittered retries for retryable errors only, a circuit breaker per connection
//! (both shared by every instance through DynamoDB when a `DynamoBudget` is attached),
//! idempotent writes, cursor pagination as streams, and tolerant wire types that convert
//! into the domain.

mod breaker;
mod budget;
mod client;
mod config;
mod credentials;
mod error;
mod filters;
mod from_env;
mod on_demand;
mod pagination;
mod priority;
mod ratelimit;
mod requests;
mod requests_inbound;
mod retry;
pub mod wire;

#[cfg(test)]
mod client_inbound_tests;

pub use breaker::{BreakerSnapshot, BreakerState, Clock, ManualClock, SystemClock};
pub use budget::{
    BudgetError, BudgetStats, DynamoBudget, SharedBreakerSnapshot, DEFAULT_BUDGET_TIMEOUT,
};
pub use client::TrackstarClient;
pub use config::{
    BreakerPolicy, ConfigError, RetryPolicy, TrackstarConfig, UpdatedField, DEFAULT_BASE_URL,
};
pub use credentials::{ConnectionCredentials, IdempotencyKey, InvalidIdempotencyKey};
pub use error::{ErrorMeta, ErrorOrigin, TrackstarError, ValidationDetails};
pub use filters::{FilterError, ListFilter, Op, MAX_IN_VALUES, MAX_LIMIT};
pub use from_env::from_env;
pub use on_demand::{OnDemandSyncJob, OnDemandSyncRequest, OnDemandSyncStatus};
pub use pagination::Listed;
pub use priority::Priority;
pub use ratelimit::paced_quota;
pub use requests::{
    CreateOrderRequest, CreateProductRequest, OrderFields, ProductMeasurements, UpdateOrderRequest,
    UpdateProductRequest, WriteAddress, WriteLineItem,
};
pub use requests_inbound::{
    CreateInboundShipmentRequest, CreateReturnRequest, InboundWriteLine, ReturnWriteLine,
    SupplierRef, UpdateInboundShipmentRequest, WriteRequestError,
};
pub use retry::{backoff_ceiling, backoff_delay};
pub use wire::{ConversionContext, ConversionError, Page, WriteResult};
