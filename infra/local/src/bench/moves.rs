//! Which recorded object writes created their object, updated it or were refused, told
//! from the items as stored after the run, and what the updates' index moves add to the
//! bill. DynamoDB bills an update that changes an index's key twice in that index: the
//! delete of the old entry and the put of the new one. `gsi5`'s sort key is the write time,
//! so every applied update moves its entry (+1 unit: the entry is under 1 KB); `gsi1` and
//! `gsi2` sort by version, so an update to a newer version moves those entries too
//! (+⌈size / 1 KB⌉ each). A refused conditional write touches no index. These figures are
//! the rule issues 18 and 21 printed beside their totals; since issue 22 the totals bill
//! every index by its projection and moves (`index_bill`), from the outcomes told here.

use std::collections::HashMap;

pub use super::index_bill::Outcome;

/// One recorded object write.
#[derive(Debug, Clone)]
pub struct RecordedWrite {
    pub pk: String,
    /// `written_at` the write set (µs; also its `:created`).
    pub written_us: i64,
    /// `updated_us` the write set.
    pub version: i64,
    /// ⌈item size / 1 KB⌉.
    pub item_units: u64,
    /// How many of `gsi1` and `gsi2` (version-sorted, projection ALL) the item has keys for.
    pub version_sorted_indexes: u64,
}

/// The object's item as stored after the run.
#[derive(Debug, Clone, Copy)]
pub struct StoredState {
    pub created_us: i64,
    pub written_us: i64,
}

/// The recorded writes, classified.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Moves {
    /// The write whose `written_at` is the stored `created_us`: it stored the object first.
    pub creations: u64,
    /// Applied writes of an object that existed: each moves its `gsi5` entry.
    pub updates: u64,
    /// Writes refused by their condition (a newer or the same version was stored).
    pub refused: u64,
    /// Writes of objects not found afterwards.
    pub unknown: u64,
    /// The deletes of old `gsi5` entries: 1 per update.
    pub feed_move_units: u64,
    /// The deletes of old `gsi1`/`gsi2` entries: ⌈size / 1 KB⌉ per index per update to a
    /// newer version.
    pub index_move_units: u64,
}

impl Moves {
    /// `gsi5` write units per applied write as DynamoDB bills them: 1 per creation, 2 per
    /// update (the old entry's delete and the new entry's put).
    pub fn feed_units_per_change(&self) -> f64 {
        let changes = self.creations + self.updates;
        (self.creations + 2 * self.updates) as f64 / changes.max(1) as f64
    }
}

/// Classifies `writes` (in the order sent) by the objects' stored state. A write is a
/// creation if the stored `created_us` is its own `written_at`; refused if it was sent after
/// the stored state's (`written_at` later) or before the creation; the stored state's own
/// write is applied; any other write is applied iff its version is newer than every earlier
/// recorded write's of the object (the only-if-newer rule; the first recorded write of an
/// object stored before the recording is taken as applied: an estimate).
pub fn classify(writes: &[RecordedWrite], stored: &HashMap<String, StoredState>) -> Moves {
    classify_each(writes, stored).0
}

/// [`classify`], and what became of each write (same order).
pub fn classify_each(
    writes: &[RecordedWrite],
    stored: &HashMap<String, StoredState>,
) -> (Moves, Vec<Outcome>) {
    let mut moves = Moves::default();
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut newest: HashMap<&str, i64> = HashMap::new();
    for write in writes {
        let Some(state) = stored.get(&write.pk) else {
            moves.unknown += 1;
            outcomes.push(Outcome::Unknown);
            continue;
        };
        let before = newest.get(write.pk.as_str()).copied();
        newest.insert(
            &write.pk,
            before.map_or(write.version, |v| v.max(write.version)),
        );
        if write.written_us == state.created_us {
            moves.creations += 1;
            outcomes.push(Outcome::Created);
            continue;
        }
        let applied = if write.written_us > state.written_us || write.written_us < state.created_us
        {
            false
        } else if write.written_us == state.written_us {
            true
        } else {
            before.is_none_or(|v| write.version > v)
        };
        if !applied {
            moves.refused += 1;
            outcomes.push(Outcome::Refused);
            continue;
        }
        moves.updates += 1;
        outcomes.push(Outcome::Updated);
        moves.feed_move_units += 1;
        if before.is_none_or(|v| write.version > v) {
            moves.index_move_units += write.version_sorted_indexes * write.item_units;
        }
    }
    (moves, outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(pk: &str, written_us: i64, version: i64) -> RecordedWrite {
        RecordedWrite {
            pk: pk.to_owned(),
            written_us,
            version,
            item_units: 1,
            version_sorted_indexes: 2,
        }
    }

    #[test]
    fn creations_updates_and_refusals_are_told_apart_by_the_stored_state() {
        // Given a new object written at 10 then updated at 20 (newer version), a refused
        // redelivery at 15 (an older version), and a late refused write at 30; and an object
        // stored before the recording, updated at 40 (its stored state)
        let writes = [
            write("a", 10, 1),
            write("a", 15, 1),
            write("a", 20, 2),
            write("a", 30, 2),
            write("b", 40, 5),
            write("c", 50, 1),
        ];
        let stored = HashMap::from([
            (
                "a".to_owned(),
                StoredState {
                    created_us: 10,
                    written_us: 20,
                },
            ),
            (
                "b".to_owned(),
                StoredState {
                    created_us: 1,
                    written_us: 40,
                },
            ),
        ]);
        // When they are classified
        let moves = classify(&writes, &stored);
        // Then one creation, two updates (each moving gsi5 and both version-sorted
        // indexes), two refusals, and the write of the object not found is unknown
        assert_eq!(
            moves,
            Moves {
                creations: 1,
                updates: 2,
                refused: 2,
                unknown: 1,
                feed_move_units: 2,
                index_move_units: 4,
            }
        );
        // And the feed's write units per change: (1 + 2 × 2) / 3
        assert!((moves.feed_units_per_change() - 5.0 / 3.0).abs() < 1e-9);
        // And each write's outcome, in the order sent
        let (_, outcomes) = classify_each(&writes, &stored);
        assert_eq!(
            outcomes,
            [
                Outcome::Created,
                Outcome::Refused,
                Outcome::Updated,
                Outcome::Refused,
                Outcome::Updated,
                Outcome::Unknown
            ]
        );
    }
}
