//! The `staff_users` table. The lockout rules are in `crate::staff`; the statements that count
//! sign-ins are atomic so that concurrent attempts cannot lose each other's count.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

#[derive(sqlx::FromRow)]
pub struct StaffRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub locked_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, username, display_name, role, password_hash, locked_until,
    disabled_at, created_at FROM staff_users";

/// A new account; false when the username is taken.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    username: &str,
    display_name: &str,
    role: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool> {
    let inserted = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO staff_users (id, username, display_name, role, password_hash,
                                      created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(id)
        .bind(username)
        .bind(display_name)
        .bind(role)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

pub async fn by_username(db: &Db, username: &str) -> Result<Option<StaffRow>> {
    let sql = format!("{SELECT} WHERE username = $1");
    let row: Option<StaffRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(c).await
    })?;
    Ok(row)
}

/// An enabled account by id.
pub async fn enabled_by_id(db: &Db, id: &str) -> Result<Option<StaffRow>> {
    let sql = format!("{SELECT} WHERE id = $1 AND disabled_at IS NULL");
    let row: Option<StaffRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await
    })?;
    Ok(row)
}

/// Every account, by username.
pub async fn all(db: &Db) -> Result<Vec<StaffRow>> {
    let sql = format!("{SELECT} ORDER BY username");
    let rows: Vec<StaffRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await
    })?;
    Ok(rows)
}

/// Disables (or enables) account `id` if it is not already; its username when it changed.
/// The condition on the current state makes a repeated or concurrent request a no-op.
pub async fn set_disabled(
    tx: &mut Tx,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<Option<String>> {
    let sql = if disabled {
        "UPDATE staff_users SET disabled_at = $1, updated_at = $1
         WHERE id = $2 AND disabled_at IS NULL RETURNING username"
    } else {
        "UPDATE staff_users SET disabled_at = NULL, updated_at = $1
         WHERE id = $2 AND disabled_at IS NOT NULL RETURNING username"
    };
    let username: Option<String> = on_tx!(tx, c => {
        sqlx::query_scalar(sql).bind(now).bind(id).fetch_optional(&mut *c).await
    })?;
    Ok(username)
}
