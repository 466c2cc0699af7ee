//! The `citizen_registrations` table; the rules are in `crate::registration`.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

pub struct NewRegistration<'a> {
    pub id: &'a str,
    pub pid: i64,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub code_hash: &'a str,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
pub struct RegistrationRow {
    pub pid: i64,
    pub email: String,
    pub password_hash: String,
    pub code_hash: String,
    pub attempts: i32,
    pub expires_at: i64,
    pub confirmed_at: Option<i64>,
}

pub async fn insert(tx: &mut Tx, r: &NewRegistration<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_registrations (id, pid, email, password_hash, code_hash,
                                                created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.id)
        .bind(r.pid)
        .bind(r.email)
        .bind(r.password_hash)
        .bind(r.code_hash)
        .bind(now)
        .bind(r.expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<RegistrationRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT pid, email, password_hash, code_hash, attempts, expires_at, confirmed_at
             FROM citizen_registrations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

/// Counts one attempt at the code, if fewer than `max` were made and the registration is
/// open; false otherwise.
pub async fn count_attempt(tx: &mut Tx, id: &str, max: i32) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_registrations SET attempts = attempts + 1
             WHERE id = $1 AND attempts < $2 AND confirmed_at IS NULL",
        )
        .bind(id)
        .bind(max)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn confirm(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_registrations SET confirmed_at = $2
             WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Registrations started for a PID since `since` (a limit on codes sent to one person).
pub async fn started_since(db: &Db, pid: i64, since: i64) -> Result<i64> {
    let n = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM citizen_registrations WHERE pid = $1 AND created_at >= $2",
        )
        .bind(pid)
        .bind(since)
        .fetch_one(c)
        .await
    })?;
    Ok(n)
}

// ---- codes sent to a proved address: password resets and e-mail login codes ----

pub const PASSWORD_RESET: &str = "password_reset";
pub const LOGIN: &str = "login";

pub async fn insert_reset(
    tx: &mut Tx,
    purpose: &str,
    id: &str,
    account_id: &str,
    code_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_password_resets (id, account_id, code_hash, created_at, expires_at,
                                                  purpose)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(account_id)
        .bind(code_hash)
        .bind(now)
        .bind(expires_at)
        .bind(purpose)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[derive(sqlx::FromRow, Clone)]
pub struct ResetRow {
    pub account_id: String,
    pub code_hash: String,
    pub attempts: i32,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn reset(db: &Db, purpose: &str, id: &str) -> Result<Option<ResetRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT account_id, code_hash, attempts, expires_at, used_at
             FROM citizen_password_resets WHERE id = $1 AND purpose = $2",
        )
        .bind(id)
        .bind(purpose)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

pub async fn count_reset_attempt(tx: &mut Tx, id: &str, max: i32) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_password_resets SET attempts = attempts + 1
             WHERE id = $1 AND attempts < $2 AND used_at IS NULL",
        )
        .bind(id)
        .bind(max)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn use_reset(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE citizen_password_resets SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn resets_since(db: &Db, purpose: &str, account_id: &str, since: i64) -> Result<i64> {
    let n = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM citizen_password_resets
             WHERE account_id = $1 AND created_at >= $2 AND purpose = $3",
        )
        .bind(account_id)
        .bind(since)
        .bind(purpose)
        .fetch_one(c)
        .await
    })?;
    Ok(n)
}
