//! Fixed log-scale histograms of milliseconds, stored sparsely as DynamoDB counters.
//!
//! Bucket `i` holds values in `(2^((i-1)/4), 2^(i/4)]` ms (bucket 0: ≤ 1 ms): four buckets
//! per doubling, so a percentile read from the merged buckets is the upper bound of its
//! bucket and overstates the true value by at most 2^(1/4) ≈ 19 %. Bucket 120 (about
//! 1.1 × 10^9 ms, 12.7 days) takes everything larger. Only non-empty buckets are stored, so
//! an hour of typical traffic touches a handful of attributes.

use std::collections::BTreeMap;

pub const BUCKETS_PER_DOUBLING: f64 = 4.0;
pub const MAX_BUCKET: u16 = 120;

/// The bucket of a value in milliseconds.
pub fn bucket_of(ms: u64) -> u16 {
    if ms <= 1 {
        return 0;
    }
    let exact = (ms as f64).log2() * BUCKETS_PER_DOUBLING;
    // Guard against the float landing a hair above an exact boundary (e.g. 2^(5/4)).
    let i = (exact - 1e-9).ceil();
    (i.max(0.0) as u64).min(u64::from(MAX_BUCKET)) as u16
}

/// The largest value bucket `i` holds, in whole milliseconds (rounded up).
pub fn upper_bound_ms(bucket: u16) -> u64 {
    2f64.powf(f64::from(bucket) / BUCKETS_PER_DOUBLING).ceil() as u64
}

/// Counts per bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    pub buckets: BTreeMap<u16, u64>,
}

impl Histogram {
    pub fn record(&mut self, ms: u64) {
        *self.buckets.entry(bucket_of(ms)).or_default() += 1;
    }

    pub fn add_count(&mut self, bucket: u16, count: u64) {
        if count > 0 {
            *self.buckets.entry(bucket.min(MAX_BUCKET)).or_default() += count;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.buckets {
            self.add_count(*b, *n);
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The `q` quantile (0 < q ≤ 1) as its bucket's upper bound; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(upper_bound_ms(*bucket));
            }
        }
        self.buckets.keys().last().map(|b| upper_bound_ms(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lies_within_its_bucket_and_under_19_percent_of_its_bound() {
        for ms in [
            2u64, 3, 7, 10, 99, 100, 101, 1_000, 65_536, 120_000, 86_400_000,
        ] {
            let b = bucket_of(ms);
            assert!(upper_bound_ms(b) >= ms, "{ms} above its bucket {b}");
            assert!(
                b == 0 || upper_bound_ms(b - 1) < ms + 1,
                "{ms} in too high a bucket"
            );
            assert!((upper_bound_ms(b) as f64) <= ms as f64 * 1.19 + 1.0);
        }
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 4);
        assert_eq!(bucket_of(u64::MAX), MAX_BUCKET);
    }

    #[test]
    fn percentiles_come_from_the_merged_buckets() {
        let mut a = Histogram::default();
        for _ in 0..90 {
            a.record(100);
        }
        let mut b = Histogram::default();
        for _ in 0..9 {
            b.record(1_000);
        }
        b.record(60_000);
        a.merge(&b);
        assert_eq!(a.count(), 100);
        let p50 = a.quantile_ms(0.50).unwrap();
        let p95 = a.quantile_ms(0.95).unwrap();
        let p99 = a.quantile_ms(0.99).unwrap();
        assert!((100..=119).contains(&p50), "p50 {p50}");
        assert!((1_000..=1_190).contains(&p95), "p95 {p95}");
        assert!((1_000..=1_190).contains(&p99), "p99 {p99}");
        assert!((60_000..=71_400).contains(&a.quantile_ms(1.0).unwrap()));
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }
}
