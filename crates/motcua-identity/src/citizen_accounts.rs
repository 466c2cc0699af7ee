//! Citizens' electronic-identity accounts, each bound to a PID of the population registry.
//!
//! Decree 69/2024/NĐ-CP (replacing Decree 59/2022/NĐ-CP) sets who holds one and at which
//! level: a person of 14 or more holds her own account (a child under 14 is attached to a
//! parent's); **level 1** is registered by the citizen and matched against the registry;
//! **level 2** is verified in person and is worth as much as showing the ID card, so here it
//! is raised only by an officer's check at a counter, recorded with the officer, the place
//! and the document seen. A deceased person's account is closed and cannot log in.

use motcua_db::events::{self, NewEvent};
use motcua_db::{Db, Tx};
use motcua_domain::{BirthDate, Pid};
use serde_json::json;

use crate::password::PasswordService;
use crate::staff::{LockoutPolicy, LoginFailure};
use crate::store::citizen_accounts as store;
use crate::store::lockout::{self, Accounts};
use crate::{IdentityError, Result, invalid, totp};

/// The age from which a person holds her own account (Decree 69/2024/NĐ-CP, Art. 12).
pub const OWN_ACCOUNT_AGE: u32 = 14;

/// An account's assurance level, also its `acr` in OpenID Connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Level {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "2")]
    Two,
}

impl Level {
    pub fn parse(s: &str) -> Result<Level> {
        match s.trim() {
            "1" => Ok(Level::One),
            "2" => Ok(Level::Two),
            _ => Err(invalid("level", "must be 1 or 2")),
        }
    }

    pub fn as_i32(self) -> i32 {
        match self {
            Level::One => 1,
            Level::Two => 2,
        }
    }

    fn from_i32(n: i32) -> Result<Level> {
        match n {
            1 => Ok(Level::One),
            2 => Ok(Level::Two),
            _ => Err(IdentityError::Internal(format!("stored account level {n}"))),
        }
    }
}

/// A citizen's account, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CitizenAccount {
    pub id: String,
    pub pid: Pid,
    pub level: Level,
    pub has_totp: bool,
    pub closed: bool,
    pub created_at: i64,
}

impl TryFrom<store::AccountRow> for CitizenAccount {
    type Error = IdentityError;

    fn try_from(row: store::AccountRow) -> Result<CitizenAccount> {
        let pid = u64::try_from(row.pid)
            .ok()
            .and_then(|n| Pid::parse(&format!("{n:012}")).ok())
            .ok_or_else(|| IdentityError::Internal(format!("stored PID {}", row.pid)))?;
        Ok(CitizenAccount {
            id: row.id,
            pid,
            level: Level::from_i32(row.level)?,
            has_totp: row.totp_secret.is_some(),
            closed: row.closed_at.is_some(),
            created_at: row.created_at,
        })
    }
}

/// A new account and the second factor to give its holder, once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedAccount {
    pub account_id: String,
    /// The TOTP secret, base32 (RFC 4648), to enter in an authenticator app.
    pub totp_secret: String,
}

/// How the registry answers for a PID, as far as accounts are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPerson {
    pub alive: bool,
    pub date_of_birth: String,
}

/// Looks up a PID in the population registry for [`create`].
pub async fn registry_person(db: &Db, pid: Pid) -> Result<Option<RegistryPerson>> {
    let citizen = motcua_registry::citizens::get(db, pid)
        .await
        .map_err(|e| IdentityError::Internal(format!("registry: {e}")))?;
    Ok(citizen.map(|c| RegistryPerson {
        alive: c.status == "alive",
        date_of_birth: c.date_of_birth,
    }))
}

/// Whether `person` may hold an account of her own on `today` (a date in Vietnam): she is in
/// the registry, alive, and 14 or older. A date of birth known only to the year or month
/// counts from its latest possible day, so no child under 14 passes.
pub fn check_holder(person: Option<&RegistryPerson>, today: chrono::NaiveDate) -> Result<()> {
    let Some(person) = person else {
        return Err(invalid(
            "pid",
            "no citizen with this PID in the population registry",
        ));
    };
    if !person.alive {
        return Err(invalid("pid", "the citizen is recorded as deceased"));
    }
    let old_enough = BirthDate::parse(&person.date_of_birth)
        .ok()
        .and_then(|born| latest_birthday_age(&born, today))
        .is_some_and(|age| age >= OWN_ACCOUNT_AGE);
    if !old_enough {
        return Err(invalid(
            "pid",
            format!(
                "a citizen under {OWN_ACCOUNT_AGE} has no account of her own: she is attached to a parent's"
            ),
        ));
    }
    Ok(())
}

/// A child attached to a parent's account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Child {
    pub pid: String,
    pub full_name: String,
    pub date_of_birth: String,
}

/// The living children under 14 of the account's holder, found in her household by the
/// registry's father and mother numbers: they have no account of their own and are attached
/// to hers (Decree 69/2024/NĐ-CP, Art. 12).
pub async fn children_under_14(
    db: &Db,
    account: &CitizenAccount,
    today: chrono::NaiveDate,
) -> Result<Vec<Child>> {
    let registry =
        |e: motcua_registry::RegistryError| IdentityError::Internal(format!("registry: {e}"));
    let Some(me) = motcua_registry::citizens::get(db, account.pid)
        .await
        .map_err(registry)?
    else {
        return Ok(Vec::new());
    };
    let Some(household) = me.household_id else {
        return Ok(Vec::new());
    };
    let Some(view) = motcua_registry::citizens::household(db, household)
        .await
        .map_err(registry)?
    else {
        return Ok(Vec::new());
    };
    let mine = account.pid.to_string();
    Ok(view
        .members
        .into_iter()
        .filter(|m| m.status == "alive")
        .filter(|m| {
            m.father_pid.as_deref() == Some(mine.as_str())
                || m.mother_pid.as_deref() == Some(mine.as_str())
        })
        .filter(|m| {
            BirthDate::parse(&m.date_of_birth)
                .ok()
                .and_then(|born| born.age_on(today))
                .is_some_and(|age| age < OWN_ACCOUNT_AGE)
        })
        .map(|m| Child {
            pid: m.pid,
            full_name: m.full_name,
            date_of_birth: m.date_of_birth,
        })
        .collect())
}

/// Completed years on `today` counted from the latest day `born` can denote.
fn latest_birthday_age(born: &BirthDate, today: chrono::NaiveDate) -> Option<u32> {
    let latest = match *born {
        BirthDate::Full(d) => d,
        BirthDate::YearMonth { year, month } => {
            let next = if month == 12 {
                chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(year, month + 1, 1)
            }?;
            next.pred_opt()?
        }
        BirthDate::Year(year) => chrono::NaiveDate::from_ymd_opt(year, 12, 31)?,
    };
    BirthDate::Full(latest).age_on(today)
}

/// Creates the account of `pid` at `level` with a password and a new TOTP second factor.
/// `actor` is who creates it (for the event log): the citizen registering, or an operator.
/// Level 2 at creation is for operators, who have seen the person.
pub async fn create(
    db: &Db,
    passwords: &PasswordService,
    pid: Pid,
    level: Level,
    password: &str,
    actor: &str,
    now: i64,
) -> Result<CreatedAccount> {
    let person = registry_person(db, pid).await?;
    check_holder(person.as_ref(), motcua_domain::vietnam_time::date_at(now))?;
    PasswordService::check_policy(password, &pid.to_string())?;
    let hash = passwords.hash(password).await?;
    let mut tx = db.begin().await?;
    let created = insert_new(&mut tx, pid, level, &hash, actor, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// Stores a new account whose password is already hashed, with a new TOTP secret, in the
/// caller's transaction (the registry checks are the caller's).
pub(crate) async fn insert_new(
    tx: &mut Tx,
    pid: Pid,
    level: Level,
    password_hash: &str,
    actor: &str,
    now: i64,
) -> Result<CreatedAccount> {
    let id = motcua_db::new_id();
    let secret = totp::new_secret();
    if !store::insert(
        tx,
        &id,
        pid.as_i64(),
        level.as_i32(),
        password_hash,
        Some(&secret),
        now,
    )
    .await?
    {
        return Err(IdentityError::Conflict(
            "pid: this citizen already has an account".into(),
        ));
    }
    // The numbers she may also log in with, as the registry holds them now.
    let record = motcua_registry::citizens::get_in(tx, pid)
        .await
        .map_err(|e| IdentityError::Internal(format!("registry: {e}")))?;
    if let Some(r) = record {
        let aliases = [
            ("tax_code", r.tax_code.filter(|t| t != &pid.to_string())),
            ("social_insurance_code", r.social_insurance_code),
        ];
        for (kind, alias) in aliases
            .into_iter()
            .filter_map(|(kind, alias)| alias.map(|a| (kind, a)))
        {
            crate::store::organisations::put_alias(tx, &alias, kind, &id).await?;
        }
    }
    append(
        tx,
        &id,
        "citizen_account.created",
        actor,
        "account created",
        json!({ "pid": pid.to_string(), "level": level, "second_factor": "totp" }),
        now,
    )
    .await?;
    Ok(CreatedAccount {
        account_id: id,
        totp_secret: secret,
    })
}

/// What an officer records when raising an account to level 2 after seeing its holder.
#[derive(Debug, Clone)]
pub struct InPersonCheck<'a> {
    /// The officer (`staff:username`).
    pub officer: &'a str,
    /// Where: the counter or office.
    pub place: &'a str,
    /// The document seen, e.g. "căn cước 001095012345".
    pub document_seen: &'a str,
}

/// Raises an account to level 2 after an in-person check.
pub async fn raise_to_level_2(
    db: &Db,
    account_id: &str,
    check: &InPersonCheck<'_>,
    now: i64,
) -> Result<()> {
    for (field, value) in [
        ("place", check.place),
        ("document_seen", check.document_seen),
    ] {
        let n = value.trim().chars().count();
        if n == 0 || n > 200 {
            return Err(invalid(field, "must be 1–200 characters"));
        }
    }
    let mut tx = db.begin().await?;
    if !store::raise_level(&mut tx, account_id, Level::Two.as_i32(), now).await? {
        return Err(match store::by_id(db, account_id).await? {
            None => IdentityError::NotFound,
            Some(row) if row.closed_at.is_some() => {
                IdentityError::Conflict("account: the account is closed".into())
            }
            Some(_) => IdentityError::Conflict("level: the account is already at level 2".into()),
        });
    }
    append(
        &mut tx,
        account_id,
        "citizen_account.level_raised",
        check.officer,
        "identity verified in person",
        json!({
            "level": Level::Two,
            "place": check.place.trim(),
            "document_seen": check.document_seen.trim(),
        }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Closes the account of a person whose death was registered, in the registration's
/// transaction, ending her sessions and revoking every grant to relying parties; `false` when
/// she had no open account.
pub async fn close_on_death(tx: &mut Tx, pid: Pid, actor: &str, now: i64) -> Result<bool> {
    let Some(id) = store::close_by_pid(tx, pid.as_i64(), "death registered", now).await? else {
        return Ok(false);
    };
    let sessions = crate::store::oidc::delete_sessions_of(tx, &id).await?;
    let grants =
        crate::store::oidc::revoke_grants_of_account(tx, &id, None, "account closed", now).await?;
    crate::oidc::backchannel::enqueue(tx, &id, &grants, now).await?;
    append(
        tx,
        &id,
        "citizen_account.closed",
        actor,
        "death registered",
        json!({
            "pid": pid.to_string(),
            "sessions_ended": sessions.len(),
            "grants_revoked": grants.len(),
        }),
        now,
    )
    .await?;
    Ok(true)
}

/// The account a login names: by PID, or by a tax code or social-insurance code mapped to it.
pub(crate) async fn login_row(db: &Db, identifier: &str) -> Result<Option<store::AccountRow>> {
    let text = identifier.trim();
    if let Ok(pid) = Pid::parse(text) {
        return store::by_pid(db, pid.as_i64()).await;
    }
    let plausible =
        (10..=14).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if !plausible {
        return Ok(None);
    }
    match crate::store::organisations::account_of_alias(db, text).await? {
        Some(id) => store::by_id(db, &id).await,
        None => Ok(None),
    }
}

/// Checks a PID (or a tax code or social-insurance code mapped to one), password and TOTP code, with the lockout rules of staff accounts (counted
/// atomically; a locked account refuses even the right credentials; the lock expires). The
/// password is hashed whether or not the account exists, and each failure is told apart only
/// to the caller, who shows one message for all. A TOTP code is accepted once: the step it
/// used is stored by a conditional update, so two logins racing with one code cannot both
/// pass. A closed account, or one whose holder the registry records as deceased, cannot log
/// in.
pub async fn authenticate(
    db: &Db,
    passwords: &PasswordService,
    policy: LockoutPolicy,
    pid: &str,
    password: &str,
    totp_code: &str,
    now: i64,
) -> Result<std::result::Result<CitizenAccount, LoginFailure>> {
    authenticate_with(
        db,
        passwords,
        policy,
        pid,
        password,
        SecondFactor::Totp(totp_code),
        now,
    )
    .await
}

/// The second factor a login brings.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A code of the authenticator app.
    Totp(&'a str),
    /// None yet: the password is checked (with the same lockout), and on success a code is
    /// to be sent to the proved e-mail address ([`crate::login_codes`]).
    EmailCodeNext,
}

/// [`authenticate`] with either second factor.
pub async fn authenticate_with(
    db: &Db,
    passwords: &PasswordService,
    policy: LockoutPolicy,
    pid: &str,
    password: &str,
    factor: SecondFactor<'_>,
    now: i64,
) -> Result<std::result::Result<CitizenAccount, LoginFailure>> {
    let row = login_row(db, pid).await?;
    let password_ok = passwords
        .verify(password, row.as_ref().map(|r| r.password_hash.as_str()))
        .await?;
    let Some(row) = row else {
        return Ok(Err(LoginFailure::BadCredentials));
    };
    let account = CitizenAccount::try_from(store::AccountRow {
        password_hash: String::new(),
        ..row.clone()
    })?;
    let alive = registry_person(db, account.pid)
        .await?
        .is_some_and(|p| p.alive);
    if account.closed || !alive {
        return Ok(Err(LoginFailure::Disabled));
    }
    let unix_secs = now.div_euclid(1_000_000);
    // `Some(step)` when the second factor passed: the TOTP step to spend, if any.
    let second: Option<Option<i64>> = match factor {
        SecondFactor::Totp(code) => row
            .totp_secret
            .as_deref()
            .and_then(|secret| totp::accept(secret, code, unix_secs, row.totp_last_step))
            .map(Some),
        SecondFactor::EmailCodeNext => Some(None),
    };
    let threshold = policy.threshold.max(1);
    let until = now.saturating_add(policy.lock_us);
    let mut tx = db.begin().await?;
    let (outcome, locked_now) = match (password_ok, second) {
        (true, Some(step)) => {
            if !lockout::count_success(&mut tx, Accounts::Citizens, &row.id, now).await? {
                (Err(LoginFailure::Locked), false)
            } else if let Some(step) = step
                && !store::use_totp_step(&mut tx, &row.id, step).await?
            {
                // Another login used this code first.
                (Err(LoginFailure::BadCredentials), false)
            } else {
                (Ok(account), false)
            }
        }
        _ => match lockout::count_failure(
            &mut tx,
            Accounts::Citizens,
            &row.id,
            now,
            threshold,
            until,
        )
        .await?
        {
            Some((failed, Some(t))) if t > now => (Err(LoginFailure::Locked), failed == threshold),
            _ => (Err(LoginFailure::BadCredentials), false),
        },
    };
    let email_next = matches!(factor, SecondFactor::EmailCodeNext);
    let event_type = match (&outcome, email_next) {
        (Ok(_), false) => "citizen_account.logged_in",
        (Ok(_), true) => "citizen_account.password_checked",
        (Err(_), _) => "citizen_account.login_failed",
    };
    let amr = if email_next {
        json!(["pwd"])
    } else {
        json!(["pwd", "otp"])
    };
    let actor = format!("citizen:{}", row.id);
    let locked = outcome.as_ref().err() == Some(&LoginFailure::Locked);
    append(
        &mut tx,
        &row.id,
        event_type,
        &actor,
        "login",
        json!({ "amr": amr, "locked": locked }),
        now,
    )
    .await?;
    if locked_now {
        append(
            &mut tx,
            &row.id,
            "citizen_account.locked",
            &actor,
            "too many failed logins",
            json!({ "failed_logins": threshold, "locked_until": until }),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<CitizenAccount>> {
    store::by_id(db, id)
        .await?
        .map(CitizenAccount::try_from)
        .transpose()
}

pub async fn by_pid(db: &Db, pid: Pid) -> Result<Option<CitizenAccount>> {
    store::by_pid(db, pid.as_i64())
        .await?
        .map(CitizenAccount::try_from)
        .transpose()
}

async fn append(
    tx: &mut Tx,
    id: &str,
    event_type: &str,
    actor: &str,
    reason: &str,
    payload: serde_json::Value,
    now: i64,
) -> Result<()> {
    events::append(
        tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: id,
            event_type,
            actor,
            reason,
            payload,
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(dob: &str, alive: bool) -> RegistryPerson {
        RegistryPerson {
            alive,
            date_of_birth: dob.into(),
        }
    }

    fn field(r: Result<()>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn only_living_citizens_of_14_or_more_hold_an_account() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(check_holder(Some(&person("1995-02-18", true)), today).is_ok());
        // Fourteen today; a day short of it.
        assert!(check_holder(Some(&person("2012-12-03", true)), today).is_ok());
        assert!(field(check_holder(Some(&person("2012-12-04", true)), today)).contains("under 14"));
        // Known to the month or year only: counted from the latest possible day.
        assert!(check_holder(Some(&person("2012-11", true)), today).is_ok());
        assert!(check_holder(Some(&person("2012-12", true)), today).is_err());
        assert!(check_holder(Some(&person("2011", true)), today).is_ok());
        assert!(check_holder(Some(&person("2012", true)), today).is_err());
        assert!(
            field(check_holder(Some(&person("1950-01-01", false)), today)).contains("deceased")
        );
        assert!(field(check_holder(None, today)).starts_with("pid:"));
    }

    #[test]
    fn levels_parse_from_their_numbers() {
        assert_eq!(Level::parse("1").unwrap(), Level::One);
        assert_eq!(Level::parse(" 2 ").unwrap(), Level::Two);
        assert!(
            Level::parse("3")
                .unwrap_err()
                .to_string()
                .starts_with("level:")
        );
        assert!(Level::One < Level::Two);
    }
}
