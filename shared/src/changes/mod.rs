//! The changes feed (`GET /changes`, `packr changes tail`): every change to a tenant's
//! synced objects, every resource, oldest first, deletions included, resumable by cursor.
//!
//! **Mechanism: an index over the objects' write position.** Every write of a synced object
//! (webhook, sync, reconciliation, replay, write-through: the one upsert path, and the
//! tombstone) stamps the item with the time it was sent, `written_at`, and puts it at
//! `<written µs>#<KIND>#<id>` in `gsi5`, in one of [`CHANGE_SHARDS`] partitions per tenant.
//! The feed is that index read in order. Chosen over the alternatives by cost and by what
//! it cannot lose (BENCHMARKS.md counts the units):
//! - an entry item written beside each upsert costs a second write per change and is lost
//!   if the writer dies between the two (or doubles the cost inside a transaction);
//! - DynamoDB Streams into a function that writes the feed adds a function, a stream read
//!   and the same entry write per change, and its writer has the same ordering problem;
//! - the index entry is written by the same request as the object, atomically, and an
//!   object that changes again moves rather than adding an entry: a consumer catching up
//!   reads each object once, at its latest state.
//!
//! **No gaps: a visibility horizon.** Writers stamp before they commit, so commits can land
//! out of the order of their stamps (two Lambda instances, a slow request). A feed read
//! serves only positions up to `now − horizon`, and every write carrying a position is
//! bounded: the store gives up on it after [`WRITE_WINDOW`] (`DynamoStore::
//! within_write_window`), and DynamoDB applies a request it received at once, so no write
//! lands more than the window after its stamp. With `horizon > window` (+ clock skew
//! between instances, milliseconds under AWS time sync, + index propagation, typically
//! under a second), a position the reader has passed can no longer receive a write. The
//! delay a consumer sees is the horizon: [`DEFAULT_HORIZON`] unless configured.
//!
//! **Duplicates, and when.** An object appears again when it is written again (a newer
//! version, a tombstone, a same-version repair by a write-through) — not on redeliveries
//! that change nothing (the conditional write refuses them). The state served is the
//! object's current one, read strongly consistent from the table, so it can be newer than
//! the entry's position: then the object appears again later with that same state.
//!
//! **Retention.** Every object stays in the feed at its last write; deletions stay as
//! tombstones for [`DEFAULT_RETENTION_DAYS`] days (the data lifecycle may drop them after
//! that). A cursor older than the retention may have missed a deletion: it is refused with
//! 410 and the consumer starts again without a cursor (the whole current state, then the
//! changes) or from the listings. A cursor of a quiet tenant does not age: a page read to
//! the end moves the cursor up to the horizon.

pub mod merge;
pub use merge::{merge_shards, Entry, Merged, ShardRead};

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{BrandId, Timestamp};
use crate::resource::{Owner, ResourceKind};
use crate::runtime::{optional_number, ConfigError, Env};
pub use crate::store::keys::CHANGE_SHARDS;

/// How long a write that carries a feed position may take before the store gives up on it.
pub const WRITE_WINDOW: Duration = Duration::from_secs(5);
/// How far behind now a feed read stops, unless configured (`CHANGES_HORIZON_SECONDS`).
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(8);
/// How old a cursor may be (`CHANGES_RETENTION_DAYS`).
pub const DEFAULT_RETENTION_DAYS: u64 = 7;

/// The feed's read settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeFeedConfig {
    /// Positions newer than `now − horizon` are not served yet.
    pub horizon: Duration,
    /// Cursors older than this are refused (410).
    pub retention: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the feed's horizon ({horizon:?}) must exceed the writers' window ({window:?}) by at least a second")]
pub struct HorizonTooShort {
    pub horizon: Duration,
    pub window: Duration,
}

impl ChangeFeedConfig {
    /// Settings whose horizon covers writers bounded by `window` (the window of every store
    /// that writes objects: [`WRITE_WINDOW`] unless set with `with_write_window`).
    pub fn new(
        horizon: Duration,
        retention: Duration,
        window: Duration,
    ) -> Result<Self, HorizonTooShort> {
        if horizon < window + Duration::from_secs(1) {
            return Err(HorizonTooShort { horizon, window });
        }
        Ok(Self { horizon, retention })
    }

    /// `CHANGES_HORIZON_SECONDS` (default 8), `CHANGES_RETENTION_DAYS` (default 7).
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let horizon = optional_number(env, "CHANGES_HORIZON_SECONDS")?
            .map_or(DEFAULT_HORIZON, Duration::from_secs);
        let days =
            optional_number(env, "CHANGES_RETENTION_DAYS")?.unwrap_or(DEFAULT_RETENTION_DAYS);
        Self::new(horizon, Duration::from_secs(days * 86_400), WRITE_WINDOW).map_err(|e| {
            ConfigError::Invalid {
                name: "CHANGES_HORIZON_SECONDS",
                reason: e.to_string(),
            }
        })
    }
}

impl Default for ChangeFeedConfig {
    fn default() -> Self {
        Self {
            horizon: DEFAULT_HORIZON,
            retention: Duration::from_secs(DEFAULT_RETENTION_DAYS * 86_400),
        }
    }
}

/// A name that is no mirrored resource, in a feed's `kinds`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a resource; one of: {known}")]
pub struct UnknownKind {
    /// The name as given (its first 64 characters).
    pub name: String,
    pub known: String,
}

/// The kinds a feed is narrowed to, by the names `POST /sync/run` takes (`orders`,
/// `returns`, …); a repeated one counts once.
pub fn parse_kinds<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ResourceKind>, UnknownKind> {
    let mut kinds = Vec::new();
    for name in names {
        let kind = ResourceKind::parse(name).ok_or_else(|| UnknownKind {
            name: name.chars().take(64).collect(),
            known: ResourceKind::ALL.map(|k| k.spec().name).join(", "),
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// What happened to the object, as the consumer's cursor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// First stored after the consumer's cursor: the consumer cannot have it.
    Created,
    /// Stored before the cursor and written since.
    Updated,
    /// Trackstar no longer has it (a tombstone).
    Deleted,
}

/// Which changes a reader gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFilter {
    /// Only these kinds (`None`: all).
    pub kinds: Option<Vec<ResourceKind>>,
    /// Only objects of these brands (`None`: every brand's, and objects of no brand).
    pub brands: Option<Vec<BrandId>>,
    /// With `brands`, whether tenant-wide kinds (warehouses, …) are included: a brand user
    /// sees them as in the listings; an explicit `brand_id` filter leaves them out.
    pub tenant_wide: bool,
}

impl ChangeFilter {
    pub fn everything() -> Self {
        Self {
            kinds: None,
            brands: None,
            tenant_wide: true,
        }
    }

    /// Whether an entry of `kind` with `brand` passes.
    pub fn admits(&self, kind: ResourceKind, brand: Option<&str>) -> bool {
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&kind) {
                return false;
            }
        }
        match &self.brands {
            None => true,
            Some(brands) => match kind.spec().owner {
                Owner::Tenant => self.tenant_wide,
                Owner::Brand => brand.is_some_and(|b| brands.iter().any(|x| x.as_str() == b)),
            },
        }
    }

    /// The filter as cursors are bound to it: a cursor works only with the filter it was
    /// issued under.
    pub fn description(&self) -> String {
        let mut kinds: Vec<&str> = self.kinds.iter().flatten().map(|k| k.spec().name).collect();
        kinds.sort_unstable();
        let mut brands: Vec<&str> = self.brands.iter().flatten().map(BrandId::as_str).collect();
        brands.sort_unstable();
        format!(
            "changes|kinds={}|brands={}|tenant_wide={}",
            if self.kinds.is_some() {
                kinds.join(",")
            } else {
                "*".to_owned()
            },
            if self.brands.is_some() {
                brands.join(",")
            } else {
                "*".to_owned()
            },
            self.tenant_wide
        )
    }
}

/// One change as served.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    /// Resume after this entry.
    pub cursor: String,
    pub kind: ResourceKind,
    pub id: String,
    pub action: ChangeAction,
    /// The object's brand, for brand-owned kinds whose brand is known.
    pub brand_id: Option<String>,
    /// When Packr wrote this state (UTC): the entry's place in the feed.
    pub changed_at: Timestamp,
    /// The object's current state, as `GET /<resources>/{id}` answers it; `null` for a
    /// deletion.
    #[schema(value_type = Option<Object>)]
    pub object: Option<serde_json::Value>,
    /// When reconciliation found Trackstar no longer has it (deletions only).
    pub deleted_at: Option<String>,
}

/// One page of the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Always present: pass it back to go on (also when `changes` is empty).
    pub next_cursor: String,
    /// Whether more changes are ready now; if not, poll again after a while.
    pub has_more: bool,
    /// Every change written before this time has been served up to `next_cursor`.
    pub horizon: Timestamp,
}
