//! One feed page from the shards' reads: a k-way merge that serves nothing past what every
//! shard has been read to, so a shard read only in part cannot hide an entry of its own
//! that sorts before another shard's.

use crate::resource::ResourceKind;
use crate::store::keys;

/// One entry of the feed's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `<written µs>#<KIND>#<id>`.
    pub sk: String,
    pub kind: ResourceKind,
    pub id: String,
    pub written_us: i64,
    pub brand: Option<String>,
}

impl Entry {
    /// The entry at sort key `sk` (`None`: not a feed key of a known kind).
    pub fn parse(sk: &str, brand: Option<String>) -> Option<Self> {
        let mut parts = sk.splitn(3, '#');
        let (position, key, id) = (parts.next()?, parts.next()?, parts.next()?);
        if position.len() != 16 || !position.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
            return None;
        }
        let kind = ResourceKind::ALL
            .into_iter()
            .find(|k| k.spec().key == key)?;
        Some(Self {
            sk: sk.to_owned(),
            kind,
            id: id.to_owned(),
            written_us: position.parse().ok()?,
            brand,
        })
    }
}

/// What one shard's query returned, in order: the entries after the cursor (the one at the
/// cursor left out) up to the upper bound, and whether it stopped short of that bound.
#[derive(Debug, Clone, Default)]
pub struct ShardRead {
    pub entries: Vec<Entry>,
    /// The sort key the read stopped at, if it stopped before the upper bound.
    pub stopped_at: Option<String>,
}

/// A page: the admitted entries, oldest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub entries: Vec<Entry>,
    /// Every entry at or before this has been served or filtered out.
    pub position: String,
    /// Whether more entries may be ready below the upper bound.
    pub has_more: bool,
}

/// Merges the shards' reads: entries after `after` up to the frontier — the lowest point a
/// shard stopped at, else `upper` — oldest first; the first `limit` that `admits` passes.
pub fn merge_shards(
    reads: Vec<ShardRead>,
    after: &str,
    upper: &str,
    limit: usize,
    admits: impl Fn(&Entry) -> bool,
) -> Merged {
    let frontier = reads
        .iter()
        .filter_map(|r| r.stopped_at.clone())
        .min()
        .unwrap_or_else(|| upper.to_owned());
    let stopped_early = reads.iter().any(|r| r.stopped_at.is_some());
    let mut candidates: Vec<Entry> = reads
        .into_iter()
        .flat_map(|r| r.entries)
        .filter(|e| e.sk.as_str() > after && e.sk <= frontier)
        .collect();
    candidates.sort_by(|a, b| a.sk.cmp(&b.sk));
    let mut entries = Vec::new();
    for entry in candidates {
        if !admits(&entry) {
            continue;
        }
        if entries.len() == limit {
            // Another admitted entry waits: stop after the last one served.
            let position = entries
                .last()
                .map_or_else(|| after.to_owned(), |e: &Entry| e.sk.clone());
            return Merged {
                entries,
                position,
                has_more: true,
            };
        }
        entries.push(entry);
    }
    Merged {
        entries,
        position: frontier,
        has_more: stopped_early,
    }
}

/// The feed position before every entry.
pub const START: &str = "0";

/// The upper bound of a read at `horizon_us`: after every entry written at or before it
/// (kind keys are upper-case words, all before `~`).
pub fn upper_bound(horizon_us: i64) -> String {
    format!("{}#~", keys::change_position(horizon_us))
}

/// The write time a position stands at (`START` and anything unreadable: 0).
pub fn position_micros(position: &str) -> i64 {
    position.get(..16).and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Whether `position` is one this feed hands out: `START`, an entry's sort key, or an upper
/// bound.
pub fn is_position(position: &str) -> bool {
    position == START
        || Entry::parse(position, None).is_some()
        || position
            .strip_suffix("#~")
            .is_some_and(|p| p.len() == 16 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(us: i64, id: &str) -> Entry {
        Entry::parse(&keys::change_sk(us, "ORDER", id), None).expect("entry")
    }

    fn read(entries: Vec<Entry>, stopped: bool) -> ShardRead {
        let stopped_at = stopped.then(|| entries.last().expect("an entry").sk.clone());
        ShardRead {
            entries,
            stopped_at,
        }
    }

    fn ids(merged: &Merged) -> Vec<&str> {
        merged.entries.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn entries_of_every_shard_come_oldest_first_up_to_the_upper_bound() {
        // Given: two shards read to the upper bound
        let reads = vec![
            read(vec![entry(10, "a"), entry(30, "c")], false),
            read(vec![entry(20, "b")], false),
        ];
        // When: merged
        let merged = merge_shards(reads, START, &upper_bound(100), 10, |_| true);
        // Then: all three in write order; the cursor moves to the upper bound
        assert_eq!(ids(&merged), ["a", "b", "c"]);
        assert_eq!(merged.position, upper_bound(100));
        assert!(!merged.has_more);
    }

    #[test]
    fn nothing_past_a_shard_read_only_in_part_is_served() {
        // Given: shard 0 stopped at 20 (it may hold 25 unread); shard 1 has 30
        let reads = vec![
            read(vec![entry(10, "a"), entry(20, "b")], true),
            read(vec![entry(30, "c")], false),
        ];
        // When: merged
        let merged = merge_shards(reads, START, &upper_bound(100), 10, |_| true);
        // Then: only up to 20; c waits for the next page, which reads shard 0 from 20 on
        assert_eq!(ids(&merged), ["a", "b"]);
        assert_eq!(merged.position, keys::change_sk(20, "ORDER", "b"));
        assert!(merged.has_more);
    }

    #[test]
    fn a_full_page_stops_after_its_last_entry() {
        let reads = vec![read(
            vec![entry(10, "a"), entry(20, "b"), entry(30, "c")],
            false,
        )];
        let merged = merge_shards(reads, START, &upper_bound(100), 2, |_| true);
        assert_eq!(ids(&merged), ["a", "b"]);
        assert_eq!(merged.position, keys::change_sk(20, "ORDER", "b"));
        assert!(merged.has_more);
    }

    #[test]
    fn the_entry_at_the_cursor_and_filtered_entries_are_passed_over() {
        // Given: the cursor is at a; b is filtered out
        let after = keys::change_sk(10, "ORDER", "a");
        let reads = vec![read(
            vec![entry(10, "a"), entry(20, "b"), entry(30, "c")],
            false,
        )];
        // When: merged
        let merged = merge_shards(reads, &after, &upper_bound(100), 10, |e| e.id != "b");
        // Then: only c, and the cursor passes b too
        assert_eq!(ids(&merged), ["c"]);
        assert_eq!(merged.position, upper_bound(100));
    }

    #[test]
    fn feed_keys_parse_and_foreign_ones_do_not() {
        let e = Entry::parse("0000000000000042#RETURN#r-1#x", None).expect("parses");
        assert_eq!(
            (e.kind, e.id.as_str(), e.written_us),
            (ResourceKind::Returns, "r-1#x", 42)
        );
        assert!(Entry::parse("42#ORDER#o", None).is_none());
        assert!(Entry::parse("0000000000000042#NOPE#o", None).is_none());
        assert!(is_position(START));
        assert!(is_position(&upper_bound(7)));
        assert!(!is_position("zzz"));
        assert_eq!(position_micros(&upper_bound(7)), 7);
    }
}
