//! Client-side rate limiting per access token, so Packr stays under Trackstar's limits
//! (GET 10/s, writes 50/s per token) instead of discovering them through 429s.
//!
//! One `governor` keyed limiter per request kind, keyed by the SHA-256 of the token (the
//! token itself is never kept as a map key). Requests are paced evenly (burst 1) with a
//! 2 % headroom, so no one-second window — however the server aligns it — sees more than
//! the limit even with small network jitter. On top, a per-token pause holds every request
//! on that token: after a 429 for its `retry-after` / `x-ratelimit-reset`, and after
//! `x-ratelimit-remaining: 0` for one slot of the server's declared rate.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::error::rate_limit_wait;
use super::priority::Priority;

/// A token's identity for rate limiting: the SHA-256 of the token.
pub type TokenKey = [u8; 32];

pub fn token_key(token: &SecretString) -> TokenKey {
    Sha256::digest(token.expose_secret().as_bytes()).into()
}

/// The in-process limiter lane of one priority on a token, used in front of the shared
/// budget: each priority is paced on its own, so an instance's background load cannot
/// hold its interactive calls in the in-process queue (the shared budget orders them).
pub fn lane_key(token: &TokenKey, priority: Priority) -> TokenKey {
    let mut hasher = Sha256::new();
    hasher.update(token);
    hasher.update([b'#', priority.index()]);
    hasher.finalize().into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Read,
    Write,
}

/// Evenly spaced requests: one every `1s / rate · 1.02`.
pub fn paced_quota(rate: NonZeroU32) -> Quota {
    let period = Duration::from_secs(1).mul_f64(1.02) / rate.get();
    Quota::with_period(period.max(Duration::from_micros(1)))
        .unwrap_or_else(|| Quota::per_second(rate))
        .allow_burst(NonZeroU32::MIN)
}

/// A keyed limiter on the monotonic clock (`std::time::Instant`). governor's default clock
/// is quanta's, which calibrates the CPU's TSC against the OS clock on first use: a loop of
/// clock reads that was about a third of a function's cold start (`perf` of api-orders'
/// init: `RateLimits::new` → `QuantaClock` → `clock_gettime`; BENCHMARKS.md, stage
/// `10-coldstart`). The limiter reads its clock a few times per Trackstar request, where a
/// vDSO clock read costs nanoseconds. (The workspace also builds governor without its
/// `quanta` feature.)
type KeyedLimiter = RateLimiter<
    TokenKey,
    DefaultKeyedStateStore<TokenKey>,
    MonotonicClock,
    NoOpMiddleware<<MonotonicClock as Clock>::Instant>,
>;

fn keyed(quota: Quota) -> KeyedLimiter {
    RateLimiter::dashmap_with_clock(quota, MonotonicClock)
}

pub struct RateLimits {
    reads: KeyedLimiter,
    writes: KeyedLimiter,
    pauses: Mutex<HashMap<TokenKey, Instant>>,
    calls: AtomicU64,
    max_pause: Duration,
}

impl RateLimits {
    pub fn new(get_rate: NonZeroU32, write_rate: NonZeroU32, max_pause: Duration) -> Self {
        Self {
            reads: keyed(paced_quota(get_rate)),
            writes: keyed(paced_quota(write_rate)),
            pauses: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            max_pause,
        }
    }

    fn pauses(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, Instant>> {
        self.pauses.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request of `kind` may be sent on the token `key`.
    pub async fn acquire(&self, key: &TokenKey, kind: RequestKind) {
        loop {
            let paused_until = self.pauses().get(key).copied();
            match paused_until {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
                }
                _ => break,
            }
        }
        let limiter = match kind {
            RequestKind::Read => &self.reads,
            RequestKind::Write => &self.writes,
        };
        limiter.until_key_ready(key).await;
        if self.calls.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.reads.retain_recent();
            self.writes.retain_recent();
            let now = Instant::now();
            self.pauses().retain(|_, until| *until > now);
        }
    }

    /// Holds every request on `key` for `wait` (capped at the configured maximum).
    pub fn pause(&self, key: &TokenKey, wait: Duration) {
        let until = Instant::now() + wait.min(self.max_pause);
        let mut pauses = self.pauses();
        let entry = pauses.entry(*key).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// Reads a response's rate-limit headers. When the window is used up
    /// (`x-ratelimit-remaining: 0`) the token is held for one slot of the server's
    /// declared rate (`1s / x-ratelimit-limit`), so a server slower than our pacing sets
    /// the pace; without a limit header, until `x-ratelimit-reset`. (`reset` has
    /// whole-second resolution, so waiting for it on every exhausted window would halve
    /// the throughput of a client that is already paced right at the limit.)
    pub fn observe(&self, key: &TokenKey, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite())
        };
        let exhausted = number("x-ratelimit-remaining").is_some_and(|r| r <= 0.0);
        if !exhausted {
            return;
        }
        let wait = match number("x-ratelimit-limit").filter(|l| *l >= 1.0) {
            Some(limit) => Some(Duration::from_secs_f64(1.0 / limit)),
            None => {
                let mut reset_only = headers.clone();
                reset_only.remove("retry-after");
                rate_limit_wait(&reset_only, chrono::Utc::now().timestamp())
            }
        };
        if let Some(wait) = wait {
            self.pause(key, wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn key(token: &str) -> TokenKey {
        token_key(&SecretString::from(token.to_owned()))
    }

    #[tokio::test]
    async fn requests_on_one_token_are_spaced_by_the_rate() {
        // given 20/s: one request every 51 ms
        let limits = RateLimits::new(
            NonZeroU32::new(20).unwrap(),
            NonZeroU32::new(50).unwrap(),
            Duration::from_secs(5),
        );
        let k = key("tok_a");
        // when
        let started = Instant::now();
        for _ in 0..6 {
            limits.acquire(&k, RequestKind::Read).await;
        }
        // then: the first is immediate, five more need five periods
        assert!(started.elapsed() >= Duration::from_millis(250));
    }

    #[tokio::test]
    async fn tokens_are_limited_independently() {
        let limits = RateLimits::new(
            NonZeroU32::new(2).unwrap(),
            NonZeroU32::new(2).unwrap(),
            Duration::from_secs(5),
        );
        limits.acquire(&key("tok_a"), RequestKind::Read).await;
        let started = Instant::now();
        limits.acquire(&key("tok_b"), RequestKind::Read).await;
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn an_exhausted_window_pauses_the_token_until_reset() {
        let limits = RateLimits::new(
            NonZeroU32::new(1000).unwrap(),
            NonZeroU32::new(1000).unwrap(),
            Duration::from_secs(5),
        );
        let k = key("tok_a");
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = chrono::Utc::now().timestamp() + 1;
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        limits.observe(&k, &headers);
        let started = Instant::now();
        limits.acquire(&k, RequestKind::Read).await;
        assert!(started.elapsed() >= Duration::from_millis(1));
        assert!(chrono::Utc::now().timestamp() >= reset);
    }

    #[tokio::test]
    async fn an_exhausted_window_with_a_declared_limit_waits_one_slot() {
        let limits = RateLimits::new(
            NonZeroU32::new(1000).unwrap(),
            NonZeroU32::new(1000).unwrap(),
            Duration::from_secs(5),
        );
        let k = key("tok_a");
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("99999999999"));
        limits.observe(&k, &headers);
        let started = Instant::now();
        limits.acquire(&k, RequestKind::Read).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited < Duration::from_millis(1000), "{waited:?}");
    }

    #[test]
    fn token_keys_do_not_contain_the_token() {
        let k = key("tok_secret_value");
        assert_ne!(&k[..16], &b"tok_secret_value"[..]);
        assert_eq!(k, key("tok_secret_value"));
        assert_ne!(k, key("tok_other"));
    }
}
