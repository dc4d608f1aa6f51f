//! Latency samples and their percentiles, for the gateway's summaries and the bench.

use std::sync::{Arc, Mutex};

/// Millisecond samples shared between tasks.
#[derive(Debug, Clone, Default)]
pub struct LatencyLog {
    samples: Arc<Mutex<Vec<f64>>>,
}

impl LatencyLog {
    pub fn record(&self, millis: f64) {
        if let Ok(mut samples) = self.samples.lock() {
            samples.push(millis);
        }
    }

    pub fn samples(&self) -> Vec<f64> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut samples) = self.samples.lock() {
            samples.clear();
        }
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.samples())
    }
}

/// Strings shared between tasks (event ids answered, in order).
#[derive(Debug, Clone, Default)]
pub struct IdLog {
    ids: Arc<Mutex<Vec<String>>>,
}

impl IdLog {
    pub fn record(&self, id: impl Into<String>) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.push(id.into());
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.ids.lock().map(|ids| ids.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.clear();
        }
    }
}

/// One invocation of a hosted function: wall time (ms) and records handed to it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Invocation {
    pub millis: f64,
    pub records: usize,
}

/// Invocations shared between tasks (the processor's batches, for the cost model).
#[derive(Debug, Clone, Default)]
pub struct InvocationLog {
    invocations: Arc<Mutex<Vec<Invocation>>>,
}

impl InvocationLog {
    pub fn record(&self, millis: f64, records: usize) {
        if let Ok(mut all) = self.invocations.lock() {
            all.push(Invocation { millis, records });
        }
    }

    pub fn all(&self) -> Vec<Invocation> {
        self.invocations
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut all) = self.invocations.lock() {
            all.clear();
        }
    }
}

/// One batch handed to a consumer (webhook-processor, or the floor's): when it started and
/// ended, the CPU its handler used, and per message its event id and how long it had been
/// queued (sent → handed over, ms).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTime {
    pub started: std::time::Instant,
    pub ended: std::time::Instant,
    pub cpu_ms: f64,
    pub records: Vec<(String, f64)>,
}

/// Batches shared between tasks.
#[derive(Debug, Clone, Default)]
pub struct BatchLog {
    batches: Arc<Mutex<Vec<BatchTime>>>,
}

impl BatchLog {
    pub fn record(&self, batch: BatchTime) {
        if let Ok(mut all) = self.batches.lock() {
            all.push(batch);
        }
    }

    pub fn all(&self) -> Vec<BatchTime> {
        self.batches
            .lock()
            .map(|all| all.clone())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut all) = self.batches.lock() {
            all.clear();
        }
    }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in ms.
pub fn thread_cpu_ms() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; the clock id is a
    // constant every Linux kernel since 2.6 knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return 0.0;
    }
    now.tv_sec as f64 * 1000.0 + now.tv_nsec as f64 / 1e6
}

/// A future that adds up the thread CPU time spent in each of its polls, whichever
/// worker thread polls it: the CPU a handler used, without the time it waited on I/O.
pub struct CpuTimed<F> {
    inner: std::pin::Pin<Box<F>>,
    cpu_ms: f64,
}

impl<F> CpuTimed<F> {
    pub fn new(inner: F) -> Self {
        Self {
            inner: Box::pin(inner),
            cpu_ms: 0.0,
        }
    }
}

impl<F: std::future::Future> std::future::Future for CpuTimed<F> {
    /// The inner output and the CPU ms it took.
    type Output = (F::Output, f64);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let before = thread_cpu_ms();
        let polled = self.inner.as_mut().poll(cx);
        self.cpu_ms += (thread_cpu_ms() - before).max(0.0);
        let cpu_ms = self.cpu_ms;
        polled.map(|output| (output, cpu_ms))
    }
}

/// Count, p50, p95, p99 and max of a set of millisecond samples (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        Self {
            count: sorted.len(),
            p50: percentile(&sorted, 50.0),
            p95: percentile(&sorted, 95.0),
            p99: percentile(&sorted, 99.0),
            max: sorted.last().copied().unwrap_or(0.0),
            mean: if sorted.is_empty() {
                0.0
            } else {
                sorted.iter().sum::<f64>() / sorted.len() as f64
            },
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1} ms p95={:.1} ms p99={:.1} ms max={:.1} ms",
            self.count, self.p50, self.p95, self.p99, self.max
        )
    }
}

/// Nearest-rank percentile of sorted samples; 0 for none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let summary = Summary::of(&samples);
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, 50.0);
        assert_eq!(summary.p95, 95.0);
        assert_eq!(summary.max, 100.0);
        assert_eq!(summary.mean, 50.5);
        assert_eq!(Summary::of(&[]).p95, 0.0);
        assert_eq!(Summary::of(&[7.0]).p50, 7.0);
    }

    #[tokio::test]
    async fn a_cpu_timed_future_counts_its_busy_polls_and_not_its_sleeps() {
        let (value, cpu_ms) = CpuTimed::new(async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut x = 0u64;
            for i in 0..2_000_000u64 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
            x
        })
        .await;
        assert!(value > 0);
        assert!(cpu_ms > 0.0, "busy work takes some CPU");
        assert!(cpu_ms < 50.0, "the 50 ms sleep is not CPU time: {cpu_ms}");
    }
}
