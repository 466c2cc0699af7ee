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
