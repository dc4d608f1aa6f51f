//! Who is asking for a slot of a token's shared rate budget, and what that entitles them to.
//!
//! Two knobs per class, both applied by the shared budget (`budget.rs`):
//!
//! - **Look-ahead**: how far into the future a caller may book a slot. The budget is a
//!   single GCRA timeline per token (one slot after another), so a caller can never jump
//!   ahead of slots already booked; what keeps an interactive caller fast is that background
//!   classes may book only a short way ahead. Under a background load that saturates the
//!   token, the timeline is booked at most `Full`'s 150 ms (+ one slot) ahead, so an
//!   interactive call or a webhook refetch arriving then waits at most about that long,
//!   while background callers wait for the timeline to come within their look-ahead again.
//!   Incremental sync books further ahead (300 ms) than full sync and reconciliation, so
//!   when both run the incremental one gets the slots first. (Strict priority: a saturating
//!   incremental load would starve a full sync; incremental syncs are bounded windows, so
//!   that cannot last.) Interactive callers and webhook refetches may book 10 s ahead: a
//!   burst of them queues (each with exactly one write) rather than fails or polls.
//! - **Share**: each background slot costs a little more than one slot of the timeline
//!   (`interval / share`), so full sync and reconciliation alone use at most ~95 % of the
//!   token's rate and incremental sync ~97 %; interactive and webhook calls 100 %. The
//!   reserve is deliberate slack: a token driven by background work never runs at the very
//!   edge of Trackstar's window, where clock skew between instances or network jitter would
//!   turn into 429s — and a 429 counts against the shared breaker, which would then fail the
//!   interactive callers too. It also absorbs an instance that fell back to its in-process
//!   limiter during a DynamoDB outage.

use std::time::Duration;

/// The priority of a Trackstar call against its token's shared rate budget, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// A user is waiting (API reads and write-through writes). The default.
    #[default]
    Interactive,
    /// Refetching a truncated webhook object.
    Webhook,
    /// Incremental sync (a bounded window of recent changes).
    Incremental,
    /// Full sync (a connection's whole history, in chunks).
    Full,
    /// Reconciliation walks.
    Reconcile,
}

impl Priority {
    /// How far ahead of now this class may book a slot.
    pub fn look_ahead(self) -> Duration {
        match self {
            Self::Interactive | Self::Webhook => Duration::from_secs(10),
            Self::Incremental => Duration::from_millis(300),
            Self::Full | Self::Reconcile => Duration::from_millis(150),
        }
    }

    /// The part of the token's rate this class may use on its own.
    pub fn share(self) -> f64 {
        match self {
            Self::Interactive | Self::Webhook => 1.0,
            Self::Incremental => 0.97,
            Self::Full | Self::Reconcile => 0.95,
        }
    }

    /// A short stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interactive => "interactive",
            Self::Webhook => "webhook",
            Self::Incremental => "incremental",
            Self::Full => "full",
            Self::Reconcile => "reconcile",
        }
    }

    pub(crate) fn index(self) -> u8 {
        match self {
            Self::Interactive => 0,
            Self::Webhook => 1,
            Self::Incremental => 2,
            Self::Full => 3,
            Self::Reconcile => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_classes_book_less_far_ahead_and_use_less_of_the_rate() {
        let order = [Priority::Interactive, Priority::Incremental, Priority::Full];
        for pair in order.windows(2) {
            assert!(pair[0].look_ahead() > pair[1].look_ahead(), "{pair:?}");
            assert!(pair[0].share() > pair[1].share(), "{pair:?}");
        }
        assert_eq!(
            Priority::Webhook.look_ahead(),
            Priority::Interactive.look_ahead()
        );
        assert_eq!(Priority::Reconcile.share(), Priority::Full.share());
        assert_eq!(Priority::default(), Priority::Interactive);
    }
}
