//! Per-access-token rate limits with a sliding one-second window: a request is allowed
//! when fewer than `limit` requests were allowed in the last second.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WINDOW: Duration = Duration::from_secs(1);

/// GET requests versus writes (POST/PUT/PATCH/DELETE), limited separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    Read,
    Write,
}

/// What the `x-ratelimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds when a slot frees up.
    pub reset_epoch: u64,
    /// Seconds to wait before retrying (at least 1 when refused).
    pub retry_after: u64,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<(String, RateClass), VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Counts one request against `(token, class)` if it fits in the window.
    pub fn check(&self, token: &str, class: RateClass, limit: u32) -> RateDecision {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry((token.to_owned(), class)).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        let used = window.len() as u32;
        let allowed = used < limit;
        if allowed {
            window.push_back(now);
        }
        let remaining = limit.saturating_sub(window.len() as u32);
        let frees_in = window
            .front()
            .map(|t| WINDOW.saturating_sub(now.duration_since(*t)))
            .unwrap_or_default();
        let epoch_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let reset = epoch_now + frees_in;
        RateDecision {
            allowed,
            limit,
            remaining,
            reset_epoch: reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
            retry_after: if allowed {
                0
            } else {
                frees_in.as_secs_f64().ceil().max(1.0) as u64
            },
        }
    }

    pub fn reset(&self) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_over_the_limit_within_a_second_are_refused() {
        let limiter = RateLimiter::default();
        for i in 0..3 {
            let d = limiter.check("tok", RateClass::Read, 3);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let refused = limiter.check("tok", RateClass::Read, 3);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.retry_after >= 1);
        // writes and other tokens have their own windows
        assert!(limiter.check("tok", RateClass::Write, 3).allowed);
        assert!(limiter.check("other", RateClass::Read, 3).allowed);
    }
}
