//! Fault injection per connection: errors (at a rate, a number of times), latency,
//! hanging requests, held requests and rate-limit storms. Faults apply to `/wms/...`
//! requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// What to inject, as posted to `POST /_sim/faults/{connection_id}`.
///
/// `{"status": 503, "rate": 0.5, "count": 3}` fails half the requests with 503 until three
/// have failed; `{"latency_ms": 200}` delays; `{"hang": true}` never answers;
/// `{"hold": true}` holds each request until the connection's faults are next changed or
/// cleared, then handles it (a test can order a slow answer after other work);
/// `{"rate_limit_storm": 5}` answers the next five requests with 429;
/// `{"redirect_to": "http://127.0.0.1:9/x"}` answers with a 307 to that URL plus the request's
/// path and query (where a client that follows redirects would send its headers);
/// `{"oversize_bytes": 1048576}` answers with a body padded to that many bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// HTTP status of injected errors (e.g. 500, 502, 503, 504).
    #[serde(default)]
    pub status: Option<u16>,
    /// Share of requests that fail, 0.0..=1.0.
    #[serde(default = "one")]
    pub rate: f64,
    /// Fail at most this many requests, then stop failing.
    #[serde(default)]
    pub count: Option<u32>,
    /// Apply the write first, then answer with the error (a lost response).
    #[serde(default)]
    pub after_apply: bool,
    /// Extra delay before answering.
    #[serde(default)]
    pub latency_ms: u64,
    /// Never answer (until the client gives up or the simulator shuts down).
    #[serde(default)]
    pub hang: bool,
    /// Hold each request until the connection's faults are next set or cleared, then
    /// handle it normally.
    #[serde(default)]
    pub hold: bool,
    /// Answer this many next requests with 429.
    #[serde(default)]
    pub rate_limit_storm: u32,
    /// Only requests with these methods (e.g. `["PUT","POST"]`); empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Answer every request with `307 Temporary Redirect` to this base URL (the request's
    /// path and query appended).
    #[serde(default)]
    pub redirect_to: Option<String>,
    /// Answer every request with a JSON body padded to this many bytes.
    #[serde(default)]
    pub oversize_bytes: Option<usize>,
}

fn one() -> f64 {
    1.0
}

impl Default for FaultSpec {
    fn default() -> Self {
        Self {
            status: None,
            rate: 1.0,
            count: None,
            after_apply: false,
            latency_ms: 0,
            hang: false,
            hold: false,
            rate_limit_storm: 0,
            methods: Vec::new(),
            redirect_to: None,
            oversize_bytes: None,
        }
    }
}

impl FaultSpec {
    /// An error fault: `status` for every request, `count` times.
    pub fn error(status: u16, count: Option<u32>) -> Self {
        Self {
            status: Some(status),
            count,
            ..Self::default()
        }
    }
}

/// What the request pipeline must do for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultAction {
    pub latency: Duration,
    pub hang: bool,
    /// Hold until the fault generation moves past this one.
    pub hold: Option<u64>,
    pub storm: bool,
    /// Answer with this status, before (or with `after_apply`, after) handling.
    pub error: Option<(u16, bool)>,
    /// Answer with a redirect to the spec's `redirect_to`.
    pub redirect: bool,
    /// Answer with a body of this many bytes.
    pub oversize: Option<usize>,
}

#[derive(Debug)]
pub struct Faults {
    specs: Mutex<HashMap<String, FaultSpec>>,
    rng: Mutex<StdRng>,
    /// Bumped on every change, which releases held requests.
    generation: watch::Sender<u64>,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Self {
            specs: Mutex::new(HashMap::new()),
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0xfa_17)),
            generation: watch::Sender::new(0),
        }
    }

    pub fn set(&self, connection_id: &str, spec: FaultSpec) {
        self.lock().insert(connection_id.to_owned(), spec);
        self.release_held();
    }

    pub fn clear(&self, connection_id: &str) {
        self.lock().remove(connection_id);
        self.release_held();
    }

    pub fn clear_all(&self) {
        self.lock().clear();
        self.release_held();
    }

    /// Waits until the faults change after a request was held at `generation`.
    pub async fn released(&self, generation: u64) {
        let mut changes = self.generation.subscribe();
        let _ = changes.wait_for(|now| *now != generation).await;
    }

    fn release_held(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    pub fn get(&self, connection_id: &str) -> Option<FaultSpec> {
        self.lock().get(connection_id).cloned()
    }

    /// Decides (and counts down) the faults for one request.
    pub fn next(&self, connection_id: &str, method: &str) -> FaultAction {
        let mut specs = self.lock();
        let Some(spec) = specs.get_mut(connection_id) else {
            return FaultAction::default();
        };
        if !spec.methods.is_empty() && !spec.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
        {
            return FaultAction::default();
        }
        let mut action = FaultAction {
            latency: Duration::from_millis(spec.latency_ms),
            hang: spec.hang,
            hold: spec.hold.then(|| *self.generation.borrow()),
            redirect: spec.redirect_to.is_some(),
            oversize: spec.oversize_bytes,
            ..FaultAction::default()
        };
        if spec.rate_limit_storm > 0 {
            spec.rate_limit_storm -= 1;
            action.storm = true;
            return action;
        }
        if let Some(status) = spec.status {
            let budget_left = spec.count.is_none_or(|c| c > 0);
            let roll = {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                rng.random::<f64>()
            };
            if budget_left && roll < spec.rate {
                if let Some(c) = spec.count.as_mut() {
                    *c -= 1;
                }
                action.error = Some((status, spec.after_apply));
            }
        }
        action
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FaultSpec>> {
        self.specs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_errors_stop_after_count() {
        let faults = Faults::new(1);
        faults.set("c", FaultSpec::error(503, Some(2)));
        assert_eq!(faults.next("c", "GET").error, Some((503, false)));
        assert_eq!(faults.next("c", "GET").error, Some((503, false)));
        assert_eq!(faults.next("c", "GET").error, None);
        assert_eq!(faults.next("other", "GET"), FaultAction::default());
    }

    #[test]
    fn storm_answers_the_next_n_requests_and_method_filter_applies() {
        let faults = Faults::new(1);
        faults.set(
            "c",
            FaultSpec {
                rate_limit_storm: 1,
                methods: vec!["PUT".to_owned()],
                ..FaultSpec::default()
            },
        );
        assert!(!faults.next("c", "GET").storm);
        assert!(faults.next("c", "PUT").storm);
        assert!(!faults.next("c", "PUT").storm);
    }
}
