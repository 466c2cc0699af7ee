//! The `oidc_signing_keys` table. The rotation rules are in `crate::signing_keys`.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

#[derive(sqlx::FromRow, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}

const SELECT: &str = "SELECT kid, alg, private_key, public_jwk, created_at, active_from,
    retired_at FROM oidc_signing_keys";

pub async fn insert(tx: &mut Tx, key: &KeyRow) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_signing_keys
                 (kid, alg, private_key, public_jwk, created_at, active_from, retired_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .bind(key.active_from)
        .bind(key.retired_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Sets `retired_at` on every key not yet retiring.
pub async fn retire_all(tx: &mut Tx, retired_at: i64) -> Result<u64> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE oidc_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(retired_at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}

/// The keys still published at `now`, the most recently activated first.
pub async fn published(db: &Db, now: i64) -> Result<Vec<KeyRow>> {
    let sql = format!(
        "{SELECT} WHERE retired_at IS NULL OR retired_at > $1 ORDER BY active_from DESC, kid"
    );
    let rows: Vec<KeyRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now).fetch_all(c).await
    })?;
    Ok(rows)
}
