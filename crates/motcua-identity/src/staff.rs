//! Staff accounts: administrators and officers. Administrators create, disable and enable
//! accounts; a disabled account cannot sign in and its sessions end at once.

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde::Serialize;
use serde_json::json;

use crate::password::PasswordService;
use crate::store::lockout::{self, Accounts};
use crate::store::staff::{self as store, StaffRow as Row};
use crate::{IdentityError, Result, invalid};

/// When repeated failed sign-ins lock an account, and for how long (configuration). The lock
/// always expires, so someone guessing at a username cannot keep its owner out for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failed sign-ins in a row that lock the account.
    pub threshold: i32,
    /// How long the lock lasts (µs). Failures while locked do not extend it.
    pub lock_us: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            threshold: 10,
            lock_us: 15 * 60 * 1_000_000,
        }
    }
}

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
    let inserted = store::insert(
        &mut tx,
        &id,
        username,
        display_name,
        role.as_str(),
        &hash,
        now,
    )
    .await?;
    if !inserted {
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

/// Checks a username and password. Counts failures and locks the account for
/// `policy.lock_us` after `policy.threshold` in a row; while it is locked even the right
/// password is refused. The password is always hashed, whether the account exists, is
/// locked or disabled, so the time taken reveals none of these.
pub async fn authenticate(
    db: &Db,
    passwords: &PasswordService,
    policy: LockoutPolicy,
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
    let threshold = policy.threshold.max(1);
    let until = now.saturating_add(policy.lock_us);
    let mut tx = db.begin().await?;
    let (outcome, locked_now) = if ok {
        if lockout::count_success(&mut tx, Accounts::Staff, &row.id, now).await? {
            (Ok(row.user()?), false)
        } else {
            (Err(LoginFailure::Locked), false)
        }
    } else {
        match lockout::count_failure(&mut tx, Accounts::Staff, &row.id, now, threshold, until)
            .await?
        {
            Some((failed, Some(t))) if t > now => (Err(LoginFailure::Locked), failed == threshold),
            _ => (Err(LoginFailure::BadCredentials), false),
        }
    };
    let locked = outcome == Err(LoginFailure::Locked);
    let event_type = if outcome.is_ok() {
        "staff_user.logged_in"
    } else {
        "staff_user.login_failed"
    };
    let actor = format!("staff:{}", row.username);
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "staff_user",
            aggregate_id: &row.id,
            event_type,
            actor: &actor,
            reason: "login",
            payload: json!({ "locked": locked }),
            occurred_at: now,
        },
    )
    .await?;
    if locked_now {
        events::append(
            &mut tx,
            &NewEvent {
                aggregate_type: "staff_user",
                aggregate_id: &row.id,
                event_type: "staff_user.locked",
                actor: &actor,
                reason: "too many failed sign-ins",
                payload: json!({ "failed_logins": threshold, "locked_until": until }),
                occurred_at: now,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

async fn find_row(db: &Db, username: &str) -> Result<Option<Row>> {
    store::by_username(db, username).await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<StaffUser>> {
    store::enabled_by_id(db, id)
        .await?
        .map(|r| r.user())
        .transpose()
}

pub async fn by_username(db: &Db, username: &str) -> Result<Option<StaffUser>> {
    find_row(db, username).await?.map(|r| r.user()).transpose()
}

/// Every account, by username; `now` decides which are locked.
pub async fn list(db: &Db, now: i64) -> Result<Vec<StaffAccount>> {
    let rows = store::all(db).await?;
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
    // A repeated or concurrent request changes nothing and appends no event, instead of a
    // second event for a change that did not happen.
    let mut tx = db.begin().await?;
    let Some(username) = store::set_disabled(&mut tx, id, disabled, now).await? else {
        return Err(IdentityError::NotFound);
    };
    if disabled {
        crate::store::sessions::delete_for_user(&mut tx, id).await?;
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
        let login = authenticate(
            &db,
            &passwords,
            LockoutPolicy::default(),
            "officer",
            "officer-password-1",
            now,
        )
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
        let login = authenticate(
            &db,
            &passwords,
            LockoutPolicy::default(),
            "officer",
            "officer-password-1",
            now,
        )
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

    fn fast_passwords() -> PasswordService {
        PasswordService::new(ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    async fn event_types(db: &Db, id: &str) -> Vec<String> {
        motcua_db::events::for_aggregate(db, "staff_user", id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    #[tokio::test]
    async fn a_lock_refuses_the_right_password_and_expires() {
        let db = motcua_db::testing::fresh().await.unwrap();
        let passwords = fast_passwords();
        let policy = LockoutPolicy {
            threshold: 3,
            lock_us: 1_000_000,
        };
        let user = create(
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
        let t0 = 1_800_000_000_000_000;
        let login = |password: &'static str, now: i64| {
            let (db, passwords) = (db.clone(), passwords.clone());
            async move {
                authenticate(&db, &passwords, policy, "officer", password, now)
                    .await
                    .unwrap()
            }
        };
        // A success in between starts the count again.
        assert_eq!(
            login("wrong-1", t0).await,
            Err(LoginFailure::BadCredentials)
        );
        assert_eq!(
            login("wrong-2", t0 + 1).await,
            Err(LoginFailure::BadCredentials)
        );
        assert!(login("officer-password-1", t0 + 2).await.is_ok());
        for i in 0..2 {
            assert_eq!(
                login("wrong", t0 + 3 + i).await,
                Err(LoginFailure::BadCredentials)
            );
        }
        // The third failure in a row locks; the right password is refused while locked.
        let locked_at = t0 + 5;
        assert_eq!(login("wrong", locked_at).await, Err(LoginFailure::Locked));
        assert_eq!(
            login("officer-password-1", locked_at + 1).await,
            Err(LoginFailure::Locked)
        );
        assert!(list(&db, locked_at + 1).await.unwrap()[0].locked);
        // Failing again while locked does not extend the lock.
        assert_eq!(
            login("wrong", locked_at + 999_999).await,
            Err(LoginFailure::Locked)
        );
        assert_eq!(
            login("officer-password-1", locked_at + 999_999).await,
            Err(LoginFailure::Locked)
        );
        // Once it has expired, the right password signs in.
        let after = locked_at + policy.lock_us;
        assert!(!list(&db, after).await.unwrap()[0].locked);
        assert_eq!(
            login("officer-password-1", after).await.map(|u| u.id),
            Ok(user.id.clone())
        );
        let kinds = event_types(&db, &user.id).await;
        assert_eq!(
            kinds,
            [
                "staff_user.created",
                "staff_user.login_failed",
                "staff_user.login_failed",
                "staff_user.logged_in",
                "staff_user.login_failed",
                "staff_user.login_failed",
                "staff_user.login_failed",
                "staff_user.locked",
                "staff_user.login_failed",
                "staff_user.login_failed",
                "staff_user.login_failed",
                "staff_user.logged_in",
            ]
        );
        // After an expired lock, counting starts again from one.
        for i in 0..2 {
            assert_eq!(
                login("wrong", after + 1 + i).await,
                Err(LoginFailure::BadCredentials)
            );
        }
        assert_eq!(login("wrong", after + 3).await, Err(LoginFailure::Locked));
    }

    #[tokio::test]
    async fn concurrent_failures_are_all_counted() {
        let db = motcua_db::testing::fresh().await.unwrap();
        let passwords = fast_passwords();
        let policy = LockoutPolicy::default();
        let user = create(
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
        let attempts: Vec<_> = (0..15)
            .map(|i| {
                let (db, passwords) = (db.clone(), passwords.clone());
                tokio::spawn(async move {
                    authenticate(
                        &db,
                        &passwords,
                        policy,
                        "officer",
                        &format!("wrong-{i}"),
                        now,
                    )
                    .await
                    .unwrap()
                })
            })
            .collect();
        let mut locked = 0;
        for a in attempts {
            match a.await.unwrap() {
                Err(LoginFailure::Locked) => locked += 1,
                Err(LoginFailure::BadCredentials) => {}
                other => panic!("{other:?}"),
            }
        }
        // The tenth failure locks and the five after it find the account locked.
        assert_eq!(locked, 6);
        let login = authenticate(
            &db,
            &passwords,
            policy,
            "officer",
            "officer-password-1",
            now,
        )
        .await
        .unwrap();
        assert_eq!(login, Err(LoginFailure::Locked));
        let kinds = event_types(&db, &user.id).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "staff_user.locked").count(),
            1
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| *k == "staff_user.login_failed")
                .count(),
            16
        );
    }
}
