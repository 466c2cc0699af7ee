//! Server-side sessions for staff. The browser holds a random token; the database holds only
//! its SHA-256, the user, a per-session CSRF token and the expiry. Any node can serve any
//! request: nothing lives in process memory.

use motcua_db::Db;

use crate::Result;
use crate::staff::{self, StaffUser};
use crate::store;
use crate::store::sessions::NewSession;
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
    let new = NewSession {
        token_hash: &sha256_hex(&token),
        user_id: &user.id,
        csrf_token: &csrf,
        expires_at,
    };
    store::sessions::insert(&mut tx, &new, now).await?;
    // Expired sessions of anyone are swept on login, which is rare enough to afford it.
    store::sessions::delete_expired(&mut tx, now).await?;
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

/// The live session for `token`, sliding its idle expiry forward.
pub async fn get(db: &Db, token: &str, now: i64) -> Result<Option<Session>> {
    if token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let row = store::sessions::get(db, &hash).await?;
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
        store::sessions::touch(db, &hash, now, expires_at).await?;
    }
    Ok(Some(Session {
        user,
        csrf_token: row.csrf_token,
        expires_at,
    }))
}

/// Ends the session for `token` (logout).
pub async fn end(db: &Db, token: &str) -> Result<()> {
    store::sessions::delete(db, &sha256_hex(token)).await?;
    Ok(())
}
