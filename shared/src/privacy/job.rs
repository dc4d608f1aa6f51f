//! The walk of an erasure (`JobKind::PersonErasure`): after the guard's wait
//! ([`super::walk_wait`]), it redacts in place what the tenant stores of the person, a page
//! per step, never a Scan:
//!
//! 1. `erase:objects` — the tenant's changes feed (`gsi5`, its 4 shards, up to the position
//!    of the walk's start): every synced object, tombstones included, read whole from the
//!    table; a match is rewritten conditional on the item being as read, which moves it in
//!    the feed (consumers receive the redacted copy). An order that matches is kept on the
//!    erasure record, so its returns match;
//! 2. `erase:returns` — the feed again, returns only, now that the person's orders are known;
//! 3. `erase:unfed` — each kind's tenant listing (`gsi2`), for live objects written before
//!    the feed's index existed (not in the feed: they enter it with their rewrite);
//! 4. `erase:failed_receipts` — the failed webhook receipts' kept events (`gsi2`
//!    `T#<t>#EVTFAILED`);
//! 5. `erase:messages` — each brand's message thread;
//!
//! then the record is completed with the counts per kind. A step re-run finds redacted
//! items matching no more: it changes nothing more. Writes landing during the walk passed
//! the guard already (the wait), and a rewrite never overwrites them (its condition).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::guard::{matcher_of, redact_message_with, PrivacyKey};
use super::record::{ErasureLinks, ErasureRecord, ErasureStatus};
use super::redaction::Matcher;
use crate::domain::{Message, TenantId, Timestamp};
use crate::lifecycle::{JobKind, JobSteps, LifecycleError, LifecycleJob, Step};
use crate::resource::ResourceKind;
use crate::store::dynamo::rewrite::{decode_start, encode_start, item_keys};
use crate::store::dynamo::{DynamoStore, Item};
use crate::store::keys::{self, Index, CHANGE_SHARDS};
use crate::store::TenantStore;
use crate::webhook::stored_event;

/// Items read per step.
pub const PAGE: i32 = 100;

const OBJECTS: &str = "erase:objects";
const RETURNS: &str = "erase:returns";
const LEGACY: &str = "erase:unfed";
const RECEIPTS: &str = "erase:failed_receipts";
const MESSAGES: &str = "erase:messages";
const DONE: &str = "done";

/// The walk's own state on the job.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct WalkState {
    /// The feed position of the walk's start: later writes passed the guard.
    #[serde(default)]
    bound: Option<String>,
    #[serde(default)]
    shard: u32,
    #[serde(default)]
    brands: Vec<String>,
    #[serde(default)]
    brand: usize,
    /// The kind whose listing `erase:unfed` reads (an index into `ResourceKind::ALL`).
    #[serde(default)]
    kind: usize,
}

/// The steps of `PersonErasure` jobs.
#[derive(Clone)]
pub struct ErasureSteps {
    store: DynamoStore,
    key: Arc<PrivacyKey>,
    page: i32,
    /// Longest wait a step makes for the guard's caches (the rest waits in later steps).
    max_wait: Duration,
}

impl ErasureSteps {
    pub fn new(store: DynamoStore, key: Arc<PrivacyKey>) -> Self {
        Self {
            store,
            key,
            page: PAGE,
            max_wait: super::walk_wait(),
        }
    }

    /// Pages of `page` items (tests cut walks short with small pages).
    pub fn with_page(mut self, page: i32) -> Self {
        self.page = page.max(1);
        self
    }

    async fn matcher(
        &self,
        tenant: &TenantId,
        record: &ErasureRecord,
    ) -> Result<Matcher, LifecycleError> {
        let key = self
            .key
            .get()
            .await
            .map_err(|e| LifecycleError::transient("reading the privacy hash key", e))?;
        matcher_of(tenant, key, std::slice::from_ref(record))
            .ok_or_else(|| LifecycleError::Permanent("the erasure has no hashes".into()))
    }

    /// Redacts the stored objects of `objects` that match: each rewritten only if unchanged
    /// since it was read (counted as `redacted.<kind>`), and what the matches taught (order
    /// ids, hashes) added to the record.
    async fn redact_objects(
        &self,
        job: &mut LifecycleJob,
        objects: Vec<(ResourceKind, Item)>,
        matcher: &Matcher,
        record: &ErasureRecord,
    ) -> Result<(), LifecycleError> {
        let tenant = job.tenant_id.clone();
        let mut links = ErasureLinks::default();
        for (kind, item) in objects {
            let object = (kind.ops().decode_stored)(item.clone())?;
            let Some((redacted, found)) = object.redacted(matcher) else {
                continue;
            };
            if self
                .store
                .rewrite_object_body(&tenant, &item, &redacted)
                .await?
            {
                job.add(format!("redacted.{kind}"), 1);
            }
            links.extend(found);
        }
        if !links.is_empty() {
            self.store
                .add_erasure_links(&tenant, &record.id, &links)
                .await?;
        }
        Ok(())
    }

    /// One page of the feed: redacts the matching objects (returns only when
    /// `returns_only`); whether the phase is over.
    async fn feed_page(
        &self,
        job: &mut LifecycleJob,
        state: &mut WalkState,
        matcher: &Matcher,
        record: &ErasureRecord,
        returns_only: bool,
    ) -> Result<bool, LifecycleError> {
        let tenant = job.tenant_id.clone();
        let start = job.checkpoint.as_deref().map(decode_start).transpose()?;
        let (entries, next) = self
            .store
            .index_page(
                Index::Changes,
                keys::change_pk(&tenant, state.shard),
                state.bound.clone(),
                start,
                self.page,
            )
            .await?;
        let wanted: Vec<(String, String)> = entries
            .iter()
            .filter_map(item_keys)
            .filter(|(_, sk)| match kind_of(sk) {
                Some(kind) => !returns_only || kind == ResourceKind::Returns,
                None => false,
            })
            .collect();
        let mut objects = Vec::new();
        for item in self.store.items_of(wanted).await? {
            let Some(kind) = item_keys(&item).and_then(|(_, sk)| kind_of(&sk)) else {
                continue;
            };
            // Items written before bodies existed hold their attributes flattened; none
            // are left on tables written since (every write stores a body).
            if !item.contains_key(crate::store::dynamo::object_body_attribute()) {
                job.add(format!("skipped_legacy.{kind}"), 1);
                continue;
            }
            objects.push((kind, item));
        }
        self.redact_objects(job, objects, matcher, record).await?;
        Ok(advance(job, next, || {
            state.shard += 1;
            state.shard >= CHANGE_SHARDS
        }))
    }

    /// One page of a kind's tenant listing (`gsi2`, projecting whole items): redacts the
    /// live objects the feed does not hold (written before the feed's index existed; they
    /// enter it with this rewrite). Whether the phase is over.
    async fn unfed_page(
        &self,
        job: &mut LifecycleJob,
        state: &mut WalkState,
        matcher: &Matcher,
        record: &ErasureRecord,
    ) -> Result<bool, LifecycleError> {
        let tenant = job.tenant_id.clone();
        let Some(kind) = ResourceKind::ALL.get(state.kind).copied() else {
            return Ok(true);
        };
        let start = job.checkpoint.as_deref().map(decode_start).transpose()?;
        let (items, next) = self
            .store
            .index_page(
                Index::ByTenantUpdated,
                keys::by_tenant_pk(&tenant, kind.spec().key),
                None,
                start,
                self.page,
            )
            .await?;
        let objects = items
            .into_iter()
            .filter(|item| {
                !item.contains_key(Index::Changes.pk())
                    && item.contains_key(crate::store::dynamo::object_body_attribute())
            })
            .map(|item| (kind, item))
            .collect();
        self.redact_objects(job, objects, matcher, record).await?;
        Ok(advance(job, next, || {
            state.kind += 1;
            state.kind >= ResourceKind::ALL.len()
        }))
    }

    async fn receipts_page(
        &self,
        job: &mut LifecycleJob,
        matcher: &Matcher,
    ) -> Result<bool, LifecycleError> {
        let tenant = job.tenant_id.clone();
        let start = job.checkpoint.as_deref().map(decode_start).transpose()?;
        let (items, next) = self
            .store
            .index_page(
                Index::ByTenantUpdated,
                keys::failed_events_pk(&tenant),
                None,
                start,
                self.page,
            )
            .await?;
        for item in items {
            let (Some((pk, sk)), Some(AttributeValue::B(blob))) =
                (item_keys(&item), item.get("failed_event"))
            else {
                continue;
            };
            let Ok(mut event) = stored_event::decompress(blob.as_ref()) else {
                continue;
            };
            let order_event =
                ResourceKind::of_event(&event.event_type) == Some(ResourceKind::Orders);
            if matcher
                .redact_payload(&mut event.payload, order_event)
                .is_none()
            {
                continue;
            }
            let Ok(bytes) = stored_event::compress(&event) else {
                continue;
            };
            if self
                .store
                .replace_attribute(
                    pk,
                    &sk,
                    "failed_event",
                    AttributeValue::B(blob.clone()),
                    AttributeValue::B(Blob::new(bytes)),
                )
                .await?
            {
                job.add("redacted.failed_receipts", 1);
            }
        }
        Ok(advance(job, next, || true))
    }

    async fn messages_page(
        &self,
        job: &mut LifecycleJob,
        state: &mut WalkState,
        matcher: &Matcher,
    ) -> Result<bool, LifecycleError> {
        let tenant = job.tenant_id.clone();
        let Some(brand) = state.brands.get(state.brand) else {
            return Ok(true);
        };
        let brand = crate::domain::BrandId::parse(brand.clone())
            .map_err(|_| LifecycleError::Permanent("a stored brand id is invalid".into()))?;
        let start = job.checkpoint.as_deref().map(decode_start).transpose()?;
        let (items, next) = self
            .store
            .partition_page(keys::messages_pk(&tenant, &brand), start, self.page)
            .await?;
        for item in items {
            let Some((pk, sk)) = item_keys(&item) else {
                continue;
            };
            let message: Message = crate::store::dynamo::decode(item)?;
            let Some(redacted) = redact_message_with(matcher, &message) else {
                continue;
            };
            if self
                .store
                .replace_attribute(
                    pk,
                    &sk,
                    "body",
                    AttributeValue::S(message.body.as_str().to_owned()),
                    AttributeValue::S(redacted.body.as_str().to_owned()),
                )
                .await?
            {
                job.add("redacted.messages", 1);
            }
        }
        let brands = state.brands.len();
        Ok(advance(job, next, || {
            state.brand += 1;
            state.brand >= brands
        }))
    }
}

/// Moves the checkpoint to `next`, or (the partition is done) clears it and asks
/// `partition_done` whether the phase is over.
fn advance(
    job: &mut LifecycleJob,
    next: Option<Item>,
    partition_done: impl FnOnce() -> bool,
) -> bool {
    match next.and_then(|k| encode_start(&k)) {
        Some(checkpoint) => {
            job.checkpoint = Some(checkpoint);
            false
        }
        None => {
            job.checkpoint = None;
            partition_done()
        }
    }
}

/// The kind whose items have sort key `sk` (`ORDER`).
fn kind_of(sk: &str) -> Option<ResourceKind> {
    ResourceKind::ALL.into_iter().find(|k| k.spec().key == sk)
}

/// The record's counts: the job's `redacted.<kind>` counts by kind.
fn record_counts(job: &LifecycleJob) -> std::collections::BTreeMap<String, u64> {
    job.counts
        .iter()
        .filter_map(|(name, n)| name.strip_prefix("redacted.").map(|k| (k.to_owned(), *n)))
        .collect()
}

#[async_trait]
impl JobSteps for ErasureSteps {
    async fn step(&self, job: &mut LifecycleJob) -> Result<Step, LifecycleError> {
        let JobKind::PersonErasure { erasure_id } = &job.kind else {
            return Err(LifecycleError::Permanent(
                "not an erasure of a person".into(),
            ));
        };
        let tenant = job.tenant_id.clone();
        let mut record = self
            .store
            .get_erasure(&tenant, erasure_id)
            .await?
            .ok_or_else(|| LifecycleError::Permanent("the erasure record is gone".into()))?;
        let matcher = self.matcher(&tenant, &record).await?;
        let mut state: WalkState = serde_json::from_value(job.state.clone()).unwrap_or_default();
        let phase = job.phase.clone();
        match phase.as_str() {
            "" | "wait" => {
                let now = Timestamp::now();
                let left = record.walk_after.unix_micros() - now.unix_micros();
                if left > 0 {
                    let left = Duration::from_micros(left.unsigned_abs());
                    tokio::time::sleep(left.min(self.max_wait)).await;
                    if left > self.max_wait {
                        job.phase = "wait".into();
                        return Ok(Step::More);
                    }
                }
                state = WalkState {
                    bound: Some(keys::change_position(Timestamp::now().unix_micros())),
                    ..WalkState::default()
                };
                job.phase = OBJECTS.into();
                job.checkpoint = None;
                record.status = ErasureStatus::Running;
                record.job_id = Some(job.id.clone());
            }
            OBJECTS | RETURNS => {
                let returns_only = phase == RETURNS;
                if self
                    .feed_page(job, &mut state, &matcher, &record, returns_only)
                    .await?
                {
                    state.shard = 0;
                    job.phase = if returns_only { LEGACY } else { RETURNS }.into();
                }
            }
            LEGACY => {
                if self.unfed_page(job, &mut state, &matcher, &record).await? {
                    job.phase = RECEIPTS.into();
                }
            }
            RECEIPTS => {
                if self.receipts_page(job, &matcher).await? {
                    let brands = self.store.list_brands(&tenant).await?;
                    state.brands = brands.into_iter().map(|b| b.id.to_string()).collect();
                    state.brand = 0;
                    job.phase = MESSAGES.into();
                }
            }
            MESSAGES => {
                if self.messages_page(job, &mut state, &matcher).await? {
                    job.phase = DONE.into();
                }
            }
            _ => {
                record.status = ErasureStatus::Completed;
                record.finished_at = Some(Timestamp::now());
                record.job_id = Some(job.id.clone());
                record.counts = record_counts(job);
                self.store.update_erasure_progress(&record).await?;
                tracing::info!(erasure = %record.id, job = %job.id, counts = ?record.counts, "erasure of a person completed");
                return Ok(Step::Done);
            }
        }
        job.state = serde_json::to_value(&state)
            .map_err(|e| LifecycleError::transient("encoding the walk's state", e))?;
        record.counts = record_counts(job);
        if record.status == ErasureStatus::Pending {
            record.status = ErasureStatus::Running;
        }
        record.job_id = Some(job.id.clone());
        self.store.update_erasure_progress(&record).await?;
        Ok(Step::More)
    }
}
