//! A sync job: one SQS message per (tenant, connection, resource, mode) on the sync-jobs
//! queue, `MessageGroupId` = tenant (SQS fair queues keep one tenant's full sync from
//! delaying the others). The queue port and its SQS adapter.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{ConnectionId, TenantId, Timestamp};
use crate::resource::ResourceKind;

/// How much a sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Objects changed since the watermark (minus the overlap).
    Incremental,
    /// Every object, from the beginning.
    Full,
    /// Walk Trackstar's full list and the local copy and repair the drift
    /// (`crate::sync::reconcile`).
    Reconcile,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Incremental => "incremental",
            SyncMode::Full => "full",
            SyncMode::Reconcile => "reconcile",
        }
    }

    /// `incremental` or `full`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "incremental" => Some(SyncMode::Incremental),
            "full" => Some(SyncMode::Full),
            _ => None,
        }
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of one sync-jobs message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub tenant_id: TenantId,
    pub connection_id: ConnectionId,
    pub resource: ResourceKind,
    pub mode: SyncMode,
    pub requested_at: Timestamp,
    /// Why: `schedule`, `exchange`, `connection.created`, `historical-sync-completed`,
    /// `admin`, `cli`, `continuation`, `deferred`, `requeued`.
    pub reason: String,
    /// Set on continuations of a run (deadline, deferral): the run to resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Reconcile only: classify and report, repair nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl SyncJob {
    pub fn new(
        tenant_id: TenantId,
        connection_id: ConnectionId,
        resource: ResourceKind,
        mode: SyncMode,
        reason: impl Into<String>,
        requested_at: Timestamp,
    ) -> Self {
        Self {
            tenant_id,
            connection_id,
            resource,
            mode,
            requested_at,
            reason: reason.into(),
            run_id: None,
            dry_run: false,
        }
    }

    /// The same job, resuming `run_id`.
    pub fn continuation(&self, run_id: &str, reason: &str) -> Self {
        Self {
            run_id: Some(run_id.to_owned()),
            reason: reason.to_owned(),
            ..self.clone()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncQueueError {
    #[error("SQS {operation} failed")]
    Sqs {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("SQS refused {failed} of the messages")]
    Refused { failed: usize },
    #[error("a sync job could not be encoded")]
    Encode(#[source] serde_json::Error),
}

/// The sync-jobs queue.
#[async_trait]
pub trait SyncJobQueue: Send + Sync {
    /// Returns once the queue durably accepted every job; `delay` (at most 15 min) hides
    /// them for that long.
    async fn enqueue(&self, jobs: &[SyncJob], delay: Duration) -> Result<(), SyncQueueError>;
}

#[derive(Debug, Clone)]
pub struct SqsSyncJobQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsSyncJobQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

#[async_trait]
impl SyncJobQueue for SqsSyncJobQueue {
    async fn enqueue(&self, jobs: &[SyncJob], delay: Duration) -> Result<(), SyncQueueError> {
        let delay_seconds = i32::try_from(delay.min(MAX_DELAY).as_secs()).unwrap_or(900);
        for chunk in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                let body = serde_json::to_string(job).map_err(SyncQueueError::Encode)?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(format!("j{i}"))
                    .message_body(body)
                    // SQS fair queues: one tenant's backlog does not delay the others.
                    .message_group_id(job.tenant_id.as_str())
                    .delay_seconds(delay_seconds)
                    .build()
                    .map_err(|e| SyncQueueError::Sqs {
                        operation: "SendMessageBatch",
                        source: Box::new(e),
                    })?;
                entries.push(entry);
            }
            // One retry of the entries SQS refused (throttling, internal errors).
            for attempt in 0..2 {
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|e| SyncQueueError::Sqs {
                        operation: "SendMessageBatch",
                        source: Box::new(aws_sdk_sqs::Error::from(e)),
                    })?;
                let failed: Vec<&str> = output.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == 1 {
                    return Err(SyncQueueError::Refused {
                        failed: failed.len(),
                    });
                }
                entries.retain(|e| failed.contains(&e.id()));
            }
        }
        Ok(())
    }
}

/// An in-memory queue: keeps what was enqueued (handler tests, local tools).
#[derive(Debug, Default)]
pub struct MemorySyncJobQueue {
    jobs: std::sync::Mutex<Vec<(SyncJob, Duration)>>,
}

impl MemorySyncJobQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything enqueued so far, with its delay.
    pub fn jobs(&self) -> Vec<(SyncJob, Duration)> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes everything enqueued so far.
    pub fn drain(&self) -> Vec<SyncJob> {
        std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .map(|(job, _)| job)
            .collect()
    }
}

#[async_trait]
impl SyncJobQueue for MemorySyncJobQueue {
    async fn enqueue(&self, jobs: &[SyncJob], delay: Duration) -> Result<(), SyncQueueError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(jobs.iter().map(|j| (j.clone(), delay)));
        Ok(())
    }
}

/// Enqueues one job per resource for a connection.
pub async fn request_sync(
    queue: &dyn SyncJobQueue,
    tenant: &TenantId,
    connection: &ConnectionId,
    resources: &[ResourceKind],
    mode: SyncMode,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<SyncJob>, SyncQueueError> {
    let jobs: Vec<SyncJob> = resources
        .iter()
        .map(|r| SyncJob::new(tenant.clone(), connection.clone(), *r, mode, reason, now))
        .collect();
    queue.enqueue(&jobs, Duration::ZERO).await?;
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_round_trips_through_json_and_continuations_name_their_run() {
        let job = SyncJob::new(
            TenantId::parse("acme").unwrap(),
            ConnectionId::parse("conn_1").unwrap(),
            ResourceKind::Orders,
            SyncMode::Full,
            "exchange",
            Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        );
        let text = serde_json::to_string(&job).unwrap();
        assert!(!text.contains("run_id"));
        assert_eq!(serde_json::from_str::<SyncJob>(&text).unwrap(), job);
        let next = job.continuation("run_1", "continuation");
        assert_eq!(next.run_id.as_deref(), Some("run_1"));
        assert_eq!(next.mode, SyncMode::Full);
        assert_eq!(next.resource, ResourceKind::Orders);
    }
}
