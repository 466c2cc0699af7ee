//! Bulk writes of citizens on the embedded database through `rusqlite` (see
//! `motcua_db::raw` for why): one prepared statement reused for every row, each batch written
//! with its households and its event.
//!
//! A sorted run (a bulk import into an empty table) comes from [`crate::sorted_reader`]: its
//! rows in PID order, in chunks laid out by [`crate::packed_rows`], then its households in id
//! order. Writing the households once per run, appended in id order, replaced an upsert per
//! batch at random places in the households table (2.5 s of 7.9 s on a million citizens).
//!
//! Batches are grouped into transactions of about [`GROUP_ROWS`] rows. Citizens are keyed by
//! PID, which arrives in random order, so every commit writes each table page it touched; with
//! small transactions the same pages are written again and again (measured: 18,000 rows/s with
//! a commit per 20,000 rows). A group is all-or-nothing like a batch, so no row is ever stored
//! in part.

/// Rows per transaction.
pub const GROUP_ROWS: usize = 250_000;

/// Page cache of the writer while it appends a sorted run (KiB).
const SORTED_CACHE_KIB: i64 = 16 * 1024;

/// Page cache while indexes are built (KiB): the size of the sorter's in-memory runs.
const SORTER_CACHE_KIB: i64 = 2048;

/// Sorter threads while indexes are built.
const SORTER_THREADS: i64 = 4;

/// Largest database mapped into memory while secondary indexes are built (bytes).
const INDEX_BUILD_MMAP: i64 = 1 << 36;

/// A direct connection that keeps a transaction open across batches.
pub(crate) struct RawWriter {
    pub conn: Connection,
    open: bool,
    pending: usize,
    checkpointer: Option<Checkpointer>,
}

impl RawWriter {
    pub fn new(conn: Connection) -> RawWriter {
        RawWriter {
            conn,
            open: false,
            pending: 0,
            checkpointer: None,
        }
    }

    /// Moves WAL checkpoints to a thread of their own until [`RawWriter::finish`]. A bulk load
    /// writes every page twice, once into the WAL at commit and once into the database file at
    /// the checkpoint; the checkpoint (reading the WAL back, writing and syncing the file) took
    /// about 1.5 s of the writer's 6 s on a million citizens. On another thread it overlaps with
    /// the writer building the next group.
    pub fn checkpoint_in_background(&mut self) -> Result<()> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let Some(path) = self.conn.path().map(str::to_owned) else {
            return Ok(());
        };
        let checkpointer = Checkpointer::start(&path)?;
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_err)?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }

    /// Waits for background checkpoints, checkpoints the rest of the WAL and truncates it, and
    /// returns checkpoints to the connection.
    pub fn finish(&mut self) -> Result<()> {
        self.commit()?;
        if self.checkpointer.take().is_some() {
            // Another process may be reading; then the WAL is copied later, not truncated now.
            bulk::checkpoint_truncate(&self.conn)?;
            self.conn
                .pragma_update(None, "wal_autocheckpoint", DEFAULT_AUTOCHECKPOINT)
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Stores one batch inside the current group, committing the group when it is full.
    pub fn store(
        &mut self,
        rows: &[&CitizenRecord],
        import_id: &str,
        actor: &str,
        lines: (u64, u64),
        now: i64,
    ) -> Result<Vec<bool>> {
        if !self.open {
            bulk::begin(&self.conn)?;
            self.open = true;
        }
        match store(&self.conn, rows, import_id, actor, lines, now) {
            Ok(flags) => {
                self.pending += rows.len();
                if self.pending >= GROUP_ROWS {
                    self.commit()?;
                }
                Ok(flags)
            }
            Err(e) => {
                bulk::rollback(&self.conn);
                self.open = false;
                self.pending = 0;
                Err(e)
            }
        }
    }

    /// Stores a sorted run as its reader hands it over, in groups like [`RawWriter::store`]:
    /// each chunk of rows with its event, and the households. Returns how many rows were
    /// stored and the (line, PID) of each row skipped because its PID was already present.
    pub fn store_sorted(
        &mut self,
        parts: &mut impl Iterator<Item = RunPart>,
        import_id: &str,
        actor: &str,
    ) -> Result<(u64, Vec<(u64, i64)>)> {
        let mut stored = 0u64;
        let mut skipped = Vec::new();
        // Rows arrive in key order, so the writer passes over each table page once (filling
        // it at the right edge on a file's first run, in key order on later runs) and never
        // comes back to it: a small cache recycles page buffers. The streamed path's 512 MiB
        // made SQLite allocate (and the kernel zero) a fresh buffer for every page written,
        // 230 MB of page faults per million citizens (measured: 15 % less system time).
        self.conn
            .pragma_update(None, "cache_size", -SORTED_CACHE_KIB)
            .map_err(db_err)?;
        for part in parts {
            if !self.open {
                bulk::begin(&self.conn)?;
                self.open = true;
            }
            let now = motcua_db::clock::now_us();
            let outcome = match &part {
                RunPart::Households(rows) => {
                    let started = std::time::Instant::now();
                    let done = store::households::insert_raw(&self.conn, rows, now).map(|_| 0);
                    tracing::debug!(
                        households = rows.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "households of the run stored"
                    );
                    done
                }
                RunPart::Chunk(chunk) => {
                    store_chunk(&self.conn, chunk, import_id, actor, now).map(|flags| {
                        for (k, ok) in flags.iter().enumerate() {
                            if !ok {
                                skipped.push((chunk.lines[k], chunk.rows[k].pid));
                            }
                        }
                        flags.iter().filter(|ok| **ok).count()
                    })
                }
            };
            match outcome {
                Ok(n) => {
                    stored += n as u64;
                    self.pending += n;
                    if self.pending >= GROUP_ROWS {
                        self.commit()?;
                    }
                }
                Err(e) => {
                    bulk::rollback(&self.conn);
                    self.open = false;
                    self.pending = 0;
                    return Err(e);
                }
            }
        }
        Ok((stored, skipped))
    }

    /// Builds indexes with SQLite's multi-threaded sorter. The page cache is shrunk and temp
    /// storage set back to files first: the sorter sorts in memory up to the cache size (or
    /// entirely, with in-memory temp storage), and one in-memory sort of a million keys runs
    /// on one thread and misses the CPU cache; otherwise it sorts small runs on worker threads
    /// and merges them (measured with the `sqlite3` shell on a million citizens: both indexes
    /// 4.1 s with a 512 MiB cache or in-memory temp storage, 2.1 s with 2 MiB, temp files and
    /// four sorter threads; inside the import, 1 MiB and eight threads were no better).
    pub fn create_indexes(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -SORTER_CACHE_KIB)
            .map_err(db_err)?;
        self.conn
            .pragma_update(None, "temp_store", "DEFAULT")
            .map_err(db_err)?;
        self.conn
            .pragma_update(None, "threads", SORTER_THREADS)
            .map_err(db_err)?;
        // Each build scans the whole table; mapped, its pages are read without a copy.
        self.conn
            .pragma_update(None, "mmap_size", INDEX_BUILD_MMAP)
            .map_err(db_err)?;
        bulk::create_secondary_indexes(&self.conn, || self.nudge_checkpointer())
    }

    pub fn commit(&mut self) -> Result<()> {
        if self.open {
            bulk::commit(&self.conn)?;
            self.open = false;
            self.pending = 0;
            self.nudge_checkpointer();
        }
        Ok(())
    }

    fn nudge_checkpointer(&self) {
        if let Some(c) = &self.checkpointer {
            c.nudge();
        }
    }
}

/// SQLite's default for `wal_autocheckpoint` (pages).
const DEFAULT_AUTOCHECKPOINT: i64 = 1000;

/// A thread with its own connection that runs a passive checkpoint each time it is nudged.
/// A passive checkpoint copies committed frames without waiting for readers or the writer.
struct Checkpointer {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &str) -> Result<Checkpointer> {
        let conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db_err)?;
        let page_size = bulk::page_size(&conn)?;
        let wal_path = format!("{path}-wal");
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("import-checkpoint".into())
            .spawn(move || {
                let mut wal: Option<std::fs::File> = None;
                for () in nudged {
                    let done = bulk::checkpoint_passive(&conn);
                    match done {
                        Ok(copied) => {
                            if wal.is_none() {
                                wal = std::fs::File::open(&wal_path).ok();
                            }
                            if let Some(wal) = &wal {
                                forget_copied_frames(wal, copied, page_size);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "background checkpoint failed; the WAL is copied at the end")
                        }
                    }
                }
            })?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; one already asked for and not yet started covers this one.
    fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.try_send(());
        }
    }
}

/// Drops the WAL's first `frames` frames, copied into the database and synced by the checkpoint,
/// from the page cache. Nothing reads them again, and evicting them here, beside the writer,
/// spares the final checkpoint doing it when it truncates the WAL (measured: 0.26 s of its
/// 0.33 s on a million citizens, all in `ftruncate`).
fn forget_copied_frames(wal: &std::fs::File, frames: i64, page_size: i64) {
    const WAL_HEADER: i64 = 32;
    const FRAME_HEADER: i64 = 24;
    // A checkpoint that could not run reports -1 frames.
    let end = u64::try_from(WAL_HEADER + frames.max(0) * (FRAME_HEADER + page_size)).unwrap_or(0);
    if let Err(e) = motcua_db::page_cache::drop_clean(wal, 0, end) {
        tracing::debug!(error = %e, "cannot drop copied WAL frames from the page cache");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

use rusqlite::Connection;

use crate::citizens::household_rows;
use crate::error::{RegistryError, Result};
use crate::import_event::batch_event;
use crate::packed_rows::{PackedChunk, RunPart};
use crate::record::CitizenRecord;
use crate::store::{self, bulk};

fn db_err(e: rusqlite::Error) -> RegistryError {
    RegistryError::Db(e.into())
}

/// Inserts `rows` (skipping PIDs already present), their households and the batch event, in
/// the open transaction. Returns, per row, whether it was inserted.
fn store(
    tx: &Connection,
    rows: &[&CitizenRecord],
    import_id: &str,
    actor: &str,
    lines: (u64, u64),
    now: i64,
) -> Result<Vec<bool>> {
    // The batch's event names its span of lines, so rows need not carry their own.
    let mut chunk = PackedChunk::with_capacity(rows.len());
    for r in rows {
        chunk.push(lines.0, r);
    }
    let inserted = store::citizens::insert_packed(tx, &chunk, import_id, now)?;
    let stored: Vec<&CitizenRecord> = rows
        .iter()
        .zip(&inserted)
        .filter(|(_, ok)| **ok)
        .map(|(r, _)| *r)
        .collect();
    store::households::insert_raw(tx, &household_rows(stored.iter().copied()), now)?;
    let pids = stored.iter().map(|r| r.pid.as_i64());
    motcua_db::raw::append_event(tx, &batch_event(import_id, actor, lines, pids, now))?;
    Ok(inserted)
}

/// Inserts a packed chunk (skipping PIDs already present) and its event. Returns, per row,
/// whether it was inserted.
fn store_chunk(
    tx: &Connection,
    chunk: &PackedChunk,
    import_id: &str,
    actor: &str,
    now: i64,
) -> Result<Vec<bool>> {
    let inserted = store::citizens::insert_packed(tx, chunk, import_id, now)?;
    let pids = chunk
        .rows
        .iter()
        .zip(&inserted)
        .filter(|(_, ok)| **ok)
        .map(|(r, _)| r.pid);
    let event = batch_event(import_id, actor, chunk.line_span(), pids, now);
    motcua_db::raw::append_event(tx, &event)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::{COLUMNS, column, validate_columns};

    fn chunk(pids: &[&str]) -> PackedChunk {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut chunk = PackedChunk::with_capacity(pids.len());
        for (line, pid) in pids.iter().enumerate() {
            let mut values: [Option<&str>; COLUMNS.len()] = [None; COLUMNS.len()];
            values[column("pid")] = Some(pid);
            values[column("full_name")] = Some("Nguyễn Văn An");
            values[column("gender")] = Some("M");
            values[column("date_of_birth")] = Some("1995");
            values[column("province_code")] = Some("001");
            let r = validate_columns(&values, today).unwrap();
            chunk.push(line as u64 + 2, &r);
        }
        chunk
    }

    /// A PID stored by someone else in the middle of a group: the rows before and after it
    /// are stored, and only it is reported as skipped.
    #[tokio::test]
    async fn a_pid_already_present_is_skipped_inside_a_group() {
        let db = motcua_db::testing::fresh().await.unwrap();
        let Some(conn) = motcua_db::raw::sqlite_writer(&db, 8).unwrap() else {
            return; // PostgreSQL: the bulk writer is SQLite's.
        };
        let pids: Vec<String> = (0..40).map(|k| format!("0010950{k:05}")).collect();
        let pids: Vec<&str> = pids.iter().map(String::as_str).collect();
        assert_eq!(
            store::citizens::insert_packed(&conn, &chunk(&pids[20..21]), "i", 1).unwrap(),
            [true]
        );
        let flags = store::citizens::insert_packed(&conn, &chunk(&pids), "i", 2).unwrap();
        let skipped: Vec<usize> = (0..40).filter(|&k| !flags[k]).collect();
        assert_eq!(skipped, [20]);
        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM citizens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 40);
        let first: i64 = conn
            .query_row(
                "SELECT created_at FROM citizens WHERE pid = 1095000020",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(first, 1, "the row stored first is kept");
    }
}
