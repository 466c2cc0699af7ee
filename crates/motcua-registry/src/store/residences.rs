//! The `residences` table: residence history.

use motcua_db::{Db, Tx, on_read, on_tx};
use motcua_domain::Pid;
use serde::Serialize;

use crate::error::Result;

/// A residence record of a citizen.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Residence {
    pub id: String,
    pub kind: String,
    pub province_code: i32,
    pub address: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

/// Residence history of a citizen, newest first.
pub async fn of_citizen(db: &Db, pid: Pid) -> Result<Vec<Residence>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, kind, province_code, address, valid_from, valid_to FROM residences
             WHERE pid = $1 ORDER BY recorded_at DESC",
        )
        .bind(pid.as_i64())
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// A residence to record: `kind` is `permanent` (a closed one, moved to the history) or
/// `temporary`.
pub struct NewResidence<'a> {
    pub pid: Pid,
    pub kind: &'a str,
    pub province_code: i32,
    pub address: &'a str,
    pub valid_from: Option<&'a str>,
    pub valid_to: Option<&'a str>,
}

pub async fn insert(tx: &mut Tx, r: &NewResidence<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO residences (id, pid, kind, province_code, address, valid_from, valid_to,
                                     recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(motcua_db::new_id())
        .bind(r.pid.as_i64())
        .bind(r.kind)
        .bind(r.province_code)
        .bind(r.address)
        .bind(r.valid_from)
        .bind(r.valid_to)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
