//! Staff accounts: administrators and officers.

use motcua_db::events::{self, NewEvent};
use motcua_db::{Db, on_read, on_tx};
use serde::Serialize;
use serde_json::json;

use crate::password::PasswordService;
use crate::{IdentityError, Result, invalid};

/// Failed logins after which an account is locked for [`LOCK_US`].
pub const MAX_FAILED_LOGINS: i32 = 10;
pub const LOCK_US: i64 = 15 * 60 * 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Officer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "officer" => Ok(Role::Officer),
            _ => Err(invalid("role", "must be admin or officer")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    failed_logins: i32,
    locked_until: Option<i64>,
    disabled_at: Option<i64>,
}

impl Row {
    fn user(&self) -> Result<StaffUser> {
        Ok(StaffUser {
            id: self.id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: Role::parse(&self.role)?,
        })
    }
}

const SELECT: &str = "SELECT id, username, display_name, role, password_hash, failed_logins,
    locked_until, disabled_at FROM staff_users";

fn check_username(u: &str) -> Result<()> {
    let ok_chars = u
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if u.len() < 3 || u.len() > 64 || !ok_chars {
        return Err(invalid(
            "username",
            "must be 3–64 characters: lower-case letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(())
}

/// Creates a staff account. `actor` is who creates it (for the event log).
pub async fn create(
    db: &Db,
    passwords: &PasswordService,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
    actor: &str,
) -> Result<StaffUser> {
    check_username(username)?;
    let display_name = display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        return Err(invalid("display_name", "must be 1–100 characters"));
    }
    PasswordService::check_policy(password, username)?;
    let hash = passwords.hash(password).await?;
    let id = motcua_db::new_id();
    let now = motcua_db::clock::now_us();
    let mut tx = db.begin().await?;
    let inserted = on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO staff_users (id, username, display_name, role, password_hash,
                                      created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&id)
        .bind(username)
        .bind(display_name)
        .bind(role.as_str())
        .bind(&hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if inserted == 0 {
        return Err(IdentityError::Conflict(format!(
            "username: {username} is already taken"
        )));
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "staff_user",
            aggregate_id: &id,
            event_type: "staff_user.created",
            actor,
            reason: "account created",
            payload: json!({ "username": username, "display_name": display_name, "role": role }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StaffUser {
        id,
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        role,
    })
}

/// Why a login failed. Callers show one message for all of them, so as not to reveal which
/// usernames exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    BadCredentials,
    Locked,
    Disabled,
}

/// Checks a username and password. Counts failures and locks the account after
/// [`MAX_FAILED_LOGINS`] in a row.
pub async fn authenticate(
    db: &Db,
    passwords: &PasswordService,
    username: &str,
    password: &str,
    now: i64,
) -> Result<std::result::Result<StaffUser, LoginFailure>> {
    let row = find_row(db, username).await?;
    let ok = passwords
        .verify(password, row.as_ref().map(|r| r.password_hash.as_str()))
        .await?;
    let Some(row) = row else {
        return Ok(Err(LoginFailure::BadCredentials));
    };
    if row.disabled_at.is_some() {
        return Ok(Err(LoginFailure::Disabled));
    }
    if row.locked_until.is_some_and(|t| t > now) {
        return Ok(Err(LoginFailure::Locked));
    }
    let mut tx = db.begin().await?;
    let (failed, locked_until, event_type) = if ok {
        (0, None, "staff_user.logged_in")
    } else {
        let failed = row.failed_logins + 1;
        let lock = (failed >= MAX_FAILED_LOGINS).then_some(now + LOCK_US);
        (failed, lock, "staff_user.login_failed")
    };
    on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE staff_users SET failed_logins = $1, locked_until = $2, updated_at = $3
             WHERE id = $4",
        )
        .bind(if failed >= MAX_FAILED_LOGINS { 0 } else { failed })
        .bind(locked_until)
        .bind(now)
        .bind(&row.id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "staff_user",
            aggregate_id: &row.id,
            event_type,
            actor: &format!("staff:{}", row.username),
            reason: "login",
            payload: json!({ "locked": locked_until.is_some() }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if ok {
        Ok(row.user()?)
    } else {
        Err(LoginFailure::BadCredentials)
    })
}

async fn find_row(db: &Db, username: &str) -> Result<Option<Row>> {
    let sql = format!("{SELECT} WHERE username = $1");
    let row: Option<Row> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(c).await
    })?;
    Ok(row)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<StaffUser>> {
    let sql = format!("{SELECT} WHERE id = $1 AND disabled_at IS NULL");
    let row: Option<Row> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await
    })?;
    row.map(|r| r.user()).transpose()
}

pub async fn by_username(db: &Db, username: &str) -> Result<Option<StaffUser>> {
    find_row(db, username).await?.map(|r| r.user()).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<StaffUser>> {
    let sql = format!("{SELECT} ORDER BY username");
    let rows: Vec<Row> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await
    })?;
    rows.iter().map(|r| r.user()).collect()
}
