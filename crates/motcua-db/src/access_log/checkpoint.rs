//! Checkpoints of the access log's file, with their disk writes spread out.
//!
//! SQLite's automatic checkpoint copies the WAL into the database file and then syncs the
//! file, handing the disk every copied page at once. Each journal sync issued meanwhile (each
//! one holding back the answers to a group of requests) waits behind them: measured as stalls
//! of 240–260 ms after 64 MiB of log (BENCHMARKS.md). So the ingester checkpoints itself:
//! SQLite copies the pages without syncing, then the file is written back a slice at a time
//! with a pause after each slice that had anything to write, and synced last, when little is
//! left to do.
//!
//! Until that sync the WAL holds the only durable copy of the pages, so it must not be
//! overwritten. SQLite starts writing the WAL from its beginning again only in a writer, and
//! only when no reader is using it; a transaction that holds the write lock (and with it a
//! snapshot in the WAL), opened before the checkpoint on a connection of its own, is held
//! until the sync is done. Writers in other processes (which write directly when they cannot
//! hold the journal) wait for it meanwhile.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::DbResult;

/// Log written (entries copied plus index keys added) between checkpoints: some 10 MB of WAL.
pub const CHECKPOINT_EVERY: usize = 32_768;
/// The file is written back in slices of this many bytes…
const SLICE: u64 = 256 << 10;
/// …with this pause after each slice that had dirty pages.
const PAUSE: Duration = Duration::from_millis(2);
/// A slice written back faster than this had nothing to write.
const CLEAN: Duration = Duration::from_micros(200);

pub struct Checkpointer {
    path: PathBuf,
    guard: rusqlite::Connection,
    pending: usize,
}

impl Checkpointer {
    /// For the database file at `path`; the ingester's connection must have automatic
    /// checkpoints turned off.
    pub fn open(path: PathBuf) -> DbResult<Checkpointer> {
        let guard = rusqlite::Connection::open(&path)?;
        guard.busy_timeout(Duration::from_secs(30))?;
        Ok(Checkpointer {
            path,
            guard,
            pending: 0,
        })
    }

    /// Counts `units` of log written; checkpoints on `conn` once enough has been.
    pub fn wrote(&mut self, conn: &rusqlite::Connection, units: usize) -> DbResult<()> {
        self.pending += units;
        if self.pending < CHECKPOINT_EVERY {
            return Ok(());
        }
        self.pending = 0;
        self.checkpoint(conn)
    }

    /// Copies the WAL into the file and makes the copy durable, paced.
    pub fn checkpoint(&mut self, conn: &rusqlite::Connection) -> DbResult<()> {
        let started = Instant::now();
        // Holds the WAL in place (see the module comment) until the file is synced.
        let guard = self
            .guard
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        let copied = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(2));
        conn.pragma_update(None, "synchronous", synchronous)?;
        let copied = copied?;
        let file = File::open(&self.path)?;
        let written = write_back_paced(&file)?;
        file.sync_data()?;
        drop(guard);
        tracing::debug!(
            pages = copied,
            slices = written,
            seconds = started.elapsed().as_secs_f64(),
            "access log checkpointed"
        );
        Ok(())
    }
}

/// Writes the file's dirty pages back one slice at a time, pausing after each slice that had
/// any. Returns how many slices had.
fn write_back_paced(file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut written = 0;
    let mut at = 0;
    while at < len {
        let started = Instant::now();
        crate::page_cache::write_back(file, at, SLICE)?;
        if started.elapsed() > CLEAN {
            written += 1;
            std::thread::sleep(PAUSE);
        }
        at += SLICE;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Rows of `t` in a copy of the database file alone, without its WAL.
    fn rows_in_file_alone(path: &std::path::Path, dir: &std::path::Path) -> i64 {
        let copy = dir.join("copy.sqlite3");
        std::fs::copy(path, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let n = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap_or(0);
        drop(conn);
        std::fs::remove_file(&copy).unwrap();
        n
    }

    /// A database in WAL mode without automatic checkpoints, with a table `t`.
    fn wal_database(dir: &std::path::Path) -> (PathBuf, rusqlite::Connection) {
        let path = dir.join("audit.sqlite3");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER, pad BLOB);")
            .unwrap();
        (path, conn)
    }

    #[test]
    fn once_enough_is_written_the_file_alone_holds_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_database(dir.path());
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let mut checkpointer = Checkpointer::open(path.clone()).unwrap();
        // About 3 MB: several slices of write-back.
        for i in 0..3_000 {
            conn.execute("INSERT INTO t VALUES (?1, zeroblob(1000))", [i])
                .unwrap();
        }
        checkpointer.wrote(&conn, CHECKPOINT_EVERY - 1).unwrap();
        assert_eq!(rows_in_file_alone(&path, dir.path()), 0, "not yet due");
        checkpointer.wrote(&conn, 1).unwrap();
        assert_eq!(rows_in_file_alone(&path, dir.path()), 3_000);
        // The connection syncs its commits as before, and the guard's snapshot is let go: a
        // writer can start the WAL over.
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        conn.execute("INSERT INTO t VALUES (-1, NULL)", []).unwrap();
        let (busy, log, done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
        assert!(log < 10, "the WAL started over: {log} frames");
        assert_eq!(log, done);
    }

    /// What the guard relies on: while a reader holds a snapshot in the WAL, a checkpoint
    /// copies everything yet the next writer appends to the WAL instead of overwriting it.
    #[test]
    fn a_reader_in_the_wal_keeps_it_from_starting_over() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = wal_database(dir.path());
        let frames = |conn: &rusqlite::Connection| -> (i64, i64) {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .unwrap()
        };
        for i in 0..100 {
            conn.execute("INSERT INTO t VALUES (?1, zeroblob(1000))", [i])
                .unwrap();
        }
        let mut reader = rusqlite::Connection::open(&path).unwrap();
        let guard = reader.transaction().unwrap();
        guard
            .query_row("SELECT COUNT(*) FROM t", [], |_| Ok(()))
            .unwrap();
        let (log, done) = frames(&conn);
        assert_eq!(log, done, "everything copied despite the reader");
        conn.execute("INSERT INTO t VALUES (-1, NULL)", []).unwrap();
        let (held, _) = frames(&conn);
        assert!(
            held > log,
            "appended after {log} frames, not started over: {held}"
        );
        drop(guard);
        let (all, done) = frames(&conn);
        assert_eq!(all, done);
        conn.execute("INSERT INTO t VALUES (-2, NULL)", []).unwrap();
        let (free, _) = frames(&conn);
        assert!(free < log, "started over once the reader left: {free}");
    }
}
