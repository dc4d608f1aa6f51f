//! `Idempotency-Key` handling, per connection and kept 24 h: a replay of the same key,
//! endpoint and body returns the first success; the same key with another endpoint or
//! body is a 400; a replay while the first is still running is a 409.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const MAX_KEY_LEN: usize = 255;
pub const TTL: Duration = Duration::from_secs(24 * 3600);

/// A response kept for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
enum EntryState {
    InProgress,
    Done(SavedResponse),
}

#[derive(Debug, Clone)]
struct Entry {
    request_fingerprint: String,
    created: Instant,
    state: EntryState,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAction {
    /// First time: handle it, then call [`PendingKey::complete`].
    Start,
    ReturnSaved(SavedResponse),
    InProgress,
    Mismatch,
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

/// A started request; dropping it without completing frees the key (e.g. the client went away).
#[derive(Debug)]
pub struct PendingKey {
    store: Arc<IdempotencyStore>,
    id: (String, String),
    completed: bool,
}

/// The fingerprint of a request: method, path and body digest.
pub fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{method} {path} {hex}")
}

impl IdempotencyStore {
    pub fn begin(
        self: &Arc<Self>,
        connection_id: &str,
        key: &str,
        fingerprint: &str,
    ) -> (NextAction, Option<PendingKey>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, e| e.created.elapsed() < TTL);
        let id = (connection_id.to_owned(), key.to_owned());
        match entries.get(&id) {
            Some(entry) if entry.request_fingerprint != fingerprint => (NextAction::Mismatch, None),
            Some(Entry {
                state: EntryState::InProgress,
                ..
            }) => (NextAction::InProgress, None),
            Some(Entry {
                state: EntryState::Done(saved),
                ..
            }) => (NextAction::ReturnSaved(saved.clone()), None),
            None => {
                entries.insert(
                    id.clone(),
                    Entry {
                        request_fingerprint: fingerprint.to_owned(),
                        created: Instant::now(),
                        state: EntryState::InProgress,
                    },
                );
                let pending = PendingKey {
                    store: Arc::clone(self),
                    id,
                    completed: false,
                };
                (NextAction::Start, Some(pending))
            }
        }
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl PendingKey {
    /// Keeps a 2xx response for replays; anything else frees the key for a retry.
    pub fn complete(mut self, response: SavedResponse) {
        self.completed = true;
        let mut entries = self.store.entries.lock().unwrap_or_else(|e| e.into_inner());
        if (200..300).contains(&response.status) {
            if let Some(entry) = entries.get_mut(&self.id) {
                entry.state = EntryState::Done(response);
            }
        } else {
            entries.remove(&self.id);
        }
    }
}

impl Drop for PendingKey {
    fn drop(&mut self) {
        if !self.completed {
            let mut entries = self.store.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(status: u16) -> SavedResponse {
        SavedResponse {
            status,
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn replay_mismatch_and_in_progress_are_told_apart() {
        let store = Arc::new(IdempotencyStore::default());
        let fp = request_fingerprint("POST", "/wms/orders", b"{}");
        let (action, pending) = store.begin("c", "k", &fp);
        assert_eq!(action, NextAction::Start);
        assert_eq!(store.begin("c", "k", &fp).0, NextAction::InProgress);
        pending.expect("pending").complete(saved(200));
        assert_eq!(
            store.begin("c", "k", &fp).0,
            NextAction::ReturnSaved(saved(200))
        );
        let other = request_fingerprint("POST", "/wms/orders", b"{\"a\":1}");
        assert_eq!(store.begin("c", "k", &other).0, NextAction::Mismatch);
        // keys are per connection
        assert_eq!(store.begin("d", "k", &other).0, NextAction::Start);
    }

    #[test]
    fn failures_and_abandoned_requests_free_the_key() {
        let store = Arc::new(IdempotencyStore::default());
        let (_, pending) = store.begin("c", "k", "fp");
        pending.expect("pending").complete(saved(503));
        assert_eq!(store.begin("c", "k", "fp").0, NextAction::Start);
        let (_, pending) = store.begin("c", "k2", "fp");
        drop(pending);
        assert_eq!(store.begin("c", "k2", "fp").0, NextAction::Start);
    }
}
