//! Recomputing the access log's chains (`chain.rs`), read-only.
//!
//! Entries are read in id order, a page at a time, keeping only the last two links of each
//! day, so memory grows with the number of days, not of entries. Each entry's hash is
//! recomputed from its fields and `prev_hash`, and each `prev_hash` must be the hash of the
//! previous entry of its day. Then each day's head row must name the last entry, and each
//! `access_log.day_sealed` event the entry at the position it sealed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::chain::{self, Fields, GENESIS, Head};
use super::seal::{SEAL_EVENT, Seal};
use crate::{Db, DbResult, on_read};

/// Entries read per query.
const PAGE: i64 = 5_000;

/// What a verification of the access log found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLogReport {
    /// Entries checked against the chain.
    pub entries: u64,
    /// Days with chained entries.
    pub days: u64,
    /// Entries stored before the chain existed (migration 0007), counted, not checked.
    pub unchained: u64,
    /// Seal events checked.
    pub seals: u64,
    /// Every break, naming the log, the entry or day, and the reason.
    pub breaks: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: i64,
    actor_kind: String,
    actor_id: String,
    actor_name: String,
    action: String,
    purpose: String,
    reference: Option<String>,
    subject_pid: Option<i64>,
    outcome: String,
    request_id: Option<String>,
    prev_hash: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

impl Row {
    fn fields(&self) -> Fields<'_> {
        Fields {
            id: self.id,
            at: self.at,
            actor_kind: &self.actor_kind,
            actor_id: &self.actor_id,
            actor_name: &self.actor_name,
            action: &self.action,
            purpose: &self.purpose,
            reference: self.reference.as_deref(),
            subject_pid: self.subject_pid,
            outcome: &self.outcome,
            request_id: self.request_id.as_deref(),
        }
    }
}

/// The walk through one day's chain so far.
#[derive(Default)]
struct DayWalk {
    entries: i64,
    /// The last entry (id, hash) and the one before it.
    last: Option<(i64, [u8; 32])>,
    before_last: Option<(i64, [u8; 32])>,
}

/// Recomputes every day's chain and checks the heads and seals.
pub async fn verify(db: &Db) -> DbResult<AccessLogReport> {
    let mut report = AccessLogReport::default();
    let unchained_through = unchained_through(db).await?;
    let mut seals = seals_by_day(db, &mut report).await?;
    let mut walks: BTreeMap<i64, DayWalk> = BTreeMap::new();
    let mut after = 0i64;
    loop {
        let page: Vec<Row> = on_read!(db, c => {
            sqlx::query_as(
                "SELECT id, at, actor_kind, actor_id, actor_name, action, purpose, reference,
                        subject_pid, outcome, request_id, prev_hash, hash
                 FROM audit.access_log WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(c)
            .await
        })?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            check(row, unchained_through, &mut walks, &mut seals, &mut report);
        }
    }
    let heads = heads(db).await?;
    check_heads(&walks, &heads, &mut report);
    for (day, pending) in seals {
        let walk = walks.get(&day);
        for seal in pending {
            report.breaks.push(format!(
                "access log day {} (sealed in event v{}): seal mismatch: sealed with {} entries \
                 ending at entry {}, but the day has {}: entries were removed",
                chain::date_of(day),
                seal.version,
                seal.entries,
                seal.last_id,
                walk.map_or(0, |w| w.entries)
            ));
        }
    }
    report.days = walks.len() as u64;
    Ok(report)
}

fn check(
    row: &Row,
    unchained_through: i64,
    walks: &mut BTreeMap<i64, DayWalk>,
    seals: &mut BTreeMap<i64, Vec<Seal>>,
    report: &mut AccessLogReport,
) {
    let day = chain::day_of(row.at);
    let name = format!("access log entry {} (day {})", row.id, chain::date_of(day));
    let (Some(prev), Some(hash)) = (&row.prev_hash, &row.hash) else {
        if row.id <= unchained_through {
            report.unchained += 1;
        } else {
            report
                .breaks
                .push(format!("{name}: inserted out of chain: it has no hash"));
        }
        return;
    };
    report.entries += 1;
    let (Some(prev), Some(hash)) = (chain::to_hash(prev), chain::to_hash(hash)) else {
        report
            .breaks
            .push(format!("{name}: edited: its hashes are not 32 bytes"));
        return;
    };
    let walk = walks.entry(day).or_default();
    let expected = walk.last.map_or(GENESIS, |(_, h)| h);
    if prev != expected {
        match (walk.last, walk.before_last) {
            (Some((inserted, _)), Some((_, h))) if h == prev => report.breaks.push(format!(
                "access log entry {inserted} (day {}): inserted out of chain: the next entry, \
                 {}, links to the one before it",
                chain::date_of(day),
                row.id
            )),
            (Some((inserted, _)), None) if prev == GENESIS => report.breaks.push(format!(
                "access log entry {inserted} (day {}): inserted out of chain: the next entry, \
                 {}, starts the day",
                chain::date_of(day),
                row.id
            )),
            (last, _) => report.breaks.push(format!(
                "{name}: does not link to the previous entry of its day ({}): an entry before \
                 it is missing, or it was inserted out of chain",
                last.map_or("none".to_owned(), |(id, _)| format!("entry {id}"))
            )),
        }
    }
    if chain::entry_hash(&prev, &row.fields()) != hash {
        report.breaks.push(format!(
            "{name}: edited: its content does not match its hash"
        ));
    }
    walk.entries += 1;
    walk.before_last = walk.last;
    walk.last = Some((row.id, hash));
    if let Some(pending) = seals.get_mut(&day) {
        pending.retain(|seal| {
            if seal.entries != walk.entries {
                return true;
            }
            if seal.last_id != row.id || seal.hash != hash {
                report.breaks.push(format!(
                    "access log day {} (sealed in event v{}): seal mismatch: entry {} of the day \
                     should be {} with the sealed hash, but it is {}{}",
                    chain::date_of(day),
                    seal.version,
                    seal.entries,
                    seal.last_id,
                    row.id,
                    if seal.last_id == row.id {
                        " with another hash"
                    } else {
                        ""
                    }
                ));
            }
            false
        });
    }
}

/// Each day's head row must name the last entry of the day's chain, with its hash and count.
fn check_heads(walks: &BTreeMap<i64, DayWalk>, heads: &[Head], report: &mut AccessLogReport) {
    let by_day: BTreeMap<i64, &Head> = heads.iter().map(|h| (h.day, h)).collect();
    for (day, walk) in walks {
        let Some((last_id, hash)) = walk.last else {
            continue;
        };
        match by_day.get(day) {
            None => report.breaks.push(format!(
                "access log day {}: head mismatch: no head row for its {} entries",
                chain::date_of(*day),
                walk.entries
            )),
            Some(head) if head.last_id != last_id || head.entries != walk.entries => {
                report.breaks.push(format!(
                    "access log day {}: head mismatch: the head names entry {} as entry {} of \
                     the day, but the chain ends at entry {} after {}: entries were removed \
                     from its end, or the head was changed",
                    chain::date_of(*day),
                    head.last_id,
                    head.entries,
                    last_id,
                    walk.entries
                ))
            }
            Some(head) if head.hash != hash => report.breaks.push(format!(
                "access log entry {last_id} (day {}): head mismatch: the head holds another \
                 hash for it",
                chain::date_of(*day)
            )),
            Some(_) => {}
        }
    }
    for head in heads {
        if head.entries > 0 && !walks.contains_key(&head.day) {
            report.breaks.push(format!(
                "access log day {}: head mismatch: the head names {} entries ending at entry \
                 {}, but the day has none: they were removed",
                chain::date_of(head.day),
                head.entries,
                head.last_id
            ));
        }
    }
}

async fn unchained_through(db: &Db) -> DbResult<i64> {
    let last: Option<i64> = on_read!(db, c => {
        sqlx::query_scalar("SELECT last_id FROM audit.access_log_unchained WHERE id = 1")
            .fetch_optional(c)
            .await
    })?;
    Ok(last.unwrap_or(0))
}

async fn heads(db: &Db) -> DbResult<Vec<Head>> {
    let rows: Vec<(i64, i64, Vec<u8>, i64)> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT day, last_id, head_hash, entries FROM audit.access_log_chain ORDER BY day",
        )
        .fetch_all(c)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(day, last_id, hash, entries)| Head::stored(day, last_id, &hash, entries))
        .collect())
}

/// Every seal in the event log, by day; a seal whose payload cannot be read is a break.
async fn seals_by_day(db: &Db, report: &mut AccessLogReport) -> DbResult<BTreeMap<i64, Vec<Seal>>> {
    let mut seals: BTreeMap<i64, Vec<Seal>> = BTreeMap::new();
    let mut after_seq = 0;
    loop {
        let page =
            crate::events::by_type(db, SEAL_EVENT, i64::MIN, i64::MAX, after_seq, 1_000).await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        for event in &page {
            report.seals += 1;
            match Seal::of_event(event) {
                Some(seal) => seals.entry(seal.day).or_default().push(seal),
                None => report.breaks.push(format!(
                    "event log: {} {} v{}: the seal cannot be read",
                    event.aggregate_type, event.aggregate_id, event.version
                )),
            }
        }
    }
    Ok(seals)
}
