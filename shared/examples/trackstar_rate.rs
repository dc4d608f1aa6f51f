//! Measures the sustained GET rate the Trackstar client achieves on one access token
//! against the simulator at Trackstar's real limit (10 GET/s), with many callers at once.
//!
//! `cargo run -p packr-shared --example trackstar_rate -- [seconds] [concurrency]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use packr::domain::{ConnectionId, OrderId, TenantId};
use packr::secrets::InMemorySecretSource;
use packr::trackstar::{ConnectionCredentials, TrackstarClient, TrackstarConfig};
use secrecy::SecretString;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);

    let sim = trackstar_sim::spawn(trackstar_sim::SimConfig::default()).await?;
    let secrets = Arc::new(InMemorySecretSource::with("token", "tok_demo"));
    let config = TrackstarConfig {
        base_url: sim.base_url.clone(),
        ..TrackstarConfig::default()
    };
    let client = TrackstarClient::new(config, SecretString::from("sim_api_key"), secrets)?;
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
    let completions: Vec<Option<Duration>> = futures::stream::repeat(())
        .take_while(|_| futures::future::ready(started.elapsed() < deadline))
        .map(|_| {
            let (client, credentials, order_id) =
                (client.clone(), credentials.clone(), order_id.clone());
            async move {
                let ok = client.get_order(&credentials, &order_id).await.is_ok();
                ok.then(|| started.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut done: Vec<Duration> = completions.iter().flatten().copied().collect();
    done.sort();
    let failed = completions.len() - done.len();
    let busiest = done
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
    let requests = sim.requests();
    println!(
        "{} GETs in {:.2} s with {concurrency} callers: {:.2}/s sustained (limit 10/s); \
         busiest 1-s window {busiest}; failed {failed}; sim served 429 × {}",
        done.len(),
        elapsed.as_secs_f64(),
        done.len() as f64 / elapsed.as_secs_f64(),
        requests.served(429),
    );
    sim.shutdown().await;
    Ok(())
}
