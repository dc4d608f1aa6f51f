//! The webhook pipeline: Svix-signed Trackstar webhooks, verified and queued by ingest,
//! applied exactly once and in order by the processor.

pub mod connection_events;
pub mod envelope;
pub mod ingest;
pub mod parked;
pub mod processor;
pub mod queue;
pub mod receipts;
pub mod replay;
pub mod signature;
pub mod stored_event;
pub mod sync_job_events;
pub mod wiring;
