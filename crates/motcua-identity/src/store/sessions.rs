//! The `sessions` table.

use motcua_db::{Db, Tx, on_read, on_tx, on_write};

use crate::Result;

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

/// A session to store: only the hash of its token.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: &'a str,
    pub csrf_token: &'a str,
    pub expires_at: i64,
}

pub async fn insert(tx: &mut Tx, s: &NewSession<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at,
                                   last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(s.token_hash)
        .bind(s.user_id)
        .bind(s.csrf_token)
        .bind(now)
        .bind(s.expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Deletes every session that expired before `now`.
pub async fn delete_expired(tx: &mut Tx, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get(db: &Db, token_hash: &str) -> Result<Option<SessionRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT user_id, csrf_token, created_at, expires_at, last_seen_at
             FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

/// Records use at `now` and moves the expiry to `expires_at`.
pub async fn touch(db: &Db, token_hash: &str, now: i64, expires_at: i64) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(now)
            .bind(expires_at)
            .bind(token_hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn delete(db: &Db, token_hash: &str) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Ends every session of a user (an account being disabled).
pub async fn delete_for_user(tx: &mut Tx, user_id: &str) -> Result<u64> {
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}
