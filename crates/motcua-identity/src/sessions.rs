//! Server-side sessions for staff. The browser holds a random token; the database holds only
//! its SHA-256, the user, a per-session CSRF token and the expiry. Any node can serve any
//! request: nothing lives in process memory.

use motcua_db::{Db, on_read, on_tx, on_write};

use crate::Result;
use crate::staff::{self, StaffUser};
use crate::token::{random_token, sha256_hex};

/// Idle timeout: a session unused this long expires.
pub const IDLE_US: i64 = 30 * 60 * 1_000_000;
/// Absolute lifetime, whatever the activity.
pub const MAX_US: i64 = 12 * 3600 * 1_000_000;
/// `last_seen_at` is written at most this often, so reading pages does not write every time.
const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: StaffUser,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A new session for `user`; returns the token for the cookie and the session.
pub async fn create(db: &Db, user: &StaffUser, now: i64) -> Result<(String, Session)> {
    let token = random_token(32);
    let csrf = random_token(32);
    let expires_at = now + IDLE_US;
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at,
                                   last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(sha256_hex(&token))
        .bind(&user.id)
        .bind(&csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    // Expired sessions of anyone are swept on login, which is rare enough to afford it.
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok((
        token,
        Session {
            user: user.clone(),
            csrf_token: csrf,
            expires_at,
        },
    ))
}

#[derive(sqlx::FromRow)]
struct Row {
    user_id: String,
    csrf_token: String,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
}

/// The live session for `token`, sliding its idle expiry forward.
pub async fn get(db: &Db, token: &str, now: i64) -> Result<Option<Session>> {
    if token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let row: Option<Row> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT user_id, csrf_token, created_at, expires_at, last_seen_at
             FROM sessions WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(c)
        .await
    })?;
    let Some(row) = row else { return Ok(None) };
    if row.expires_at <= now || row.created_at + MAX_US <= now {
        return Ok(None);
    }
    let Some(user) = staff::by_id(db, &row.user_id).await? else {
        return Ok(None);
    };
    let mut expires_at = row.expires_at;
    if now - row.last_seen_at >= TOUCH_EVERY_US {
        expires_at = (now + IDLE_US).min(row.created_at + MAX_US);
        let _: u64 = on_write!(db, c => {
            sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
                .bind(now)
                .bind(expires_at)
                .bind(&hash)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(Some(Session {
        user,
        csrf_token: row.csrf_token,
        expires_at,
    }))
}

/// Ends the session for `token` (logout).
pub async fn end(db: &Db, token: &str) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(token))
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}
