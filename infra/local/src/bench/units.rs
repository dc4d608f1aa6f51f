//! DynamoDB units of the webhook path as DynamoDB bills them, from the requests the
//! emulator recorded: for a mix of kinds, and for each kind's webhooks alone beside an
//! order's (issue 18: a new resource's webhook costs no more than an order's). Used by
//! the `units` stage of `make bench`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use packr::resource::ResourceKind;
use trackstar_sim::{MutateAction, MutationKind};

use super::feed::FeedCost;
use super::index_bill::{self, Bill, Layout, Outcome};
use super::moves::{classify_each, Moves, RecordedWrite, StoredState};
use super::verdicts::VerdictLog;
use super::webhook::{drive, LoadOptions, LoadReport};
use crate::recorder::{attribute_item_size, item_size, pre_feed_units, Writes};
use crate::testing::fresh_local_stack;
use crate::webhooks::{start, WebhookOptions};

/// DynamoDB write units of the webhook path, computed as DynamoDB bills them from the
/// requests the emulator recorded (moto's own `ConsumedCapacity` is a constant per call).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WebhookUnits {
    pub processed_events: f64,
    pub calls: BTreeMap<String, u64>,
    /// Object writes (the store's set-every-attribute `UpdateItem`s, or `PutItem`s): ⌈item
    /// size / 1 KB⌉ each, an update the larger of before and after (refused conditional
    /// writes are billed too; `index_bill`).
    pub object_puts: usize,
    /// The object writes by resource (a kind's run writes only its own).
    pub object_puts_by_kind: BTreeMap<String, usize>,
    pub object_units: f64,
    pub object_mean_bytes: f64,
    /// The index entries the object writes put, move and delete, each billed by its
    /// projection under `template.yaml`'s indexes (`index_bill`; the feed's `gsi5`
    /// included in `feed_index_units`).
    pub index_units: f64,
    /// The feed's `gsi5` entries: 1 unit per creation, 2 per update (it moves).
    pub feed_index_units: f64,
    /// The object writes billed under `template.yaml`'s indexes.
    pub bill: Bill,
    /// The same writes billed under the indexes before issue 22 (the cost model's
    /// reference design keeps them).
    pub reference_bill: Bill,
    /// The same writes under each option of `Layout::options` (name, status, bill).
    pub options: Vec<(String, String, Bill)>,
    /// Read units of a listing page of 50 orders under each option (tenant-wide, one brand),
    /// from the orders as stored after the writes.
    pub option_page_reads: Vec<(f64, f64)>,
    /// The object writes (table and GSI entries) billed as before the feed: the same items
    /// without its attributes (`recorder::FEED_ATTRIBUTES`), no `gsi5` entry.
    pub pre_feed_object_units: f64,
    /// The object writes classified by the stored items afterwards (creations, updates,
    /// refused) and the index moves' deletes, which `write_units` leaves out.
    pub moves: Moves,
    /// Receipt `UpdateItem`s: ⌈stored receipt size / 1 KB⌉ each (sizes read back).
    pub receipt_updates: u64,
    pub receipt_units: f64,
    pub receipt_mean_bytes: f64,
    /// Other `UpdateItem`s (webhook stats, rate budget): items under 1 KB, 1 unit each.
    pub other_updates: BTreeMap<String, u64>,
    /// Other `PutItem` and `DeleteItem` calls, 1 unit each.
    pub other_writes: u64,
    pub write_units: f64,
    /// Reads: `GetItem` (strongly consistent, 1 unit each under 4 KB), `Query`, `BatchGetItem` keys.
    pub read_units: f64,
    /// What moto's `ConsumedCapacity` added up to in the processor's metrics.
    pub moto_reported_write_units: f64,
}

impl WebhookUnits {
    pub fn per_event(&self, units: f64) -> f64 {
        units / self.processed_events.max(1.0)
    }

    /// The write units of the same requests with the object writes billed under the
    /// indexes before issue 22 (the reference design's).
    pub fn reference_write_units(&self) -> f64 {
        self.write_units - self.object_units - self.index_units
            + (self.reference_bill.table_units + self.reference_bill.total_index_units()) as f64
    }

    /// The write units of the same requests as billed before the feed (its attributes
    /// and `gsi5` entry taken out).
    pub fn pre_feed_write_units(&self) -> f64 {
        self.write_units - self.object_units - self.index_units + self.pre_feed_object_units
    }
}

fn kind_of(pk: &str) -> &'static str {
    if pk.contains("#EVT#") {
        "receipt"
    } else if pk.contains("#WHSTATS#") {
        "webhook stats"
    } else if pk.contains("#TRACKSTAR#") {
        "rate budget"
    } else {
        "other"
    }
}

/// The mirrored resource an item stores, from its key (`T#<tenant>#<KEY>#<id>`).
pub fn object_kind(item: &serde_json::Map<String, serde_json::Value>) -> Option<ResourceKind> {
    let pk = item.get("pk").and_then(|p| p["S"].as_str())?;
    ResourceKind::ALL
        .into_iter()
        .find(|kind| pk.contains(&format!("#{}#", kind.spec().key)))
}

pub async fn webhook_units(
    sdk: &SdkConfig,
    table: &str,
    recorded: &Writes,
    processed_events: f64,
    moto_reported_write_units: f64,
) -> anyhow::Result<WebhookUnits> {
    let calls = |op: &str| recorded.calls.get(op).copied().unwrap_or(0);
    let mut object_puts_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let objects: Vec<_> = recorded
        .puts
        .iter()
        .filter(|item| match object_kind(item) {
            Some(kind) => {
                *object_puts_by_kind
                    .entry(kind.spec().name.to_owned())
                    .or_default() += 1;
                true
            }
            None => false,
        })
        .collect();
    let sizes: Vec<usize> = objects.iter().map(|i| item_size(i)).collect();
    let pre_feed_object_units: u64 = objects.iter().map(|i| pre_feed_units(i)).sum();
    let mut updates: BTreeMap<String, u64> = BTreeMap::new();
    for pk in &recorded.updates {
        *updates.entry(kind_of(pk).to_owned()).or_default() += 1;
    }
    let receipt_updates = updates.remove("receipt").unwrap_or(0);
    // The receipts as stored decide their units: read a sample back.
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let mut receipt_bytes = Vec::new();
    for pk in recorded
        .updates
        .iter()
        .filter(|pk| pk.contains("#EVT#"))
        .take(200)
    {
        let item = ddb
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S("RECEIPT".into()))
            .send()
            .await?;
        if let Some(item) = item.item {
            receipt_bytes.push(attribute_item_size(&item));
        }
    }
    let receipt_unit = receipt_bytes
        .iter()
        .map(|b| b.div_ceil(1024))
        .max()
        .unwrap_or(1) as f64;
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    // Object writes sent as PutItems (older stores); the store's own are UpdateItems.
    let object_put_items = recorded.puts.len() - recorded.object_updates;
    let other_writes = calls("PutItem")
        .saturating_sub(object_put_items as u64)
        .saturating_add(calls("DeleteItem"));
    let (moves, outcomes) = moves(&ddb, table, &objects, &sizes).await?;
    let writes: Vec<(&serde_json::Map<String, serde_json::Value>, Outcome)> =
        objects.iter().copied().zip(outcomes).collect();
    let template = crate::template::Template::repo_default()?.table()?;
    let bills = bill_layouts(table, &writes, &template);
    let (bill, reference_bill) = (bills.built.clone(), bills.reference.clone());
    let object_units = bill.table_units;
    let index_units = bill.total_index_units();
    let feed_index_units = bill.index_units.get("gsi5").copied().unwrap_or(0);
    let receipt_units = receipt_updates as f64 * receipt_unit;
    let write_units = object_units as f64
        + index_units as f64
        + receipt_units
        + updates.values().sum::<u64>() as f64
        + other_writes as f64;
    let read_units = (calls("GetItem") + calls("Query") + recorded.batch_get_keys) as f64;
    Ok(WebhookUnits {
        processed_events,
        calls: recorded.calls.clone(),
        object_puts: objects.len(),
        object_puts_by_kind,
        object_units: object_units as f64,
        object_mean_bytes: mean(&sizes),
        index_units: index_units as f64,
        feed_index_units: feed_index_units as f64,
        bill,
        reference_bill,
        options: bills.options,
        option_page_reads: bills.page_reads,
        pre_feed_object_units: pre_feed_object_units as f64,
        moves,
        receipt_updates,
        receipt_units,
        receipt_mean_bytes: mean(&receipt_bytes),
        other_updates: updates,
        other_writes,
        write_units,
        read_units,
        moto_reported_write_units,
    })
}

/// The bills of one recording under the template's layout, the one before issue 22 and
/// every option, each going on from the states this process saw written before.
struct Bills {
    built: Bill,
    reference: Bill,
    options: Vec<(String, String, Bill)>,
    page_reads: Vec<(f64, f64)>,
}

/// The stored states each layout's bills go on from, by layout name: the kinds' runs
/// update objects the mix's run created (one process, one stack, tables named apart).
static STORED: std::sync::Mutex<BTreeMap<String, index_bill::Stored>> =
    std::sync::Mutex::new(BTreeMap::new());

fn bill_layouts(
    table: &str,
    writes: &[(&serde_json::Map<String, serde_json::Value>, Outcome)],
    template: &crate::template::TableSpec,
) -> Bills {
    let mut stored = STORED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut run = |layout: &Layout| {
        let states = stored.entry(layout.name.clone()).or_default();
        let bill = index_bill::bill(layout, table, writes, states);
        // A listing page of 50 orders from the tenant's and from a brand's index, as
        // the orders are stored now under this layout.
        let orders: Vec<&serde_json::Map<String, serde_json::Value>> = states
            .iter()
            .filter(|((t, pk), _)| t == table && pk.contains("#ORDER#"))
            .map(|(_, item)| item)
            .collect();
        let page = |name: &str| {
            layout
                .indexes
                .iter()
                .find(|i| i.pk == name)
                .map_or(0.0, |index| {
                    index_bill::listing_page_read_units(index, &orders, 50)
                })
        };
        (bill, (page("gsi2pk"), page("gsi1pk")))
    };
    let built = run(&Layout::of_template(template)).0;
    let mut options = Vec::new();
    let mut page_reads = Vec::new();
    // The first option is the layout before issue 22: the reference.
    for (layout, status) in Layout::options() {
        let (bill, reads) = run(&layout);
        options.push((layout.name.clone(), status.to_owned(), bill));
        page_reads.push(reads);
    }
    let reference = options
        .first()
        .map(|(_, _, bill)| bill.clone())
        .unwrap_or_default();
    Bills {
        built,
        reference,
        options,
        page_reads,
    }
}

/// The object writes classified by the objects' items as stored now (read back), and
/// what became of each.
async fn moves(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    objects: &[&serde_json::Map<String, serde_json::Value>],
    sizes: &[usize],
) -> anyhow::Result<(Moves, Vec<Outcome>)> {
    let number = |item: &serde_json::Map<String, serde_json::Value>, name: &str| {
        item.get(name)
            .and_then(|v| v["N"].as_str())
            .and_then(|n| n.parse::<i64>().ok())
    };
    let text = |item: &serde_json::Map<String, serde_json::Value>, name: &str| {
        item.get(name)
            .and_then(|v| v["S"].as_str())
            .map(str::to_owned)
    };
    // A write without its key, time or version is an unknown one (its object unnamed).
    let writes: Vec<RecordedWrite> = objects
        .iter()
        .zip(sizes)
        .map(|(item, size)| RecordedWrite {
            pk: text(item, "pk").unwrap_or_default(),
            written_us: number(item, "written_at").unwrap_or(i64::MIN),
            version: number(item, "updated_us").unwrap_or(i64::MIN),
            item_units: size.div_ceil(1024) as u64,
            version_sorted_indexes: ["gsi1pk", "gsi2pk"]
                .iter()
                .filter(|k| item.contains_key(**k))
                .count() as u64,
        })
        .collect();
    let mut stored = HashMap::new();
    for item in objects {
        let (Some(pk), Some(sk)) = (text(item, "pk"), text(item, "sk")) else {
            continue;
        };
        if stored.contains_key(&pk) {
            continue;
        }
        let got = ddb
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await?;
        let n = |name: &str| {
            got.item()
                .and_then(|i| i.get(name))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        if let (Some(created_us), Some(written_us)) = (n("created_us"), n("written_at")) {
            stored.insert(
                pk,
                StoredState {
                    created_us,
                    written_us,
                },
            );
        }
    }
    Ok(classify_each(&writes, &stored))
}

/// One kind's webhooks, measured alone.
#[derive(Debug, Clone, Copy)]
pub struct KindRun {
    /// The row's name, e.g. "inbound shipment".
    pub label: &'static str,
    pub kind: MutationKind,
    /// `None`: changed as its WMS changes it most; `Create` where the simulator seeds too
    /// few objects of the kind for changes at the run's rate to fall in different seconds.
    pub action: Option<MutateAction>,
    /// A resource issue 18 added: judged against the order's (the others are shown).
    pub new_resource: bool,
}

/// The reference (an order's webhooks, as in the mix) first, then every other kind.
pub const KIND_RUNS: [KindRun; 10] = [
    KindRun {
        label: "order",
        kind: MutationKind::Order,
        action: None,
        new_resource: false,
    },
    KindRun {
        label: "order, created",
        kind: MutationKind::Order,
        action: Some(MutateAction::Create),
        new_resource: false,
    },
    KindRun {
        label: "inventory item",
        kind: MutationKind::Inventory,
        action: None,
        new_resource: false,
    },
    KindRun {
        label: "product",
        kind: MutationKind::Product,
        action: None,
        new_resource: false,
    },
    KindRun {
        label: "inbound shipment",
        kind: MutationKind::InboundShipment,
        action: None,
        new_resource: true,
    },
    KindRun {
        label: "inbound shipment receipt",
        kind: MutationKind::InboundReceipt,
        action: None,
        new_resource: true,
    },
    KindRun {
        label: "return",
        kind: MutationKind::Return,
        action: None,
        new_resource: true,
    },
    KindRun {
        label: "warehouse, created",
        kind: MutationKind::Warehouse,
        action: Some(MutateAction::Create),
        new_resource: true,
    },
    KindRun {
        label: "shipping method, created",
        kind: MutationKind::ShippingMethod,
        action: Some(MutateAction::Create),
        new_resource: true,
    },
    KindRun {
        label: "bill, created",
        kind: MutationKind::Bill,
        action: Some(MutateAction::Create),
        new_resource: true,
    },
];

/// What one kind's run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KindUnits {
    pub label: String,
    pub new_resource: bool,
    pub events: usize,
    pub settled: bool,
    pub event_types: BTreeMap<String, usize>,
    pub trackstar_gets: u64,
    pub units: WebhookUnits,
}

impl KindUnits {
    pub fn write_units_per_event(&self) -> f64 {
        self.units.per_event(self.units.write_units)
    }
}

/// The mix, then each kind of `kinds` alone (`kind_events` changes each, at the mix's
/// rate and delivery concurrency), on one stack whose simulator seeds the mix's sizes; then
/// the tenant's whole changes feed read with a feed horizon of `feed_horizon`.
pub async fn run(
    sdk: &SdkConfig,
    verdicts: &VerdictLog,
    mix: &LoadOptions,
    kinds: &[KindRun],
    kind_events: usize,
    feed_horizon: Duration,
) -> anyhow::Result<(LoadReport, Vec<KindUnits>, FeedCost)> {
    let stack = Arc::new(fresh_local_stack(sdk).await);
    let running = start(
        sdk,
        stack,
        WebhookOptions {
            pollers: mix.pollers,
            orders_per_connection: mix.orders,
            inventory_per_connection: mix.inventory,
            products_per_connection: mix.products,
            inbound_shipments_per_connection: mix.inbound_shipments,
            returns_per_connection: mix.returns,
            ..WebhookOptions::default()
        },
    )
    .await?;
    let measured = async {
        let report = drive(sdk, &running, verdicts, mix).await?;
        let mut per_kind = Vec::with_capacity(kinds.len());
        for run in kinds {
            // A fresh second: no change of this run shares one with the last run's.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let options = LoadOptions {
                events: kind_events,
                changes: vec![(run.kind, run.action)],
                record: true,
                check_objects: false,
                ..mix.clone()
            };
            let r = drive(sdk, &running, verdicts, &options).await?;
            let units = r
                .units
                .ok_or_else(|| anyhow::anyhow!("{}: the run recorded no requests", run.label))?;
            per_kind.push(KindUnits {
                label: run.label.to_owned(),
                new_resource: run.new_resource,
                events: r.events,
                settled: r.settled,
                event_types: r.event_types,
                trackstar_gets: r.trackstar_gets,
                units,
            });
        }
        let store = running
            .gateway
            .store
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the local gateway has no store"))?;
        let tenant = packr::domain::TenantId::parse(running.demo.tenant_id.clone())?;
        let feed = super::feed::measure(&store, &tenant, feed_horizon).await?;
        Ok::<_, anyhow::Error>((report, per_kind, feed))
    }
    .await;
    running.shutdown().await;
    measured
}

/// The markdown table of the kinds' runs: each kind's units per event beside the first
/// row's (the order's) and their ratio; goal ≤ the order's for the new resources.
pub fn per_kind_table(kinds: &[KindUnits]) -> String {
    let Some(order) = kinds.first() else {
        return String::new();
    };
    let reference = order.write_units_per_event();
    let mut md = String::from(
        "| webhook events of one kind | events (types) | write units per event, GSI entries included | of which: object / GSI entries (of which the feed's gsi5) / receipt / stats / budget | mean object | the order's | ratio | goal ≤ the order's | the same writes under the indexes before issue 22 | writes: created / updated / refused |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for k in kinds {
        let u = &k.units;
        let per = |x: f64| u.per_event(x);
        let stats = u.other_updates.get("webhook stats").copied().unwrap_or(0) as f64;
        let budget = u.other_updates.get("rate budget").copied().unwrap_or(0) as f64;
        let figure = k.write_units_per_event();
        let types = k
            .event_types
            .iter()
            .map(|(t, n)| format!("`{t}` {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let goal = if std::ptr::eq(k, order) {
            "(reference)"
        } else if k.new_resource {
            super::verdict(figure <= reference + 1e-9)
        } else {
            "(not a new resource)"
        };
        md.push_str(&format!(
            "| {}{} | {:.0} ({types}) | **{:.2}** | {:.2} / {:.2} ({:.2}) / {:.2} / {:.2} / {:.2} | {:.0} B | {:.2} | {} | {goal} | {:.2} | {} / {} / {} |\n",
            k.label,
            if k.settled { "" } else { " (**not settled**)" },
            u.processed_events,
            figure,
            per(u.object_units),
            per(u.index_units),
            per(u.feed_index_units),
            per(u.receipt_units),
            per(stats),
            per(budget),
            u.object_mean_bytes,
            reference,
            super::ratio(figure, reference),
            per(u.reference_write_units()),
            u.bill.creations,
            u.bill.updates,
            u.bill.refused,
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pk: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::json!({"pk": {"S": pk}, "sk": {"S": "X"}})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn an_object_item_is_told_by_its_resource_key_and_other_items_are_not_objects() {
        assert_eq!(
            object_kind(&item("T#t1#INBOUND#ibs_1")),
            Some(ResourceKind::InboundShipments)
        );
        assert_eq!(
            object_kind(&item("T#t1#ORDER#ord_1")),
            Some(ResourceKind::Orders)
        );
        assert_eq!(
            object_kind(&item("T#t1#SHIPMETHOD#sm_1")),
            Some(ResourceKind::ShippingMethods)
        );
        assert_eq!(object_kind(&item("T#t1#EVT#evt_1")), None);
        assert_eq!(object_kind(&item("T#t1#WHSTATS#2026")), None);
    }

    fn units(write_units: f64, events: f64) -> KindUnits {
        KindUnits {
            label: format!("{write_units}"),
            new_resource: true,
            events: events as usize,
            settled: true,
            event_types: BTreeMap::new(),
            trackstar_gets: 0,
            units: WebhookUnits {
                processed_events: events,
                write_units,
                ..WebhookUnits::default()
            },
        }
    }

    #[test]
    fn each_new_kind_is_judged_against_the_first_row_the_order() {
        // Given an order at 5 units per event, new kinds at 4 and 6, an older kind at 6
        let older = KindUnits {
            new_resource: false,
            ..units(600.0, 100.0)
        };
        let rows = [
            units(500.0, 100.0),
            units(400.0, 100.0),
            units(600.0, 100.0),
            older,
        ];
        // When the table is written
        let md = per_kind_table(&rows);
        let lines: Vec<&str> = md.lines().skip(2).collect();
        // Then the order is the reference, the cheaper new kind meets the goal, the dearer
        // not, and the older kind shows its ratio without a verdict
        assert_eq!(lines.len(), 4);
        assert!(lines[0].contains("(reference)"), "{}", lines[0]);
        assert!(lines[1].contains("| 0.80× | met |"), "{}", lines[1]);
        assert!(lines[2].contains("| 1.20× | **not met** |"), "{}", lines[2]);
        assert!(
            lines[3].contains("| 1.20× | (not a new resource) |"),
            "{}",
            lines[3]
        );
    }
}
