//! Staff accounts: administrators and officers. Administrators create, disable and enable
//! accounts; a disabled account cannot sign in and its sessions end at once.

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

/// A staff account as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffAccount {
    #[serde(flatten)]
    pub user: StaffUser,
    pub created_at: i64,
    /// Locked for a while after too many failed sign-ins.
    pub locked: bool,
    pub disabled: bool,
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
    created_at: i64,
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
    locked_until, disabled_at, created_at FROM staff_users";

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

fn check_display_name(name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("display_name", "must be 1–100 characters"));
    }
    Ok(())
}

/// Every problem with the fields of a new account (username, display name, password policy),
/// so a form can name them all at once; empty when [`create`] would accept them.
pub fn check_new_account(username: &str, display_name: &str, password: &str) -> Vec<IdentityError> {
    [
        check_username(username),
        check_display_name(display_name),
        PasswordService::check_policy(password, username),
    ]
    .into_iter()
    .filter_map(std::result::Result::err)
    .collect()
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
    if let Some(e) = check_new_account(username, display_name, password)
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let display_name = display_name.trim();
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

/// Every account, by username; `now` decides which are locked.
pub async fn list(db: &Db, now: i64) -> Result<Vec<StaffAccount>> {
    let sql = format!("{SELECT} ORDER BY username");
    let rows: Vec<Row> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await
    })?;
    rows.iter()
        .map(|r| {
            Ok(StaffAccount {
                user: r.user()?,
                created_at: r.created_at,
                locked: r.locked_until.is_some_and(|t| t > now),
                disabled: r.disabled_at.is_some(),
            })
        })
        .collect()
}

/// Disables account `id`: it can no longer sign in and its sessions end now. `by` may not
/// disable their own account, so an administrator cannot lock themselves out by mistake.
/// [`IdentityError::NotFound`] when there is no such enabled account.
pub async fn disable(db: &Db, id: &str, by: &StaffUser) -> Result<()> {
    if id == by.id {
        return Err(IdentityError::Conflict(
            "id: an administrator cannot disable their own account".into(),
        ));
    }
    set_disabled(db, id, true, by).await
}

/// Enables a disabled account again; it signs in with its existing password.
/// [`IdentityError::NotFound`] when there is no such disabled account.
pub async fn enable(db: &Db, id: &str, by: &StaffUser) -> Result<()> {
    set_disabled(db, id, false, by).await
}

async fn set_disabled(db: &Db, id: &str, disabled: bool, by: &StaffUser) -> Result<()> {
    let now = motcua_db::clock::now_us();
    // The condition on the current state makes a repeated or concurrent request a no-op
    // without an event, instead of a second event for a change that did not happen.
    let sql = if disabled {
        "UPDATE staff_users SET disabled_at = $1, updated_at = $1
         WHERE id = $2 AND disabled_at IS NULL RETURNING username"
    } else {
        "UPDATE staff_users SET disabled_at = NULL, updated_at = $1
         WHERE id = $2 AND disabled_at IS NOT NULL RETURNING username"
    };
    let mut tx = db.begin().await?;
    let username: Option<String> = on_tx!(&mut tx, c => {
        sqlx::query_scalar(sql).bind(now).bind(id).fetch_optional(&mut *c).await
    })?;
    let Some(username) = username else {
        return Err(IdentityError::NotFound);
    };
    if disabled {
        on_tx!(&mut tx, c => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    let (event_type, reason) = if disabled {
        ("staff_user.disabled", "account disabled")
    } else {
        ("staff_user.enabled", "account enabled")
    };
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "staff_user",
            aggregate_id: id,
            event_type,
            actor: &format!("staff:{}", by.username),
            reason,
            payload: json!({ "username": username }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::ArgonParams;
    use crate::sessions;

    fn fields(errors: &[IdentityError]) -> Vec<&'static str> {
        errors
            .iter()
            .filter_map(|e| match e {
                IdentityError::Invalid { field, .. } => Some(*field),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_account_is_checked_field_by_field() {
        assert!(check_new_account("ha.nguyen", "Nguyễn Thu Hà", "a long passphrase").is_empty());
        let errors = check_new_account("Hà", " ", "short");
        assert_eq!(fields(&errors), ["username", "display_name", "password"]);
        let errors = check_new_account("ha.nguyen-2026", "Hà", "HA.NGUYEN-2026");
        assert_eq!(fields(&errors), ["password"]);
    }

    #[tokio::test]
    async fn disabling_ends_sessions_and_is_refused_for_oneself() {
        let db = motcua_db::testing::fresh().await.unwrap();
        let passwords = PasswordService::new(ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let admin = create(
            &db,
            &passwords,
            "admin",
            "Quản trị",
            Role::Admin,
            "admin-password-1",
            "test",
        )
        .await
        .unwrap();
        let officer = create(
            &db,
            &passwords,
            "officer",
            "Cán bộ",
            Role::Officer,
            "officer-password-1",
            "test",
        )
        .await
        .unwrap();
        let now = motcua_db::clock::now_us();
        let (token, _) = sessions::create(&db, &officer, now).await.unwrap();

        assert!(matches!(
            disable(&db, &admin.id, &admin).await,
            Err(IdentityError::Conflict(_))
        ));
        disable(&db, &officer.id, &admin).await.unwrap();
        assert!(matches!(
            disable(&db, &officer.id, &admin).await,
            Err(IdentityError::NotFound)
        ));
        assert!(sessions::get(&db, &token, now).await.unwrap().is_none());
        let login = authenticate(&db, &passwords, "officer", "officer-password-1", now)
            .await
            .unwrap();
        assert_eq!(login, Err(LoginFailure::Disabled));
        let accounts = list(&db, now).await.unwrap();
        assert_eq!(
            accounts
                .iter()
                .map(|a| (a.user.username.as_str(), a.disabled))
                .collect::<Vec<_>>(),
            [("admin", false), ("officer", true)]
        );

        enable(&db, &officer.id, &admin).await.unwrap();
        let login = authenticate(&db, &passwords, "officer", "officer-password-1", now)
            .await
            .unwrap();
        assert_eq!(login.map(|u| u.id), Ok(officer.id.clone()));
        let history = motcua_db::events::for_aggregate(&db, "staff_user", &officer.id)
            .await
            .unwrap();
        let kinds: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "staff_user.created",
                "staff_user.disabled",
                "staff_user.enabled",
                "staff_user.logged_in"
            ]
        );
        assert_eq!(history[1].actor, "staff:admin");
    }
}
