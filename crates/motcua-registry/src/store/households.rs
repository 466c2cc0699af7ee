//! The `households` table.

use motcua_db::{Db, Tx, on_read, on_tx};

use super::raw_err;
use crate::error::Result;
use crate::record::HouseholdRow;

/// A household stored again keeps its first head, or takes the new one if it had none.
macro_rules! on_conflict {
    () => {
        " ON CONFLICT (id) DO UPDATE SET head_pid = COALESCE(households.head_pid, excluded.head_pid)"
    };
}

pub async fn get(db: &Db, id: i64) -> Result<Option<HouseholdRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as("SELECT id, head_pid, province_code, address FROM households WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await
    })?;
    Ok(row)
}

/// Rows per multi-row INSERT (6 bound values each).
const INSERT_CHUNK: usize = 1000;

/// Creates households, or names the head of one already stored without one.
pub async fn insert(tx: &mut Tx, households: &[HouseholdRow], now: i64) -> Result<()> {
    for chunk in households.chunks(INSERT_CHUNK) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO households (id, head_pid, province_code, address, created_at,
                                         updated_at) ",
            );
            qb.push_values(chunk, |mut b, h| {
                b.push_bind(h.id)
                    .push_bind(h.head_pid)
                    .push_bind(h.province_code)
                    .push_bind(h.address.clone())
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.push(on_conflict!());
            qb.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Households per multi-row insert on the bulk path. The 319,152 households of a million
/// generated citizens took 0.48 s with a statement run per household, 0.29–0.38 s in groups
/// of 64, on the writer's thread that every other stage waits for.
const HOUSEHOLDS_PER_INSERT: usize = 64;

/// [`insert`] on a raw connection (the bulk path, SQLite).
pub(crate) fn insert_raw(tx: &rusqlite::Connection, rows: &[HouseholdRow], now: i64) -> Result<()> {
    let sql = |n: usize| {
        let values: Vec<String> = (0..n)
            .map(|k| {
                let p = k * 5;
                format!(
                    "(?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 5
                )
            })
            .collect();
        format!(
            concat!(
                "INSERT INTO households (id, head_pid, province_code, address, created_at, updated_at)
             VALUES {}",
                on_conflict!()
            ),
            values.join(", ")
        )
    };
    let full = sql(HOUSEHOLDS_PER_INSERT);
    for group in rows.chunks(HOUSEHOLDS_PER_INSERT) {
        let mut stmt = if group.len() == HOUSEHOLDS_PER_INSERT {
            tx.prepare_cached(&full)
        } else {
            tx.prepare_cached(&sql(group.len()))
        }
        .map_err(raw_err)?;
        for (k, h) in group.iter().enumerate() {
            let p = k * 5;
            let bound = stmt
                .raw_bind_parameter(p + 1, h.id)
                .and_then(|()| stmt.raw_bind_parameter(p + 2, h.head_pid))
                .and_then(|()| stmt.raw_bind_parameter(p + 3, h.province_code))
                .and_then(|()| stmt.raw_bind_parameter(p + 4, &h.address))
                .and_then(|()| stmt.raw_bind_parameter(p + 5, now));
            bound.map_err(raw_err)?;
        }
        stmt.raw_execute().map_err(raw_err)?;
    }
    Ok(())
}
