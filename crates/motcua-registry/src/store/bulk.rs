//! Transactions, checkpoints and index builds of the bulk writer's raw SQLite connection.

use rusqlite::Connection;

use super::raw_err;
use crate::error::Result;

/// A write transaction that takes the write lock at once.
pub fn begin(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(raw_err)
}

pub fn commit(conn: &Connection) -> Result<()> {
    conn.execute_batch("COMMIT").map_err(raw_err)
}

/// Rolls back after a failure; a failure to roll back leaves the error being reported as is.
pub fn rollback(conn: &Connection) {
    let _ = conn.execute_batch("ROLLBACK");
}

/// Copies the whole WAL into the database and truncates it.
pub fn checkpoint_truncate(conn: &Connection) -> Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(raw_err)
}

/// Copies committed frames without waiting for readers or the writer; returns how many
/// frames of the WAL have been copied.
pub fn checkpoint_passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(2))
}

pub fn page_size(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(raw_err)
}

/// Creates the secondary indexes on `citizens`, calling `after_each` once each is built.
pub fn create_secondary_indexes(conn: &Connection, mut after_each: impl FnMut()) -> Result<()> {
    for (_, sql) in super::imports::SECONDARY_INDEXES {
        conn.execute_batch(sql).map_err(raw_err)?;
        after_each();
    }
    Ok(())
}
