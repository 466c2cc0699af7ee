//! The personal-data access log: every read of a citizen's data by staff or an agency system
//! (who, when, purpose, which citizen, outcome). Decree 13/2023/NĐ-CP requires processing logs;
//! the citizen-facing page lists them by PID through `access_log_by_subject`.
//!
//! Writes use group commit: callers hand an entry to one background writer and wait until the
//! batch holding it is committed. One transaction carries many requests' entries, so the hot
//! verification path pays a few milliseconds of latency instead of a transaction each, and no
//! answer leaves the server before its access is durably recorded.
//!
//! On SQLite the writer appends to `access_log_recent` (no secondary index: one sequential page
//! per batch) and moves entries into the citizen-indexed `access_log` every [`MERGE_ROWS`]
//! entries or [`MERGE_EVERY`]; readers see both tables. Indexing every entry at once cost a
//! random index page per entry on the request path (see BENCHMARKS.md).

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::{Db, DbError, DbResult, on_read};

const MAX_BATCH: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ActorKind {
    Staff,
    Client,
    Citizen,
    System,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::Staff => "staff",
            ActorKind::Client => "client",
            ActorKind::Citizen => "citizen",
            ActorKind::System => "system",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub at: i64,
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub actor_name: String,
    /// `view`, `verify`, `lookup`, `search`, `export`…
    pub action: String,
    pub purpose: String,
    pub reference: Option<String>,
    pub subject_pid: Option<i64>,
    /// `match`, `no_match`, `found`, `not_found`, `denied`…
    pub outcome: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AccessRecord {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_name: String,
    pub action: String,
    pub purpose: String,
    pub reference: Option<String>,
    pub subject_pid: Option<i64>,
    pub outcome: String,
    pub request_id: Option<String>,
}

type Ack = oneshot::Sender<Result<(), String>>;

/// Handle to the group-commit writer; cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    sender: Sender,
}

/// The SQLite writer is an OS thread that must wait for entries with a deadline (the next
/// merge), which a standard channel offers; the PostgreSQL writer is an async task.
#[derive(Clone)]
enum Sender {
    Thread(std::sync::mpsc::Sender<(AccessEntry, Ack)>),
    Task(mpsc::Sender<(AccessEntry, Ack)>),
}

impl AccessLog {
    /// Starts the background writer on the current Tokio runtime.
    pub fn start(db: Db) -> AccessLog {
        // On SQLite a dedicated thread writes through a direct connection (see `raw`);
        // PostgreSQL batches go through the async pool. Each caller waits for its entry's
        // commit, so the number of queued entries is bounded by the requests in flight.
        match crate::raw::sqlite_audit_writer(&db) {
            Ok(Some(conn)) => {
                let (sender, receiver) = std::sync::mpsc::channel();
                // Checkpoints (copying the WAL into the file, with an fsync) run on their own
                // connection so the writer never stalls on one; `stop` ends it with the writer.
                let (stop, stopped) = std::sync::mpsc::channel::<()>();
                if let Err(e) = conn.pragma_update(None, "wal_autocheckpoint", 0) {
                    tracing::warn!(error = %e, "cannot turn off automatic checkpoints");
                }
                match crate::raw::sqlite_audit_writer(&db) {
                    Ok(Some(checkpointer)) => {
                        let spawned = std::thread::Builder::new()
                            .name("access-log-checkpoint".into())
                            .spawn(move || checkpoint_thread(checkpointer, stopped));
                        if let Err(e) = spawned {
                            tracing::error!(error = %e, "cannot start the checkpoint thread");
                        }
                    }
                    _ => tracing::error!("cannot open the access-log checkpoint connection"),
                }
                let spawned =
                    std::thread::Builder::new()
                        .name("access-log".into())
                        .spawn(move || {
                            sqlite_writer_thread(conn, receiver);
                            drop(stop);
                        });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the access-log writer thread");
                }
                AccessLog {
                    sender: Sender::Thread(sender),
                }
            }
            other => {
                if let Err(e) = other {
                    tracing::error!(error = %e, "cannot open the access-log file; using the pool");
                }
                let (sender, receiver) = mpsc::channel(8192);
                tokio::spawn(writer(db, receiver));
                AccessLog {
                    sender: Sender::Task(sender),
                }
            }
        }
    }

    /// Records `entry` and returns once it is committed.
    pub async fn record(&self, entry: AccessEntry) -> DbResult<()> {
        let (ack, done) = oneshot::channel();
        let sent = match &self.sender {
            Sender::Thread(s) => s.send((entry, ack)).is_ok(),
            Sender::Task(s) => s.send((entry, ack)).await.is_ok(),
        };
        if !sent {
            return Err(DbError::Conflict(
                "the access-log writer has stopped".into(),
            ));
        }
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DbError::Conflict(format!("access log write failed: {e}"))),
            Err(_) => Err(DbError::Conflict(
                "the access-log writer has stopped".into(),
            )),
        }
    }
}

async fn writer(db: Db, mut receiver: mpsc::Receiver<(AccessEntry, Ack)>) {
    let mut batch: Vec<(AccessEntry, Ack)> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let entries: Vec<&AccessEntry> = batch.iter().map(|(e, _)| e).collect();
        let result = insert_batch(&db, &entries).await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, entries = batch.len(), "access log batch failed");
        }
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(result.clone());
        }
    }
}

/// How long the SQLite writer lets a batch fill after its first entry.
const GATHER: std::time::Duration = std::time::Duration::from_micros(300);

/// Entries gathered in `access_log_recent` before they are moved into `access_log`.
pub const MERGE_ROWS: usize = 1_000;
/// Merges between the writer's own checkpoints.
const WRITER_CHECKPOINT_EVERY: u64 = 1;
/// …or after this long, whichever comes first.
pub const MERGE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn sqlite_writer_thread(
    conn: rusqlite::Connection,
    receiver: std::sync::mpsc::Receiver<(AccessEntry, Ack)>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut batch: Vec<(AccessEntry, Ack)> = Vec::with_capacity(MAX_BATCH);
    // Entries a previous process left in the recent table are merged first.
    let mut pending = MERGE_ROWS;
    let mut last_merge = std::time::Instant::now();
    let mut merges = 0u64;
    loop {
        let first = if pending > 0 {
            // Wait for entries, but no later than the next merge.
            let wait = MERGE_EVERY.saturating_sub(last_merge.elapsed());
            match receiver.recv_timeout(wait) {
                Ok(item) => Some(item),
                Err(RecvTimeoutError::Disconnected) => None,
                Err(RecvTimeoutError::Timeout) => {
                    merge_recent(&conn, &mut pending, &mut last_merge, &mut merges);
                    continue;
                }
            }
        } else {
            receiver.recv().ok()
        };
        let Some(first) = first else { break };
        batch.push(first);
        // Group commit: let requests already being handled join this batch, so one commit
        // carries many entries (measured in BENCHMARKS.md).
        std::thread::sleep(GATHER);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let result = insert_batch_sqlite(&conn, &batch).map_err(|e| e.to_string());
        match &result {
            Ok(()) => pending += batch.len(),
            Err(e) => tracing::error!(error = %e, entries = batch.len(), "access log batch failed"),
        }
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(result.clone());
        }
        if pending >= MERGE_ROWS || last_merge.elapsed() >= MERGE_EVERY {
            merge_recent(&conn, &mut pending, &mut last_merge, &mut merges);
        }
    }
    merge_recent(&conn, &mut pending, &mut last_merge, &mut merges);
}

/// Copies the access log's WAL into its file every second (PASSIVE: never blocks the writer).
fn checkpoint_thread(conn: rusqlite::Connection, stopped: std::sync::mpsc::Receiver<()>) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        stopped.recv_timeout(std::time::Duration::from_secs(1))
    {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "access-log checkpoint failed");
        }
    }
}

/// Moves recent entries into the indexed table, sorted by citizen so the index is written in
/// order, in one transaction.
fn merge_recent(
    conn: &rusqlite::Connection,
    pending: &mut usize,
    last_merge: &mut std::time::Instant,
    merges: &mut u64,
) {
    let result = (|| -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let moved = (|| {
            let max: Option<i64> =
                conn.query_row("SELECT MAX(id) FROM access_log_recent", [], |r| r.get(0))?;
            let Some(max) = max else { return Ok(()) };
            conn.execute(
                "INSERT INTO access_log (at, actor_kind, actor_id, actor_name, action, purpose,
                                         reference, subject_pid, outcome, request_id)
                 SELECT at, actor_kind, actor_id, actor_name, action, purpose, reference,
                        subject_pid, outcome, request_id
                 FROM access_log_recent WHERE id <= ?1 ORDER BY subject_pid, at",
                [max],
            )?;
            conn.execute("DELETE FROM access_log_recent WHERE id <= ?1", [max])?;
            Ok(())
        })();
        match moved {
            Ok(()) => conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    })();
    if let Err(e) = result {
        tracing::error!(error = %e, "merging recent access-log entries failed; will retry");
    } else {
        *pending = 0;
    }
    // The checkpoint thread copies frames without blocking, but under continuous writes it
    // never reaches the end of the WAL, so the WAL would only grow. After every merge the
    // writer finishes the checkpoint itself, between writes (little is left to copy), and the
    // next write restarts the WAL. Checkpointing less often was measured to make both the WAL
    // and the stalls larger.
    *merges += 1;
    if merges.is_multiple_of(WRITER_CHECKPOINT_EVERY)
        && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
    {
        tracing::warn!(error = %e, "access-log checkpoint failed");
    }
    *last_merge = std::time::Instant::now();
}

fn insert_batch_sqlite(
    conn: &rusqlite::Connection,
    batch: &[(AccessEntry, Ack)],
) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO access_log_recent (at, actor_kind, actor_id, actor_name, action, purpose,
                                            reference, subject_pid, outcome, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (e, _) in batch {
            stmt.execute(rusqlite::params![
                e.at,
                e.actor_kind.as_str(),
                e.actor_id,
                e.actor_name,
                e.action,
                e.purpose,
                e.reference,
                e.subject_pid,
                e.outcome,
                e.request_id
            ])?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Inserts entries in one transaction with multi-row statements.
pub async fn insert_batch(db: &Db, entries: &[&AccessEntry]) -> DbResult<()> {
    let mut tx = db.begin().await?;
    for chunk in entries.chunks(256) {
        crate::on_tx!(&mut tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO audit.access_log (at, actor_kind, actor_id, actor_name, action, purpose,
                                         reference, subject_pid, outcome, request_id) ",
            );
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(e.at)
                    .push_bind(e.actor_kind.as_str())
                    .push_bind(e.actor_id.clone())
                    .push_bind(e.actor_name.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.purpose.clone())
                    .push_bind(e.reference.clone())
                    .push_bind(e.subject_pid)
                    .push_bind(e.outcome.clone())
                    .push_bind(e.request_id.clone());
            });
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await
}

/// The most recent accesses to one citizen's data, newest first.
pub async fn by_subject(db: &Db, pid: i64, limit: i64) -> DbResult<Vec<AccessRecord>> {
    let rows: Result<Vec<AccessRecord>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, at, actor_kind, actor_id, actor_name, action, purpose, reference,
                    subject_pid, outcome, request_id
             FROM (SELECT * FROM audit.access_log WHERE subject_pid = $1
                   UNION ALL
                   SELECT * FROM audit.access_log_recent WHERE subject_pid = $1) entries
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(pid)
        .bind(limit)
        .fetch_all(c)
        .await
    });
    Ok(rows?)
}

/// Total entries, for `/metrics` and tests.
pub async fn count(db: &Db) -> DbResult<i64> {
    let n: Result<i64, sqlx::Error> = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM audit.access_log)
                  + (SELECT COUNT(*) FROM audit.access_log_recent)",
        )
        .fetch_one(c)
        .await
    });
    Ok(n?)
}
