//! The verification throttle's counters (`counters.verification_failures`,
//! `counters.verification_quota`: a schema of their own, on SQLite a file of their own, see
//! `migrations/*/0011_throttle_counters.sql`); the rules are in `crate::throttle`.

use motcua_db::{Db, Engine, Tx, on_read, on_tx, on_write};

use crate::error::Result;

const SELECT_FAILURES: &str =
    "SELECT recent_failures FROM counters.verification_failures WHERE client_id = $1 AND pid = $2";

/// The stored failure times of a client and PID, as text.
pub async fn recent_failures(db: &Db, client_id: &str, pid: i64) -> Result<Option<String>> {
    Ok(match db.raw_readers() {
        // A point read by primary key, like the citizen's: run in place (see motcua_db::raw).
        Some(readers) => readers.with(|c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached(SELECT_FAILURES)?
                .query_row(rusqlite::params![client_id, pid], |r| r.get(0))
                .optional()
        })?,
        None => on_read!(db, c => {
            sqlx::query_scalar(SELECT_FAILURES)
                .bind(client_id)
                .bind(pid)
                .fetch_optional(c)
                .await
        })?,
    })
}

const COUNT_FAILURE_SQLITE: &str = "INSERT INTO counters.verification_failures AS f
        (client_id, pid, recent_failures, last_failure_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, pid) DO UPDATE SET
        recent_failures = substr(f.recent_failures
                                 || excluded.recent_failures, -$5),
        last_failure_at = CASE
            WHEN excluded.last_failure_at > f.last_failure_at
            THEN excluded.last_failure_at ELSE f.last_failure_at END
    RETURNING recent_failures";

const COUNT_FAILURE_POSTGRES: &str = "INSERT INTO counters.verification_failures AS f
        (client_id, pid, recent_failures, last_failure_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, pid) DO UPDATE SET
        recent_failures = right(f.recent_failures
                                || excluded.recent_failures, $5),
        last_failure_at = CASE
            WHEN excluded.last_failure_at > f.last_failure_at
            THEN excluded.last_failure_at ELSE f.last_failure_at END
    RETURNING recent_failures";

/// Appends `entry` to the failures of a client and PID in `tx`, keeping the last `keep`
/// characters, in one statement; returns what is kept.
pub async fn append_failure(
    tx: &mut Tx,
    client_id: &str,
    pid: i64,
    entry: &str,
    now: i64,
    keep: i32,
) -> Result<String> {
    // Only the function that keeps the end of the text differs between the dialects.
    let sql = match tx.engine() {
        Engine::Sqlite => COUNT_FAILURE_SQLITE,
        Engine::Postgres => COUNT_FAILURE_POSTGRES,
    };
    let recent: String = on_tx!(tx, c => {
        sqlx::query_scalar(sql)
            .bind(client_id)
            .bind(pid)
            .bind(entry)
            .bind(now)
            .bind(keep)
            .fetch_one(&mut *c)
            .await
    })?;
    Ok(recent)
}

const ADD_TO_QUOTA: &str =
    "INSERT INTO counters.verification_quota AS q (client_id, day, verifications, updated_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, day) DO UPDATE SET
        verifications = q.verifications + excluded.verifications,
        updated_at = excluded.updated_at
    RETURNING verifications";

/// Adds `n` to a client's count for `day` (`YYYY-MM-DD`) in `tx`; returns the new total.
pub async fn add_to_quota(
    tx: &mut Tx,
    client_id: &str,
    day: &str,
    n: i64,
    now: i64,
) -> Result<i64> {
    let total: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(ADD_TO_QUOTA)
            .bind(client_id)
            .bind(day)
            .bind(n)
            .bind(now)
            .fetch_one(&mut *c)
            .await
    })?;
    Ok(total)
}

/// Deletes failures last counted at or before `failures_until` and quota counts of days
/// before `days_before` (`YYYY-MM-DD` sorts as the dates do); the rows deleted.
pub async fn purge(db: &Db, failures_until: i64, days_before: &str) -> Result<u64> {
    let failures = on_write!(db, c => {
        sqlx::query("DELETE FROM counters.verification_failures WHERE last_failure_at <= $1")
            .bind(failures_until)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let days = on_write!(db, c => {
        sqlx::query("DELETE FROM counters.verification_quota WHERE day < $1")
            .bind(days_before)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(failures + days)
}

/// The count stored for a client and day.
pub async fn quota_used(db: &Db, client_id: &str, day: &str) -> Result<Option<i64>> {
    let total: Option<i64> = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT verifications FROM counters.verification_quota WHERE client_id = $1 AND day = $2",
        )
        .bind(client_id)
        .bind(day)
        .fetch_optional(c)
        .await
    })?;
    Ok(total)
}

/// One write to the counters.
pub enum CounterWrite<'a> {
    /// A non-matching answer: append `entry` to the failures of `client_id` and `pid`,
    /// keeping the last `keep` characters.
    Failure {
        client_id: &'a str,
        pid: i64,
        entry: &'a str,
        now: i64,
        keep: i32,
    },
    /// Add `n` verifications to the count of `client_id` for `day`.
    Quota {
        client_id: &'a str,
        day: &'a str,
        n: i64,
        now: i64,
    },
}

/// What a [`CounterWrite`] leaves: the failures kept, or the day's total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    Failures(String),
    Quota(i64),
}

/// Applies a batch of counter writes on a direct connection to the embedded database that
/// has the counters' file attached as `counters` ([`motcua_db::raw::sqlite_counters_writer`]),
/// in one transaction; what each write leaves, in order. sqlx's driver costs several times a
/// whole verification per statement, and on the benchmark three verifications in five are
/// non-matches.
pub fn write_counters_raw(
    conn: &rusqlite::Connection,
    batch: &[CounterWrite<'_>],
) -> rusqlite::Result<Vec<Counted>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let counted = (|| {
        let mut kept = Vec::with_capacity(batch.len());
        for write in batch {
            kept.push(match *write {
                CounterWrite::Failure {
                    client_id,
                    pid,
                    entry,
                    now,
                    keep,
                } => Counted::Failures(
                    conn.prepare_cached(COUNT_FAILURE_SQLITE)?
                        .query_row(rusqlite::params![client_id, pid, entry, now, keep], |r| {
                            r.get(0)
                        })?,
                ),
                CounterWrite::Quota {
                    client_id,
                    day,
                    n,
                    now,
                } => Counted::Quota(
                    conn.prepare_cached(ADD_TO_QUOTA)?
                        .query_row(rusqlite::params![client_id, day, n, now], |r| r.get(0))?,
                ),
            });
        }
        Ok(kept)
    })();
    match counted {
        Ok(kept) => {
            conn.execute_batch("COMMIT")?;
            Ok(kept)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The same batch in `tx`, on either engine.
pub async fn write_counters(tx: &mut Tx, batch: &[CounterWrite<'_>]) -> Result<Vec<Counted>> {
    let mut kept = Vec::with_capacity(batch.len());
    for write in batch {
        kept.push(match *write {
            CounterWrite::Failure {
                client_id,
                pid,
                entry,
                now,
                keep,
            } => Counted::Failures(append_failure(tx, client_id, pid, entry, now, keep).await?),
            CounterWrite::Quota {
                client_id,
                day,
                n,
                now,
            } => Counted::Quota(add_to_quota(tx, client_id, day, n, now).await?),
        });
    }
    Ok(kept)
}
