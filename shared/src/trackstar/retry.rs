//! Jittered exponential backoff ("equal jitter"): the n-th retry waits a random time in
//! `[d/2, d]` where `d = min(max_delay, base_delay · 2^(n-1))`. The floor keeps retries from
//! hammering a struggling upstream; the jitter keeps many clients from retrying in step.

use std::time::Duration;

use rand::Rng;

use super::config::RetryPolicy;

/// The wait before retry number `retry` (1 = the first retry), drawing jitter from `rng`.
pub fn backoff_delay(policy: &RetryPolicy, retry: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = backoff_ceiling(policy, retry);
    let half = ceiling / 2;
    let spread = ceiling.saturating_sub(half);
    let spread_nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
    let jitter = if spread_nanos == 0 {
        0
    } else {
        rng.random_range(0..=spread_nanos)
    };
    half + Duration::from_nanos(jitter)
}

/// The upper bound of the wait before retry number `retry`.
pub fn backoff_ceiling(policy: &RetryPolicy, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(30);
    policy
        .base_delay
        .saturating_mul(1_u32 << exponent)
        .min(policy.max_delay)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_rate_limit_wait: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_ceiling_doubles_then_stops_at_the_maximum() {
        let p = policy();
        let ceilings: Vec<u128> = (1..=7)
            .map(|n| backoff_ceiling(&p, n).as_millis())
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff_ceiling(&p, 1000), Duration::from_secs(2));
    }

    #[test]
    fn jitter_actually_varies_the_delay() {
        let mut rng = StdRng::seed_from_u64(7);
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| backoff_delay(&policy(), 3, &mut rng))
            .collect();
        assert!(delays.len() > 10);
    }

    proptest! {
        #[test]
        fn delays_stay_within_half_and_full_ceiling(retry in 1u32..64, seed in any::<u64>()) {
            let p = policy();
            let mut rng = StdRng::seed_from_u64(seed);
            let delay = backoff_delay(&p, retry, &mut rng);
            let ceiling = backoff_ceiling(&p, retry);
            prop_assert!(delay >= ceiling / 2);
            prop_assert!(delay <= ceiling);
            prop_assert!(delay <= p.max_delay);
        }
    }
}
