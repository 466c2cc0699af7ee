//! The `registry_imports` table and the secondary indexes an import into an empty table drops
//! and rebuilds.

use motcua_db::{Db, Tx, on_read, on_tx, on_write};

use crate::error::Result;

pub async fn insert(db: &Db, id: &str, source_name: &str, actor: &str, now: i64) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query(
            "INSERT INTO registry_imports (id, source_name, actor, rows_imported, started_at)
             VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(id)
        .bind(source_name)
        .bind(actor)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn finish(tx: &mut Tx, id: &str, rows_imported: i64, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE registry_imports SET rows_imported = $1, finished_at = $2 WHERE id = $3")
            .bind(rows_imported)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64> {
    let n: i64 = on_read!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM registry_imports").fetch_one(c).await
    })?;
    Ok(n)
}

/// The secondary indexes on `citizens`: (name, statement creating it).
pub const SECONDARY_INDEXES: &[(&str, &str)] = &[
    (
        "citizens_by_name",
        "CREATE INDEX IF NOT EXISTS citizens_by_name ON citizens (name_folded, date_of_birth)",
    ),
    (
        "citizens_by_household",
        "CREATE INDEX IF NOT EXISTS citizens_by_household ON citizens (household_id)",
    ),
];

/// Drops (`false`) or (re)creates (`true`) the secondary indexes on `citizens`.
pub async fn set_secondary_indexes(db: &Db, present: bool) -> Result<()> {
    for (name, create) in SECONDARY_INDEXES {
        let sql = if present {
            (*create).to_owned()
        } else {
            format!("DROP INDEX IF EXISTS {name}")
        };
        let _: u64 = on_write!(db, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
