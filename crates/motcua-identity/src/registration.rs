//! Level-1 self-registration (Decree 69/2024/NĐ-CP, Art. 12: an account registered by the
//! citizen is level 1). The details she gives must match the population registry through the
//! same verification rules and throttle as the agency API (a non-match is counted against
//! the PID, so the form cannot be used to guess a date of birth), she must hold her own
//! account (alive, 14 or older), and she proves her e-mail address by a one-time code sent
//! through the job outbox. The account, with its TOTP second factor, is made when she enters
//! the code.

use motcua_db::Db;
use motcua_domain::{FieldError, Pid};
use motcua_registry::throttle::{Verdict, VerificationThrottle};
use motcua_registry::verify::VerificationRequest;

use crate::citizen_accounts::{self, CreatedAccount, Level};
use crate::password::PasswordService;
use crate::store::registrations::{self as store, NewRegistration};
use crate::token::{constant_time_eq, random_token, sha256_hex};
use crate::{IdentityError, Result};

/// The throttle's client id for self-registration: its non-matches and quota are counted
/// apart from every agency's.
pub const THROTTLE_CLIENT: &str = "self-registration";
/// How long a code may be entered.
pub const CODE_LIFETIME_US: i64 = 10 * 60 * 1_000_000;
/// Attempts at one code.
pub const MAX_ATTEMPTS: i32 = 5;
/// Registrations one PID may start per day (each sends a message).
pub const PER_PID_PER_DAY: i64 = 5;

/// What the citizen fills in.
#[derive(Debug, Clone, Default)]
pub struct Application {
    pub pid: String,
    pub full_name: String,
    pub date_of_birth: String,
    pub email: String,
    pub password: String,
    pub password_again: String,
}

/// Why a registration was not started or not confirmed, for the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The fields, each named.
    Fields(Vec<FieldError>),
    /// Too many attempts for this PID lately.
    Throttled { retry_after_secs: u64 },
}

/// A started registration: its id (in the confirmation page's URL).
#[derive(Debug, Clone)]
pub struct Started {
    pub id: String,
}

fn field(name: &str, code: &str, message: &str) -> FieldError {
    FieldError::new(name, code, message)
}

/// Checks the application against the registry and sends the code. `Ok(Err(_))` is for the
/// citizen to fix.
pub async fn start(
    db: &Db,
    passwords: &PasswordService,
    throttle: &VerificationThrottle,
    app: &Application,
    now: i64,
) -> Result<std::result::Result<Started, Refusal>> {
    let request = VerificationRequest {
        pid: Some(app.pid.trim().to_owned()),
        full_name: Some(app.full_name.clone()),
        date_of_birth: Some(app.date_of_birth.trim().to_owned()),
        purpose: Some("self-registration of an electronic-identity account".into()),
    };
    let mut errors = match request.check() {
        Ok(_) => Vec::new(),
        Err(e) => e,
    };
    let email = app.email.trim().to_owned();
    let probe = motcua_mail::Message {
        to: email.clone(),
        subject: "-".into(),
        text: "-".into(),
        html: None,
    };
    if email.is_empty() {
        errors.push(field("email", "required", "is required"));
    } else if probe
        .problems()
        .iter()
        .any(|p| matches!(p, motcua_mail::MailError::Invalid { field: "to", .. }))
    {
        errors.push(field("email", "email.invalid", "is not an e-mail address"));
    }
    match PasswordService::check_policy(&app.password, app.pid.trim()) {
        Ok(()) if app.password != app.password_again => {
            errors.push(field(
                "password_again",
                "password.mismatch",
                "does not match the password",
            ));
        }
        Ok(()) => {}
        Err(IdentityError::Invalid { message, .. }) => {
            errors.push(field("password", "password.policy", &message));
        }
        Err(e) => return Err(e),
    }
    let verification = match request.check() {
        Ok(v) if errors.is_empty() => v,
        _ => return Ok(Err(Refusal::Fields(errors))),
    };
    let pid = verification.pid;
    let day_ago = now - 24 * 3600 * 1_000_000;
    if store::started_since(db, pid.as_i64(), day_ago).await? >= PER_PID_PER_DAY {
        return Ok(Err(Refusal::Throttled {
            retry_after_secs: 3600,
        }));
    }
    let verdict = throttle
        .verify(db, THROTTLE_CLIENT, &verification, now)
        .await
        .map_err(|e| IdentityError::Internal(format!("registry: {e}")))?;
    match verdict {
        Verdict::Answered(r) if r.matched => {}
        Verdict::Answered(_) => {
            // One answer for a wrong name, a wrong date or an unknown PID.
            return Ok(Err(Refusal::Fields(vec![field(
                "pid",
                "registry.no_match",
                "the number, name and date of birth do not match the population registry",
            )])));
        }
        Verdict::Throttled { retry_after_secs } | Verdict::QuotaExceeded { retry_after_secs } => {
            return Ok(Err(Refusal::Throttled { retry_after_secs }));
        }
    }
    let person = citizen_accounts::registry_person(db, pid).await?;
    if let Err(IdentityError::Invalid { message, .. }) =
        citizen_accounts::check_holder(person.as_ref(), motcua_domain::vietnam_time::date_at(now))
    {
        return Ok(Err(Refusal::Fields(vec![field(
            "pid",
            "account.not_allowed",
            &message,
        )])));
    }
    if citizen_accounts::by_pid(db, pid).await?.is_some() {
        return Ok(Err(Refusal::Fields(vec![field(
            "pid",
            "account.exists",
            "already has an account: log in, or reset the password",
        )])));
    }
    let hash = passwords.hash(&app.password).await?;
    let id = random_token(18);
    let code = six_digits();
    let mut tx = db.begin().await?;
    store::insert(
        &mut tx,
        &NewRegistration {
            id: &id,
            pid: pid.as_i64(),
            email: &email,
            password_hash: &hash,
            code_hash: &code_hash(&id, &code),
            expires_at: now + CODE_LIFETIME_US,
        },
        now,
    )
    .await?;
    let message = motcua_mail::Message {
        to: email,
        subject: "Mã xác nhận đăng ký tài khoản định danh điện tử / Your registration code".into(),
        text: format!(
            "Mã xác nhận của bạn là {code}. Mã có hiệu lực trong 10 phút. Không cung cấp mã này cho bất kỳ ai.\n\n\
             Your confirmation code is {code}. It is valid for 10 minutes. Do not give it to anyone.\n"
        ),
        html: None,
    };
    motcua_mail::enqueue(&mut tx, &message)
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    tx.commit().await?;
    Ok(Ok(Started { id }))
}

/// The e-mail a registration's code went to, while it can still be confirmed.
pub async fn pending_email(db: &Db, id: &str, now: i64) -> Result<Option<String>> {
    Ok(store::get(db, id)
        .await?
        .filter(|r| r.confirmed_at.is_none() && r.expires_at > now && r.attempts < MAX_ATTEMPTS)
        .map(|r| r.email))
}

/// Confirms a registration with its code and makes the account (level 1, TOTP).
pub async fn confirm(
    db: &Db,
    id: &str,
    code: &str,
    now: i64,
) -> Result<std::result::Result<CreatedAccount, Refusal>> {
    let refuse = |message: &str| {
        Ok(Err(Refusal::Fields(vec![field(
            "code",
            "code.invalid",
            message,
        )])))
    };
    let Some(row) = store::get(db, id).await? else {
        return refuse("this registration does not exist: start again");
    };
    if row.confirmed_at.is_some() || row.expires_at <= now {
        return refuse("the code has expired: start again");
    }
    let mut tx = db.begin().await?;
    if !store::count_attempt(&mut tx, id, MAX_ATTEMPTS).await? {
        return refuse("too many wrong codes: start again");
    }
    if !constant_time_eq(&code_hash(id, code.trim()), &row.code_hash) {
        tx.commit().await?;
        return refuse("the code is not correct");
    }
    if !store::confirm(&mut tx, id, now).await? {
        return refuse("the code has expired: start again");
    }
    let pid = u64::try_from(row.pid)
        .ok()
        .and_then(|n| Pid::parse(&format!("{n:012}")).ok())
        .ok_or_else(|| IdentityError::Internal(format!("stored PID {}", row.pid)))?;
    let created = match citizen_accounts::insert_new(
        &mut tx,
        pid,
        Level::One,
        &row.password_hash,
        "citizen:self-registration",
        now,
    )
    .await
    {
        Ok(c) => c,
        Err(IdentityError::Conflict(_)) => {
            return Ok(Err(Refusal::Fields(vec![field(
                "code",
                "account.exists",
                "this citizen already has an account",
            )])));
        }
        Err(e) => return Err(e),
    };
    crate::store::citizen_accounts::set_email(&mut tx, &created.account_id, &row.email, now)
        .await?;
    tx.commit().await?;
    Ok(Ok(created))
}

pub(crate) fn code_hash(id: &str, code: &str) -> String {
    sha256_hex(&format!("{id}:{code}"))
}

/// A uniformly random six-digit code.
pub(crate) fn six_digits() -> String {
    loop {
        let mut b = [0u8; 4];
        if getrandom::getrandom(&mut b).is_err() {
            std::process::abort();
        }
        let n = u32::from_le_bytes(b);
        // Rejection sampling: the top partial range would favour small codes.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return format!("{:06}", n % 1_000_000);
        }
    }
}
