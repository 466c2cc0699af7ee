//! The `id_cards` table.

use motcua_db::{Db, Tx, on_read, on_tx};
use motcua_domain::Pid;
use serde::Serialize;

use crate::error::Result;

/// A chip ID card of a citizen.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IdCard {
    pub id: String,
    pub issued_on: String,
    pub expires_on: Option<String>,
    pub status: String,
}

/// A citizen's cards, newest first.
pub async fn of_citizen(db: &Db, pid: Pid) -> Result<Vec<IdCard>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, issued_on, expires_on, status FROM id_cards WHERE pid = $1
             ORDER BY issued_on DESC",
        )
        .bind(pid.as_i64())
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// Gives the citizen's active card the status `status` (`replaced`, `revoked`).
pub async fn end_active(tx: &mut Tx, pid: Pid, status: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE id_cards SET status = $1 WHERE pid = $2 AND status = 'active'")
            .bind(status)
            .bind(pid.as_i64())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Stores `card` as the citizen's active card.
pub async fn insert(tx: &mut Tx, pid: Pid, card: &IdCard, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO id_cards (id, pid, issued_on, expires_on, status, recorded_at)
             VALUES ($1, $2, $3, $4, 'active', $5)",
        )
        .bind(&card.id)
        .bind(pid.as_i64())
        .bind(&card.issued_on)
        .bind(&card.expires_on)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
