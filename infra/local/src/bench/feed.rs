//! The changes feed's read cost (issue 21) as DynamoDB bills it: a tenant's whole feed read
//! with `DynamoStore::changes_page` in pages of 100, and beside each page the same four
//! shard queries re-issued from the page's position (the store does not report what its
//! queries returned), merged as the store merges them to check they are the page's. Per
//! shard query, an index read (always eventually consistent): 0.5 × ⌈bytes of the entries
//! returned / 4 KB⌉, at least 0.5; per page, the objects' strongly consistent
//! `BatchGetItem`: Σ ⌈item size / 4 KB⌉. Beside it, a listing page of the same size: a
//! `gsi2` query of 100 orders (projection ALL). Used by the `units` stage of `make bench`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use packr::changes::merge::{merge_shards, upper_bound, Entry, ShardRead, START};
use packr::changes::{ChangeAction, ChangeFeedConfig, ChangeFilter, CHANGE_SHARDS, WRITE_WINDOW};
use packr::domain::TenantId;
use packr::resource::ResourceKind;
use packr::store::dynamo::DynamoStore;
use packr::store::keys::{self, Index};
use packr::store::{PageLimit, PageRequest};

use super::units::{KindUnits, WebhookUnits};
use crate::recorder::{attribute_item_size, FEED_ENTRY_ATTRIBUTES};

/// Entries per page (the API's largest page).
pub const PAGE: u32 = 100;

/// What reading the whole feed cost.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedCost {
    /// The horizon of this read (short: the bench waits it out), and the service's default:
    /// the delay a consumer sees.
    pub horizon_s: f64,
    pub default_horizon_s: f64,
    pub write_window_s: f64,
    pub pages: usize,
    /// Pages that served a full `PAGE` changes.
    pub full_pages: usize,
    pub changes: usize,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub shard_queries: usize,
    /// Index entries the shard queries returned (up to `PAGE + 1` each).
    pub entries_returned: usize,
    pub entry_mean_bytes: f64,
    pub query_read_units: f64,
    pub batch_get_items: usize,
    pub object_mean_bytes: f64,
    pub batch_get_read_units: f64,
    /// Pages whose re-issued queries, merged, served other entries than the page did.
    pub pages_differing: usize,
    /// Wall time of `changes_page` per page (local emulator).
    pub page_ms: f64,
    /// The listing page beside it: orders newest first from `gsi2`.
    pub listing_items: usize,
    pub listing_bytes: usize,
    pub listing_read_units: f64,
}

impl FeedCost {
    pub fn read_units(&self) -> f64 {
        self.query_read_units + self.batch_get_read_units
    }

    pub fn per_page(&self, units: f64) -> f64 {
        units / self.pages.max(1) as f64
    }

    pub fn per_change(&self, units: f64) -> f64 {
        units / self.changes.max(1) as f64
    }

    pub fn listing_per_item(&self) -> f64 {
        self.listing_read_units / self.listing_items.max(1) as f64
    }
}

/// An eventually consistent read of `bytes`: 0.5 × ⌈bytes / 4 KB⌉, at least 0.5.
fn eventually_consistent(bytes: usize) -> f64 {
    0.5 * bytes.div_ceil(4096).max(1) as f64
}

/// Reads `tenant`'s whole feed after waiting out `horizon` (every write of the runs before
/// is then served).
pub async fn measure(
    store: &DynamoStore,
    tenant: &TenantId,
    horizon: Duration,
) -> anyhow::Result<FeedCost> {
    let config = ChangeFeedConfig::new(horizon, Duration::from_secs(7 * 86_400), WRITE_WINDOW)?;
    tokio::time::sleep(horizon + Duration::from_secs(1)).await;
    let mut cost = FeedCost {
        horizon_s: horizon.as_secs_f64(),
        default_horizon_s: packr::changes::DEFAULT_HORIZON.as_secs_f64(),
        write_window_s: WRITE_WINDOW.as_secs_f64(),
        ..FeedCost::default()
    };
    let limit = PageLimit::parse(Some(PAGE))?;
    let mut cursor = None;
    let mut after = START.to_owned();
    let mut entry_bytes = 0;
    let mut object_bytes = 0;
    let mut page_time = Duration::ZERO;
    loop {
        let started = Instant::now();
        let page = store
            .changes_page(
                tenant,
                &ChangeFilter::everything(),
                &PageRequest {
                    limit,
                    cursor: cursor.take(),
                },
                &config,
            )
            .await?;
        page_time += started.elapsed();
        cost.pages += 1;
        // The same four queries from the page's position up to its horizon.
        let upper = upper_bound(page.horizon.unix_micros());
        let mut reads = Vec::new();
        for shard in 0..CHANGE_SHARDS {
            let (read, bytes, returned) = read_shard(store, tenant, shard, &after, &upper).await?;
            cost.shard_queries += 1;
            cost.entries_returned += returned;
            entry_bytes += bytes;
            cost.query_read_units += eventually_consistent(bytes);
            reads.push(read);
        }
        let merged = merge_shards(reads, &after, &upper, PAGE as usize, |_| true);
        let served: Vec<String> = page
            .changes
            .iter()
            .map(|c| keys::change_sk(c.changed_at.unix_micros(), c.kind.spec().key, &c.id))
            .collect();
        let merged_sks: Vec<&String> = merged.entries.iter().map(|e| &e.sk).collect();
        if merged_sks != served.iter().collect::<Vec<_>>() {
            cost.pages_differing += 1;
        }
        // The objects' current items, as the page's BatchGetItem reads them.
        let (items, bytes, units) = batch_get(store, tenant, &merged.entries).await?;
        cost.batch_get_items += items;
        object_bytes += bytes;
        cost.batch_get_read_units += units;
        cost.changes += page.changes.len();
        cost.full_pages += usize::from(page.changes.len() == PAGE as usize);
        for change in &page.changes {
            match change.action {
                ChangeAction::Created => cost.created += 1,
                ChangeAction::Updated => cost.updated += 1,
                ChangeAction::Deleted => cost.deleted += 1,
            }
        }
        if let Some(last) = served.last() {
            after.clone_from(last);
        }
        if !page.has_more {
            break;
        }
        if cost.pages > 10_000 {
            anyhow::bail!("the feed did not end within 10,000 pages");
        }
        cursor = Some(page.next_cursor);
    }
    cost.entry_mean_bytes = entry_bytes as f64 / cost.entries_returned.max(1) as f64;
    cost.object_mean_bytes = object_bytes as f64 / cost.batch_get_items.max(1) as f64;
    cost.page_ms = page_time.as_secs_f64() * 1000.0 / cost.pages.max(1) as f64;
    let (items, bytes) = listing_page(store, tenant).await?;
    cost.listing_items = items;
    cost.listing_bytes = bytes;
    cost.listing_read_units = eventually_consistent(bytes);
    Ok(cost)
}

/// One shard's query as the store sends it (`PAGE + 1` entries from `after` to `upper`):
/// its entries, their bytes as stored in the index, how many it returned.
async fn read_shard(
    store: &DynamoStore,
    tenant: &TenantId,
    shard: u32,
    after: &str,
    upper: &str,
) -> anyhow::Result<(ShardRead, usize, usize)> {
    let index = Index::Changes;
    let out = store
        .client()
        .query()
        .table_name(store.table_name())
        .index_name(index.name())
        .key_condition_expression("#p = :p AND #s BETWEEN :after AND :upper")
        .expression_attribute_names("#p", index.pk())
        .expression_attribute_names("#s", index.sk())
        .expression_attribute_values(":p", AttributeValue::S(keys::change_pk(tenant, shard)))
        .expression_attribute_values(":after", AttributeValue::S(after.to_owned()))
        .expression_attribute_values(":upper", AttributeValue::S(upper.to_owned()))
        .scan_index_forward(true)
        .limit(PAGE as i32 + 1)
        .send()
        .await?;
    let items = out.items.unwrap_or_default();
    // The entry as the index stores it: only the keys and the projected attributes.
    let bytes = items
        .iter()
        .map(|item| {
            let entry: HashMap<String, AttributeValue> = item
                .iter()
                .filter(|(name, _)| FEED_ENTRY_ATTRIBUTES.contains(&name.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            attribute_item_size(&entry)
        })
        .sum();
    let text = |item: &HashMap<String, AttributeValue>, name: &str| {
        item.get(name).and_then(|v| v.as_s().ok()).cloned()
    };
    let entries = items
        .iter()
        .filter_map(|item| Entry::parse(&text(item, index.sk())?, text(item, "brand_id")))
        .collect();
    let stopped_at = out
        .last_evaluated_key
        .filter(|key| !key.is_empty())
        .and_then(|key| text(&key, index.sk()));
    Ok((
        ShardRead {
            entries,
            stopped_at,
        },
        bytes,
        items.len(),
    ))
}

/// The entries' objects read strongly consistent, 100 keys a call: (items, bytes, units as
/// billed: Σ ⌈item size / 4 KB⌉).
async fn batch_get(
    store: &DynamoStore,
    tenant: &TenantId,
    entries: &[Entry],
) -> anyhow::Result<(usize, usize, f64)> {
    let (mut items, mut bytes, mut units) = (0, 0, 0.0);
    for chunk in entries.chunks(100) {
        let keys = chunk
            .iter()
            .map(|e| {
                let key = e.kind.spec().key;
                HashMap::from([
                    (
                        keys::PK.to_owned(),
                        AttributeValue::S(keys::object_pk(tenant, key, &e.id)),
                    ),
                    (keys::SK.to_owned(), AttributeValue::S(key.to_owned())),
                ])
            })
            .collect();
        let out = store
            .client()
            .batch_get_item()
            .request_items(
                store.table_name(),
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()?,
            )
            .send()
            .await?;
        for item in out.responses.unwrap_or_default().into_values().flatten() {
            let size = attribute_item_size(&item);
            items += 1;
            bytes += size;
            units += size.div_ceil(4096).max(1) as f64;
        }
    }
    Ok((items, bytes, units))
}

/// A listing page of the same size: the tenant's newest 100 orders from `gsi2` (items,
/// bytes).
async fn listing_page(store: &DynamoStore, tenant: &TenantId) -> anyhow::Result<(usize, usize)> {
    let index = Index::ByTenantUpdated;
    let out = store
        .client()
        .query()
        .table_name(store.table_name())
        .index_name(index.name())
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", index.pk())
        .expression_attribute_values(
            ":p",
            AttributeValue::S(keys::by_tenant_pk(tenant, ResourceKind::Orders.spec().key)),
        )
        .scan_index_forward(false)
        .limit(PAGE as i32)
        .send()
        .await?;
    let items = out.items.unwrap_or_default();
    Ok((items.len(), items.iter().map(attribute_item_size).sum()))
}

/// The stage's feed section: the feed's read cost per page and per change beside a listing
/// page's, its write cost per change beside the webhook's write units per event (the mix,
/// `mix`, and every kind's run, `kinds`), and its delay.
pub fn markdown(feed: &FeedCost, mix: &WebhookUnits, kinds: &[KindUnits]) -> String {
    let mut all = mix.moves;
    for k in kinds {
        let m = k.units.moves;
        all.creations += m.creations;
        all.updates += m.updates;
        all.refused += m.refused;
        all.unknown += m.unknown;
        all.feed_move_units += m.feed_move_units;
        all.index_move_units += m.index_move_units;
    }
    let per_event = |x: u64| mix.per_event(x as f64);
    let webhook = mix.per_event(mix.write_units);
    let feed_writes = mix.moves.feed_units_per_change();
    let page = feed.per_page(feed.read_units());
    let listing = feed.listing_read_units;
    let mut md = format!(
        "\n### The changes feed (issue 21): units per change and per page, and its delay\n\n\
         After the runs above, the tenant's whole feed (every object at its last write: all the mix and the kinds' runs \
         stored; the stack stores none before) read with `DynamoStore::changes_page` in pages of {PAGE}, \
         every kind, a horizon of {:.0} s waited out first. Each page: {CHANGE_SHARDS} shard `Query`s of \
         `gsi5` ({} + 1 entries at most each), then one strongly consistent `BatchGetItem` of the \
         objects. Read units as DynamoDB bills them, from the same four queries re-issued from each page's \
         position (merged as the store merges them; pages whose merge differed from the page served: {}): \
         per query 0.5 × ⌈bytes of the entries returned / 4 KB⌉ (at least 0.5; an entry as stored is pk, \
         sk, chgpk, chgsk, brand_id, deleted_at, created_us), per object ⌈item size / 4 KB⌉. Beside it, \
         a listing page of the same size: {} orders newest first from `gsi2` (projection ALL), one \
         eventually consistent `Query`. Write units: the `gsi5` entry is written by the object's own \
         write (no other request): 1 unit for a creation, 2 for an update (DynamoDB bills the delete of \
         the old entry, which moves on every write); writes classified by the items as stored after \
         each run (created_us, written_at; refused writes touch no index).\n\n\
         | measure | figure | beside | ratio |\n|---|---|---|---|\n",
        feed.horizon_s,
        PAGE,
        feed.pages_differing,
        feed.listing_items,
    );
    md.push_str(&format!(
        "| delay: a change is served once it is older than the horizon | **{:.0} s** (default; this read {:.0} s) | the writers' window {:.0} s + 1 s at least; listings serve at once | |\n",
        feed.default_horizon_s, feed.horizon_s, feed.write_window_s,
    ));
    md.push_str(&format!(
        "| read units per feed page of {PAGE} changes ({} pages, {} full) | **{:.2}** ({:.2} queries + {:.2} BatchGetItem) | a listing page of {} orders: {:.2} ({} B) | {} |\n",
        feed.pages,
        feed.full_pages,
        page,
        feed.per_page(feed.query_read_units),
        feed.per_page(feed.batch_get_read_units),
        feed.listing_items,
        listing,
        feed.listing_bytes,
        super::ratio(page, listing),
    ));
    md.push_str(&format!(
        "| read units per change ({} changes: {} created, {} updated, {} deleted) | **{:.3}** | per listed order: {:.3} | {} |\n",
        feed.changes,
        feed.created,
        feed.updated,
        feed.deleted,
        feed.per_change(feed.read_units()),
        feed.listing_per_item(),
        super::ratio(feed.per_change(feed.read_units()), feed.listing_per_item()),
    ));
    md.push_str(&format!(
        "| of which: index entries ({} queries, {:.1} entries returned each, mean {:.0} B) | {:.3} | | |\n| of which: objects ({} read, mean {:.0} B) | {:.3} | | |\n",
        feed.shard_queries,
        feed.entries_returned as f64 / feed.shard_queries.max(1) as f64,
        feed.entry_mean_bytes,
        feed.per_change(feed.query_read_units),
        feed.batch_get_items,
        feed.object_mean_bytes,
        feed.per_change(feed.batch_get_read_units),
    ));
    md.push_str(&format!(
        "| write units per change, the feed's entry (the mix: {} created, {} updated, {} refused) | **{:.2}** | the webhook's write units per event (the mix, GSI entries included) {:.2} | {} |\n",
        mix.moves.creations,
        mix.moves.updates,
        mix.moves.refused,
        feed_writes,
        webhook,
        super::ratio(feed_writes, webhook),
    ));
    md.push_str(&format!(
        "| the same over the mix and every kind's run ({} created, {} updated, {} refused, {} not found) | {:.2} | | |\n",
        all.creations,
        all.updates,
        all.refused,
        all.unknown,
        all.feed_units_per_change(),
    ));
    let before = mix.per_event(mix.pre_feed_write_units());
    md.push_str(&format!(
        "| the webhook's write units per event (the mix) | **{:.2}** | the same requests billed as before the feed (items without chgpk, chgsk, created_us, brand_id; no gsi5): {:.2} | {} |\n",
        webhook,
        before,
        super::ratio(webhook, before),
    ));
    md.push_str(&format!(
        "| of which the object writes: table + GSI copies (mean item {:.0} B) + gsi5 | {:.2} + {:.2} + {:.2} | before the feed: {:.2} | |\n",
        mix.object_mean_bytes,
        mix.per_event(mix.object_units),
        mix.per_event(mix.index_units - mix.feed_index_units),
        mix.per_event(mix.feed_index_units),
        mix.per_event(mix.pre_feed_object_units),
    ));
    md.push_str(&format!(
        "| per webhook event (the mix): the gsi5 entries in the write units above (moves' deletes included since issue 22) / issue 21's estimate of the moves' deletes: gsi5, gsi1 + gsi2 | {:.2} / +{:.2}, +{:.2} | | |\n",
        mix.per_event(mix.feed_index_units),
        per_event(mix.moves.feed_move_units),
        per_event(mix.moves.index_move_units),
    ));
    md.push_str(&format!(
        "| `changes_page` wall time per page (local emulator) | {:.1} ms | | |\n",
        feed.page_ms
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_read_is_half_a_unit_per_started_4_kb_and_never_free() {
        assert_eq!(eventually_consistent(0), 0.5);
        assert_eq!(eventually_consistent(4096), 0.5);
        assert_eq!(eventually_consistent(4097), 1.0);
        assert_eq!(eventually_consistent(101 * 120), 1.5);
    }
}
