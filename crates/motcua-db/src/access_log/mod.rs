//! The personal-data access log: every read of a citizen's data by staff or an agency system
//! (who, when, purpose, which citizen, outcome). Decree 13/2023/NĐ-CP requires processing logs;
//! the citizen-facing page lists them by PID through the per-citizen index
//! `access_log_subjects`.
//!
//! Every entry is durable before the request that caused it is answered, and costs the request
//! little: on the embedded database the entry goes to an append-only journal
//! (`journal.rs`) with group commit, one `fdatasync` for every request that arrived meanwhile,
//! and a background ingester (`ingest.rs`) copies the journal into `access_log` in large
//! batches, in time order, and adds them to the per-citizen index in sorted runs. Readers go
//! through [`AccessLog`], which first waits until everything recorded so far is in the
//! database, so a citizen's list of accesses is never behind her own requests.
//! On PostgreSQL, or when another process holds the journal, a group-commit writer inserts
//! entries directly.
//!
//! The log is tamper-evident: stored entries form one hash chain per UTC day, extended by
//! every writer in the transaction that stores them (`chain.rs`); triggers refuse UPDATE and
//! DELETE on `access_log` (migration 0007); the head of each ended day is sealed into the
//! event log (`seal.rs`); and [`verify`] recomputes it all (`motcua audit verify`). Entries
//! stored before the chain existed are left unchained and counted by the verifier.

pub mod chain;
mod checkpoint;
mod ingest;
pub mod journal;
mod seal;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::{Db, DbError, DbResult, Tx, on_read};
use chain::DAY_US;

pub use ingest::{INDEX_RUN, INGEST_AT, INGEST_EVERY};
pub use seal::{
    SEAL_AGGREGATE, SEAL_EVENT, SEAL_GRACE_US, SEAL_JOB, Seal, register_sealing, seal_days,
};
pub use verify::{AccessLogReport, verify};

const MAX_BATCH: usize = 512;
/// How long the journal writer lets a group fill after its first entry.
const GATHER: std::time::Duration = std::time::Duration::from_micros(400);
/// The least time between the starts of two journal syncs. Each sync is two requests to the
/// device (the write and a cache flush), and devices meter them: cloud block storage by
/// operations per second, and on the benchmark machine the hypervisor charges them to the
/// virtual machine's CPU quota and, past it, stops both cores for about 5 ms at the end of its
/// 100 ms period (seen in `perf sched timehist` as idle time while tasks were runnable). At
/// most a thousand syncs a second took the closed-loop p99 from 5.7–6.1 ms to 4.0–4.6 ms
/// (BENCHMARKS.md); an idle journal still syncs a lone entry after [`GATHER`].
const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);
/// Page cache of the ingester's connection.
const INGEST_CACHE_KIB: i64 = 64 * 1024;
/// How long a reader waits for the ingester before reporting the log as unavailable.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub at: i64,
    pub actor_kind: ActorKind,
    pub actor_id: String,
    pub actor_name: String,
    /// `view`, `verify`, `lookup`, `export`, or `list.<context>` for a citizen shown in a
    /// listing (`list.search`, `list.worklist.<check>`): the verb, then where it happened.
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

/// Handle to the access log: records entries and reads them back. Cheap to clone; the writer
/// stops when the last handle is dropped.
#[derive(Clone)]
pub struct AccessLog {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    sender: Sender,
    journal: Option<Arc<ingest::Shared>>,
}

enum Sender {
    /// To the journal writer thread (a standard channel: the thread blocks on it).
    Journal(std::sync::mpsc::Sender<(AccessEntry, Ack)>),
    /// To the direct group-commit writer task.
    Direct(mpsc::Sender<(AccessEntry, Ack)>),
}

/// The journal directory of an embedded database: `motcua.sqlite3` → `motcua.access-journal`.
pub fn journal_dir_for(sqlite: &Path) -> PathBuf {
    sqlite.with_extension("access-journal")
}

impl AccessLog {
    /// Starts the writer on the current Tokio runtime. On SQLite entries are journaled beside
    /// the database file; on PostgreSQL they are inserted directly.
    pub fn start(db: Db) -> AccessLog {
        if let Some(dir) = db.sqlite_path().map(journal_dir_for) {
            match start_journal(&db, &dir) {
                Ok(Some(log)) => return log,
                Ok(None) => tracing::info!(
                    dir = %dir.display(),
                    "another process holds the access-log journal; writing entries directly"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    dir = %dir.display(),
                    "cannot open the access-log journal; writing entries directly"
                ),
            }
        }
        let (sender, receiver) = mpsc::channel(8192);
        tokio::spawn(direct_writer(db.clone(), receiver));
        AccessLog {
            inner: Arc::new(Inner {
                db,
                sender: Sender::Direct(sender),
                journal: None,
            }),
        }
    }

    /// Records `entry` and returns once it is durable.
    pub async fn record(&self, entry: AccessEntry) -> DbResult<()> {
        let done = self.hand_over(entry).await?;
        acknowledged(done).await
    }

    /// Records every entry of a listing and returns once all are durable. They are handed to
    /// the writer together, so they share one group commit instead of one sync each.
    pub async fn record_all(&self, entries: Vec<AccessEntry>) -> DbResult<()> {
        let mut pending = Vec::with_capacity(entries.len());
        for entry in entries {
            pending.push(self.hand_over(entry).await?);
        }
        for done in pending {
            acknowledged(done).await?;
        }
        Ok(())
    }

    /// Gives `entry` to the writer; the receiver answers once it is durable.
    async fn hand_over(
        &self,
        entry: AccessEntry,
    ) -> DbResult<oneshot::Receiver<Result<(), String>>> {
        let (ack, done) = oneshot::channel();
        let sent = match &self.inner.sender {
            Sender::Journal(s) => s.send((entry, ack)).is_ok(),
            Sender::Direct(s) => s.send((entry, ack)).await.is_ok(),
        };
        if sent {
            Ok(done)
        } else {
            Err(DbError::Conflict(
                "the access-log writer has stopped".into(),
            ))
        }
    }

    /// Waits until every entry recorded so far is in the database.
    pub async fn flush(&self) -> DbResult<()> {
        let Some(shared) = &self.inner.journal else {
            return Ok(()); // Direct entries are in the database once recorded.
        };
        let target = shared.wake();
        let mut ingested = shared.ingested.subscribe();
        match tokio::time::timeout(FLUSH_TIMEOUT, ingested.wait_for(|&s| s >= target)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(DbError::Conflict(
                "the access log is behind: its journal is not being copied to the database".into(),
            )),
        }
    }

    /// The most recent accesses to one citizen's data, newest first.
    pub async fn by_subject(&self, pid: i64, limit: i64) -> DbResult<Vec<AccessRecord>> {
        self.flush().await?;
        stored_by_subject(&self.inner.db, pid, limit).await
    }

    /// One page of the accesses to one citizen's data, newest first, older than `before`.
    pub async fn by_subject_before(
        &self,
        pid: i64,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> DbResult<Vec<AccessRecord>> {
        self.flush().await?;
        stored_by_subject_before(&self.inner.db, pid, before, limit).await
    }

    /// Total entries, for tests and operators.
    pub async fn count(&self) -> DbResult<i64> {
        self.flush().await?;
        stored_count(&self.inner.db).await
    }
}

/// Waits for the writer's answer about one entry.
async fn acknowledged(done: oneshot::Receiver<Result<(), String>>) -> DbResult<()> {
    match done.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(DbError::Conflict(format!("access log write failed: {e}"))),
        Err(_) => Err(DbError::Conflict(
            "the access-log writer has stopped".into(),
        )),
    }
}

/// Opens the journal of an embedded database and starts its writer and ingester threads;
/// `None` when another process holds it.
fn start_journal(db: &Db, dir: &Path) -> DbResult<Option<AccessLog>> {
    let Some(conn) = crate::raw::sqlite_audit_writer(db)? else {
        return Ok(None);
    };
    let node = journal::node_id(dir)?;
    // The ingester deletes journal segments after its commits: those must be on disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Entries are indexed by citizen, so a batch touches about one index page per entry; the
    // pages must stay cached or every insert reads one back from the file.
    conn.pragma_update(None, "cache_size", -INGEST_CACHE_KIB)?;
    // The ingester checkpoints the file itself, with the writes paced (`checkpoint.rs`).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let Some(main) = db.sqlite_path() else {
        return Ok(None);
    };
    let checkpointer = checkpoint::Checkpointer::open(crate::audit_file(main))?;
    let sink = ingest::Sink(conn);
    let ingested = sink.ingested(&node)?;
    let mut journal = match journal::Journal::open(dir, ingested)? {
        journal::Opened::Journal(j) => j,
        journal::Opened::Busy => return Ok(None),
    };
    let shared = Arc::new(ingest::Shared::new(journal.durable(), ingested));
    let (sender, receiver) = std::sync::mpsc::channel::<(AccessEntry, Ack)>();
    let ingester = ingest::Ingester {
        dir: dir.to_owned(),
        node,
        sink,
        shared: shared.clone(),
        checkpointer,
    };
    std::thread::Builder::new()
        .name("access-log-ingest".into())
        .spawn(move || {
            crate::sched::run_when_idle();
            ingester.run()
        })?;
    let writer_shared = shared.clone();
    std::thread::Builder::new()
        .name("access-log".into())
        .spawn(move || {
            crate::sched::prefer_short_slices();
            journal_writer(&mut journal, receiver, &writer_shared);
            writer_shared.stop();
        })?;
    Ok(Some(AccessLog {
        inner: Arc::new(Inner {
            db: db.clone(),
            sender: Sender::Journal(sender),
            journal: Some(shared),
        }),
    }))
}

/// Group commit into the journal: every entry waiting when the previous sync ended goes into
/// the next write and sync.
fn journal_writer(
    journal: &mut journal::Journal,
    receiver: std::sync::mpsc::Receiver<(AccessEntry, Ack)>,
    shared: &ingest::Shared,
) {
    let mut batch: Vec<(AccessEntry, Ack)> = Vec::with_capacity(MAX_BATCH);
    let mut last_sync: Option<std::time::Instant> = None;
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        // Let the requests being handled now join this group: every write and sync costs the
        // core far more kernel time than waiting costs the request (BENCHMARKS.md). Under load,
        // groups are also spaced by at least `SYNC_INTERVAL`.
        let now = std::time::Instant::now();
        std::thread::sleep(group_start(now, last_sync) - now);
        last_sync = Some(std::time::Instant::now());
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let result = match journal.append(batch.iter().map(|(e, _)| e)) {
            Ok(durable) => {
                shared.durable(durable);
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, entries = batch.len(), "access-log journal write failed");
                Err(e.to_string())
            }
        };
        for (_, ack) in batch.drain(..) {
            let _ = ack.send(result.clone());
        }
    }
}

/// When a group whose first entry arrived at `now` is written: after [`GATHER`], and not
/// sooner than [`SYNC_INTERVAL`] after the previous group's write began.
fn group_start(
    now: std::time::Instant,
    last_sync: Option<std::time::Instant>,
) -> std::time::Instant {
    let gathered = now + GATHER;
    match last_sync {
        Some(last) => gathered.max(last + SYNC_INTERVAL),
        None => gathered,
    }
}

async fn direct_writer(db: Db, mut receiver: mpsc::Receiver<(AccessEntry, Ack)>) {
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

/// Inserts entries in one transaction with multi-row statements.
pub async fn insert_batch(db: &Db, entries: &[&AccessEntry]) -> DbResult<()> {
    let mut tx = db.begin().await?;
    insert_entries(&mut tx, entries).await?;
    tx.commit().await
}

/// Inserts entries with their rows in the per-citizen index: written directly, they are
/// indexed at once (only the journal's ingester leaves entries for a later sorted run). The
/// entries extend their days' chains (`chain.rs`): the heads are locked first, then ids are
/// taken, so id order is chain order however many nodes write.
async fn insert_entries(tx: &mut Tx, entries: &[&AccessEntry]) -> DbResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let days = chain::days_of(entries.iter().copied());
    let mut chainer = chain::Chainer::new(lock_heads(tx, &days).await?);
    let ids = take_ids(tx, entries.len()).await?;
    let mut keys: Vec<SubjectKey> = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    for (&id, &e) in ids.iter().zip(entries) {
        let link = chainer.link(id, e);
        if let Some(pid) = e.subject_pid {
            keys.push(SubjectKey::new(pid, e.at, id));
        }
        rows.push((id, e, link));
    }
    for chunk in rows.chunks(256) {
        crate::on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO audit.access_log (id, at, actor_kind, actor_id, actor_name, action,
                                         purpose, reference, subject_pid, outcome, request_id,
                                         prev_hash, hash) ",
            );
            qb.push_values(chunk, |mut b, (id, e, link)| {
                b.push_bind(*id)
                    .push_bind(e.at)
                    .push_bind(e.actor_kind.as_str())
                    .push_bind(e.actor_id.clone())
                    .push_bind(e.actor_name.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.purpose.clone())
                    .push_bind(e.reference.clone())
                    .push_bind(e.subject_pid)
                    .push_bind(e.outcome.clone())
                    .push_bind(e.request_id.clone())
                    .push_bind(link.prev.to_vec())
                    .push_bind(link.hash.to_vec());
            });
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    for head in &chainer.heads {
        crate::on_tx!(tx, c => {
            sqlx::query(
                "UPDATE audit.access_log_chain SET last_id = $2, head_hash = $3, entries = $4
                 WHERE day = $1",
            )
            .bind(head.day)
            .bind(head.last_id)
            .bind(head.hash.to_vec())
            .bind(head.entries)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    for indexed in keys.chunks(256) {
        let mut days: Vec<i64> = indexed.iter().map(|k| k.day).collect();
        days.sort_unstable();
        days.dedup();
        crate::on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO audit.access_log_days (day) ");
            qb.push_values(&days, |mut b, day| {
                b.push_bind(*day);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        crate::on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO audit.access_log_subjects (day, subject_pid, at, id) ",
            );
            qb.push_values(indexed, |mut b, k| {
                b.push_bind(k.day).push_bind(k.pid).push_bind(k.at).push_bind(k.id);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Takes the chain heads of `days` (ascending) for the rest of the transaction: a missing
/// head is inserted empty first, so there is a row to lock. On PostgreSQL `FOR UPDATE` makes
/// a second writer of the same day wait until this one commits, and then read the head it
/// left; on SQLite the write transaction already excludes every other writer.
async fn lock_heads(tx: &mut Tx, days: &[i64]) -> DbResult<Vec<chain::Head>> {
    crate::on_tx!(tx, c => {
        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO audit.access_log_chain (day, last_id, head_hash, entries) ",
        );
        qb.push_values(days, |mut b, day| {
            b.push_bind(*day).push_bind(0i64).push_bind(chain::GENESIS.to_vec()).push_bind(0i64);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    let lock = match tx.engine() {
        crate::Engine::Postgres => " FOR UPDATE",
        crate::Engine::Sqlite => "",
    };
    let rows: Vec<(i64, i64, Vec<u8>, i64)> = crate::on_tx!(tx, c => {
        let mut qb = sqlx::QueryBuilder::new(
            "SELECT day, last_id, head_hash, entries FROM audit.access_log_chain WHERE day IN (",
        );
        let mut list = qb.separated(", ");
        for day in days {
            list.push_bind(*day);
        }
        qb.push(") ORDER BY day");
        qb.push(lock);
        qb.build_query_as().fetch_all(&mut *c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(day, last_id, hash, entries)| chain::Head::stored(day, last_id, &hash, entries))
        .collect())
}

/// `n` new entry ids, ascending, taken while the heads are held. PostgreSQL draws them from
/// the table's sequence (other days' writers draw concurrently, so they need not be
/// consecutive); on SQLite the single writer continues after the largest id.
async fn take_ids(tx: &mut Tx, n: usize) -> DbResult<Vec<i64>> {
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    let mut ids: Vec<i64> = match tx {
        Tx::Postgres(t) => {
            sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('audit.access_log', 'id'))
                 FROM generate_series(1, $1)",
            )
            .bind(count)
            .fetch_all(&mut **t)
            .await?
        }
        Tx::Sqlite(t) => {
            let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit.access_log")
                .fetch_one(&mut **t)
                .await?;
            (1..=count).map(|i| last + i).collect()
        }
    };
    ids.sort_unstable();
    Ok(ids)
}

/// One row of the per-citizen index (`audit.access_log_subjects`), in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SubjectKey {
    pub day: i64,
    pub pid: i64,
    pub at: i64,
    pub id: i64,
}

impl SubjectKey {
    pub fn new(pid: i64, at: i64, id: i64) -> SubjectKey {
        // Truncating division, as `at / 86400000000` in SQL (times are never negative).
        SubjectKey {
            day: at / DAY_US,
            pid,
            at,
            id,
        }
    }
}

/// The entries of one citizen on the embedded database: the newest `$2` before the cursor
/// (`$3`, `$4`) in the per-citizen index (`CROSS JOIN` makes SQLite loop over the days, newest
/// first, and seek each; the order of that loop is the order asked for, so it stops once the
/// page is full instead of sorting her whole history), and those newer than the last sorted
/// run of the ingester (`ingest.rs`), read from the log itself (at most about one run, newest
/// first).
const BY_SUBJECT_SQLITE: &str = "SELECT id FROM (
        SELECT s.id, s.at FROM audit.access_log_days d
        CROSS JOIN audit.access_log_subjects s
        WHERE s.day = d.day AND s.subject_pid = $1 AND d.day <= $3 / 86400000000
          AND (s.at < $3 OR (s.at = $3 AND s.id < $4))
        ORDER BY d.day DESC, s.at DESC, s.id DESC LIMIT $2) AS indexed
    UNION
    SELECT id FROM (
        SELECT id FROM audit.access_log
        WHERE id > (SELECT indexed_id FROM audit.access_log_indexing WHERE id = 1)
          AND subject_pid = $1 AND (at < $3 OR (at = $3 AND id < $4))
        ORDER BY id DESC LIMIT $2) AS recent";
/// On PostgreSQL every entry is indexed in its own transaction, and the table has an index by
/// citizen (`migrations/postgres/0006_access_log_subjects.sql`).
const BY_SUBJECT_POSTGRES: &str = "SELECT id FROM (
        SELECT id, at FROM audit.access_log_subjects WHERE subject_pid = $1
          AND (at < $3 OR (at = $3 AND id < $4))
        ORDER BY at DESC, id DESC LIMIT $2) AS indexed";

/// The most recent accesses to one citizen's data that are in the database, newest first.
/// [`AccessLog::by_subject`] also waits for the journal.
pub async fn stored_by_subject(db: &Db, pid: i64, limit: i64) -> DbResult<Vec<AccessRecord>> {
    stored_by_subject_before(db, pid, None, limit).await
}

/// One page of [`stored_by_subject`]: the newest `limit` entries older than `before`
/// (`(at, id)` of the last entry of the previous page).
pub async fn stored_by_subject_before(
    db: &Db,
    pid: i64,
    before: Option<(i64, i64)>,
    limit: i64,
) -> DbResult<Vec<AccessRecord>> {
    let (before_at, before_id) = before.unwrap_or((i64::MAX, i64::MAX));
    let ids = match db.engine() {
        crate::Engine::Postgres => BY_SUBJECT_POSTGRES,
        crate::Engine::Sqlite => BY_SUBJECT_SQLITE,
    };
    let sql = format!(
        "SELECT id, at, actor_kind, actor_id, actor_name, action, purpose, reference,
                subject_pid, outcome, request_id
         FROM audit.access_log WHERE id IN ({ids})
           AND (at < $3 OR (at = $3 AND id < $4))
         ORDER BY at DESC, id DESC LIMIT $2"
    );
    let rows: Result<Vec<AccessRecord>, sqlx::Error> = on_read!(db, c => {
        // Built from the constants above only.
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(pid)
        .bind(limit)
        .bind(before_at)
        .bind(before_id)
        .fetch_all(c)
        .await
    });
    Ok(rows?)
}

/// Entries in the database.
pub async fn stored_count(db: &Db) -> DbResult<i64> {
    let n: Result<i64, sqlx::Error> = on_read!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit.access_log")
        .fetch_one(c)
        .await
    });
    Ok(n?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_group_waits_for_the_gather_window_and_the_sync_interval() {
        let now = Instant::now();
        // The first group, and one after a quiet spell, only gather.
        assert_eq!(group_start(now, None), now + GATHER);
        assert_eq!(
            group_start(now, Some(now - SYNC_INTERVAL * 10)),
            now + GATHER
        );
        // Under load the previous sync sets the pace.
        let recent = now - Duration::from_micros(100);
        assert_eq!(group_start(now, Some(recent)), recent + SYNC_INTERVAL);
        assert!(SYNC_INTERVAL > GATHER + Duration::from_micros(100));
    }
}
