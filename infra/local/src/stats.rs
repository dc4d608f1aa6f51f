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

/// Count, p50, p95, p99 and max of a set of millisecond samples (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
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
        assert_eq!(Summary::of(&[]).p95, 0.0);
        assert_eq!(Summary::of(&[7.0]).p50, 7.0);
    }
}
