//! The export of a brand's or a tenant's data before it is erased (issue 19 §2): one JSON
//! Lines file per resource, `exports/<tenant>/<job id>/<resource>.jsonl` in the export
//! bucket, one line per object as the API's GET serves it. Tombstoned objects are not
//! exported (they have left the listings the export reads).
//!
//! **Resumable.** [`Exporter::export_step`] is one bounded step of an offboarding job: it
//! reads the current resource's listing from the job's checkpoint, oldest first (an object
//! updated meanwhile moves to the listing's end and is read again rather than missed),
//! until at least [`PART_BYTES`] of lines are buffered or the listing ends, then writes
//! them as one part: a resource that fits one part is one `PutObject`; a larger one is an
//! S3 multipart upload whose id and part ETags live in the job's `state` (`export.upload`).
//! The checkpoint moves only with an uploaded part, so a crash re-reads from the last
//! part's checkpoint and uploads that part number again (S3 keeps the last upload of a
//! part number: the same bytes when nothing changed). A step is one part, not one page:
//! a part must hold 5 MiB, and keeping a buffer across steps would tie a job to one
//! instance (a continuation may run anywhere).
//!
//! **Phases.** `export:<resource>` while a resource is read, `export:done` after the last;
//! a job whose phase is another kind's own (the offboarding moved on to erasing) is done
//! with its export.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::presigning::PresigningConfig;

use super::export_source::{
    key_to_map, map_to_key, partitions, ExportResource, Partition, Position,
};
use super::export_upload::{is_no_such_upload, Bucket, ExportState, Part, Upload};
use super::{ExportFile, JobKind, LifecycleError, LifecycleJob, Step};
use crate::domain::{Brand, BrandId, TenantId};
use crate::store::dynamo::{DynamoStore, Item};
use crate::store::{StoreError, TenantStore};

/// S3's smallest part but the last: a part is uploaded once this much is buffered.
pub const PART_BYTES: usize = 5 * 1024 * 1024;
/// Items asked for per Query (each page is at most 1 MB anyway).
const PAGE_ITEMS: i32 = 500;
/// How long presigned URLs of export files hold by default.
pub const PRESIGN_TTL: Duration = Duration::from_secs(3600);
/// The phase after the last resource.
pub const DONE_PHASE: &str = "export:done";
const PHASE_PREFIX: &str = "export:";

/// What an export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportScope {
    /// The brand's objects (each brand-owned kind's brand listing, `gsi6`) and its messages.
    Brand(BrandId),
    /// Every kind's `gsi2` listing, the brands, every brand's messages, the connections.
    Tenant,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the table for the export")]
    Store(#[from] StoreError),
    #[error("S3 {operation} of the export ({})", code.as_deref().unwrap_or("no code"))]
    S3 {
        operation: &'static str,
        code: Option<String>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("a stored {resource} cannot be exported")]
    Corrupt {
        resource: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the job's export checkpoint is not readable")]
    Checkpoint(#[source] serde_json::Error),
    #[error("the job's export state is not readable")]
    State(#[source] serde_json::Error),
    #[error("the job's phase names no resource of this export: {0}")]
    UnknownPhase(String),
    #[error("missing key attribute: {0}")]
    MissingKey(&'static str),
    #[error("presigning {0}")]
    Presign(String),
}

impl ExportError {
    /// As the runner sees it: a job whose stored data or own record cannot be read fails
    /// for good; anything else (DynamoDB, S3) is retried.
    pub fn into_lifecycle(self) -> LifecycleError {
        match self {
            ExportError::Corrupt { .. }
            | ExportError::Checkpoint(_)
            | ExportError::State(_)
            | ExportError::UnknownPhase(_) => {
                LifecycleError::Permanent(crate::errors::error_chain(&self))
            }
            other => LifecycleError::transient("the export", other),
        }
    }

    pub(crate) fn s3<E>(operation: &'static str, error: E) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Self::S3 {
            operation,
            code: error.code().map(str::to_owned),
            source: Box::new(error),
        }
    }
}

/// Writes exports into the bucket and presigns their URLs.
#[derive(Debug, Clone)]
pub struct Exporter {
    store: DynamoStore,
    bucket: Bucket,
}

/// What one step read.
struct Chunk {
    body: Vec<u8>,
    lines: u64,
    /// Where the next step reads from; `None`: the resource's listing is exhausted.
    next: Option<Position>,
}

impl Exporter {
    pub fn new(store: DynamoStore, s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            store,
            bucket: Bucket {
                s3,
                name: bucket.into(),
            },
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket.name
    }

    /// The key of a job's file of `resource`.
    pub fn key(tenant: &TenantId, job_id: &str, resource: &str) -> String {
        format!("exports/{tenant}/{job_id}/{resource}.jsonl")
    }

    /// A GET URL of `key` valid for `ttl` (the status answers and the CLI: 1 hour).
    pub async fn presign(&self, key: &str, ttl: Duration) -> Result<String, LifecycleError> {
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| ExportError::Presign(e.to_string()).into_lifecycle())?;
        let request = self
            .bucket
            .s3
            .get_object()
            .bucket(&self.bucket.name)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| ExportError::s3("GetObject (presign)", e).into_lifecycle())?;
        Ok(request.uri().to_owned())
    }

    /// The export step of an offboarding job, its scope taken from the job's kind (a
    /// brand's or the tenant's); other kinds export nothing.
    pub async fn job_step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        let scope = match &job.kind {
            JobKind::BrandOffboarding { brand_id } => ExportScope::Brand(brand_id.clone()),
            JobKind::TenantOffboarding => ExportScope::Tenant,
            _ => return Ok(Step::Done),
        };
        self.export_step(job, scope).await
    }

    /// A download link of an exported file, valid for [`PRESIGN_TTL`].
    pub async fn presign_file(&self, file: &ExportFile) -> Result<String, LifecycleError> {
        self.presign(&file.key, PRESIGN_TTL).await
    }

    /// One bounded step of `job`'s export of `scope`: reads up to one part of the current
    /// resource and uploads it (see the module's notes). `Done` once every file is written.
    pub async fn export_step(
        &self,
        job: &mut LifecycleJob,
        scope: ExportScope,
    ) -> Result<Step, LifecycleError> {
        self.step(job, &scope)
            .await
            .map_err(ExportError::into_lifecycle)
    }

    async fn step(&self, job: &mut LifecycleJob, scope: &ExportScope) -> Result<Step, ExportError> {
        let plan = ExportResource::plan(scope);
        let resource = match job.phase.strip_prefix(PHASE_PREFIX) {
            Some("done") => return Ok(Step::Done),
            Some(name) => *plan
                .iter()
                .find(|r| r.name() == name)
                .ok_or_else(|| ExportError::UnknownPhase(job.phase.clone()))?,
            // `export`: the offboarding's name of the whole phase, before its first step.
            None if job.phase.is_empty() || job.phase == "export" => {
                job.checkpoint = None;
                match plan.first() {
                    Some(first) => *first,
                    None => return Ok(Step::Done),
                }
            }
            // Another phase of the offboarding: the export finished before it.
            None => return Ok(Step::Done),
        };
        job.phase = format!("{PHASE_PREFIX}{}", resource.name());
        let tenant = job.tenant_id.clone();
        let key = Self::key(&tenant, &job.id, resource.name());
        let mut state = ExportState::read(&job.state)?;
        if state
            .upload
            .as_ref()
            .is_some_and(|u| u.resource != resource.name() || u.key != key)
        {
            // Left by a resource that finished (its file is complete): not this one's.
            state.upload = None;
        }

        let position = Position::parse(job.checkpoint.as_deref())?;
        let chunk = self.read_chunk(&tenant, scope, resource, position).await?;
        let finished = chunk.next.is_none();

        let file = match (state.upload.take(), finished) {
            // Fits one part: one PutObject (again after a crash: the same file).
            (None, true) => {
                let bytes = chunk.body.len() as u64;
                self.bucket.put(&key, chunk.body).await?;
                Some((chunk.lines, bytes))
            }
            (upload, _) => {
                let mut upload = match upload {
                    Some(upload) => upload,
                    None => Upload {
                        resource: resource.name().to_owned(),
                        upload_id: self.bucket.start(&key).await?,
                        key: key.clone(),
                        parts: Vec::new(),
                        lines: 0,
                        bytes: 0,
                    },
                };
                let number = i32::try_from(upload.parts.len() + 1).unwrap_or(i32::MAX);
                let bytes = chunk.body.len() as u64;
                match self.bucket.part(&upload, number, chunk.body).await {
                    Ok(etag) => {
                        upload.parts.push(Part { number, etag });
                        upload.lines += chunk.lines;
                        upload.bytes += bytes;
                    }
                    // Completed by a run that crashed before its job was saved.
                    Err(e)
                        if finished
                            && is_no_such_upload(&e)
                            && self.bucket.exists(&key).await? =>
                    {
                        upload.lines += chunk.lines;
                        upload.bytes += bytes;
                        state.upload = None;
                        return Ok(self.finish(
                            job,
                            resource,
                            &plan,
                            key,
                            upload.lines,
                            upload.bytes,
                            state,
                        ));
                    }
                    // Gone (aborted by the bucket's rule after a long pause): the file
                    // starts again from the resource's first page.
                    Err(e) if is_no_such_upload(&e) => {
                        tracing::warn!(
                            job_id = %job.id,
                            resource = resource.name(),
                            "the export's multipart upload is gone: the file starts again"
                        );
                        job.checkpoint = None;
                        state.upload = None;
                        state.write(&mut job.state);
                        return Ok(Step::More);
                    }
                    Err(e) => return Err(e),
                }
                if finished {
                    self.bucket.complete(&upload).await?;
                    Some((upload.lines, upload.bytes))
                } else {
                    state.upload = Some(upload);
                    None
                }
            }
        };
        match file {
            Some((lines, bytes)) => Ok(self.finish(job, resource, &plan, key, lines, bytes, state)),
            None => {
                // The part is uploaded: the checkpoint moves past what it holds.
                job.checkpoint = chunk.next.map(|p| p.to_checkpoint());
                state.write(&mut job.state);
                Ok(Step::More)
            }
        }
    }

    /// Records a written file and moves to the next resource.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        job: &mut LifecycleJob,
        resource: ExportResource,
        plan: &[ExportResource],
        key: String,
        lines: u64,
        bytes: u64,
        state: ExportState,
    ) -> Step {
        let name = resource.name();
        job.exports.retain(|f| f.resource != name);
        job.exports.push(ExportFile {
            resource: name.to_owned(),
            key,
            lines,
            bytes,
        });
        job.counts.insert(format!("exported.{name}"), lines);
        job.checkpoint = None;
        state.write(&mut job.state);
        tracing::info!(
            tenant_id = %job.tenant_id,
            job_id = %job.id,
            resource = name,
            lines,
            bytes,
            "export file written"
        );
        let next = plan
            .iter()
            .position(|r| *r == resource)
            .and_then(|i| plan.get(i + 1));
        match next {
            Some(next) => {
                job.phase = format!("{PHASE_PREFIX}{}", next.name());
                Step::More
            }
            None => {
                job.phase = DONE_PHASE.to_owned();
                Step::Done
            }
        }
    }

    /// Reads pages from `position` until a part's worth is buffered or the listing ends.
    async fn read_chunk(
        &self,
        tenant: &TenantId,
        scope: &ExportScope,
        resource: ExportResource,
        mut position: Position,
    ) -> Result<Chunk, ExportError> {
        let brands: Vec<Brand> = match (resource, scope) {
            (ExportResource::Messages, ExportScope::Tenant) => {
                self.store.list_brands(tenant).await?
            }
            _ => Vec::new(),
        };
        let partitions = partitions(tenant, scope, resource, &brands);
        let mut chunk = Chunk {
            body: Vec::new(),
            lines: 0,
            next: None,
        };
        loop {
            // The partition the position is in, or the first after it (one that went away).
            let index = match &position.partition {
                None => 0,
                Some(key) => partitions
                    .iter()
                    .position(|p| p.key >= *key)
                    .unwrap_or(partitions.len()),
            };
            let Some(partition) = partitions.get(index) else {
                return Ok(chunk);
            };
            let after = match &position.after {
                Some(after) if position.partition.as_deref() == Some(partition.key.as_str()) => {
                    Some(map_to_key(partition, after)?)
                }
                _ => None,
            };
            let (items, last) = self.page(partition, after).await?;
            for item in items {
                if let Some(line) = resource.line(item)? {
                    chunk.body.extend_from_slice(&line);
                    chunk.lines += 1;
                }
            }
            position = match last {
                Some(last) => Position {
                    partition: Some(partition.key.clone()),
                    after: Some(key_to_map(partition.index, &last)?),
                },
                None => match partitions.get(index + 1) {
                    Some(next) => Position {
                        partition: Some(next.key.clone()),
                        after: None,
                    },
                    None => return Ok(chunk),
                },
            };
            if chunk.body.len() >= PART_BYTES {
                chunk.next = Some(position);
                return Ok(chunk);
            }
        }
    }

    /// One page of a partition, oldest first, and its `LastEvaluatedKey`.
    async fn page(
        &self,
        partition: &Partition,
        after: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), ExportError> {
        let attribute = partition.index.map_or(crate::store::keys::PK, |i| i.pk());
        let out = self
            .store
            .client()
            .query()
            .table_name(self.store.table_name())
            .set_index_name(partition.index.map(|i| i.name().to_owned()))
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", attribute)
            .expression_attribute_values(":p", AttributeValue::S(partition.key.clone()))
            .scan_index_forward(true)
            .limit(PAGE_ITEMS)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(|e| StoreError::dynamo("Query", aws_sdk_dynamodb::Error::from(e)))?;
        let last = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), last))
    }
}

/// The export phase of the brand and tenant offboardings.
#[async_trait::async_trait]
impl super::offboard::ExportPhase for Exporter {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        self.job_step(job).await
    }
}

/// The links of an offboarding's export files (`GET /offboardings/{id}`, the ops CLI).
#[async_trait::async_trait]
impl super::offboard::Presign for Exporter {
    async fn url(&self, file: &ExportFile) -> Result<String, LifecycleError> {
        self.presign_file(file).await
    }
}
