//! The personal-data access log: every read of a citizen's data by staff or an agency system
//! (who, when, purpose, which citizen, outcome). Decree 13/2023/NĐ-CP requires processing logs;
//! the citizen-facing page lists them by PID through `access_log_by_subject`.
//!
//! Writes use group commit: callers hand an entry to one background writer and wait until the
//! batch holding it is committed. One transaction carries many requests' entries, so the hot
//! verification path pays a few milliseconds of latency instead of a transaction each, and no
//! answer leaves the server before its access is durably recorded.

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
    sender: mpsc::Sender<(AccessEntry, Ack)>,
}

impl AccessLog {
    /// Starts the background writer on the current Tokio runtime.
    pub fn start(db: Db) -> AccessLog {
        let (sender, receiver) = mpsc::channel(8192);
        tokio::spawn(writer(db, receiver));
        AccessLog { sender }
    }

    /// Records `entry` and returns once it is committed.
    pub async fn record(&self, entry: AccessEntry) -> DbResult<()> {
        let (ack, done) = oneshot::channel();
        self.sender
            .send((entry, ack))
            .await
            .map_err(|_| DbError::Conflict("the access-log writer has stopped".into()))?;
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

/// Inserts entries in one transaction with multi-row statements.
pub async fn insert_batch(db: &Db, entries: &[&AccessEntry]) -> DbResult<()> {
    let mut tx = db.begin().await?;
    for chunk in entries.chunks(256) {
        crate::on_tx!(&mut tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO access_log (at, actor_kind, actor_id, actor_name, action, purpose,
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
             FROM access_log WHERE subject_pid = $1 ORDER BY at DESC, id DESC LIMIT $2",
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
        sqlx::query_scalar("SELECT COUNT(*) FROM access_log").fetch_one(c).await
    });
    Ok(n?)
}
