//! The command line. Top-level subcommands group by concern (`dlq`, `token`, `sync`,
//! `health`, `replay`, `reconcile`, `audit`), each with its own subcommands.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "packr", version, about = "Packr operator tools")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dead-letter queues: look inside, move messages back.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Mint a dev JWT for the local gateway (`make dev`) and print it.
    Token(TokenArgs),
    /// Syncs from Trackstar: queue them for the sync-worker.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Sync health of one tenant's connections, or of every tenant with an active
    /// connection (TABLE_NAME), and the queue and DLQ depths (WEBHOOK_QUEUE_URL,
    /// WEBHOOK_DLQ_URL, SYNC_JOBS_QUEUE_URL, SYNC_JOBS_DLQ_URL, those set). Exits non-zero
    /// when a connection is unhealthy or a DLQ is not empty.
    Health(HealthArgs),
    /// Re-enqueue a tenant's failed webhook events from the copies kept on their receipts
    /// (TABLE_NAME, WEBHOOK_QUEUE_URL), spread over time; other tenants' are never touched.
    /// Recorded in the tenant's audit log (AUDIT_SECRET_ARN).
    Replay(ReplayArgs),
    /// Queue reconciliation jobs of one connection on the sync-jobs queue (TABLE_NAME,
    /// SYNC_JOBS_QUEUE_URL): one per resource.
    Reconcile(ReconcileArgs),
    /// The tenant audit log's hash chain (TABLE_NAME, AUDIT_SECRET_ARN).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The tenant's changes feed (TABLE_NAME), as `GET /changes` serves it.
    #[command(subcommand)]
    Changes(ChangesCommand),
    /// Erasures of a person (TABLE_NAME, PRIVACY_HASH_SECRET_ARN, AUDIT_SECRET_ARN).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// A tenant's data lifecycle (TABLE_NAME, AUDIT_SECRET_ARN).
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Offboard the tenant: export, then erase every item under its key prefix, its
    /// connections' routes and its access tokens (the offboarding job and the audit trail
    /// stay for their retention). Starts the tenant's one offboarding job or resumes it,
    /// and runs it here with a progress bar; prints the export files' links at the end.
    /// CONNECTION_ERASURE_GRACE_DAYS; TRACKSTAR_API_KEY_SECRET_ARN (and TRACKSTAR_BASE_URL)
    /// to delete its connections at Trackstar too.
    Offboard(TenantArgs),
    /// The tenant's offboarding: status, phase, counts, exports.
    OffboardStatus(TenantArgs),
}

/// `packr tenant offboard|offboard-status`
#[derive(Debug, Clone, Args)]
pub struct TenantArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Re-run every erasure of a person of the tenant (after a point-in-time restore):
    /// each record's walk redacts what the restored table holds of the person again.
    Reapply(PrivacyReapplyArgs),
}

/// `packr privacy reapply`
#[derive(Debug, Clone, Args)]
pub struct PrivacyReapplyArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Copy the tenant's erasure records from this table first (the table the restore
    /// replaces: it holds erasures made after the restore point).
    #[arg(long, value_name = "TABLE")]
    pub records_from: Option<String>,
    /// Walk at once, without waiting for the functions' erasure caches (a restored table
    /// no function writes to yet).
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChangesCommand {
    /// Follow the feed: one JSON line per change, oldest first (kind, id, action, brand,
    /// time; the object with `--objects`). From now unless `--since` or `--from-start`;
    /// polls when caught up, until Ctrl-C.
    Tail(ChangesTailArgs),
}

/// `packr changes tail`
#[derive(Debug, Clone, Args)]
pub struct ChangesTailArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Only this resource (`orders`, `returns`, …); repeat for several.
    #[arg(long = "kind", value_name = "RESOURCE")]
    pub kinds: Vec<String>,
    /// Only this brand's objects.
    #[arg(long, value_name = "BRAND")]
    pub brand: Option<String>,
    /// Every object's latest change from the start of the feed.
    #[arg(long, conflicts_with = "since")]
    pub from_start: bool,
    /// Changes written at or after this time (RFC 3339, within the feed's retention).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Print each object's state too (personal data: names, addresses).
    #[arg(long)]
    pub objects: bool,
    /// Stop once caught up instead of polling.
    #[arg(long)]
    pub once: bool,
    /// Stop after N changes.
    #[arg(long = "max", value_name = "N")]
    pub max: Option<u64>,
    /// Seconds between polls when caught up.
    #[arg(long, default_value_t = 2, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub poll_seconds: u64,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk a tenant's audit chain: exits non-zero, naming the sequence numbers, when an
    /// entry was edited, deleted or inserted.
    Verify(AuditVerifyArgs),
}

/// `packr audit verify`
#[derive(Debug, Clone, Args)]
pub struct AuditVerifyArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
}

/// `packr replay`
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Only events of this brand (the event's, else its connection's).
    #[arg(long, value_name = "BRAND")]
    pub brand: Option<String>,
    /// Only this event; repeat for several (at most 100).
    #[arg(long = "event", value_name = "ID")]
    pub events: Vec<String>,
    /// Only events received at most N hours ago.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=336))]
    pub max_age_hours: Option<u64>,
    /// Count and list what would be replayed; enqueue nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replay at most N events (default and most: 1,000).
    #[arg(long = "max", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub max: Option<u64>,
}

/// `packr reconcile`
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// The connection (it must be active).
    #[arg(long, value_name = "CONNECTION")]
    pub connection: String,
    /// A resource to reconcile; repeat for several; default: all.
    #[arg(long = "resource", value_name = "RESOURCE", value_enum)]
    pub resources: Vec<ResourceArg>,
    /// Classify and report only; repair nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `packr health`
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// Only this tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Queue syncs of a tenant's connections (TABLE_NAME, SYNC_JOBS_QUEUE_URL): one job per
    /// (connection, resource).
    Run(SyncRunArgs),
}

/// `packr sync run`
#[derive(Debug, Clone, Args)]
pub struct SyncRunArgs {
    /// The tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// Only this connection (it must be active); default: every active connection.
    #[arg(long, value_name = "CONNECTION")]
    pub connection: Option<String>,
    /// A resource to sync; repeat for several; default: all.
    #[arg(long = "resource", value_name = "RESOURCE", value_enum)]
    pub resources: Vec<ResourceArg>,
    /// Everything from the beginning, not only what changed since the last sync.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResourceArg {
    Orders,
    Inventory,
    Products,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Move a dead-letter queue's messages back to their source queue.
    Redrive(RedriveArgs),
    /// Count and list a dead-letter queue's messages without removing them.
    Inspect(InspectArgs),
}

/// Which queues: a known pair (URLs from the environment) or explicit URLs.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// A known queue: its URLs come from WEBHOOK_QUEUE_URL / WEBHOOK_DLQ_URL or
    /// SYNC_JOBS_QUEUE_URL / SYNC_JOBS_DLQ_URL.
    #[arg(
        long,
        value_enum,
        required_unless_present = "dlq_url",
        conflicts_with = "dlq_url"
    )]
    pub queue: Option<QueueName>,
    /// The dead-letter queue's URL.
    #[arg(long, value_name = "URL")]
    pub dlq_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueName {
    Webhook,
    SyncJobs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MethodArg {
    /// SQS move task, else receive/send/delete.
    #[default]
    Auto,
    /// SQS move task only.
    MoveTask,
    /// Receive/send/delete only.
    Fallback,
}

#[derive(Debug, Clone, Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub queues: QueueArgs,
    /// The source queue's URL (default: from the environment with --queue, else the queue
    /// whose dead-letter queue this is, as SQS names it).
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
    /// Move at most N messages (uses receive/send/delete: a move task cannot stop at N).
    #[arg(long = "max", value_name = "N")]
    pub max_messages: Option<usize>,
    /// Count what would move; move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many messages per second.
    #[arg(long, value_name = "PER_SECOND", value_parser = clap::value_parser!(u32).range(1..=500))]
    pub rate: Option<u32>,
    /// Messages per batch (receive/send/delete).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub batch_size: u8,
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    pub method: MethodArg,
    /// Seconds a received batch stays hidden while it is moved.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub visibility_timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub queues: QueueArgs,
    /// List at most N messages (the counts cover the whole queue).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,
}

/// `packr token`: a dev JWT the local gateway's authorizer accepts.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The tenant (`custom:tenant_id`).
    #[arg(long, value_name = "TENANT")]
    pub tenant: String,
    /// The role (`custom:role`).
    #[arg(long, value_name = "ROLE", value_parser = ["tenant_admin", "tenant_staff", "brand_manager", "brand_viewer"])]
    pub role: String,
    /// A brand of the caller (`custom:brand_ids`); repeat for several.
    #[arg(long = "brand", value_name = "BRAND")]
    pub brands: Vec<String>,
    /// The subject (`sub`).
    #[arg(long, default_value = "dev-user", value_name = "SUB")]
    pub sub: String,
    /// An OAuth scope of the token instead of the role's own (read for every role, write
    /// for all but brand_viewer, admin for tenant_admin); repeat for several.
    #[arg(long = "scope", value_name = "SCOPE", conflicts_with = "no_scope")]
    pub scopes: Vec<String>,
    /// A token without any `scope` claim, as an OpenID Connect ID token is: the gateway
    /// refuses it on every route.
    #[arg(long)]
    pub no_scope: bool,
    /// Minutes the token stays valid.
    #[arg(long, default_value_t = 60, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=525_600))]
    pub ttl_minutes: u64,
    /// The HS256 key (base64), created when missing; `make dev` uses the same file.
    #[arg(long, default_value = packr_local::dev_jwt::DEFAULT_KEY_FILE, value_name = "PATH")]
    pub key_file: std::path::PathBuf,
}
