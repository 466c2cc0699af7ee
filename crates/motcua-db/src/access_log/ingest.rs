//! Copies journal records into the database, off the request path.
//!
//! The ingester wakes every [`INGEST_EVERY`], when [`INGEST_AT`] records are waiting, or when a
//! reader asks for a flush. Each batch is inserted together with this node's position in
//! `access_journal`, in one transaction, so after a crash ingestion resumes exactly after the
//! last committed record: nothing lost, nothing twice. A segment is deleted only after the
//! commit covering its last record. The same transaction extends the day chains
//! (`chain.rs`): the heads of the batch's days are read once, each entry is hashed in the
//! insert loop, and the heads are written back once per day. Once a whole run of entries
//! ([`INDEX_RUN`]) is copied, their keys are sorted and added to the per-citizen index, a band
//! of keys per commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::checkpoint::Checkpointer;
use super::journal::{self, Durable, Record};
use super::{AccessEntry, SubjectKey, chain};
use crate::DbResult;

/// How long records may wait in the journal before they are copied.
pub const INGEST_EVERY: Duration = Duration::from_secs(1);
/// …or how many, whichever comes first.
pub const INGEST_AT: u64 = 8_192;
/// Records per transaction: each commit is synced, so fewer, larger ones leave the disk to
/// the journal's syncs.
const BATCH: usize = 16_384;
/// Entries per sorted run into the per-citizen index (`access_log_subjects`, see
/// `migrations/sqlite/0006_access_log_subjects.sql`). Readers scan at most about this many
/// newer entries directly; a larger run writes each index page fewer times.
pub const INDEX_RUN: i64 = 65_536;
/// Index rows per transaction within a run: consecutive keys of the sorted run, so each
/// commit writes a narrow band of the index…
const INDEX_CHUNK: usize = 1_024;
/// …with a pause after each, so the journal's syncs are not queued behind a run's writes.
const INDEX_PAUSE: Duration = Duration::from_millis(10);

/// State shared by the journal writer, the ingester and readers waiting for a flush.
///
/// The journal writer, which every request waits for, never takes a lock the ingester may
/// hold. The ingester runs under `SCHED_IDLE`: on a busy core it can be preempted inside any
/// critical section and then not run again for a long while, and a writer blocked on that lock
/// would hold back every request meanwhile. So the writer publishes through atomics (the
/// synced end in a [`DurableCell`], the copied position in `copied`) and only notifies the
/// condition variable; a wake-up lost in a race costs the ingester at most [`INGEST_EVERY`].
pub struct Shared {
    durable: DurableCell,
    copied: AtomicU64,
    state: Mutex<State>,
    cond: Condvar,
    /// The last sequence number committed to the database, for readers waiting for a flush.
    pub ingested: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    wake: bool,
    stop: bool,
}

impl Shared {
    pub fn new(durable: Durable, ingested: u64) -> Shared {
        let shared = Shared {
            durable: DurableCell::default(),
            copied: AtomicU64::new(ingested),
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            ingested: tokio::sync::watch::Sender::new(ingested),
        };
        shared.durable.store(durable);
        shared
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain flags behind; they stay usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a newly synced end of the journal; wakes the ingester when much is waiting.
    /// Called by the journal writer only.
    pub fn durable(&self, durable: Durable) {
        let waiting = durable
            .seq
            .saturating_sub(self.copied.load(Ordering::Acquire));
        self.durable.store(durable);
        if waiting >= INGEST_AT {
            self.cond.notify_one();
        }
    }

    /// Records that the database holds everything up to `seq`.
    fn copied(&self, seq: u64) {
        self.copied.store(seq, Ordering::Release);
        self.ingested.send_replace(seq);
    }

    /// Asks the ingester to copy everything now; returns the sequence number to wait for.
    pub fn wake(&self) -> u64 {
        let target = self.durable.load().seq;
        self.lock().wake = true;
        self.cond.notify_one();
        target
    }

    /// The writer has stopped: ingest what is left and end.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.cond.notify_one();
    }

    fn wait(&self, ingested: u64) -> (Durable, bool) {
        let mut state = self.lock();
        let due = |s: &State| s.wake || s.stop || self.durable.load().seq >= ingested + INGEST_AT;
        if !due(&state) {
            state = match self.cond.wait_timeout(state, INGEST_EVERY) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        state.wake = false;
        let stop = state.stop;
        drop(state);
        (self.durable.load(), stop)
    }
}

/// The synced end of the journal, written by the journal writer alone and read without a lock
/// (a sequence lock: readers retry while a store is under way).
#[derive(Default)]
struct DurableCell {
    /// Odd while a store is under way.
    version: AtomicU64,
    seq: AtomicU64,
    segment: AtomicU64,
    len: AtomicU64,
}

impl DurableCell {
    fn store(&self, d: Durable) {
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.seq.store(d.seq, Ordering::Relaxed);
        self.segment.store(d.segment, Ordering::Relaxed);
        self.len.store(d.len, Ordering::Relaxed);
        self.version.store(v.wrapping_add(2), Ordering::Release);
    }

    fn load(&self) -> Durable {
        loop {
            let before = self.version.load(Ordering::Acquire);
            if before.is_multiple_of(2) {
                let d = Durable {
                    seq: self.seq.load(Ordering::Relaxed),
                    segment: self.segment.load(Ordering::Relaxed),
                    len: self.len.load(Ordering::Relaxed),
                };
                fence(Ordering::Acquire);
                if self.version.load(Ordering::Relaxed) == before {
                    return d;
                }
            }
            std::thread::yield_now();
        }
    }
}

/// Where the ingester writes: the access log's own SQLite file, through a direct connection
/// whose commits are synced (segments are deleted after them).
pub struct Sink(pub rusqlite::Connection);

impl Sink {
    /// This node's committed position.
    pub fn ingested(&self, node: &str) -> DbResult<u64> {
        use rusqlite::OptionalExtension;
        let seq: Option<i64> = self
            .0
            .query_row(
                "SELECT ingested_seq FROM access_journal WHERE node_id = ?1",
                [node],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.map_or(0, |s| s.max(0) as u64))
    }

    fn store(&mut self, node: &str, records: &[Record]) -> DbResult<()> {
        use rusqlite::OptionalExtension;
        let Some(last) = records.iter().map(|r| r.seq).max() else {
            return Ok(());
        };
        // In journal order: ids follow time, and the table and its time index grow at their
        // ends. The per-citizen index follows in sorted runs (`index_run`).
        let entries: Vec<&AccessEntry> = records.iter().map(|r| &r.entry).collect();
        let last = i64::try_from(last).unwrap_or(i64::MAX);
        let now = crate::clock::now_us();
        let tx = self
            .0
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            // The chain (`chain.rs`): this transaction excludes every other writer, so the
            // heads read here stay current until the commit, and ids continue after the last.
            let mut chainer = chain::Chainer::new(Vec::new());
            {
                let mut head = tx.prepare_cached(
                    "SELECT last_id, head_hash, entries FROM access_log_chain WHERE day = ?1",
                )?;
                for day in chain::days_of(entries.iter().copied()) {
                    let stored = head
                        .query_row([day], |r| {
                            let hash: Vec<u8> = r.get(1)?;
                            Ok(chain::Head::stored(day, r.get(0)?, &hash, r.get(2)?))
                        })
                        .optional()?;
                    chainer
                        .heads
                        .push(stored.unwrap_or(chain::Head::empty(day)));
                }
            }
            let mut id: i64 =
                tx.query_row("SELECT COALESCE(MAX(id), 0) FROM access_log", [], |r| {
                    r.get(0)
                })?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO access_log (id, at, actor_kind, actor_id, actor_name, action, purpose,
                                         reference, subject_pid, outcome, request_id,
                                         prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut pacer = crate::sched::Pacer::default();
            for e in &entries {
                pacer.step();
                id += 1;
                let link = chainer.link(id, e);
                insert.execute(rusqlite::params![
                    id,
                    e.at,
                    e.actor_kind.as_str(),
                    e.actor_id,
                    e.actor_name,
                    e.action,
                    e.purpose,
                    e.reference,
                    e.subject_pid,
                    e.outcome,
                    e.request_id,
                    &link.prev[..],
                    &link.hash[..]
                ])?;
            }
            let mut head = tx.prepare_cached(
                "INSERT INTO access_log_chain (day, last_id, head_hash, entries)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (day) DO UPDATE SET last_id = excluded.last_id,
                     head_hash = excluded.head_hash, entries = excluded.entries",
            )?;
            for h in &chainer.heads {
                head.execute(rusqlite::params![h.day, h.last_id, &h.hash[..], h.entries])?;
            }
            tx.execute(
                "INSERT INTO access_journal (node_id, ingested_seq, updated_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (node_id) DO UPDATE
                 SET ingested_seq = excluded.ingested_seq, updated_at = excluded.updated_at",
                rusqlite::params![node, last, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Entries after this id are not yet in the per-citizen index; and the last entry's id.
    fn index_position(&self) -> DbResult<(i64, i64)> {
        let indexed: i64 = self.0.query_row(
            "SELECT indexed_id FROM access_log_indexing WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let last: i64 =
            self.0
                .query_row("SELECT COALESCE(MAX(id), 0) FROM access_log", [], |r| {
                    r.get(0)
                })?;
        Ok((indexed, last))
    }

    /// Adds the index rows of up to [`INDEX_RUN`] entries after `from`, sorted, in
    /// transactions of [`INDEX_CHUNK`] rows; the last one also moves `indexed_id`. A run cut
    /// short is repeated from `from` (rows already there are skipped), and until it ends
    /// readers find its entries by scanning.
    /// Returns how many keys it added.
    fn index_run(&mut self, from: i64) -> DbResult<usize> {
        let mut keys: Vec<SubjectKey> = Vec::new();
        let mut upto = from;
        let mut pacer = crate::sched::Pacer::default();
        {
            let mut select = self.0.prepare_cached(
                "SELECT id, at, subject_pid FROM access_log WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let mut rows = select.query(rusqlite::params![from, INDEX_RUN])?;
            while let Some(row) = rows.next()? {
                pacer.step();
                let (id, at, pid): (i64, i64, Option<i64>) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                upto = upto.max(id);
                if let Some(pid) = pid {
                    keys.push(SubjectKey::new(pid, at, id));
                }
            }
        }
        keys.sort_unstable();
        let mut days: Vec<i64> = keys.iter().map(|k| k.day).collect();
        days.dedup();
        let chunks: Vec<&[SubjectKey]> = keys.chunks(INDEX_CHUNK).collect();
        for i in 0..chunks.len().max(1) {
            let tx = self
                .0
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if i == 0 {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO access_log_days (day) VALUES (?1) ON CONFLICT DO NOTHING",
                )?;
                for day in &days {
                    insert.execute([day])?;
                }
            }
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO access_log_subjects (day, subject_pid, at, id)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?;
                for key in chunks.get(i).copied().unwrap_or_default() {
                    pacer.step();
                    insert.execute(rusqlite::params![key.day, key.pid, key.at, key.id])?;
                }
            }
            let last = i + 1 >= chunks.len();
            if last {
                tx.execute(
                    "UPDATE access_log_indexing SET indexed_id = ?1 WHERE id = 1",
                    [upto],
                )?;
            }
            tx.commit()?;
            if !last {
                std::thread::sleep(INDEX_PAUSE);
            }
        }
        Ok(keys.len())
    }
}

/// The ingester's place in the journal.
struct Cursor {
    segment: u64,
    offset: u64,
    /// The least number the record at `offset` may have.
    next: u64,
}

impl Cursor {
    fn at_start(segment: u64) -> Cursor {
        Cursor {
            segment,
            offset: 0,
            next: segment,
        }
    }
}

pub struct Ingester {
    pub dir: PathBuf,
    pub node: String,
    pub sink: Sink,
    pub shared: Arc<Shared>,
    /// Checkpoints the sink's file (its automatic checkpoints are off).
    pub checkpointer: Checkpointer,
}

impl Ingester {
    /// Runs until the writer stops and everything it wrote is in the database.
    pub fn run(mut self) {
        let mut ingested = *self.shared.ingested.borrow();
        let mut cursor: Option<Cursor> = None;
        // Segments closed by earlier runs: copy whatever of them is missing, then remove them,
        // even if no new entry arrives.
        let durable = self.shared.durable.load();
        loop {
            if cursor
                .as_ref()
                .is_some_and(|c| c.segment == durable.segment)
            {
                break;
            }
            match self.step(&mut cursor, durable, &mut ingested) {
                Ok(true) => {
                    self.shared.copied(ingested);
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::error!(error = %e, "copying earlier access-log journal segments failed");
                    break;
                }
            }
        }
        loop {
            let (durable, stop) = self.shared.wait(ingested);
            let mut stalled = false;
            while ingested < durable.seq {
                match self.step(&mut cursor, durable, &mut ingested) {
                    Ok(true) => {
                        self.shared.copied(ingested);
                    }
                    Ok(false) => {
                        // Synced records the journal no longer holds (its files were removed
                        // while the node ran): nothing here can bring them back.
                        tracing::error!(
                            copied = ingested,
                            synced = durable.seq,
                            "access-log journal records are missing; will look again"
                        );
                        stalled = true;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "copying the access-log journal failed; will retry");
                        stalled = true;
                        break;
                    }
                }
            }
            if stop {
                // Whatever could not be copied stays in the journal for the next start.
                break;
            }
            self.index_when_due();
            if stalled {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Runs sorted runs into the per-citizen index while a whole run of entries waits.
    fn index_when_due(&mut self) {
        loop {
            let result = self.sink.index_position().and_then(|(indexed, last)| {
                if last - indexed < INDEX_RUN {
                    return Ok(false);
                }
                let started = std::time::Instant::now();
                let keys = self.sink.index_run(indexed)?;
                tracing::info!(
                    after_id = indexed,
                    seconds = started.elapsed().as_secs_f64(),
                    "access log: a sorted run added to the per-citizen index"
                );
                self.wrote(keys);
                Ok(true)
            });
            match result {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::error!(error = %e, "indexing the access log by citizen failed; will retry");
                    break;
                }
            }
        }
    }

    /// Copies one batch; false when there was nothing to copy.
    fn step(
        &mut self,
        cursor: &mut Option<Cursor>,
        durable: Durable,
        ingested: &mut u64,
    ) -> std::io::Result<bool> {
        let here = match cursor {
            Some(c) => c,
            None => match journal::segments(&self.dir)?.first() {
                Some(&segment) => cursor.insert(Cursor::at_start(segment)),
                None => return Ok(false),
            },
        };
        let path = journal::segment_path(&self.dir, here.segment);
        let current = here.segment == durable.segment;
        let until = current.then_some(durable.len);
        // Up to a batch of records from this segment, window after window, for one commit:
        // every commit syncs the file, and each sync delays the journal's own.
        let mut fresh: Vec<Record> = Vec::new();
        let mut offset = here.offset;
        let read = loop {
            let read = journal::read_range(&path, offset, here.next, until, BATCH - fresh.len())?;
            let advanced = read.end > offset;
            offset = read.end;
            if let Some(last) = read.records.last() {
                here.next = last.seq + 1;
            }
            fresh.extend(read.records.into_iter().filter(|r| r.seq > *ingested));
            if read.finished || read.damaged || !advanced || fresh.len() >= BATCH {
                break journal::Segment {
                    records: Vec::new(),
                    ..read
                };
            }
        };
        let moved = offset > here.offset;
        if let Some(last) = fresh.iter().map(|r| r.seq).max() {
            self.sink
                .store(&self.node, &fresh)
                .map_err(std::io::Error::other)?;
            *ingested = last;
            self.wrote(fresh.len());
        }
        here.offset = offset;
        if current {
            if read.damaged {
                return Err(std::io::Error::other(format!(
                    "damaged record in {} at byte {}",
                    path.display(),
                    read.end
                )));
            }
            return Ok(moved);
        }
        // A segment older than the one being written is closed: once read to its end it is
        // done.
        if !(read.finished || read.damaged) {
            return Ok(moved);
        }
        self.finish_segment(&path, read.damaged)?;
        let next = journal::segments(&self.dir)?
            .into_iter()
            .find(|&s| s > here.segment);
        *cursor = next.map(Cursor::at_start);
        Ok(true)
    }

    /// Counts log written into the sink, checkpointing when enough has been. A checkpoint that
    /// fails is tried again after more is written; until then the WAL grows.
    fn wrote(&mut self, units: usize) {
        if let Err(e) = self.checkpointer.wrote(&self.sink.0, units) {
            tracing::warn!(error = %e, "checkpointing the access log failed; will retry");
        }
    }

    /// A closed segment whose records are all committed is recycled. One with a damaged record
    /// is kept under another name: usually the tail of a write cut short by a crash (never
    /// acknowledged), but the operator must rule out damage to acknowledged records.
    fn finish_segment(&self, path: &Path, damaged: bool) -> std::io::Result<()> {
        if damaged {
            tracing::warn!(
                file = %path.display(),
                "access-log journal segment ends in a damaged record; kept aside as .damaged"
            );
            std::fs::rename(path, path.with_extension("damaged"))
        } else {
            journal::recycle(&self.dir, path)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A reader never sees a mix of two stores, however they interleave.
    #[test]
    fn the_durable_cell_is_read_whole() {
        let cell = Arc::new(DurableCell::default());
        let writer = {
            let cell = cell.clone();
            std::thread::spawn(move || {
                for i in 1..=200_000u64 {
                    cell.store(Durable {
                        seq: i,
                        segment: i * 2,
                        len: i * 3,
                    });
                }
            })
        };
        let mut last = 0;
        while last < 200_000 {
            let d = cell.load();
            assert_eq!((d.segment, d.len), (d.seq * 2, d.seq * 3));
            assert!(d.seq >= last, "went back from {last} to {}", d.seq);
            last = d.seq;
        }
        writer.join().unwrap();
    }
}
