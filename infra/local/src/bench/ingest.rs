//! Webhook ingest's acknowledgement against its floor, side by side on one emulator: the
//! simulator delivers signed webhooks one at a time to the gateway's function URL (no
//! pollers, so the queue only fills), then the very message bodies ingest queued are sent
//! again with a bare SQS `SendMessage` (no attributes) to the same queue, at the same
//! pace. Rounds alternate the two so that drift of the emulator hits both. Then what a
//! refused request costs the same ingest instance (`rejections`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use trackstar_sim::{DeliveryOptions, MutateRequest, MutationKind};

use super::rejections::{self, RejectionReport};
use crate::stats::{CpuTimed, LatencyLog, Summary};
use crate::testing::fresh_local_stack;
use crate::webhooks::{current_signing_secret, start, WebhookOptions, WebhookStack};

#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub events: usize,
    pub rounds: usize,
    pub rate: f64,
    /// Request → answer of each delivery at the gateway's function URL (ms).
    pub ack_ms: Summary,
    /// A bare `SendMessage` of the same body to the same queue (ms).
    pub floor_ms: Summary,
    /// Thread CPU time of ingest's handler per delivery (ms).
    pub cpu_ms: Summary,
    /// Thread CPU time of the bare `SendMessage` call (SDK signing, serialising, I/O) (ms).
    pub floor_cpu_ms: Summary,
    pub body_mean_bytes: f64,
    pub delivered: u64,
    pub failed_attempts: u64,
    /// CPU per unsigned, badly signed, stale and oversize request, and its floor.
    pub rejections: RejectionReport,
}

/// `rejections` requests of each refused kind (see `rejections`) follow the deliveries.
pub async fn run(
    sdk: &SdkConfig,
    events: usize,
    rounds: usize,
    rate: f64,
    rejections: usize,
) -> anyhow::Result<IngestReport> {
    let stack = Arc::new(fresh_local_stack(sdk).await);
    let running = start(
        sdk,
        stack,
        WebhookOptions {
            pollers: 0,
            orders_per_connection: 400,
            ..WebhookOptions::default()
        },
    )
    .await?;
    let report = measure(&running, events, rounds.max(1), rate, sdk, rejections).await;
    running.shutdown().await;
    report
}

async fn measure(
    running: &WebhookStack,
    events: usize,
    rounds: usize,
    rate: f64,
    sdk: &SdkConfig,
    rejected_per_kind: usize,
) -> anyhow::Result<IngestReport> {
    running.sim.set_webhook_options(DeliveryOptions {
        concurrency: 1,
        ..DeliveryOptions::default()
    });
    let per_round = events.div_ceil(rounds);
    let floor = LatencyLog::default();
    let floor_cpu = LatencyLog::default();
    let mut body_bytes = 0usize;
    let mut bodies_sent = 0usize;
    let kinds = [
        MutationKind::Order,
        MutationKind::Inventory,
        MutationKind::Product,
    ];
    // Warm both paths (connection pools, the ingest instance's route cache).
    raise(running, &kinds, 5, rate).await?;
    running
        .sim
        .wait_webhooks_idle(Duration::from_secs(60))
        .await;
    let warm = drain(running, 5).await?;
    send_bare(
        running,
        &warm,
        rate,
        &LatencyLog::default(),
        &LatencyLog::default(),
    )
    .await?;
    drain(running, warm.len()).await?;
    running.gateway.ack_latency.clear();
    running.gateway.ingest_cpu.clear();

    for _ in 0..rounds {
        raise(running, &kinds, per_round, rate).await?;
        if !running
            .sim
            .wait_webhooks_idle(Duration::from_secs(600))
            .await
        {
            anyhow::bail!("webhooks were still pending after 600 s");
        }
        let bodies = drain(running, per_round).await?;
        body_bytes += bodies.iter().map(String::len).sum::<usize>();
        bodies_sent += bodies.len();
        send_bare(running, &bodies, rate, &floor, &floor_cpu).await?;
        drain(running, bodies.len()).await?;
    }
    let stats = running.sim.webhook_stats();
    let body_mean_bytes = body_bytes as f64 / bodies_sent.max(1) as f64;
    let deps = running
        .gateway
        .webhook_ingest
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the gateway hosts no webhook-ingest"))?;
    let secret = current_signing_secret(sdk, &running.stack).await?;
    let rejections = rejections::measure(
        &deps,
        &secret,
        body_mean_bytes.round() as usize,
        rejected_per_kind,
    )
    .await?;
    Ok(IngestReport {
        events: running.gateway.ack_latency.samples().len(),
        rounds,
        rate,
        ack_ms: running.gateway.ack_latency.summary(),
        floor_ms: floor.summary(),
        cpu_ms: running.gateway.ingest_cpu.summary(),
        floor_cpu_ms: floor_cpu.summary(),
        body_mean_bytes,
        delivered: stats.delivered,
        failed_attempts: stats.failed_attempts,
        rejections,
    })
}

async fn raise(
    running: &WebhookStack,
    kinds: &[MutationKind],
    n: usize,
    rate: f64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    for i in 0..n {
        if rate > 0.0 {
            tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into())
                .await;
        }
        running
            .sim
            .mutate(&MutateRequest {
                connection_id: running.demo.connection_id.clone(),
                kind: kinds[i % kinds.len()],
                count: 1,
            })
            .map_err(|e| anyhow::anyhow!("mutate: {e:?}"))?;
    }
    Ok(())
}

/// Receives and deletes up to `n` messages of the webhook queue; their bodies.
async fn drain(running: &WebhookStack, n: usize) -> anyhow::Result<Vec<String>> {
    let mut bodies = Vec::with_capacity(n);
    let mut empty = 0;
    while bodies.len() < n && empty < 3 {
        let out = running
            .sqs
            .receive_message()
            .queue_url(&running.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        let mut entries = Vec::new();
        for (i, message) in messages.into_iter().enumerate() {
            if let Some(body) = message.body {
                bodies.push(body);
            }
            if let Some(handle) = message.receipt_handle {
                entries.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        running
            .sqs
            .delete_message_batch()
            .queue_url(&running.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(bodies)
}

async fn send_bare(
    running: &WebhookStack,
    bodies: &[String],
    rate: f64,
    latency: &LatencyLog,
    cpu: &LatencyLog,
) -> anyhow::Result<()> {
    let started = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        if rate > 0.0 {
            tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into())
                .await;
        }
        let sent = Instant::now();
        let (result, cpu_ms) = CpuTimed::new(
            running
                .sqs
                .send_message()
                .queue_url(&running.queue_url)
                .message_body(body)
                .send(),
        )
        .await;
        result?;
        latency.record(sent.elapsed().as_secs_f64() * 1000.0);
        cpu.record(cpu_ms);
    }
    Ok(())
}
