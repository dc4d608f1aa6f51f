//! The webhook pipeline under load: the simulator raises changes at a set rate and
//! delivers their webhooks (optionally several at once) to the gateway's function URL;
//! the pollers feed webhook-processor. Used by `webhook_bench` and by the `make bench`
//! stages (ack, lag, units).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use trackstar_sim::{DeliveryOptions, MutateAction, MutateRequest, MutationKind, WebhookStats};

pub use super::bare::{bare_pipeline, BareOptions, BareReport};
use super::calls::{CallLog, CpuMark};
use super::lag_stages::StageBreakdown;
use super::units::{webhook_units, WebhookUnits};
use super::verdicts::{account, Accounting, VerdictLog};
use crate::recorder::Recorder;
use crate::stats::{Invocation, Summary};
use crate::testing::fresh_local_stack;
use crate::webhooks::{start, WebhookOptions, WebhookStack};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub events: usize,
    /// Changes raised per second; 0 raises them back to back.
    pub rate: f64,
    /// Webhook deliveries in flight at once (the simulator's `DeliveryOptions.concurrency`).
    pub concurrency: usize,
    pub pollers: usize,
    pub orders: usize,
    pub inventory: usize,
    pub products: usize,
    /// Seeded per connection; `None`: the simulator's few (a tenth of the orders, 1 to 10).
    pub inbound_shipments: Option<usize>,
    pub returns: Option<usize>,
    /// The changes raised, in turn: a kind, changed as its WMS does most (`None`) or
    /// created/updated as the action says.
    pub changes: Vec<(MutationKind, Option<MutateAction>)>,
    /// Record the emulator's requests (for DynamoDB units); slows moto a little.
    pub record: bool,
    /// Afterwards, compare the stored orders, inventory and products with the simulator's.
    pub check_objects: bool,
}

/// Today's mix: an order, a stock level, a product, in turn.
pub fn order_inventory_product() -> Vec<(MutationKind, Option<MutateAction>)> {
    vec![
        (MutationKind::Order, None),
        (MutationKind::Inventory, None),
        (MutationKind::Product, None),
    ]
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            events: 1000,
            rate: 0.0,
            concurrency: 1,
            pollers: 4,
            orders: 400,
            inventory: 20,
            products: 20,
            inbound_shipments: None,
            returns: None,
            changes: order_inventory_product(),
            record: false,
            check_objects: true,
        }
    }
}

/// What one load run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub events: usize,
    pub rate: f64,
    pub concurrency: usize,
    pub pollers: usize,
    pub settled: bool,
    /// The webhooks the changes raised, by event type.
    pub event_types: BTreeMap<String, usize>,
    /// First change raised → queue drained.
    pub elapsed_s: f64,
    pub raise_s: f64,
    pub webhooks: WebhookStats,
    /// Request → answer at the gateway's function URL (ms).
    pub ack_ms: Summary,
    /// CPU time of ingest's handler per delivery (ms).
    pub ingest_cpu_ms: Summary,
    /// Receipt at ingest → verdict recorded (`webhook.lag_ms`), per finished event (ms).
    pub lag_ms: Summary,
    /// Receipt at ingest → the processor's batch done (ms).
    pub batch_done_ms: Summary,
    pub applied: f64,
    pub stale: f64,
    pub ignored: f64,
    pub failures: f64,
    pub accounting: Accounting,
    /// Processor invocations (batches): mean wall ms and mean records.
    pub invocations: usize,
    pub invocation_mean_ms: f64,
    pub invocation_mean_records: f64,
    pub trackstar_gets: u64,
    pub objects_checked: usize,
    pub objects_differing: usize,
    /// DynamoDB units as billed, when recorded.
    pub units: Option<WebhookUnits>,
    /// Where the time went, stage by stage (first raised → settled).
    pub breakdown: StageBreakdown,
}

impl LoadReport {
    pub fn processed(&self) -> f64 {
        self.applied + self.stale + self.ignored
    }
}

/// Starts a fresh stack, runs the load, checks the stored objects, stops the stack.
pub async fn run(
    sdk: &SdkConfig,
    verdicts: &VerdictLog,
    options: &LoadOptions,
) -> anyhow::Result<LoadReport> {
    let stack = Arc::new(fresh_local_stack(sdk).await);
    let running = start(
        sdk,
        stack,
        WebhookOptions {
            pollers: options.pollers,
            orders_per_connection: options.orders,
            inventory_per_connection: options.inventory,
            products_per_connection: options.products,
            inbound_shipments_per_connection: options.inbound_shipments,
            returns_per_connection: options.returns,
            calls: Some(CallLog::default()),
            ..WebhookOptions::default()
        },
    )
    .await?;
    let report = drive(sdk, &running, verdicts, options).await;
    running.shutdown().await;
    report
}

/// Runs the load on a started stack.
pub async fn drive(
    sdk: &SdkConfig,
    running: &WebhookStack,
    verdicts: &VerdictLog,
    options: &LoadOptions,
) -> anyhow::Result<LoadReport> {
    running.sim.set_webhook_options(DeliveryOptions {
        concurrency: options.concurrency.max(1),
        ..DeliveryOptions::default()
    });
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let recorder = Recorder::new(&endpoint);
    if options.record {
        recorder.restart().await?;
    }
    running.sim.reset_requests();
    running.gateway.ack_latency.clear();
    running.gateway.ingest_cpu.clear();
    running.gateway.done_lag.clear();
    running.gateway.acked.clear();
    running.gateway.processor_invocations.clear();
    running.batches.clear();
    if let Some(calls) = &running.calls {
        calls.clear();
    }
    verdicts.clear();
    let metrics = running.processor_metrics();
    let before = |name: &str| metrics.total(name);
    let (applied0, stale0, ignored0, failures0) = (
        before("webhook.applied"),
        before("webhook.stale"),
        before("webhook.ignored"),
        before("webhook.failures"),
    );
    let lag_seen = metrics.values("webhook.lag_ms").len();

    let cpu = CpuMark::now();
    let started = Instant::now();
    let changes = if options.changes.is_empty() {
        order_inventory_product()
    } else {
        options.changes.clone()
    };
    let mut raised = 0;
    let mut event_types: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = 0;
    while raised < options.events {
        if options.rate > 0.0 {
            let due = started + Duration::from_secs_f64(raised as f64 / options.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let (kind, action) = changes[i % changes.len()];
        let request = MutateRequest {
            connection_id: running.demo.connection_id.clone(),
            kind,
            count: 1,
        };
        let outcome = match action {
            None => running.sim.mutate(&request),
            Some(action) => running.sim.mutate_with(&request, action),
        }
        .map_err(|e| anyhow::anyhow!("mutate: {e:?}"))?;
        raised += outcome.changes.len();
        for (event_type, _) in outcome.changes {
            *event_types.entry(event_type).or_default() += 1;
        }
        i += 1;
        if i > 4 * options.events + 100 {
            anyhow::bail!("the simulator made {raised} changes in {i} mutations of {changes:?}");
        }
    }
    let raise_s = started.elapsed().as_secs_f64();
    let settled = settle(running, verdicts, Duration::from_secs(1200)).await;
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu = cpu.since();

    let metrics = running.processor_metrics();
    let lag: Vec<f64> = metrics
        .values("webhook.lag_ms")
        .into_iter()
        .skip(lag_seen)
        .collect();
    let invocations: Vec<Invocation> = running.gateway.processor_invocations.all();
    let n = invocations.len().max(1) as f64;
    let mut report = LoadReport {
        events: raised,
        rate: options.rate,
        concurrency: options.concurrency,
        pollers: options.pollers,
        settled,
        event_types,
        elapsed_s,
        raise_s,
        webhooks: running.sim.webhook_stats(),
        ack_ms: running.gateway.ack_latency.summary(),
        ingest_cpu_ms: running.gateway.ingest_cpu.summary(),
        lag_ms: Summary::of(&lag),
        batch_done_ms: running.gateway.done_lag.summary(),
        applied: metrics.total("webhook.applied") - applied0,
        stale: metrics.total("webhook.stale") - stale0,
        ignored: metrics.total("webhook.ignored") - ignored0,
        failures: metrics.total("webhook.failures") - failures0,
        accounting: account(&running.gateway.acked.ids(), &verdicts.snapshot()),
        invocations: invocations.len(),
        invocation_mean_ms: invocations.iter().map(|i| i.millis).sum::<f64>() / n,
        invocation_mean_records: invocations.iter().map(|i| i.records as f64).sum::<f64>() / n,
        trackstar_gets: crate::recorder::sim_gets(&running.sim),
        objects_checked: 0,
        objects_differing: 0,
        units: None,
        breakdown: StageBreakdown::of(
            raised,
            elapsed_s,
            options.pollers,
            cpu,
            running.gateway.ack_latency.summary(),
            &running.batches.all(),
            &verdicts.spans(),
            running.calls.as_ref().unwrap_or(&CallLog::default()),
        ),
    };
    if options.record {
        let recorded = recorder.take().await?;
        let moto_reported = metrics.total("dynamodb.write_units");
        report.units = Some(
            webhook_units(
                sdk,
                &running.stack.resources.table_name,
                &recorded,
                report.processed(),
                moto_reported,
            )
            .await?,
        );
    }
    if options.check_objects {
        let (checked, differing) = differing_objects(sdk, running).await?;
        report.objects_checked = checked;
        report.objects_differing = differing;
    }
    Ok(report)
}

/// Waits until the simulator has delivered everything, every event ingest acknowledged has
/// a verdict (or the queue is empty, checked every 2 s), and the queue is drained; false on
/// timeout. The verdicts are counted in this
/// process (as the floor counts its completions), so the emulator is asked for the queue's
/// depth only once they are all in, not every 50 ms of the run: those `GetQueueAttributes`
/// calls walk the whole queue in moto and would take its CPU from the pipeline.
async fn settle(running: &WebhookStack, verdicts: &VerdictLog, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    if !running.sim.wait_webhooks_idle(timeout).await {
        return false;
    }
    for round in 0u64.. {
        let tallies = verdicts.snapshot();
        let acked = running.gateway.acked.ids();
        if acked
            .iter()
            .all(|id| tallies.get(id).is_some_and(|t| t.finished > 0))
        {
            break;
        }
        // An event failed for good has no verdict: every 2 s the queue is asked anyway.
        if round % 40 == 39
            && crate::esm::queue_depths(&running.sqs, &running.queue_url)
                .await
                .is_ok_and(|depth| depth.is_empty())
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    running.wait_settled(left).await
}

/// Stored objects compared with the simulator's last state: (checked, differing).
pub async fn differing_objects(
    sdk: &SdkConfig,
    running: &WebhookStack,
) -> anyhow::Result<(usize, usize)> {
    use packr::domain::{InventoryItem, Order, Product, TenantId, Timestamp};
    use packr::store::SyncedStore;
    let store = packr::store::dynamo::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        running.stack.resources.table_name.clone(),
        packr::store::CursorCodec::new(vec![7; 32]),
    );
    let tenant = TenantId::parse(running.demo.tenant_id.clone())?;
    let truth = running
        .sim
        .truth(&running.demo.connection_id)
        .ok_or_else(|| anyhow::anyhow!("the simulator has no such connection"))?;
    // A few reads at a time: the emulator answers one by one, but the waits overlap.
    use futures::stream::{self, StreamExt};
    const AT_ONCE: usize = 8;
    let (store, tenant) = (&store, &tenant);
    let orders = stream::iter(&truth.orders)
        .map(|order| async move {
            let stored: Option<Order> = SyncedStore::get(store, tenant, &order.id).await?;
            Ok::<_, anyhow::Error>(stored.map(|stored| {
                stored.status.as_str() != order.status
                    || stored.updated_date != Timestamp::from_datetime(order.updated_date)
            }))
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>();
    let inventory = stream::iter(&truth.inventory)
        .map(|item| async move {
            let stored: Option<InventoryItem> = SyncedStore::get(store, tenant, &item.id).await?;
            Ok::<_, anyhow::Error>(stored.map(|stored| {
                stored.quantities.onhand != item.onhand
                    || stored.updated_date != Timestamp::from_datetime(item.updated_date)
            }))
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>();
    let products = stream::iter(&truth.products)
        .map(|product| async move {
            let stored: Option<Product> = SyncedStore::get(store, tenant, &product.id).await?;
            Ok::<_, anyhow::Error>(stored.map(|stored| {
                stored.name.as_deref() != Some(product.name.as_str())
                    || stored.updated_date != Timestamp::from_datetime(product.updated_date)
            }))
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>();
    let (mut checked, mut differ) = (0, 0);
    for result in orders
        .await
        .into_iter()
        .chain(inventory.await)
        .chain(products.await)
    {
        if let Some(differs) = result? {
            checked += 1;
            differ += usize::from(differs);
        }
    }
    Ok((checked, differ))
}
