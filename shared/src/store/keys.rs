//! DynamoDB key layout of the one table. Every key of tenant data starts with
//! `T#<tenant_id>#`, so an IAM `dynamodb:LeadingKeys` condition can fence a tenant; the one
//! global key is the connection route `CONN#<connection_id>`, used to route webhooks.
//!
//! | item               | pk                                  | sk                     |
//! |--------------------|-------------------------------------|------------------------|
//! | tenant             | `T#<t>#TENANT`                      | `TENANT`               |
//! | brand              | `T#<t>#BRAND#<b>`                   | `BRAND`                |
//! | warehouse customer | `T#<t>#WHC#<w>`                     | `BRAND`                |
//! | order/inventory/.. | `T#<t>#<KIND>#<id>`                 | `<KIND>`               |
//! | connection         | `T#<t>#CONNECTION#<c>`              | `CONNECTION`           |
//! | connection route   | `CONN#<c>`                          | `ROUTE`                |
//! | message            | `T#<t>#B#<b>#MSG`                   | `<created>#<msg id>`   |
//! | audit entry        | `T#<t>#AUDIT`                       | `<at>#<audit id>`      |
//! | audit chain head   | `T#<t>#AUDITHEAD`                   | `HEAD`                 |
//! | lifecycle job      | `T#<t>#LIFECYCLE`                   | `<job id>`             |
//! | idempotency record | `T#<t>#IDEM#<scope>#<sha256(key)>`  | `IDEM`                 |
//! | erasure of a person| `T#<t>#ERASURE`                     | `<erasure id>`         |
//! | webhook receipt    | `T#<t>#EVT#<event id>`              | `RECEIPT`              |
//! | sync job state     | `T#<t>#SYNC#<c>#<resource>`         | `SYNC`                 |
//! | backfill (30 days) | `T#<t>#BACKFILL#<c>`                | `<Trackstar job id>`   |
//! | reconcile report   | `T#<t>#RECON`                       | `<run id>`             |
//! | ids a run has seen | `T#<t>#RECONSEEN#<run id>`          | `P#<page>`             |
//! | Trackstar budget   | `T#<t>#TRACKSTAR#<c>`               | `BUDGET`               |
//! | API quota          | `T#<t>#QUOTA`                       | `API` / `ADMIN`        |
//! | webhook stats      | `T#<t>#WHSTATS#<c>`                 | `H#<yyyy-mm-ddThh>`    |
//! | parked event       | `PARKED#<connection id>`            | `<event id>`           |
//! | rejected delivery  | `REJECTED#<yyyy-mm-dd>`             | `<received>#<event id>`|
//!
//! The last two are records of events that belong to no known tenant: a parked event
//! waits, whole and compressed, for its connection to be linked (`webhook::parked`); a
//! rejected delivery is an ops record (no body).
//!
//! Indexes: `gsi6` lists a brand's objects by updated time (`T#<t>#B#<b>#<KIND>`,
//! `<updated>#<id>`, in attributes `gsi1pk`/`gsi1sk`; it projects the body and the filtered
//! attributes only), `gsi2` lists a tenant's objects by updated time (`T#<t>#<KIND>`, same
//! sort key), `gsi7` looks inventory items up by SKU (`T#<t>#<KIND>#SKU#<sku>`, `<id>`, in
//! `gsi3pk`/`gsi3sk`; keys only). `gsi1` and `gsi3` are their predecessors with projection
//! ALL, read while a deployed stack migrates ([`IndexLayout`]). `gsi4`
//! (sparse) lists the active connections of every tenant for the sync scheduler
//! (`SYNCSCHED`, `<tenant>#<connection>`): only connections with status `active` carry it;
//! an offboarded connection waiting for its erasure carries `CONNERASE`,
//! `<erase_after>#<tenant>#<connection>` instead (the data-lifecycle sweep's work list).
//! `gsi2` also lists a tenant's failed webhook events awaiting replay, newest first
//! (`T#<t>#EVTFAILED`, `<received>#<event id>`): only a receipt in state `failed` carries
//! those keys (sparse), and an applied event drops them again. `gsi2` also lists every
//! parked event oldest first, for the expiry sweep (`PARKED`,
//! `<parked>#<connection>#<event id>`): one global partition, small because an event is
//! parked only until its connection is linked or it expires. `gsi5` is the changes feed:
//! every synced object (tombstones too) by the time it was last written, in
//! [`CHANGE_SHARDS`] partitions per tenant (`T#<t>#CHG#<shard>`, `<written µs>#<KIND>#<id>`;
//! see `crate::changes`).
//!
//! `gsi4` also serves the data lifecycle's retention sweep (`crate::lifecycle::sweep`), in
//! global partitions read by that sweep only: tombstones awaiting the removal of their
//! personal fields (`LIFECYCLE#TOMBSTONE#<shard>`, `<deleted>#<tenant>#<KIND>#<id>`, in
//! [`TOMBSTONE_SWEEP_SHARDS`] partitions; a tombstone leaves it when stripped or revived,
//! live objects never enter it) and the registry of tenants (`TENANTS`, `<tenant>`, on the
//! tenant's item), whose failed receipts the sweep reads in `gsi2`.

use crate::domain::{BrandId, ConnectionId, EventId, TenantId, Timestamp};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Which of the table's two generations of indexes the functions read: issue 22 replaced
/// the brand listing `gsi1` (projection ALL) by `gsi6` (the body and filtered attributes)
/// and the SKU lookup `gsi3` (ALL) by `gsi7` (keys only), on the same key attributes. A
/// deployed stack creates the new ones first and reads them only once they are ACTIVE:
/// the template's `TableIndexStep`, passed to every function as `TABLE_INDEX_STEP`
/// (README, "Migrating the table's indexes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLayout {
    /// Steps 1 and 2: the new indexes may still be backfilling; read `gsi1` and `gsi3`.
    Legacy,
    /// Step 3 on (and every new stack): read `gsi6` and `gsi7`.
    Lean,
}

/// The environment variable naming the migration's step.
pub const INDEX_STEP_VARIABLE: &str = "TABLE_INDEX_STEP";

impl IndexLayout {
    /// The layout of step `step` (`TABLE_INDEX_STEP`); unset, or anything but the steps
    /// before the switch, is the final layout.
    pub fn of_step(step: Option<&str>) -> Self {
        match step.map(str::trim) {
            Some("1" | "2") => Self::Legacy,
            _ => Self::Lean,
        }
    }

    /// The layout this process reads, from `TABLE_INDEX_STEP`, read once.
    pub fn current() -> Self {
        static LAYOUT: std::sync::OnceLock<IndexLayout> = std::sync::OnceLock::new();
        *LAYOUT.get_or_init(|| Self::of_step(std::env::var(INDEX_STEP_VARIABLE).ok().as_deref()))
    }
}

/// A global secondary index of the table and its key attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// Per-brand listings by updated time (`gsi6`; `gsi1` before the migration's switch).
    ByBrandUpdated,
    /// Tenant-wide listings by updated time.
    ByTenantUpdated,
    /// Lookups (SKU → object keys: `gsi7`; `gsi3` before the migration's switch).
    Lookup,
    /// Active connections of every tenant (sparse), for the sync scheduler.
    SyncSchedule,
    /// The changes feed: a tenant's objects by the time they were last written.
    Changes,
}

impl Index {
    /// The index's name in the layout this process reads ([`IndexLayout::current`]).
    pub fn name(self) -> &'static str {
        self.name_in(IndexLayout::current())
    }

    /// The index's name in `layout`.
    pub fn name_in(self, layout: IndexLayout) -> &'static str {
        match (self, layout) {
            (Index::ByBrandUpdated, IndexLayout::Legacy) => "gsi1",
            (Index::ByBrandUpdated, IndexLayout::Lean) => "gsi6",
            (Index::ByTenantUpdated, _) => "gsi2",
            (Index::Lookup, IndexLayout::Legacy) => "gsi3",
            (Index::Lookup, IndexLayout::Lean) => "gsi7",
            (Index::SyncSchedule, _) => "gsi4",
            (Index::Changes, _) => "gsi5",
        }
    }

    pub fn pk(self) -> &'static str {
        match self {
            Index::ByBrandUpdated => "gsi1pk",
            Index::ByTenantUpdated => "gsi2pk",
            Index::Lookup => "gsi3pk",
            Index::SyncSchedule => "gsi4pk",
            Index::Changes => "chgpk",
        }
    }

    pub fn sk(self) -> &'static str {
        match self {
            Index::ByBrandUpdated => "gsi1sk",
            Index::ByTenantUpdated => "gsi2sk",
            Index::Lookup => "gsi3sk",
            Index::SyncSchedule => "gsi4sk",
            Index::Changes => "chgsk",
        }
    }
}

/// Partitions of a tenant's changes feed: an object's writes always go to the same one (a
/// hash of its kind and id), so a burst of one tenant spreads over this many index
/// partitions, and a feed page reads each once.
pub const CHANGE_SHARDS: u32 = 4;

/// The feed partition of an object: FNV-1a of `<KIND>#<id>`, modulo [`CHANGE_SHARDS`]
/// (stable across releases and machines, unlike `std`'s hasher).
pub fn change_shard(kind: &str, id: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in kind.bytes().chain(*b"#").chain(id.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % CHANGE_SHARDS
}

pub fn change_pk(tenant: &TenantId, shard: u32) -> String {
    format!("T#{tenant}#CHG#{shard}")
}

/// The feed keys (`chgpk`, `chgsk`) of object `id` of `kind` written at `written_us`.
pub fn change_keys(tenant: &TenantId, kind: &str, id: &str, written_us: i64) -> (String, String) {
    (
        change_pk(tenant, change_shard(kind, id)),
        change_sk(written_us, kind, id),
    )
}

/// `<written µs, 16 digits>#<KIND>#<id>`: the feed's order, oldest first.
pub fn change_sk(written_us: i64, kind: &str, id: &str) -> String {
    format!("{}#{kind}#{id}", change_position(written_us))
}

/// A write time as the feed's sort keys start (16 digits of µs: sorts as text until 2286).
pub fn change_position(written_us: i64) -> String {
    format!("{:016}", written_us.max(0))
}

pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("T#{tenant}#")
}

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#TENANT")
}

pub fn brand_pk(tenant: &TenantId, brand: &BrandId) -> String {
    format!("T#{tenant}#BRAND#{brand}")
}

pub fn brand_collection(tenant: &TenantId) -> String {
    format!("T#{tenant}#BRAND")
}

pub fn warehouse_customer_pk(tenant: &TenantId, warehouse_customer: &str) -> String {
    format!("T#{tenant}#WHC#{warehouse_customer}")
}

pub fn object_pk(tenant: &TenantId, kind: &str, id: &str) -> String {
    format!("T#{tenant}#{kind}#{id}")
}

pub fn by_brand_pk(tenant: &TenantId, brand: &BrandId, kind: &str) -> String {
    format!("T#{tenant}#B#{brand}#{kind}")
}

pub fn by_tenant_pk(tenant: &TenantId, kind: &str) -> String {
    format!("T#{tenant}#{kind}")
}

pub fn updated_sk(updated: Timestamp, id: &str) -> String {
    format!("{}#{id}", updated.sort_key())
}

pub fn lookup_pk(tenant: &TenantId, kind: &str, sku: &str) -> String {
    format!("T#{tenant}#{kind}#SKU#{sku}")
}

pub fn connection_route_pk(connection: &ConnectionId) -> String {
    format!("CONN#{connection}")
}

pub fn messages_pk(tenant: &TenantId, brand: &BrandId) -> String {
    format!("T#{tenant}#B#{brand}#MSG")
}

pub fn audit_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#AUDIT")
}

/// The partition of a tenant's audit chain head (apart from the entries, so listings
/// never meet it).
pub fn audit_head_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#AUDITHEAD")
}

pub fn receipt_pk(tenant: &TenantId, event: &EventId) -> String {
    format!("T#{tenant}#EVT#{event}")
}

/// A tenant's erasures of a person (`crate::privacy`): one partition, read whole by the
/// erasure guard.
pub fn erasures_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#ERASURE")
}

/// The `gsi2` partition of a tenant's failed (not yet applied) webhook events.
pub fn failed_events_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#EVTFAILED")
}

pub fn failed_event_sk(received: Timestamp, event: &EventId) -> String {
    format!("{}#{event}", received.sort_key())
}

/// The shared rate budget and circuit breaker of one connection's access token.
pub fn trackstar_budget_pk(tenant: &TenantId, connection: &ConnectionId) -> String {
    format!("T#{tenant}#TRACKSTAR#{connection}")
}

pub const TRACKSTAR_BUDGET_SK: &str = "BUDGET";

/// A tenant's API request quotas (`api::quota`): one item per class, sort keys
/// [`QUOTA_API_SK`] and [`QUOTA_ADMIN_SK`].
pub fn quota_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#QUOTA")
}

pub const QUOTA_API_SK: &str = "API";
pub const QUOTA_ADMIN_SK: &str = "ADMIN";

/// One connection's hourly webhook figures (see `health::stats`).
pub fn webhook_stats_pk(tenant: &TenantId, connection: &ConnectionId) -> String {
    format!("T#{tenant}#WHSTATS#{connection}")
}

/// The events parked for a connection that is not linked yet.
pub fn parked_pk(connection: &ConnectionId) -> String {
    format!("PARKED#{connection}")
}

/// The `gsi2` partition listing every parked event by the time it was parked.
pub const PARKED_PARTITION: &str = "PARKED";

pub fn parked_sweep_sk(parked: Timestamp, connection: &ConnectionId, event: &EventId) -> String {
    format!("{}#{connection}#{event}", parked.sort_key())
}

pub fn rejected_pk(day: &str) -> String {
    format!("REJECTED#{day}")
}

/// The one partition of the sparse scheduling index (`gsi4`).
pub const SYNC_SCHEDULE_PARTITION: &str = "SYNCSCHED";

pub fn sync_schedule_sk(tenant: &TenantId, connection: &ConnectionId) -> String {
    format!("{tenant}#{connection}")
}

/// Partitions of the tombstone sweep's index: a burst of deletions (one reconciliation)
/// spreads over this many (an object always goes to the same one, the feed's hash).
pub const TOMBSTONE_SWEEP_SHARDS: u32 = CHANGE_SHARDS;

pub fn tombstone_sweep_pk(shard: u32) -> String {
    format!("LIFECYCLE#TOMBSTONE#{shard}")
}

/// The sweep's index keys (`gsi4pk`, `gsi4sk`) of a tombstone of `kind` deleted `at`:
/// listed oldest deletion first.
pub fn tombstone_sweep_keys(
    tenant: &TenantId,
    kind: &str,
    id: &str,
    at: Timestamp,
) -> (String, String) {
    (
        tombstone_sweep_pk(change_shard(kind, id) % TOMBSTONE_SWEEP_SHARDS),
        format!("{}#{tenant}#{kind}#{id}", at.sort_key()),
    )
}

/// The `gsi4` partition registering every tenant (on its tenant item), for the sweeps
/// that go tenant by tenant.
pub const TENANT_REGISTRY_PARTITION: &str = "TENANTS";

/// The `gsi4` partition of offboarded connections waiting for the erasure of their data
/// (sparse: only a connection with `erase_after` carries it, and then not `SYNCSCHED`,
/// which only active connections carry), for the data-lifecycle sweep.
pub const ERASE_DUE_PARTITION: &str = "CONNERASE";

/// `<erase_after>#<tenant>#<connection>`: the due ones are a range up to now.
pub fn erase_due_sk(
    erase_after: Timestamp,
    tenant: &TenantId,
    connection: &ConnectionId,
) -> String {
    format!("{}#{tenant}#{connection}", erase_after.sort_key())
}

pub fn reconcile_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#RECON")
}

/// The remote ids one reconciliation run has seen, a page per item (sort key `P#<page>`).
pub fn reconcile_seen_pk(tenant: &TenantId, run_id: &str) -> String {
    format!("T#{tenant}#RECONSEEN#{run_id}")
}

pub fn sync_state_pk(tenant: &TenantId, connection: &ConnectionId, resource: &str) -> String {
    format!("T#{tenant}#SYNC#{connection}#{resource}")
}

/// A connection's backfills (on-demand sync jobs, `sync::backfill`), one item per job.
pub fn backfill_pk(tenant: &TenantId, connection: &ConnectionId) -> String {
    format!("T#{tenant}#BACKFILL#{connection}")
}

/// A tenant's lifecycle jobs (offboardings, erasures; `crate::lifecycle`), one item each.
pub fn lifecycle_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#LIFECYCLE")
}

pub fn idempotency_pk(tenant: &TenantId, scope: &str, key_digest: &str) -> String {
    format!("T#{tenant}#IDEM#{scope}#{key_digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_start_with_the_tenant_prefix() {
        let t = TenantId::parse("acme").unwrap();
        let b = BrandId::parse("b1").unwrap();
        let prefix = tenant_prefix(&t);
        for key in [
            tenant_pk(&t),
            brand_pk(&t, &b),
            brand_collection(&t),
            warehouse_customer_pk(&t, "w1"),
            object_pk(&t, "ORDER", "o1"),
            by_brand_pk(&t, &b, "ORDER"),
            by_tenant_pk(&t, "ORDER"),
            lookup_pk(&t, "INVENTORY", "SKU 1"),
            messages_pk(&t, &b),
            audit_pk(&t),
            audit_head_pk(&t),
            idempotency_pk(&t, "orders.create", "abc"),
            sync_state_pk(&t, &ConnectionId::parse("c1").unwrap(), "orders"),
            reconcile_pk(&t),
            failed_events_pk(&t),
            reconcile_seen_pk(&t, "run_1"),
            trackstar_budget_pk(&t, &ConnectionId::parse("conn_1").unwrap()),
            backfill_pk(&t, &ConnectionId::parse("conn_1").unwrap()),
            lifecycle_pk(&t),
        ] {
            assert!(key.starts_with(&prefix), "{key}");
        }
    }

    #[test]
    fn the_functions_read_the_new_indexes_from_the_migrations_third_step_on() {
        // Given the steps of TableIndexStep (README, "Migrating the table's indexes")
        let layout = |step| IndexLayout::of_step(step);
        // Then steps 1 and 2 read the old brand listing and SKU lookup, 3 to 5 (and a
        // process without the variable: a new stack) the new ones, on the same keys
        for step in ["1", "2"] {
            assert_eq!(layout(Some(step)), IndexLayout::Legacy, "{step}");
        }
        for step in [Some("3"), Some("4"), Some("5"), None] {
            assert_eq!(layout(step), IndexLayout::Lean, "{step:?}");
        }
        assert_eq!(Index::ByBrandUpdated.name_in(IndexLayout::Legacy), "gsi1");
        assert_eq!(Index::ByBrandUpdated.name_in(IndexLayout::Lean), "gsi6");
        assert_eq!(Index::Lookup.name_in(IndexLayout::Legacy), "gsi3");
        assert_eq!(Index::Lookup.name_in(IndexLayout::Lean), "gsi7");
        assert_eq!(Index::ByBrandUpdated.pk(), "gsi1pk");
        assert_eq!(Index::Lookup.sk(), "gsi3sk");
    }

    #[test]
    fn a_tenant_id_cannot_be_a_prefix_of_another_tenants_keys() {
        // `T#acme#…` and `T#acme2#…`: the separator after the id keeps them apart.
        let a = TenantId::parse("acme").unwrap();
        let b = TenantId::parse("acme2").unwrap();
        assert!(!object_pk(&b, "ORDER", "1").starts_with(&tenant_prefix(&a)));
    }
}
