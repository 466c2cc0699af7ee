//! Direct SQLite access for bulk paths. sqlx's SQLite driver costs about ten times more per
//! statement than SQLite itself (measured in BENCHMARKS.md), which caps bulk import far below
//! what the engine can do. Bulk writers on SQLite therefore use `rusqlite` on a blocking thread,
//! sharing sqlx's `libsqlite3-sys` build, with the same file, pragmas and event-log rules.

use rusqlite::{Connection, OptionalExtension, params};

use crate::events::{GENESIS_HASH, NewEvent, chain_hash};
use crate::{Db, DbError, DbResult};

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Conflict(format!("sqlite: {e}"))
    }
}

/// A writer connection to the embedded database, or `None` on PostgreSQL. `cache_mib` sizes
/// its page cache (bulk loads into a large table want it large).
pub fn sqlite_writer(db: &Db, cache_mib: u32) -> DbResult<Option<Connection>> {
    let Some(path) = db.sqlite_path() else {
        return Ok(None);
    };
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -(i64::from(cache_mib) * 1024))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(Some(conn))
}

/// A writer connection to the access log's own file (see `migrations/*/0004_audit.sql`), or
/// `None` on PostgreSQL.
pub fn sqlite_audit_writer(db: &Db) -> DbResult<Option<Connection>> {
    let Some(path) = db.sqlite_path() else {
        return Ok(None);
    };
    let conn = Connection::open(crate::audit_file(path))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -8192)?;
    Ok(Some(conn))
}

/// A writer connection to the counters' own file ([`crate::counters_file`]), attached as
/// `counters` as on every other connection (so that one statement serves both), to an
/// in-memory main database; `None` on PostgreSQL.
pub fn sqlite_counters_writer(db: &Db) -> DbResult<Option<Connection>> {
    let Some(path) = db.sqlite_path() else {
        return Ok(None);
    };
    let conn = Connection::open_in_memory()?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute(
        "ATTACH DATABASE ?1 AS counters",
        [crate::counters_file(path).display().to_string()],
    )?;
    conn.pragma_update(Some("counters"), "journal_mode", "WAL")?;
    conn.pragma_update(Some("counters"), "synchronous", "NORMAL")?;
    conn.pragma_update(Some("counters"), "cache_size", -8192)?;
    // Checkpoints (and their syncs) run on a thread of their own ([`BackgroundCheckpoints`]),
    // not in the commit of a batch that requests are waiting for.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(Some(conn))
}

/// Checkpoints a WAL file from a thread of its own, every `every`, while its writer (which
/// has automatic checkpoints turned off) goes on committing: a PASSIVE checkpoint takes no
/// lock a writer needs, so the writer never waits for the copy or its sync. Stops when
/// dropped.
pub struct BackgroundCheckpoints {
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BackgroundCheckpoints {
    pub fn start(path: std::path::PathBuf, every: std::time::Duration) -> DbResult<Self> {
        use std::sync::atomic::Ordering;
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = running.clone();
        std::thread::Builder::new()
            .name("checkpoints".into())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(every);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, file = %path.display(), "checkpoint failed");
                    }
                }
            })
            .map_err(|e| DbError::Conflict(format!("checkpoint thread: {e}")))?;
        Ok(BackgroundCheckpoints { running })
    }
}

impl Drop for BackgroundCheckpoints {
    fn drop(&mut self) {
        self.running
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Appends an event on a connection inside an open transaction, with the same chain rules as
/// [`crate::events::append`].
pub fn append_event(tx: &Connection, event: &NewEvent<'_>) -> DbResult<i64> {
    let head: Option<(i64, String)> = tx
        .query_row(
            "SELECT version, hash FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2
             ORDER BY version DESC LIMIT 1",
            params![event.aggregate_type, event.aggregate_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (version, prev_hash) = match head {
        Some((v, h)) => (v + 1, h),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let payload = event.payload.to_string();
    let hash = chain_hash(
        &prev_hash,
        event.aggregate_type,
        event.aggregate_id,
        version,
        event.event_type,
        event.actor,
        event.reason,
        event.occurred_at,
        &payload,
    );
    tx.execute(
        "INSERT INTO events (id, aggregate_type, aggregate_id, version, event_type, actor, reason,
                             payload, occurred_at, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            crate::new_id(),
            event.aggregate_type,
            event.aggregate_id,
            version,
            event.event_type,
            event.actor,
            event.reason,
            payload,
            event.occurred_at,
            prev_hash,
            hash
        ],
    )?;
    Ok(version)
}

/// Read connections for hot point lookups on SQLite (the verification API): a read by primary
/// key takes microseconds in SQLite, while going through sqlx's per-connection worker thread
/// costs two thread hand-offs per query, which dominated the verification benchmark. Callers
/// run one short query synchronously; a connection is borrowed for that query only.
pub struct RawReaders {
    conns: Vec<std::sync::Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for RawReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawReaders({})", self.conns.len())
    }
}

impl RawReaders {
    pub fn open(path: &std::path::Path, count: usize) -> DbResult<RawReaders> {
        let mut conns = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let conn = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "cache_size", -8192)?;
            // Map the file: a lookup then reads pages from the OS cache without a copy.
            conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
            // The verification throttle reads its counters on the same connection. Not
            // mapped: the file changes thousands of times a second, and a mapped file is
            // unmapped by every reader after each change (a munmap per request).
            conn.execute(
                "ATTACH DATABASE ?1 AS counters",
                [crate::counters_file(path).display().to_string()],
            )?;
            conn.pragma_update(Some("counters"), "mmap_size", 0)?;
            conns.push(std::sync::Mutex::new(conn));
        }
        Ok(RawReaders {
            conns,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Runs `f` on a free connection (or waits briefly for one).
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> DbResult<T> {
        use std::sync::atomic::Ordering;
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return Ok(f(&conn)?);
            }
        }
        let conn = self.conns[start % n]
            .lock()
            .map_err(|_| DbError::Conflict("a read connection was poisoned".into()))?;
        Ok(f(&conn)?)
    }
}
