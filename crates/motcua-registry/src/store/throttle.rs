//! The verification throttle's counters (`verification_failures`, `verification_quota`); the
//! rules are in `crate::throttle`.

use motcua_db::{Db, Engine, Tx, on_read, on_tx, on_write};

use crate::error::Result;

const SELECT_FAILURES: &str =
    "SELECT recent_failures FROM verification_failures WHERE client_id = $1 AND pid = $2";

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

const COUNT_FAILURE_SQLITE: &str = "INSERT INTO verification_failures
        (client_id, pid, recent_failures, last_failure_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, pid) DO UPDATE SET
        recent_failures = substr(verification_failures.recent_failures
                                 || excluded.recent_failures, -$5),
        last_failure_at = CASE
            WHEN excluded.last_failure_at > verification_failures.last_failure_at
            THEN excluded.last_failure_at ELSE verification_failures.last_failure_at END
    RETURNING recent_failures";

const COUNT_FAILURE_POSTGRES: &str = "INSERT INTO verification_failures
        (client_id, pid, recent_failures, last_failure_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, pid) DO UPDATE SET
        recent_failures = right(verification_failures.recent_failures
                                || excluded.recent_failures, $5),
        last_failure_at = CASE
            WHEN excluded.last_failure_at > verification_failures.last_failure_at
            THEN excluded.last_failure_at ELSE verification_failures.last_failure_at END
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
    "INSERT INTO verification_quota (client_id, day, verifications, updated_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (client_id, day) DO UPDATE SET
        verifications = verification_quota.verifications + excluded.verifications,
        updated_at = excluded.updated_at
    RETURNING verifications";

/// Adds `n` to a client's count for `day` (`YYYY-MM-DD`); returns the new total.
pub async fn add_to_quota(db: &Db, client_id: &str, day: &str, n: i64, now: i64) -> Result<i64> {
    let total: i64 = on_write!(db, c => {
        sqlx::query_scalar(ADD_TO_QUOTA)
            .bind(client_id)
            .bind(day)
            .bind(n)
            .bind(now)
            .fetch_one(c)
            .await
    })?;
    Ok(total)
}

/// Deletes failures last counted at or before `failures_until` and quota counts of days
/// before `days_before` (`YYYY-MM-DD` sorts as the dates do); the rows deleted.
pub async fn purge(db: &Db, failures_until: i64, days_before: &str) -> Result<u64> {
    let failures = on_write!(db, c => {
        sqlx::query("DELETE FROM verification_failures WHERE last_failure_at <= $1")
            .bind(failures_until)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let days = on_write!(db, c => {
        sqlx::query("DELETE FROM verification_quota WHERE day < $1")
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
            "SELECT verifications FROM verification_quota WHERE client_id = $1 AND day = $2",
        )
        .bind(client_id)
        .bind(day)
        .fetch_optional(c)
        .await
    })?;
    Ok(total)
}

/// Counts a batch of non-matching answers on a direct connection to the embedded database,
/// in one transaction: `(client_id, pid, entry, now, keep)` each; the failures kept for each.
/// sqlx's driver costs several times a whole verification per statement, and on the
/// benchmark a verification in five is a non-match.
pub fn append_failures_raw(
    conn: &rusqlite::Connection,
    batch: &[(&str, i64, &str, i64, i32)],
) -> rusqlite::Result<Vec<String>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let counted = (|| {
        let mut statement = conn.prepare_cached(COUNT_FAILURE_SQLITE)?;
        let mut kept = Vec::with_capacity(batch.len());
        for (client_id, pid, entry, now, keep) in batch {
            kept.push(
                statement.query_row(rusqlite::params![client_id, pid, entry, now, keep], |r| {
                    r.get(0)
                })?,
            );
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
