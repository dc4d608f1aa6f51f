//! Integration tests against the local stack: the AWS emulator (moto, reached through
//! `AWS_ENDPOINT_URL`) with resources provisioned from `template.yaml`. One binary, so the
//! crates link once.

mod api_backfill;
mod api_connections;
mod api_connections_aws;
mod api_matrix;
mod api_more;
mod api_openapi;
mod api_order_changes;
mod api_orders;
mod api_quota;
mod api_reconciliations;
mod api_support;
mod api_sync;
mod api_warehouse_reads;
mod api_warehouse_writes;
mod api_writes;
mod audit_chain;
mod cold_start;
mod helpers;
mod idempotency;
mod log_redaction;
mod messages;
mod observability;
mod ops_health;
mod ops_redrive;
mod ops_sync;
mod pagination;
mod parked_events;
mod resources_isolation;
mod resources_support;
mod resources_sync;
mod resources_unavailable;
mod resources_webhooks;
mod sync_clock;
mod sync_engine;
mod sync_health;
mod synced_objects;
mod tenants_and_connections;
mod trackstar_budget;
mod warehouse_objects;
mod webhook_ingest;
mod webhook_ingest_bounds;
mod webhook_processor;
mod webhook_redrive;
mod webhook_replay;
