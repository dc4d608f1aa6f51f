//! The floor of the webhook lag: the least a queue-backed pipeline does per event, on the
//! same emulator at the same rate and delivery concurrency, with the same number of
//! consumers. Per event a `SendMessage` of a body of the queued event's size; consumers
//! receive batches of 10 and, for every message of a batch at once, a conditional `PutItem`
//! of an object-sized item (with GSI keys) and a conditional `UpdateItem` of a receipt, then
//! one `DeleteMessageBatch`. Lag = send → both writes done.
//!
//! Timed as Packr is ([`super::lag_stages`]): its calls by role (`floor-producer`,
//! `floor-consumer`, `floor-poller`), its batches, each message's writes as a pass.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;

use super::calls::{timed_config, CallLog, CpuMark};
use super::lag_stages::{StageBreakdown, FLOOR_ROLES};
use super::same_calls::RecordedCalls;
use super::verdicts::EventSpan;
use crate::stats::{BatchLog, BatchTime, CpuTimed, LatencyLog, Summary};
use crate::testing::fresh_local_stack;
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::queue::{EventQueue, SqsEventQueue};

#[derive(Debug, Clone, serde::Serialize)]
pub struct BareReport {
    pub events: usize,
    pub completed: usize,
    pub elapsed_s: f64,
    pub lag_ms: Summary,
    pub breakdown: StageBreakdown,
}

/// The floor's sizes and load.
#[derive(Debug, Clone)]
pub struct BareOptions {
    pub events: usize,
    pub rate: f64,
    pub concurrency: usize,
    pub consumers: usize,
    pub body_bytes: usize,
    pub item_bytes: usize,
    /// Re-send Packr's own requests instead of the bare ones ([`super::same_calls`]).
    pub same_calls: Option<Arc<RecordedCalls>>,
}

pub async fn bare_pipeline(sdk: &SdkConfig, options: BareOptions) -> anyhow::Result<BareReport> {
    let BareOptions {
        events,
        rate,
        concurrency,
        consumers,
        body_bytes,
        item_bytes,
        same_calls,
    } = options;
    if let Some(calls) = &same_calls {
        if calls.queued.is_empty() || calls.objects.is_empty() || calls.receipts.is_empty() {
            anyhow::bail!("no recorded Packr requests to re-send: {calls:?}");
        }
    }
    let written = Arc::new(AtomicUsize::new(0));
    let stack = fresh_local_stack(sdk).await;
    let queue_url = stack
        .resources
        .queue_url("WebhookQueue")
        .ok_or_else(|| anyhow::anyhow!("WebhookQueue was not provisioned"))?
        .to_owned();
    let table = stack.resources.table_name.clone();
    let calls = CallLog::default();
    let producer = aws_sdk_sqs::Client::new(&timed_config(sdk, FLOOR_ROLES.ingest, &calls));
    let poller = aws_sdk_sqs::Client::new(&timed_config(sdk, FLOOR_ROLES.poller, &calls));
    let ddb = aws_sdk_dynamodb::Client::new(&timed_config(sdk, FLOOR_ROLES.consumer, &calls));
    let log = LatencyLog::default();
    let sends = LatencyLog::default();
    let batches = BatchLog::default();
    let spans: Arc<Mutex<Vec<EventSpan>>> = Arc::default();
    let completed = Arc::new(AtomicUsize::new(0));
    let cpu = CpuMark::now();
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let mut workers = Vec::new();
    for _ in 0..consumers.max(1) {
        let (sqs, ddb, queue_url, table, log, completed, stopped) = (
            poller.clone(),
            ddb.clone(),
            queue_url.clone(),
            table.clone(),
            log.clone(),
            Arc::clone(&completed),
            stopped.clone(),
        );
        let (batches, spans) = (batches.clone(), Arc::clone(&spans));
        let (same_calls, written) = (same_calls.clone(), Arc::clone(&written));
        workers.push(tokio::spawn(async move {
            let blob = aws_sdk_dynamodb::primitives::Blob::new(vec![b'x'; item_bytes]);
            while !*stopped.borrow() {
                let mut receive = sqs
                    .receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1);
                if same_calls.is_some() {
                    // As the event source mapping asks (`crate::esm`).
                    receive = receive
                        .message_system_attribute_names(
                            aws_sdk_sqs::types::MessageSystemAttributeName::All,
                        )
                        .message_attribute_names("All");
                }
                let Ok(out) = receive.send().await else {
                    continue;
                };
                let messages = out.messages.unwrap_or_default();
                if messages.is_empty() {
                    continue;
                }
                let handed = Instant::now();
                let now_ms = chrono::Utc::now().timestamp_millis();
                let parsed: Vec<(String, i64)> = messages
                    .iter()
                    .map(|m| match &same_calls {
                        None => parse_body(m.body.as_deref().unwrap_or_default()),
                        Some(_) => (
                            m.message_id.clone().unwrap_or_default(),
                            m.attributes
                                .as_ref()
                                .and_then(|a| {
                                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                                })
                                .and_then(|t| t.parse().ok())
                                .unwrap_or(0),
                        ),
                    })
                    .collect();
                let applies = parsed.iter().map(|(id, sent_ms)| {
                    let (ddb, table, blob, log, spans) = (
                        ddb.clone(),
                        table.clone(),
                        blob.clone(),
                        log.clone(),
                        Arc::clone(&spans),
                    );
                    let same = same_calls
                        .clone()
                        .map(|c| (c, written.fetch_add(1, Ordering::Relaxed)));
                    async move {
                        let opened = Instant::now();
                        if let Some((calls, k)) = same {
                            let object = &calls.objects[k % calls.objects.len()];
                            let receipt = &calls.receipts[k % calls.receipts.len()];
                            let put = object.send(&ddb, &table, Some(format!("T#floorS#O#{id}"))).await;
                            let update = receipt
                                .send(&ddb, &table, Some(format!("T#floorS#EVT#{id}")))
                                .await;
                            if put.is_ok() && update.is_ok() {
                                log.record(
                                    (chrono::Utc::now().timestamp_millis() - sent_ms).max(0)
                                        as f64,
                                );
                            }
                            if let Ok(mut spans) = spans.lock() {
                                spans.push(EventSpan {
                                    event_id: id.clone(),
                                    opened,
                                    closed: Instant::now(),
                                });
                            }
                            return;
                        }
                        let put = ddb
                            .put_item()
                            .table_name(&table)
                            .item("pk", AttributeValue::S(format!("T#floor#ORDER#{id}")))
                            .item("sk", AttributeValue::S("ORDER".into()))
                            .item("gsi2pk", AttributeValue::S("T#floor#ORDER".into()))
                            .item("gsi2sk", AttributeValue::S(format!("{sent_ms}#{id}")))
                            .item("body", AttributeValue::B(blob))
                            .condition_expression("attribute_not_exists(pk)")
                            .send()
                            .await;
                        let update = ddb
                            .update_item()
                            .table_name(&table)
                            .key("pk", AttributeValue::S(format!("T#floor#EVT#{id}")))
                            .key("sk", AttributeValue::S("RECEIPT".into()))
                            .update_expression("SET #s = :s")
                            .condition_expression("attribute_not_exists(#s)")
                            .expression_attribute_names("#s", "state")
                            .expression_attribute_values(":s", AttributeValue::S("applied".into()))
                            .send()
                            .await;
                        if put.is_ok() && update.is_ok() {
                            log.record(
                                (chrono::Utc::now().timestamp_millis() - sent_ms).max(0) as f64
                            );
                        }
                        if let Ok(mut spans) = spans.lock() {
                            spans.push(EventSpan {
                                event_id: id.clone(),
                                opened,
                                closed: Instant::now(),
                            });
                        }
                    }
                });
                let ((), cpu_ms) = CpuTimed::new(async {
                    futures::future::join_all(applies).await;
                    // Packr's one stats write per batch.
                    if let Some(stats) = same_calls.as_ref().and_then(|c| c.others.first()) {
                        let _ = stats.send(&ddb, &table, None).await;
                    }
                })
                .await;
                batches.record(BatchTime {
                    started: handed,
                    ended: Instant::now(),
                    cpu_ms,
                    records: parsed
                        .iter()
                        .map(|(id, sent_ms)| (id.clone(), (now_ms - sent_ms).max(0) as f64))
                        .collect(),
                });
                let entries: Vec<_> = messages
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| {
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .set_receipt_handle(m.receipt_handle.clone())
                            .build()
                            .ok()
                    })
                    .collect();
                let n = entries.len();
                if sqs
                    .delete_message_batch()
                    .queue_url(&queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .is_ok()
                {
                    completed.fetch_add(n, Ordering::Relaxed);
                }
            }
        }));
    }

    // Producer: the simulator's pacing and delivery concurrency.
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let padding = "p".repeat(body_bytes.saturating_sub(40));
    let mut sent = Vec::with_capacity(events);
    for i in 0..events {
        if rate > 0.0 {
            tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into())
                .await;
        }
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let (sqs, queue_url, sends) = (producer.clone(), queue_url.clone(), sends.clone());
        let body = format!("{i} {} {padding}", chrono::Utc::now().timestamp_millis());
        let queued: Option<QueuedEvent> = same_calls
            .as_ref()
            .and_then(|c| serde_json::from_str(&c.queued[i % c.queued.len()]).ok());
        sent.push(tokio::spawn(async move {
            let at = Instant::now();
            match queued {
                // ingest's own SendMessage: body, message attributes, group.
                Some(event) => {
                    let _ = SqsEventQueue::new(sqs, queue_url).enqueue(&event).await;
                }
                None => {
                    let _ = sqs
                        .send_message()
                        .queue_url(queue_url)
                        .message_body(body)
                        .send()
                        .await;
                }
            }
            sends.record(at.elapsed().as_secs_f64() * 1000.0);
            drop(permit);
        }));
    }
    futures::future::join_all(sent).await;
    let deadline = Instant::now() + Duration::from_secs(1200);
    while completed.load(Ordering::Relaxed) < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu = cpu.since();
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    let done = completed.load(Ordering::Relaxed);
    let spans = spans.lock().map(|s| s.clone()).unwrap_or_default();
    let breakdown = StageBreakdown::of(
        done,
        elapsed_s,
        consumers.max(1),
        cpu,
        sends.summary(),
        &batches.all(),
        &spans,
        &calls,
    );
    Ok(BareReport {
        events,
        completed: done,
        elapsed_s,
        lag_ms: log.summary(),
        breakdown,
    })
}

/// `"<id> <sent ms> <padding>"` → (id, sent ms).
fn parse_body(body: &str) -> (String, i64) {
    let mut parts = body.split(' ');
    let id = parts.next().unwrap_or_default().to_owned();
    let sent = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    (id, sent)
}
