//! Sync engine figures: a full sync of one connection (its object writes are the store's
//! set-every-attribute UpdateItems), a floor of bare conditional PutItems of the same items
//! (rebuilt from the recorded requests) on the same emulator at the same concurrency, then an
//! incremental sync after a number of changes; and the Trackstar client's sustained GET
//! rate on one token against Trackstar's limit. Used by `sync_bench` and `make bench`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};
use futures::stream::{self, StreamExt};
use packr::sync::{ResourceKind, SyncMode};
use trackstar_sim::{MutateRequest, MutationKind};

use super::units::object_kind;
use crate::recorder::{sim_gets as gets, to_attribute, Recorder};
use crate::seed::{DEMO_CONNECTION, DEMO_TENANT};
use crate::sync::SyncOptions;
use crate::testing::fresh_local_stack;
use crate::webhooks::{start, WebhookOptions};

#[derive(Debug, Clone, Copy)]
pub struct SyncSizes {
    pub orders: usize,
    pub products: usize,
    pub inventory: usize,
    pub inbound_shipments: usize,
    pub returns: usize,
    pub changes: usize,
    /// Bare conditional puts of the floor (at most the sync's own object puts, sampled
    /// evenly over them, so every kind in its share).
    pub floor_puts: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    pub orders: usize,
    pub products: usize,
    pub inventory: usize,
    pub inbound_shipments: usize,
    pub returns: usize,
    /// The resources the full sync asked for.
    pub resources: Vec<String>,
    pub pollers: usize,
    pub write_concurrency: usize,
    pub full_s: f64,
    pub full_drained: bool,
    pub records_stored: f64,
    pub records_per_s: f64,
    pub full_gets: u64,
    pub full_gets_per_s: f64,
    pub full_calls: BTreeMap<String, u64>,
    pub mean_item_bytes: f64,
    pub synced_puts: usize,
    /// The full sync's object puts by resource.
    pub synced_puts_by_kind: BTreeMap<String, usize>,
    /// (⌈size/1 KB⌉ × (table + projection-ALL GSIs with keys) + 1 (gsi5) per object write
    /// + 1 per state UpdateItem) / object writes.
    pub write_units_per_record: f64,
    pub floor_puts: usize,
    /// The floor's puts by the resource of the sync's item they copy.
    pub floor_puts_by_kind: BTreeMap<String, usize>,
    pub floor_s: f64,
    pub floor_puts_per_s: f64,
    pub floor_mean_item_bytes: f64,
    pub floor_write_units_per_put: f64,
    /// moto's `ConsumedCapacity` per floor put (a constant).
    pub floor_moto_units_per_put: f64,
    /// CPU seconds the emulator's process spent during the full sync and during the floor
    /// (`None` when its PID file is not found): both are bound by it, so their ratio says
    /// what each asked of it apart from the other load on the machine.
    pub full_moto_cpu_s: Option<f64>,
    pub floor_moto_cpu_s: Option<f64>,
    /// The second floor: the sync's own object UpdateItems re-sent bare on copies.
    pub floor_updates: usize,
    pub floor_updates_s: f64,
    pub floor_updates_per_s: f64,
    pub floor_updates_moto_cpu_s: Option<f64>,
    pub incremental_changes: usize,
    pub incremental_distinct: usize,
    pub incremental_s: f64,
    pub incremental_drained: bool,
    pub incremental_records: f64,
    pub incremental_gets: u64,
}

pub async fn run(sdk: &SdkConfig, sizes: SyncSizes) -> anyhow::Result<SyncReport> {
    let pollers = 3;
    let endpoint = std::env::var("AWS_ENDPOINT_URL")?;
    let stack = Arc::new(fresh_local_stack(sdk).await);
    let running = start(
        sdk,
        stack,
        WebhookOptions {
            pollers: 1,
            orders_per_connection: sizes.orders,
            products_per_connection: sizes.products,
            inventory_per_connection: sizes.inventory,
            inbound_shipments_per_connection: Some(sizes.inbound_shipments),
            returns_per_connection: Some(sizes.returns),
            sync: SyncOptions {
                pollers,
                worker_env: BTreeMap::from([("SYNC_CLOCK_SKEW_SECONDS".into(), "0".into())]),
                run_schedules: false,
                ..SyncOptions::default()
            },
            ..WebhookOptions::default()
        },
    )
    .await?;
    running.sim.set_webhook_target(None);
    let recorder = Recorder::new(&endpoint);
    let write_concurrency = running.sync.worker.config.write_concurrency;

    // 1. full sync
    running.sim.reset_requests();
    recorder.restart().await?;
    let moto_before = moto_cpu_s();
    let started = Instant::now();
    running
        .sync
        .request(
            DEMO_TENANT,
            DEMO_CONNECTION,
            &ResourceKind::ALL,
            SyncMode::Full,
            "bench",
        )
        .await?;
    let full_drained = running.sync.wait_drained(Duration::from_secs(3600)).await;
    let full_s = started.elapsed().as_secs_f64();
    let full_moto_cpu_s = moto_cpu_s()
        .zip(moto_before)
        .map(|(after, before)| after - before);
    let full_gets = gets(&running.sim);
    let full_writes = recorder.take().await?;
    let records_stored = running.sync.worker_metrics.total("sync.records");
    let (full_units, mean_item_bytes) = full_writes.units();
    let synced_puts = full_writes.puts.len();
    let mut synced_puts_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let objects: Vec<_> = full_writes
        .puts
        .iter()
        .zip(&full_writes.put_conditions)
        .zip(&full_writes.put_requests)
        .filter_map(|((item, condition), request)| {
            object_kind(item).map(|kind| (kind, item, condition, request))
        })
        .collect();
    for (kind, _, _, _) in &objects {
        *synced_puts_by_kind
            .entry(kind.spec().name.to_owned())
            .or_default() += 1;
    }
    // The job-state writes: UpdateItems that are not object writes.
    let state_writes = full_writes.updates.len() as u64;

    // 2. floor: bare conditional PutItems of the recorded items, same emulator, same
    //    concurrency (pollers × write concurrency); every kind's items in their share
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let table = running.stack.resources.table_name.clone();
    let floor_n = sizes.floor_puts.min(objects.len().max(1));
    let step = (objects.len() / floor_n.max(1)).max(1);
    let mut floor_puts_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let samples: Vec<(HashMap<String, AttributeValue>, Condition)> = objects
        .iter()
        .step_by(step)
        .take(floor_n)
        .enumerate()
        .map(|(i, (kind, item, condition, _))| {
            *floor_puts_by_kind
                .entry(kind.spec().name.to_owned())
                .or_default() += 1;
            let mut item: HashMap<String, AttributeValue> = item
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect();
            item.insert("pk".into(), AttributeValue::S(format!("T#floor#X#{i}")));
            (item, Condition::of(condition.as_ref()))
        })
        .collect();
    recorder.restart().await?;
    let moto_before = moto_cpu_s();
    let floor_started = Instant::now();
    let results: Vec<Result<f64, String>> = stream::iter(samples.into_iter().map(|(item, c)| {
        let dynamo = dynamo.clone();
        let table = table.clone();
        async move {
            dynamo
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(c.expression)
                .set_expression_attribute_names((!c.names.is_empty()).then_some(c.names))
                .set_expression_attribute_values((!c.values.is_empty()).then_some(c.values))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map(|out| {
                    out.consumed_capacity()
                        .and_then(|c| c.capacity_units())
                        .unwrap_or(0.0)
                })
                .map_err(|e| format!("{e:?}"))
        }
    }))
    .buffer_unordered(pollers * write_concurrency)
    .collect()
    .await;
    let floor_s = floor_started.elapsed().as_secs_f64();
    let floor_moto_cpu_s = moto_cpu_s()
        .zip(moto_before)
        .map(|(after, before)| after - before);
    let floor_ok = results.iter().filter(|r| r.is_ok()).count();
    let moto_units: f64 = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    let floor_writes = recorder.take().await?;
    let (floor_units, floor_item) = floor_writes.units();

    // 2b. second floor: the sync's own object UpdateItems, re-sent bare (same expression,
    //     condition, names and values) on copies, at the same concurrency: what the
    //     emulator asks of that request shape, apart from the sync around it
    let updates: Vec<UpdateRequest> = objects
        .iter()
        .step_by(step)
        .take(floor_n)
        .enumerate()
        .filter_map(|(i, (_, _, _, request))| UpdateRequest::of(request.as_ref()?, i))
        .collect();
    let moto_before = moto_cpu_s();
    let updates_started = Instant::now();
    let update_results: Vec<bool> = stream::iter(updates.into_iter().map(|u| {
        let dynamo = dynamo.clone();
        let table = table.clone();
        async move {
            dynamo
                .update_item()
                .table_name(table)
                .set_key(Some(u.key))
                .update_expression(u.expression)
                .condition_expression(u.condition)
                .set_expression_attribute_names(Some(u.names))
                .set_expression_attribute_values(Some(u.values))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .is_ok()
        }
    }))
    .buffer_unordered(pollers * write_concurrency)
    .collect()
    .await;
    let floor_updates_s = updates_started.elapsed().as_secs_f64();
    let floor_updates_moto_cpu_s = moto_cpu_s()
        .zip(moto_before)
        .map(|(after, before)| after - before);
    let floor_updates = update_results.iter().filter(|ok| **ok).count();

    // 3. incremental after `changes` changes
    let next_second = || async {
        let into = u64::from(chrono::Utc::now().timestamp_subsec_millis());
        tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
    };
    next_second().await;
    let mut made = 0;
    let mut changed = BTreeSet::new();
    let changes = sizes.changes;
    let tenth = changes / 10;
    let kinds = [
        (MutationKind::Order, changes - 4 * tenth),
        (MutationKind::Inventory, tenth),
        (MutationKind::Product, tenth),
        (MutationKind::InboundShipment, tenth),
        (MutationKind::Return, tenth),
    ];
    for (kind, count) in kinds {
        let outcome = running
            .sim
            .mutate(&MutateRequest {
                connection_id: DEMO_CONNECTION.to_owned(),
                kind,
                count,
            })
            .map_err(|e| anyhow::anyhow!("mutate: {e:?}"))?;
        made += outcome.changes.len();
        changed.extend(outcome.changes.into_iter().map(|(_, id)| id));
    }
    next_second().await;
    running.sim.reset_requests();
    let applied_before = running.sync.worker_metrics.total("sync.records");
    let fired = Instant::now();
    running.sync.fire_incremental().await?;
    let incremental_drained = running.sync.wait_drained(Duration::from_secs(600)).await;
    let incremental_s = fired.elapsed().as_secs_f64();
    let incremental_gets = gets(&running.sim);
    let incremental_records = running.sync.worker_metrics.total("sync.records") - applied_before;
    running.shutdown().await;

    Ok(SyncReport {
        orders: sizes.orders,
        products: sizes.products,
        inventory: sizes.inventory,
        inbound_shipments: sizes.inbound_shipments,
        returns: sizes.returns,
        resources: ResourceKind::ALL
            .iter()
            .map(|k| k.spec().name.to_owned())
            .collect(),
        pollers,
        write_concurrency,
        full_s,
        full_drained,
        records_stored,
        records_per_s: records_stored / full_s,
        full_gets,
        full_gets_per_s: full_gets as f64 / full_s,
        full_calls: full_writes.calls.clone(),
        mean_item_bytes,
        synced_puts,
        synced_puts_by_kind,
        write_units_per_record: (full_units + state_writes) as f64 / synced_puts.max(1) as f64,
        floor_puts: floor_ok,
        floor_puts_by_kind,
        floor_s,
        floor_puts_per_s: floor_ok as f64 / floor_s,
        floor_mean_item_bytes: floor_item,
        floor_write_units_per_put: floor_units as f64 / floor_writes.puts.len().max(1) as f64,
        floor_moto_units_per_put: moto_units / floor_ok.max(1) as f64,
        full_moto_cpu_s,
        floor_moto_cpu_s,
        floor_updates,
        floor_updates_s,
        floor_updates_per_s: floor_updates as f64 / floor_updates_s,
        floor_updates_moto_cpu_s,
        incremental_changes: made,
        incremental_distinct: changed.len(),
        incremental_s,
        incremental_drained,
        incremental_records,
        incremental_gets,
    })
}

/// The condition a floor put is sent with: the recorded put's own (the store's
/// only-if-newer), or `attribute_not_exists(pk)` when it had none.
struct Condition {
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn of(recorded: Option<&serde_json::Value>) -> Self {
        let Some(recorded) = recorded else {
            return Self {
                expression: "attribute_not_exists(pk)".to_owned(),
                names: HashMap::new(),
                values: HashMap::new(),
            };
        };
        Self {
            expression: recorded["ConditionExpression"]
                .as_str()
                .unwrap_or("attribute_not_exists(pk)")
                .to_owned(),
            names: recorded["ExpressionAttributeNames"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect(),
            values: recorded["ExpressionAttributeValues"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        }
    }
}

/// A recorded object UpdateItem re-sent on a copy (`T#floorU#<n>`).
struct UpdateRequest {
    key: HashMap<String, AttributeValue>,
    expression: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl UpdateRequest {
    fn of(request: &serde_json::Value, n: usize) -> Option<Self> {
        let mut key: HashMap<String, AttributeValue> = request["Key"]
            .as_object()?
            .iter()
            .map(|(k, v)| (k.clone(), to_attribute(v)))
            .collect();
        key.insert("pk".into(), AttributeValue::S(format!("T#floorU#X#{n}")));
        Some(Self {
            key,
            expression: request["UpdateExpression"].as_str()?.to_owned(),
            condition: request["ConditionExpression"].as_str()?.to_owned(),
            names: request["ExpressionAttributeNames"]
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect(),
            values: request["ExpressionAttributeValues"]
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        })
    }
}

/// CPU seconds (user + system, all threads) of the emulator's process so far, from
/// `/proc/<pid>/stat`; its PID is in `$MOTO_STATE_DIR/moto.pid` (`infra/scripts/moto.sh`).
fn moto_cpu_s() -> Option<f64> {
    let dir = std::env::var("MOTO_STATE_DIR").unwrap_or_else(|_| ".local/moto".to_owned());
    let pid = std::fs::read_to_string(std::path::Path::new(&dir).join("moto.pid")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    cpu_seconds(&stat)
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds (Linux's USER_HZ, 100 ticks).
fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// The Trackstar client's sustained GET rate on one access token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RateReport {
    pub seconds: f64,
    pub callers: usize,
    pub answered: usize,
    pub failed: usize,
    pub per_s: f64,
    /// Trackstar's limit per access token.
    pub limit_per_s: f64,
    pub busiest_window: usize,
    pub served_429: u64,
}

/// `callers` concurrent `GET /orders/{id}` through one `TrackstarClient` for `seconds`,
/// against the simulator at Trackstar's real limit.
pub async fn get_rate(seconds: u64, callers: usize) -> anyhow::Result<RateReport> {
    use packr::domain::{ConnectionId, OrderId, TenantId};
    use packr::secrets::InMemorySecretSource;
    use packr::trackstar::{ConnectionCredentials, TrackstarClient, TrackstarConfig};

    let sim = trackstar_sim::spawn(trackstar_sim::SimConfig::default()).await?;
    let limit_per_s = f64::from(sim.state().limits().get_rate_per_sec);
    let secrets = Arc::new(InMemorySecretSource::with("token", "tok_demo"));
    let config = TrackstarConfig {
        base_url: sim.base_url.clone(),
        ..TrackstarConfig::default()
    };
    let client = TrackstarClient::new(config, secrecy::SecretString::from("sim_api_key"), secrets)?;
    let credentials = ConnectionCredentials::new(
        TenantId::parse("tenant_demo")?,
        ConnectionId::parse("conn_demo")?,
        "token",
    );
    let order_id = OrderId::parse(
        sim.truth("conn_demo")
            .and_then(|t| t.orders.first().map(|o| o.id.clone()))
            .ok_or_else(|| anyhow::anyhow!("the simulator has no orders"))?,
    )?;
    let deadline = Duration::from_secs(seconds);
    let started = Instant::now();
    let completions: Vec<Option<Duration>> = stream::repeat(())
        .take_while(|_| futures::future::ready(started.elapsed() < deadline))
        .map(|_| {
            let (client, credentials, order_id) =
                (client.clone(), credentials.clone(), order_id.clone());
            async move {
                let ok = client.get_order(&credentials, &order_id).await.is_ok();
                ok.then(|| started.elapsed())
            }
        })
        .buffer_unordered(callers)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut done: Vec<Duration> = completions.iter().flatten().copied().collect();
    done.sort();
    let busiest_window = done
        .iter()
        .enumerate()
        .map(|(i, t)| {
            done[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    let served_429 = sim.requests().served(429);
    sim.shutdown().await;
    Ok(RateReport {
        seconds: elapsed,
        callers,
        answered: done.len(),
        failed: completions.len() - done.len(),
        per_s: done.len() as f64 / elapsed,
        limit_per_s,
        busiest_window,
        served_429,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_are_utime_and_stime_whatever_the_command_name() {
        let stat = "4242 (moto server) S 1 4242 4242 0 -1 4194560 9000 0 3 0 1234 566 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_seconds(stat), Some(18.0));
        assert_eq!(cpu_seconds("4242 (moto"), None);
    }
}
