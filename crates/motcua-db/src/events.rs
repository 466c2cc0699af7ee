//! The append-only, hash-chained event log. Every persistent change is appended here in the
//! same transaction as the state it changes.
//!
//! Each aggregate (a citizen, a household, an account, later a dossier) has its own chain:
//! event `n` carries the hash of event `n − 1` of the same aggregate, and the pair
//! (aggregate, version) is unique, so two concurrent writers of one aggregate cannot both win
//! (optimistic concurrency that holds under PostgreSQL READ COMMITTED). A global `seq` orders all
//! events for queries by type and time. Database triggers refuse UPDATE and DELETE.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Db, DbError, DbResult, Tx, on_read, on_tx};

/// The `prev_hash` of the first event of every aggregate.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub event_type: &'a str,
    /// Who made the change: `staff:<username>`, `client:<id>`, `system`, `cli:<user>`.
    pub actor: &'a str,
    /// Why, in the actor's words or a legal reference.
    pub reason: &'a str,
    pub payload: serde_json::Value,
    pub occurred_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: i64,
    pub event_type: String,
    pub actor: String,
    pub reason: String,
    pub payload: String,
    pub occurred_at: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of one event: SHA-256 over length-prefixed fields, so no choice of field
/// contents can make two different events hash alike.
#[allow(clippy::too_many_arguments)]
pub fn chain_hash(
    prev_hash: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    version: i64,
    event_type: &str,
    actor: &str,
    reason: &str,
    occurred_at: i64,
    payload: &str,
) -> String {
    let mut h = Sha256::new();
    let version = version.to_string();
    let occurred_at = occurred_at.to_string();
    for field in [
        prev_hash,
        aggregate_type,
        aggregate_id,
        &version,
        event_type,
        actor,
        reason,
        &occurred_at,
        payload,
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends `event` to its aggregate's chain inside `tx`.
pub async fn append(tx: &mut Tx, event: &NewEvent<'_>) -> DbResult<StoredEvent> {
    let head: Option<(i64, String)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT version, hash FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2
             ORDER BY version DESC LIMIT 1",
        )
        .bind(event.aggregate_type)
        .bind(event.aggregate_id)
        .fetch_optional(&mut *c)
        .await
    })?;
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
    let id = crate::new_id();
    let seq: Result<i64, sqlx::Error> = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO events (id, aggregate_type, aggregate_id, version, event_type, actor,
                                 reason, payload, occurred_at, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING seq",
        )
        .bind(&id)
        .bind(event.aggregate_type)
        .bind(event.aggregate_id)
        .bind(version)
        .bind(event.event_type)
        .bind(event.actor)
        .bind(event.reason)
        .bind(&payload)
        .bind(event.occurred_at)
        .bind(&prev_hash)
        .bind(&hash)
        .fetch_one(&mut *c)
        .await
    });
    let seq = seq.map_err(|e| {
        let e = DbError::from(e);
        if e.is_unique_violation() {
            DbError::Conflict(format!(
                "{} {} was changed concurrently; retry",
                event.aggregate_type, event.aggregate_id
            ))
        } else {
            e
        }
    })?;
    Ok(StoredEvent {
        seq,
        id,
        aggregate_type: event.aggregate_type.to_owned(),
        aggregate_id: event.aggregate_id.to_owned(),
        version,
        event_type: event.event_type.to_owned(),
        actor: event.actor.to_owned(),
        reason: event.reason.to_owned(),
        payload,
        occurred_at: event.occurred_at,
        prev_hash,
        hash,
    })
}

const SELECT_EVENT: &str = "SELECT seq, id, aggregate_type, aggregate_id, version, event_type,
    actor, reason, payload, occurred_at, prev_hash, hash FROM events";

/// The events of one aggregate, oldest first.
pub async fn for_aggregate(
    db: &Db,
    aggregate_type: &str,
    aggregate_id: &str,
) -> DbResult<Vec<StoredEvent>> {
    let sql =
        format!("{SELECT_EVENT} WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version");
    let rows: Result<Vec<StoredEvent>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(c)
            .await
    });
    Ok(rows?)
}

/// Events of one type in a time window `[from, to)`, in log order, at most `limit`, after
/// `after_seq` (keyset pagination).
pub async fn by_type(
    db: &Db,
    event_type: &str,
    from: i64,
    to: i64,
    after_seq: i64,
    limit: i64,
) -> DbResult<Vec<StoredEvent>> {
    let sql = format!(
        "{SELECT_EVENT} WHERE event_type = $1 AND occurred_at >= $2 AND occurred_at < $3
         AND seq > $4 ORDER BY seq LIMIT $5"
    );
    let rows: Result<Vec<StoredEvent>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(event_type)
            .bind(from)
            .bind(to)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(c)
            .await
    });
    Ok(rows?)
}

/// What a full verification of the log found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub aggregates: u64,
    /// Human-readable descriptions of every break found.
    pub breaks: Vec<String>,
}

/// Checks every chain: versions start at 1 and have no gaps, each `prev_hash` is the previous
/// event's hash, and each stored hash is the recomputed one.
pub async fn verify_all(db: &Db) -> DbResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut cursor: Option<(String, String, i64)> = None;
    let mut expect_prev = String::new();
    let mut expect_version = 0i64;
    let mut current: Option<(String, String)> = None;
    loop {
        let (t, a, v) = cursor.clone().unwrap_or_default();
        let sql = format!(
            "{SELECT_EVENT} WHERE (aggregate_type, aggregate_id, version) > ($1, $2, $3)
             ORDER BY aggregate_type, aggregate_id, version LIMIT 5000"
        );
        let page: Result<Vec<StoredEvent>, sqlx::Error> = on_read!(db, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&t)
                .bind(&a)
                .bind(v)
                .fetch_all(c)
                .await
        });
        let page = page?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            let key = (e.aggregate_type.clone(), e.aggregate_id.clone());
            if current.as_ref() != Some(&key) {
                current = Some(key);
                report.aggregates += 1;
                expect_prev = GENESIS_HASH.to_owned();
                expect_version = 1;
            }
            report.events += 1;
            let name = format!(
                "event log: {} {} v{}",
                e.aggregate_type, e.aggregate_id, e.version
            );
            if e.version != expect_version {
                report.breaks.push(format!(
                    "{name}: missing before it: expected version {expect_version}"
                ));
            }
            if e.prev_hash != expect_prev {
                report.breaks.push(format!(
                    "{name}: does not link to the previous event: one before it is missing, \
                     or it was inserted out of chain"
                ));
            }
            let recomputed = chain_hash(
                &e.prev_hash,
                &e.aggregate_type,
                &e.aggregate_id,
                e.version,
                &e.event_type,
                &e.actor,
                &e.reason,
                e.occurred_at,
                &e.payload,
            );
            if recomputed != e.hash {
                report.breaks.push(format!(
                    "{name}: edited: its content does not match its hash"
                ));
            }
            expect_prev = e.hash.clone();
            expect_version = e.version + 1;
        }
        if let Some(last) = page.last() {
            cursor = Some((
                last.aggregate_type.clone(),
                last.aggregate_id.clone(),
                last.version,
            ));
        }
    }
    Ok(report)
}
