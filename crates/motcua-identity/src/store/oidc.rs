//! The OpenID Connect provider's tables (migration 0015): citizens' single sign-on sessions,
//! consents, grants with their codes and refresh tokens, revoked access tokens, identifiers
//! already seen, and pushed authorization requests. The rules are in `crate::oidc`.

use motcua_db::{Db, Tx, on_read, on_tx, on_write};

use crate::Result;

// ---- citizen sessions ----

pub struct NewCitizenSession<'a> {
    pub token_hash: &'a str,
    pub sid: &'a str,
    pub account_id: &'a str,
    pub csrf_token: &'a str,
    pub acr: i32,
    pub amr: &'a str,
    pub auth_time: i64,
    pub user_agent: Option<&'a str>,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
pub struct CitizenSessionRow {
    pub sid: String,
    pub account_id: String,
    pub csrf_token: String,
    pub acr: i32,
    pub amr: String,
    pub auth_time: i64,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

const SESSION_COLUMNS: &str = "sid, account_id, csrf_token, acr, amr, auth_time, user_agent, \
                               created_at, expires_at, last_seen_at";

pub async fn insert_session(tx: &mut Tx, s: &NewCitizenSession<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_sessions (token_hash, sid, account_id, csrf_token, acr, amr,
                                           auth_time, user_agent, created_at, expires_at,
                                           last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)",
        )
        .bind(s.token_hash)
        .bind(s.sid)
        .bind(s.account_id)
        .bind(s.csrf_token)
        .bind(s.acr)
        .bind(s.amr)
        .bind(s.auth_time)
        .bind(s.user_agent)
        .bind(now)
        .bind(s.expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn session_by_hash(db: &Db, token_hash: &str) -> Result<Option<CitizenSessionRow>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM citizen_sessions WHERE token_hash = $1");
    let row = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(token_hash).fetch_optional(c).await
    })?;
    Ok(row)
}

pub async fn sessions_of(db: &Db, account_id: &str, now: i64) -> Result<Vec<CitizenSessionRow>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM citizen_sessions
         WHERE account_id = $1 AND expires_at > $2 ORDER BY created_at DESC"
    );
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(now).fetch_all(c).await
    })?;
    Ok(rows)
}

pub async fn touch_session(db: &Db, token_hash: &str, now: i64, expires_at: i64) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query(
            "UPDATE citizen_sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3",
        )
        .bind(now)
        .bind(expires_at)
        .bind(token_hash)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Ends the session with this token; its `sid` when there was one.
pub async fn delete_session(tx: &mut Tx, token_hash: &str) -> Result<Option<String>> {
    let sid = on_tx!(tx, c => {
        sqlx::query_scalar("DELETE FROM citizen_sessions WHERE token_hash = $1 RETURNING sid")
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await
    })?;
    Ok(sid)
}

/// Ends the account's session named `sid`; false when it has none of that name.
pub async fn delete_session_by_sid(tx: &mut Tx, account_id: &str, sid: &str) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM citizen_sessions WHERE account_id = $1 AND sid = $2")
            .bind(account_id)
            .bind(sid)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Ends every session of an account (closed on death); their `sid`s.
pub async fn delete_sessions_of(tx: &mut Tx, account_id: &str) -> Result<Vec<String>> {
    let sids = on_tx!(tx, c => {
        sqlx::query_scalar("DELETE FROM citizen_sessions WHERE account_id = $1 RETURNING sid")
            .bind(account_id)
            .fetch_all(&mut *c)
            .await
    })?;
    Ok(sids)
}

pub async fn delete_expired_sessions(tx: &mut Tx, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM citizen_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

// ---- consents ----

#[derive(sqlx::FromRow, Clone)]
pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scopes: String,
    pub granted_at: i64,
}

pub async fn consent(db: &Db, account_id: &str, client_id: &str) -> Result<Option<String>> {
    let scopes = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(c)
        .await
    })?;
    Ok(scopes)
}

pub async fn consents_of(db: &Db, account_id: &str) -> Result<Vec<ConsentRow>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT k.client_id, c.name AS client_name, k.scopes, k.granted_at
             FROM oidc_consents k JOIN oidc_clients c ON c.id = k.client_id
             WHERE k.account_id = $1 ORDER BY k.granted_at DESC",
        )
        .bind(account_id)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

pub async fn put_consent(
    tx: &mut Tx,
    account_id: &str,
    client_id: &str,
    scopes: &str,
    now: i64,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, client_id)
             DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(scopes)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn delete_consent(tx: &mut Tx, account_id: &str, client_id: &str) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
            .bind(account_id)
            .bind(client_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

// ---- grants ----

pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub account_id: &'a str,
    pub sid: &'a str,
    pub scopes: &'a str,
    pub acr: i32,
    pub amr: &'a str,
    pub auth_time: i64,
    pub dpop_jkt: Option<&'a str>,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub sid: String,
    pub scopes: String,
    pub acr: i32,
    pub amr: String,
    pub auth_time: i64,
    pub dpop_jkt: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const GRANT_COLUMNS: &str = "id, client_id, account_id, sid, scopes, acr, amr, auth_time, \
                             dpop_jkt, created_at, expires_at, revoked_at";

pub async fn insert_grant(tx: &mut Tx, g: &NewGrant<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, account_id, sid, scopes, acr, amr,
                                      auth_time, dpop_jkt, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(g.id)
        .bind(g.client_id)
        .bind(g.account_id)
        .bind(g.sid)
        .bind(g.scopes)
        .bind(g.acr)
        .bind(g.amr)
        .bind(g.auth_time)
        .bind(g.dpop_jkt)
        .bind(now)
        .bind(g.expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn grant(db: &Db, id: &str) -> Result<Option<GrantRow>> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM oidc_grants WHERE id = $1");
    let row = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await
    })?;
    Ok(row)
}

pub async fn grant_in(tx: &mut Tx, id: &str) -> Result<Option<GrantRow>> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM oidc_grants WHERE id = $1");
    let row = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await
    })?;
    Ok(row)
}

/// Revokes one grant; false when it was already revoked or does not exist.
pub async fn revoke_grant(tx: &mut Tx, id: &str, reason: &str, now: i64) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoked_reason = $3
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .bind(reason)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Binds a live grant to a DPoP key at its first token request; false when revoked.
pub async fn bind_grant(tx: &mut Tx, id: &str, jkt: &str) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE oidc_grants SET dpop_jkt = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(jkt)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// A grant revoked in bulk: its id and client.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RevokedGrant {
    pub id: String,
    pub client_id: String,
    pub sid: String,
}

/// Revokes the live grants of session `sid`, except those that outlive it (`offline_access`).
pub async fn revoke_grants_of_session(
    tx: &mut Tx,
    sid: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<RevokedGrant>> {
    let rows = on_tx!(tx, c => {
        sqlx::query_as(
            "UPDATE oidc_grants SET revoked_at = $2, revoked_reason = $3
             WHERE sid = $1 AND revoked_at IS NULL
               AND ' ' || scopes || ' ' NOT LIKE '% offline_access %'
             RETURNING id, client_id, sid",
        )
        .bind(sid)
        .bind(now)
        .bind(reason)
        .fetch_all(&mut *c)
        .await
    })?;
    Ok(rows)
}

/// Revokes every live grant of an account to a client (`Some`) or to any client (`None`).
pub async fn revoke_grants_of_account(
    tx: &mut Tx,
    account_id: &str,
    client_id: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<Vec<RevokedGrant>> {
    let rows = on_tx!(tx, c => {
        sqlx::query_as(
            "UPDATE oidc_grants SET revoked_at = $3, revoked_reason = $4
             WHERE account_id = $1 AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL
             RETURNING id, client_id, sid",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(now)
        .bind(reason)
        .fetch_all(&mut *c)
        .await
    })?;
    Ok(rows)
}

/// The client's back-channel logout URI, if it registered one.
pub async fn backchannel_uri(tx: &mut Tx, client_id: &str) -> Result<Option<String>> {
    let uri: Option<Option<String>> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT backchannel_logout_uri FROM oidc_clients WHERE id = $1")
            .bind(client_id)
            .fetch_optional(&mut *c)
            .await
    })?;
    Ok(uri.flatten())
}

// ---- authorization codes ----

pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub grant_id: &'a str,
    pub redirect_uri: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
pub struct CodeRow {
    pub grant_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_code(tx: &mut Tx, code: &NewCode<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, grant_id, redirect_uri, nonce, code_challenge,
                                     created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code.code_hash)
        .bind(code.grant_id)
        .bind(code.redirect_uri)
        .bind(code.nonce)
        .bind(code.code_challenge)
        .bind(now)
        .bind(code.expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Marks the code used and returns it as it was, so `used_at` tells a first use (`None`)
/// from a replay. The row is locked by the update, so two redemptions racing see one `None`.
pub async fn use_code(tx: &mut Tx, code_hash: &str, now: i64) -> Result<Option<CodeRow>> {
    let first: Option<CodeRow> = on_tx!(tx, c => {
        sqlx::query_as(
            "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL
             RETURNING grant_id, redirect_uri, nonce, code_challenge, expires_at,
                       CAST(NULL AS BIGINT) AS used_at",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await
    })?;
    if first.is_some() {
        return Ok(first);
    }
    let replay = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT grant_id, redirect_uri, nonce, code_challenge, expires_at, used_at
             FROM oidc_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&mut *c)
        .await
    })?;
    Ok(replay)
}

/// Codes and pushed requests expire within minutes; they are swept with new ones.
pub async fn delete_expired_codes(tx: &mut Tx, before: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM oidc_pushed_requests WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

// ---- refresh tokens ----

pub async fn insert_refresh(
    tx: &mut Tx,
    token_hash: &str,
    grant_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow, Clone)]
pub struct RefreshRow {
    pub grant_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Marks the refresh token used and returns it as it was (`used_at` `None` on first use).
pub async fn use_refresh(tx: &mut Tx, token_hash: &str, now: i64) -> Result<Option<RefreshRow>> {
    let first: Option<RefreshRow> = on_tx!(tx, c => {
        sqlx::query_as(
            "UPDATE oidc_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL
             RETURNING grant_id, expires_at, CAST(NULL AS BIGINT) AS used_at",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await
    })?;
    if first.is_some() {
        return Ok(first);
    }
    refresh_in(tx, token_hash).await
}

pub async fn refresh_in(tx: &mut Tx, token_hash: &str) -> Result<Option<RefreshRow>> {
    let row = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT grant_id, expires_at, used_at FROM oidc_refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *c)
        .await
    })?;
    Ok(row)
}

pub async fn refresh(db: &Db, token_hash: &str) -> Result<Option<RefreshRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT grant_id, expires_at, used_at FROM oidc_refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

// ---- revoked access tokens ----

pub async fn revoke_jti(db: &Db, jti: &str, expires_at: i64) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query(
            "INSERT INTO oidc_revoked_tokens (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn jti_revoked(db: &Db, jti: &str) -> Result<bool> {
    let found: Option<i64> = on_read!(db, c => {
        sqlx::query_scalar("SELECT expires_at FROM oidc_revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(c)
            .await
    })?;
    Ok(found.is_some())
}

// ---- identifiers seen once ----

/// Remembers `jti` of `client_id` until `expires_at`; false when it was already seen.
pub async fn remember_jti(
    db: &Db,
    client_id: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM oidc_seen_jtis WHERE client_id = $1 AND jti = $2 AND expires_at < $3")
            .bind(client_id)
            .bind(jti)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO oidc_seen_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n == 1)
}

// ---- pushed authorization requests ----

pub async fn insert_pushed(
    db: &Db,
    id: &str,
    client_id: &str,
    params: &str,
    expires_at: i64,
) -> Result<()> {
    let _: u64 = on_write!(db, c => {
        sqlx::query(
            "INSERT INTO oidc_pushed_requests (id, client_id, params, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(client_id)
        .bind(params)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow, Clone)]
pub struct PushedRow {
    pub client_id: String,
    pub params: String,
    pub expires_at: i64,
}

pub async fn pushed(db: &Db, id: &str) -> Result<Option<PushedRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as("SELECT client_id, params, expires_at FROM oidc_pushed_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await
    })?;
    Ok(row)
}

/// A pushed request is spent when its code is issued.
pub async fn delete_pushed(tx: &mut Tx, id: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM oidc_pushed_requests WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

// ---- sweeping ----

/// Rows deleted by [`sweep`], per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub refresh_tokens: u64,
    pub codes: u64,
    pub grants: u64,
    pub revoked_tokens: u64,
    pub seen_jtis: u64,
}

/// Deletes what can no longer be used: identifiers and revocations past their expiry, and
/// grants that ended (expired or revoked) before `ended_before`, with their codes and refresh
/// tokens. A grant is kept a while after it ends, so a late replay of one of its refresh tokens
/// is still recognised as a replay.
pub async fn sweep(tx: &mut Tx, now: i64, ended_before: i64) -> Result<Swept> {
    const STATEMENTS: [&str; 5] = [
        "DELETE FROM oidc_revoked_tokens WHERE expires_at < $1",
        "DELETE FROM oidc_seen_jtis WHERE expires_at < $1",
        "DELETE FROM oidc_refresh_tokens WHERE grant_id IN (SELECT id FROM oidc_grants
         WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $1)",
        "DELETE FROM oidc_codes WHERE grant_id IN (SELECT id FROM oidc_grants
         WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $1)",
        "DELETE FROM oidc_grants
         WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $1",
    ];
    let mut counts = [0u64; 5];
    for (i, sql) in STATEMENTS.iter().enumerate() {
        let bound = if i < 2 { now } else { ended_before };
        counts[i] = on_tx!(tx, c => {
            sqlx::query(*sql).bind(bound).execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(Swept {
        revoked_tokens: counts[0],
        seen_jtis: counts[1],
        refresh_tokens: counts[2],
        codes: counts[3],
        grants: counts[4],
    })
}
