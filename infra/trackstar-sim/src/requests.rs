//! Counts of requests received, per (method, path, access token), with the statuses
//! served, the writes actually applied, and when each GET arrived per token: what tests
//! check to prove "the write reached the simulator once", "no 429 was served" or "no
//! second saw more than 10 GETs on a token".

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestCount {
    pub method: String,
    pub path: String,
    /// The access token sent (empty when none).
    pub token: String,
    pub count: u64,
    /// Status code → how many responses had it.
    pub statuses: BTreeMap<u16, u64>,
}

/// A write that changed the simulator's truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedWrite {
    pub connection_id: String,
    pub method: String,
    pub path: String,
    pub object_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestsSnapshot {
    pub requests: Vec<RequestCount>,
    pub total: u64,
    /// Status code → count, over all requests.
    pub statuses: BTreeMap<u16, u64>,
    pub applied_writes: Vec<AppliedWrite>,
    /// Access token → when each GET on it arrived (unix ms, in arrival order; `/_sim`
    /// control requests are not logged).
    pub get_arrivals_ms: BTreeMap<String, Vec<i64>>,
}

impl RequestsSnapshot {
    /// Requests received for a method and path (any token).
    pub fn count(&self, method: &str, path: &str) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .map(|r| r.count)
            .sum()
    }

    /// Responses served with a status.
    pub fn served(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Writes applied to an object.
    pub fn applied_to(&self, object_id: &str) -> usize {
        self.applied_writes
            .iter()
            .filter(|w| w.object_id == object_id)
            .count()
    }
}

type Key = (String, String, String);

#[derive(Debug, Default)]
pub struct RequestLog {
    counts: Mutex<BTreeMap<Key, RequestCount>>,
    applied: Mutex<Vec<AppliedWrite>>,
    get_arrivals: Mutex<BTreeMap<String, Vec<i64>>>,
}

impl RequestLog {
    pub fn received(&self, method: &str, path: &str, token: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let key = (method.to_owned(), path.to_owned(), token.to_owned());
        let entry = counts.entry(key).or_insert_with(|| RequestCount {
            method: method.to_owned(),
            path: path.to_owned(),
            token: token.to_owned(),
            ..RequestCount::default()
        });
        entry.count += 1;
        drop(counts);
        if method.eq_ignore_ascii_case("GET") {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            self.get_arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(token.to_owned())
                .or_default()
                .push(now_ms);
        }
    }

    pub fn served(&self, method: &str, path: &str, token: &str, status: u16) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let key = (method.to_owned(), path.to_owned(), token.to_owned());
        if let Some(entry) = counts.get_mut(&key) {
            *entry.statuses.entry(status).or_default() += 1;
        }
    }

    pub fn applied(&self, write: AppliedWrite) {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(write);
    }

    pub fn snapshot(&self) -> RequestsSnapshot {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let requests: Vec<RequestCount> = counts.values().cloned().collect();
        let mut statuses = BTreeMap::new();
        for r in &requests {
            for (s, n) in &r.statuses {
                *statuses.entry(*s).or_default() += n;
            }
        }
        RequestsSnapshot {
            total: requests.iter().map(|r| r.count).sum(),
            requests,
            statuses,
            applied_writes: self
                .applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            get_arrivals_ms: self
                .get_arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.get_arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
