//! The `citizen_accounts` table. The rules (who may hold an account, levels) are in
//! `crate::citizen_accounts`.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

#[derive(sqlx::FromRow, Clone)]
pub struct AccountRow {
    pub id: String,
    pub pid: i64,
    pub level: i32,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
    pub locked_until: Option<i64>,
    pub closed_at: Option<i64>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, pid, level, password_hash, totp_secret, totp_last_step,
    locked_until, closed_at, created_at FROM citizen_accounts";

/// A new account; false when the PID already has one.
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    pid: i64,
    level: i32,
    password_hash: &str,
    totp_secret: Option<&str>,
    now: i64,
) -> Result<bool> {
    let inserted = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_accounts (id, pid, level, password_hash, totp_secret,
                                           created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (pid) DO NOTHING",
        )
        .bind(id)
        .bind(pid)
        .bind(level)
        .bind(password_hash)
        .bind(totp_secret)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Records an e-mail address the holder proved she reads.
pub async fn set_email(tx: &mut Tx, id: &str, email: &str, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_accounts SET email = $2, email_verified_at = $3, updated_at = $3
             WHERE id = $1",
        )
        .bind(id)
        .bind(email)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The e-mail address the holder proved, if any.
pub async fn verified_email(db: &Db, id: &str) -> Result<Option<String>> {
    let email: Option<Option<String>> = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT email FROM citizen_accounts WHERE id = $1 AND email_verified_at IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(email.flatten())
}

/// Replaces the password hash and lifts any lock (a reset through a proved channel).
pub async fn set_password(tx: &mut Tx, id: &str, password_hash: &str, now: i64) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_accounts
             SET password_hash = $2, failed_logins = 0, locked_until = NULL, updated_at = $3
             WHERE id = $1 AND closed_at IS NULL",
        )
        .bind(id)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    let sql = format!("{SELECT} WHERE id = $1");
    let row: Option<AccountRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await
    })?;
    Ok(row)
}

pub async fn by_pid(db: &Db, pid: i64) -> Result<Option<AccountRow>> {
    let sql = format!("{SELECT} WHERE pid = $1");
    let row: Option<AccountRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(pid).fetch_optional(c).await
    })?;
    Ok(row)
}

/// Records `step` as the last TOTP step used; false when that step (or a later one) was
/// already used.
pub async fn use_totp_step(tx: &mut Tx, id: &str, step: i64) -> Result<bool> {
    let changed = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_accounts SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(changed == 1)
}

/// Raises an open account to `level`; false when there is no such open account below it.
pub async fn raise_level(tx: &mut Tx, id: &str, level: i32, now: i64) -> Result<bool> {
    let changed = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_accounts SET level = $2, updated_at = $3
             WHERE id = $1 AND level < $2 AND closed_at IS NULL",
        )
        .bind(id)
        .bind(level)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(changed == 1)
}

/// Closes the open account of a PID; its id, or `None` when it has none open.
pub async fn close_by_pid(tx: &mut Tx, pid: i64, reason: &str, now: i64) -> Result<Option<String>> {
    let id: Option<String> = on_tx!(tx, c => {
        sqlx::query_scalar(
            "UPDATE citizen_accounts SET closed_at = $2, closed_reason = $3, updated_at = $2
             WHERE pid = $1 AND closed_at IS NULL RETURNING id",
        )
        .bind(pid)
        .bind(now)
        .bind(reason)
        .fetch_optional(&mut *c)
        .await
    })?;
    Ok(id)
}
