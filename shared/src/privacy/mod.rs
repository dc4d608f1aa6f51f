//! The erasure of a person (`POST /privacy/erasures`): an email address, or a full name with
//! a postal code, is redacted in every order, return, inbound shipment, message, failed
//! webhook receipt's payload and tombstone of the tenant, and kept redacted when Trackstar
//! (authoritative, with its own copy) sends it again.
//!
//! - [`subject`]: who, normalised; [`hash`]: the keyed hashes kept instead of the identifier
//!   (HMAC-SHA256, key `PrivacyHashSecret`, tenant in the message);
//! - [`record`]: the erasure records `T#<t>#ERASURE` / `<erasure id>` (no TTL);
//! - [`redaction`]: matching and redacting, through each resource's `Personal` declaration;
//! - [`guard`]: the redaction in the one upsert path and on message posts;
//! - [`job`]: the walk of what is stored (a lifecycle job `PersonErasure`).

pub mod guard;
pub mod hash;
pub mod job;
pub mod record;
pub mod redaction;
pub mod subject;
pub mod wiring;

pub use guard::{walk_wait, ErasureGuard, PrivacyKey, PrivacyKeyError, GUARD_CACHE_TTL};
pub use hash::{HashKey, SubjectHashes};
pub use record::{ErasureRecord, ErasureStatus};
pub use redaction::{Matcher, Redaction, ERASED};
pub use subject::{ErasureSubject, SubjectError};

/// The answer's reminder that Trackstar and the WMS keep their own copy.
pub const WMS_NOTICE: &str = "Packr has erased this person's data it stores and redacts whatever \
     Trackstar sends of them again; the warehouse system (WMS) keeps its own copy: erase the \
     person there too.";
