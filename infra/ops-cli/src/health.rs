//! `packr health [--tenant T]`: the health of one tenant's connections, or of every tenant
//! with an active connection, computed by the same `packr::health` functions as
//! `GET /sync/health`; then the system-wide queue and DLQ depths from SQS.
//!
//! Oldest-message age: SQS has no attribute for it (`ApproximateAgeOfOldestMessage` is a
//! CloudWatch metric), so a DLQ's oldest age is the oldest `SentTimestamp` among up to 10
//! messages peeked without deleting them (made visible again at once) — a lower bound when
//! the DLQ holds more. Source queues are not peeked (that would hide messages from their
//! consumers); their depths are shown.
//!
//! Exits non-zero when any connection is unhealthy or any DLQ holds a message.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use aws_config::SdkConfig;
use packr::domain::{TenantId, Timestamp};
use packr::health::{tenant_health, HealthReport, HealthSources, Scope, Status, Thresholds};
use packr::ops::queues::{queue_depth, QueueDepth};
use packr::ops::{inspect, InspectOptions};
use packr::store::ConnectionStore;
use packr::sync::DynamoSyncStateStore;
use packr::trackstar::DynamoBudget;

use crate::args::HealthArgs;
use crate::render;

#[derive(Debug, thiserror::Error)]
pub enum HealthCommandError {
    #[error("`packr health` needs the environment variable {0}")]
    MissingEnv(&'static str),
    #[error("`{0}` is not a tenant id")]
    InvalidTenant(String),
}

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    pub name: &'static str,
    pub dead_letter: bool,
    pub visible: u64,
    pub in_flight: u64,
    /// DLQs only: the oldest peeked message's age.
    pub oldest_age_seconds: Option<i64>,
}

/// The queues `packr health` reports, by environment variable.
pub const QUEUES: [(&str, &str, bool); 4] = [
    ("webhook", "WEBHOOK_QUEUE_URL", false),
    ("webhook-dlq", "WEBHOOK_DLQ_URL", true),
    ("sync-jobs", "SYNC_JOBS_QUEUE_URL", false),
    ("sync-jobs-dlq", "SYNC_JOBS_DLQ_URL", true),
];

/// Which tenants: the one asked for, else every tenant with an active connection.
pub fn tenant_arg(args: &HealthArgs) -> Result<Option<TenantId>, HealthCommandError> {
    args.tenant
        .as_ref()
        .map(|t| {
            TenantId::parse(t.clone()).map_err(|_| HealthCommandError::InvalidTenant(t.clone()))
        })
        .transpose()
}

/// The `HEALTH_*` thresholds from the environment.
fn thresholds(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Thresholds> {
    let names = [
        "HEALTH_SYNC_LAG_WARNING_SECONDS",
        "HEALTH_SYNC_LAG_CRITICAL_SECONDS",
        "HEALTH_WEBHOOK_LAG_WARNING_SECONDS",
        "HEALTH_WEBHOOK_LAG_CRITICAL_SECONDS",
        "HEALTH_ERROR_RATE_WARNING_PERCENT",
        "HEALTH_ERROR_RATE_CRITICAL_PERCENT",
        "HEALTH_FAILURES_WARNING",
        "HEALTH_FAILURES_CRITICAL",
    ];
    let vars: BTreeMap<String, String> = names
        .iter()
        .filter_map(|n| env(n).map(|v| ((*n).to_owned(), v)))
        .collect();
    Ok(Thresholds::from_env(&vars)?)
}

async fn queues(
    sqs: &aws_sdk_sqs::Client,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<QueueFigures>> {
    let mut out = Vec::new();
    for (name, var, dead_letter) in QUEUES {
        let Some(url) = env(var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let (depth, oldest) = if dead_letter {
            let report = inspect(
                sqs,
                &url,
                &InspectOptions {
                    limit: 10,
                    ..InspectOptions::default()
                },
            )
            .await?;
            let now = Timestamp::now().unix_seconds();
            let oldest = report
                .messages
                .iter()
                .filter_map(|m| m.sent_at)
                .map(|t| (now - t.timestamp()).max(0))
                .max();
            (
                QueueDepth {
                    visible: report.visible,
                    in_flight: report.in_flight,
                },
                oldest,
            )
        } else {
            (queue_depth(sqs, &url).await?, None)
        };
        out.push(QueueFigures {
            name,
            dead_letter,
            visible: depth.visible,
            in_flight: depth.in_flight,
            oldest_age_seconds: oldest,
        });
    }
    Ok(out)
}

/// Whether the run should fail: an unhealthy connection or a non-empty DLQ.
pub fn failing(reports: &[(TenantId, HealthReport)], queues: &[QueueFigures]) -> bool {
    reports
        .iter()
        .flat_map(|(_, r)| &r.connections)
        .any(|c| c.status == Status::Unhealthy)
        || queues
            .iter()
            .any(|q| q.dead_letter && q.visible + q.in_flight > 0)
}

pub async fn run(
    sdk: &SdkConfig,
    args: &HealthArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let only = tenant_arg(args)?;
    let table = env("TABLE_NAME")
        .filter(|v| !v.trim().is_empty())
        .ok_or(HealthCommandError::MissingEnv("TABLE_NAME"))?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, table.clone());
    let sources = HealthSources {
        connections: Arc::new(store.clone()),
        sync_states: Arc::new(DynamoSyncStateStore::new(store.clone())),
        stats: Arc::new(store.clone()),
        backfills: Arc::new(store.clone()),
        breakers: Arc::new(DynamoBudget::new(aws_sdk_dynamodb::Client::new(sdk), table)),
        thresholds: thresholds(env)?,
    };
    let tenants: BTreeSet<TenantId> = match only {
        Some(t) => BTreeSet::from([t]),
        None => store
            .list_active()
            .await?
            .into_iter()
            .map(|c| c.tenant_id)
            .collect(),
    };
    let now = Timestamp::now();
    let mut reports = Vec::new();
    let bar = crate::dlq::progress_bar();
    bar.set_length(tenants.len() as u64);
    for t in tenants {
        bar.set_message(format!("tenant {t}"));
        let report = tenant_health(&sources, &t, &Scope::Tenant, now).await?;
        reports.push((t, report));
        bar.inc(1);
    }
    bar.set_message("queues");
    let queues = queues(&aws_sdk_sqs::Client::new(sdk), env).await?;
    bar.finish_and_clear();
    render::health(out, &reports, &queues)?;
    Ok(if failing(&reports, &queues) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
