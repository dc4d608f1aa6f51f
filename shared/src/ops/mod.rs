//! Operator tooling behind the `packr` CLI: inspecting a dead-letter queue and redriving its
//! messages back to the source queue. Library code, so tests drive it against the emulator.
//!
//! Redriving is safe because the consumers are idempotent by tenant + event id, never by SQS
//! message id (a redriven message gets a new one).

mod error;
pub mod inspect;
pub mod queues;
pub mod redrive;

pub use error::OpsError;
pub use inspect::{inspect, DlqEntry, DlqReport, InspectOptions};
pub use redrive::{
    redrive, Destination, EntryFailure, FallbackReason, MessageFailure, Method, OutgoingMessage,
    Progress, RedriveError, RedriveMode, RedriveOptions, RedriveSummary, RedriveTarget, Refusal,
    SqsDestination,
};
