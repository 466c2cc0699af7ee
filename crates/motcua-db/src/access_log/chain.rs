//! The hash chain of the access log: one chain per UTC day of `at`, in id order.
//!
//! Each stored entry carries `prev_hash`, the hash of the previous entry of its day (32 zero
//! bytes for the day's first), and `hash`, the SHA-256 of `prev_hash` and every field of the
//! entry, its id included, each length-prefixed like [`crate::events::chain_hash`]. The head of
//! each day (its last id, that entry's hash and the number of entries) is a row of
//! `audit.access_log_chain`. Every writer extends the chain in the transaction that stores the
//! entries, after taking the heads of the days it writes: on PostgreSQL with
//! `SELECT … FOR UPDATE` (so several nodes build one chain), on SQLite inside the write
//! transaction, which already serialises writers. Ids are assigned under that lock, so id
//! order is chain order.
//!
//! Why per day: writers of different days never wait for each other, and a day that has ended
//! can be sealed by writing its head to the event log (`seal.rs`), after which removing
//! entries from its end is caught too.

use sha2::{Digest, Sha256};

use super::AccessEntry;

/// The `prev_hash` of the first entry of every day.
pub const GENESIS: [u8; 32] = [0; 32];

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;

/// The UTC day (since 1970) of a time in microseconds; truncating, as `at / 86400000000` in
/// SQL (times are never negative).
pub fn day_of(at: i64) -> i64 {
    at / DAY_US
}

/// `YYYY-MM-DD` of a day since 1970 (proleptic Gregorian calendar, UTC).
pub fn date_of(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The fields of an entry that its hash covers.
pub struct Fields<'a> {
    pub id: i64,
    pub at: i64,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub purpose: &'a str,
    pub reference: Option<&'a str>,
    pub subject_pid: Option<i64>,
    pub outcome: &'a str,
    pub request_id: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub fn of(id: i64, e: &'a AccessEntry) -> Fields<'a> {
        Fields {
            id,
            at: e.at,
            actor_kind: e.actor_kind.as_str(),
            actor_id: &e.actor_id,
            actor_name: &e.actor_name,
            action: &e.action,
            purpose: &e.purpose,
            reference: e.reference.as_deref(),
            subject_pid: e.subject_pid,
            outcome: &e.outcome,
            request_id: e.request_id.as_deref(),
        }
    }
}

/// The hash of one entry: SHA-256 over `prev` and the length-prefixed fields; an absent
/// optional field is a lone 0 byte, a present one 1 and then its value, so no choice of field
/// contents can make two different entries hash alike.
pub fn entry_hash(prev: &[u8; 32], f: &Fields<'_>) -> [u8; 32] {
    fn put(h: &mut Sha256, bytes: &[u8]) {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    fn put_opt(h: &mut Sha256, bytes: Option<&[u8]>) {
        match bytes {
            None => h.update([0u8]),
            Some(b) => {
                h.update([1u8]);
                put(h, b);
            }
        }
    }
    let mut h = Sha256::new();
    h.update(prev);
    h.update(f.id.to_le_bytes());
    h.update(f.at.to_le_bytes());
    put(&mut h, f.actor_kind.as_bytes());
    put(&mut h, f.actor_id.as_bytes());
    put(&mut h, f.actor_name.as_bytes());
    put(&mut h, f.action.as_bytes());
    put(&mut h, f.purpose.as_bytes());
    put_opt(&mut h, f.reference.map(str::as_bytes));
    put_opt(
        &mut h,
        f.subject_pid.map(i64::to_le_bytes).as_ref().map(|b| &b[..]),
    );
    put(&mut h, f.outcome.as_bytes());
    put_opt(&mut h, f.request_id.map(str::as_bytes));
    h.finalize().into()
}

/// The head of one day's chain (a row of `audit.access_log_chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub day: i64,
    pub last_id: i64,
    pub hash: [u8; 32],
    pub entries: i64,
}

impl Head {
    /// The head of a day with no entries yet.
    pub fn empty(day: i64) -> Head {
        Head {
            day,
            last_id: 0,
            hash: GENESIS,
            entries: 0,
        }
    }

    /// A head read from storage; a hash of the wrong length (only by tampering) reads as
    /// zeros, which no chain ends in.
    pub fn stored(day: i64, last_id: i64, hash: &[u8], entries: i64) -> Head {
        Head {
            day,
            last_id,
            hash: to_hash(hash).unwrap_or(GENESIS),
            entries,
        }
    }
}

/// A stored hash as 32 bytes, if it has that length.
pub fn to_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// One entry's place in the chain.
pub struct Link {
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

/// Extends the heads of the days a batch writes, entry by entry.
pub struct Chainer {
    /// The heads of the days written so far, in the order first met (a batch spans one day,
    /// rarely two).
    pub heads: Vec<Head>,
}

impl Chainer {
    /// Starts from the stored heads of the batch's days; a day without one starts empty.
    pub fn new(heads: Vec<Head>) -> Chainer {
        Chainer { heads }
    }

    /// Links the entry stored under `id` after the head of its day, and moves that head.
    pub fn link(&mut self, id: i64, e: &AccessEntry) -> Link {
        let day = day_of(e.at);
        let i = match self.heads.iter().rposition(|h| h.day == day) {
            Some(i) => i,
            None => {
                self.heads.push(Head::empty(day));
                self.heads.len() - 1
            }
        };
        let head = &mut self.heads[i];
        let prev = head.hash;
        let hash = entry_hash(&prev, &Fields::of(id, e));
        head.last_id = id;
        head.hash = hash;
        head.entries += 1;
        Link { prev, hash }
    }
}

/// The distinct days of a batch's entries, ascending (the order heads are locked in, so two
/// writers never wait for each other in a cycle).
pub fn days_of<'a>(entries: impl IntoIterator<Item = &'a AccessEntry>) -> Vec<i64> {
    let mut days: Vec<i64> = entries.into_iter().map(|e| day_of(e.at)).collect();
    days.sort_unstable();
    days.dedup();
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::ActorKind;

    fn entry(at: i64, reference: Option<&str>) -> AccessEntry {
        AccessEntry {
            at,
            actor_kind: ActorKind::Staff,
            actor_id: "u1".into(),
            actor_name: "Lan".into(),
            action: "view".into(),
            purpose: "hồ sơ".into(),
            reference: reference.map(Into::into),
            subject_pid: Some(1),
            outcome: "found".into(),
            request_id: None,
        }
    }

    #[test]
    fn dates_of_days() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(day_of(1_700_000_000_000_000)), "2023-11-14");
        assert_eq!(date_of(11_016), "2000-02-29");
        assert_eq!(date_of(20_790), "2026-12-03");
    }

    #[test]
    fn every_field_and_the_id_change_the_hash() {
        let e = entry(5, None);
        let base = entry_hash(&GENESIS, &Fields::of(1, &e));
        assert_ne!(base, entry_hash(&GENESIS, &Fields::of(2, &e)));
        assert_ne!(base, entry_hash(&[1; 32], &Fields::of(1, &e)));
        // An empty reference is not an absent one.
        let empty = entry(5, Some(""));
        assert_ne!(base, entry_hash(&GENESIS, &Fields::of(1, &empty)));
        let mut moved = entry(5, None);
        moved.purpose = "hồ s".into();
        moved.actor_name = "Lanơ".into();
        assert_ne!(base, entry_hash(&GENESIS, &Fields::of(1, &moved)));
    }

    #[test]
    fn days_chain_apart() {
        let mut c = Chainer::new(vec![]);
        let a = entry(DAY_US - 1, None);
        let b = entry(DAY_US, None);
        let l1 = c.link(1, &a);
        let l2 = c.link(2, &b);
        let l3 = c.link(3, &a);
        assert_eq!(l1.prev, GENESIS);
        assert_eq!(l2.prev, GENESIS, "a new day starts its own chain");
        assert_eq!(l3.prev, l1.hash);
        assert_eq!(c.heads.len(), 2);
        assert_eq!((c.heads[0].last_id, c.heads[0].entries), (3, 2));
        assert_eq!(days_of([&b, &a, &b]), vec![0, 1]);
    }
}
