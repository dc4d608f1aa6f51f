//! Verifying a tenant's chain: every entry's MAC, every link, the head, and what is
//! missing. Pure: the stored chain in, a report out (`packr audit verify` prints it).
//!
//! How a finding is told:
//! - **edited**: the entry at a sequence number does not match its MAC (a field, its link
//!   or its hash was changed), yet it is the one the chain goes through there (the next
//!   entry links to it, or nothing else claims its place);
//! - **deleted**: a sequence number up to the head's has no entry, and the entry after the
//!   gap (or the head, for the tail) says the missing one had not expired yet;
//! - **inserted**: an entry that is not part of the chain: one more at a sequence number
//!   whose genuine entry is there, one past a genuine head, one of another tenant, or an
//!   item without a chain link at all;
//! - **head**: the head's MAC does not match, or it points elsewhere than the last entry.
//!
//! Entries DynamoDB's TTL removed are not findings: a gap whose last entry's expiry (kept
//! by the entry after it, under its MAC) has passed is counted as expired. This assumes
//! expiries do not decrease along the chain; lowering the retention makes older entries
//! outlive newer ones, which verify may then take for expired when they are deleted.

use std::collections::BTreeMap;

use super::chain::{ChainKey, GENESIS};
use crate::domain::{TenantId, Timestamp};
use crate::store::{ChainedEntry, StoredChain};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    Edited { seq: u64, id: String },
    Deleted { seq: u64 },
    Inserted { seq: Option<u64>, id: String },
    Head { reason: &'static str },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq, id } => write!(f, "entry #{seq} ({id}) was edited"),
            Self::Deleted { seq } => write!(f, "entry #{seq} was deleted"),
            Self::Inserted { seq: Some(seq), id } => {
                write!(f, "entry {id} was inserted as #{seq}")
            }
            Self::Inserted { seq: None, id } => {
                write!(f, "entry {id} was inserted without a chain link")
            }
            Self::Head { reason } => write!(f, "the chain head {reason}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub tenant: TenantId,
    /// The head's sequence number (0 without a head).
    pub head_seq: u64,
    /// Entries found that are part of the chain (edited ones included).
    pub entries: u64,
    /// Sequence numbers missing because they expired.
    pub expired: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies `chain` of `tenant` under `key`, as of `now`.
pub fn verify(
    tenant: &TenantId,
    chain: &StoredChain,
    key: &ChainKey,
    now: Timestamp,
) -> VerifyReport {
    let now_s = now.unix_seconds();
    let mut findings = Vec::new();
    let head = chain.head.as_ref();
    let head_ok = head.is_some_and(|h| key.head_is_genuine(tenant, h));
    if head.is_some() && !head_ok {
        findings.push(Finding::Head {
            reason: "does not match its MAC",
        });
    }
    let mut by_seq: BTreeMap<u64, Vec<&ChainedEntry>> = BTreeMap::new();
    for e in &chain.entries {
        if &e.entry.tenant_id != tenant || e.link.seq == 0 {
            findings.push(Finding::Inserted {
                seq: Some(e.link.seq),
                id: e.entry.id.clone(),
            });
        } else {
            by_seq.entry(e.link.seq).or_default().push(e);
        }
    }
    for id in &chain.unchained {
        findings.push(Finding::Inserted {
            seq: None,
            id: id.clone(),
        });
    }
    // Where the chain ends: a genuine head says; else the highest sequence number seen.
    let max_seen = by_seq.keys().next_back().copied().unwrap_or(0);
    let end = match head {
        Some(h) if head_ok => h.seq,
        _ => max_seen,
    };
    let mut entries = 0u64;
    let mut expired = 0u64;
    // The hash the next entry must link to; `None` after a gap (nothing to check against).
    let mut prev_hash: Option<String> = Some(GENESIS.to_owned());
    let mut missing: Vec<u64> = Vec::new();
    // The last entry's hash, if it is genuine.
    let mut last_hash: Option<String> = None;
    for seq in 1..=end.max(max_seen) {
        let candidates = by_seq.get(&seq).map(Vec::as_slice).unwrap_or(&[]);
        if seq > end {
            // Past a genuine head: nothing here was appended by Packr.
            for c in candidates {
                findings.push(Finding::Inserted {
                    seq: Some(seq),
                    id: c.entry.id.clone(),
                });
            }
            continue;
        }
        if candidates.is_empty() {
            missing.push(seq);
            prev_hash = None;
            continue;
        }
        let links = |c: &&ChainedEntry| prev_hash.as_ref().is_none_or(|p| &c.link.prev_hash == p);
        let genuine = candidates
            .iter()
            .find(|c| key.entry_is_genuine(&c.entry, &c.link) && links(c));
        let chosen = match genuine {
            Some(g) => {
                last_hash = Some(g.link.hash.clone());
                *g
            }
            None => {
                // None is genuine: the one the next entry links to (or the only one) is
                // this place's entry, edited; the others were inserted.
                let next = by_seq.get(&(seq + 1));
                let linked_to = candidates.iter().find(|c| {
                    next.is_some_and(|n| n.iter().any(|n| n.link.prev_hash == c.link.hash))
                });
                let chosen = *linked_to.unwrap_or(&candidates[0]);
                findings.push(Finding::Edited {
                    seq,
                    id: chosen.entry.id.clone(),
                });
                last_hash = None;
                chosen
            }
        };
        for c in candidates {
            if !std::ptr::eq(*c, chosen) {
                findings.push(Finding::Inserted {
                    seq: Some(seq),
                    id: c.entry.id.clone(),
                });
            }
        }
        if !missing.is_empty() {
            // The gap before this entry: expired if its last entry's expiry has passed.
            let gone = std::mem::take(&mut missing);
            match chosen.link.prev_expires_at {
                Some(at) if at <= now_s => expired += gone.len() as u64,
                _ => findings.extend(gone.into_iter().map(|seq| Finding::Deleted { seq })),
            }
        }
        entries += 1;
        // After an edited entry its stored hash may be edited too: the next link is not
        // held against it (the edit is reported once).
        prev_hash = last_hash.clone();
    }
    if !missing.is_empty() {
        // The tail is gone: expired only if the head says the last entry has.
        match head {
            Some(h) if head_ok && h.last_expires_at <= now_s => expired += missing.len() as u64,
            _ => findings.extend(missing.into_iter().map(|seq| Finding::Deleted { seq })),
        }
    } else if let (Some(h), true, Some(last)) = (head, head_ok, &last_hash) {
        if end > 0 && last != &h.hash {
            findings.push(Finding::Head {
                reason: "points elsewhere than the last entry",
            });
        }
    }
    if head.is_none() && !chain.entries.is_empty() {
        findings.push(Finding::Head {
            reason: "is missing",
        });
    }
    findings.sort_by_key(|f| match f {
        Finding::Head { .. } => (0, 0),
        Finding::Edited { seq, .. } | Finding::Deleted { seq } => (1, *seq),
        Finding::Inserted { seq, .. } => (1, seq.unwrap_or(u64::MAX)),
    });
    VerifyReport {
        tenant: tenant.clone(),
        head_seq: head.map_or(0, |h| h.seq),
        entries,
        expired,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::LinkFields;
    use crate::domain::UserId;
    use crate::store::{AuditEntry, ChainHead};

    const DAY: i64 = 24 * 3600;

    fn key() -> ChainKey {
        ChainKey::new(b"unit-test-key".to_vec())
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    /// A chain of `n` entries as the store appends them, entry `i` recorded on day `i`
    /// and kept `retention` days.
    fn chain(n: u64, retention: i64) -> StoredChain {
        let key = key();
        let mut entries = Vec::new();
        let mut head: Option<ChainHead> = None;
        for seq in 1..=n {
            let entry = AuditEntry {
                id: format!("aud_{seq}"),
                tenant_id: acme(),
                actor: UserId::parse("u1").unwrap(),
                actor_role: "tenant_admin".to_owned(),
                action: "orders.create".to_owned(),
                target: format!("order:o{seq}"),
                at: Timestamp::from_unix_seconds(seq as i64 * DAY).unwrap(),
                request_id: format!("req_{seq}"),
                details: None,
            };
            let link = LinkFields {
                seq,
                prev_hash: head.as_ref().map_or(GENESIS.to_owned(), |h| h.hash.clone()),
                prev_expires_at: head.as_ref().map(|h| h.last_expires_at),
                expires_at: (seq as i64 + retention) * DAY,
            }
            .sealed(&key, &entry);
            head = Some(ChainHead {
                seq,
                hash: link.hash.clone(),
                last_id: entry.id.clone(),
                last_expires_at: link.expires_at,
                mac: key.head_mac(&acme(), seq, &link.hash, &entry.id, link.expires_at),
            });
            entries.push(ChainedEntry { entry, link });
        }
        StoredChain {
            head,
            entries,
            unchained: Vec::new(),
        }
    }

    fn at_day(day: i64) -> Timestamp {
        Timestamp::from_unix_seconds(day * DAY).unwrap()
    }

    #[test]
    fn an_intact_chain_has_no_findings() {
        let report = verify(&acme(), &chain(5, 365), &key(), at_day(10));
        assert_eq!((report.head_seq, report.entries, report.expired), (5, 5, 0));
        assert!(report.intact(), "{:?}", report.findings);
    }

    #[test]
    fn under_another_key_every_entry_and_the_head_fail() {
        let report = verify(
            &acme(),
            &chain(2, 365),
            &ChainKey::new(b"other".to_vec()),
            at_day(10),
        );
        assert_eq!(report.findings.len(), 3, "{:?}", report.findings);
        assert!(report.findings.contains(&Finding::Head {
            reason: "does not match its MAC"
        }));
    }

    #[test]
    fn a_deleted_tail_is_found_through_the_head() {
        let mut c = chain(5, 365);
        c.entries.retain(|e| e.link.seq < 4);
        let report = verify(&acme(), &c, &key(), at_day(10));
        assert_eq!(
            report.findings,
            vec![Finding::Deleted { seq: 4 }, Finding::Deleted { seq: 5 }]
        );
    }

    #[test]
    fn entries_the_ttl_removed_are_expired_not_deleted() {
        // given entries kept 10 days, the first three gone on day 14 (expired on 11..13)
        let mut c = chain(6, 10);
        c.entries.retain(|e| e.link.seq > 3);
        let report = verify(&acme(), &c, &key(), at_day(14));
        assert_eq!((report.entries, report.expired), (3, 3));
        assert!(report.intact(), "{:?}", report.findings);
        // and the same gap before they were due is a deletion
        let report = verify(&acme(), &c, &key(), at_day(12));
        assert_eq!(
            report.findings,
            vec![
                Finding::Deleted { seq: 1 },
                Finding::Deleted { seq: 2 },
                Finding::Deleted { seq: 3 }
            ]
        );
    }

    #[test]
    fn a_copy_from_another_tenant_or_an_unlinked_item_is_inserted() {
        let mut c = chain(2, 365);
        let mut foreign = chain(1, 365).entries.remove(0);
        foreign.entry.tenant_id = TenantId::parse("globex").unwrap();
        foreign.entry.id = "aud_foreign".to_owned();
        c.entries.push(foreign);
        c.unchained.push("aud_plain".to_owned());
        let report = verify(&acme(), &c, &key(), at_day(10));
        assert_eq!(
            report.findings,
            vec![
                Finding::Inserted {
                    seq: Some(1),
                    id: "aud_foreign".into()
                },
                Finding::Inserted {
                    seq: None,
                    id: "aud_plain".into()
                },
            ]
        );
    }

    #[test]
    fn an_edited_hash_is_one_finding_not_two() {
        // given entry 2's stored hash replaced (its successor still names the old one)
        let mut c = chain(4, 365);
        c.entries[1].link.hash = "f".repeat(64);
        let report = verify(&acme(), &c, &key(), at_day(10));
        assert_eq!(
            report.findings,
            vec![Finding::Edited {
                seq: 2,
                id: "aud_2".into()
            }]
        );
    }

    #[test]
    fn a_missing_head_is_a_finding() {
        let mut c = chain(2, 365);
        c.head = None;
        let report = verify(&acme(), &c, &key(), at_day(10));
        assert_eq!(
            report.findings,
            vec![Finding::Head {
                reason: "is missing"
            }]
        );
    }
}
