//! The second factor by e-mail: after the password is checked
//! ([`crate::citizen_accounts::SecondFactor::EmailCodeNext`]), a one-time code goes to the
//! address the citizen proved, through the job outbox; entering it completes the login. For
//! citizens without an authenticator app at hand; the code is short-lived and tried at most
//! [`MAX_ATTEMPTS`] times.

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;

use crate::citizen_accounts::{self, CitizenAccount};
use crate::registration::{CODE_LIFETIME_US, MAX_ATTEMPTS, code_hash, six_digits};
use crate::store::citizen_accounts as accounts;
use crate::store::registrations as store;
use crate::token::{constant_time_eq, random_token};
use crate::{IdentityError, Result, invalid};

/// Codes one account may be sent per day.
pub const PER_ACCOUNT_PER_DAY: i64 = 10;

/// A code sent: its id, and the address, partly hidden, to show the citizen.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub masked_email: String,
}

/// Sends a login code to the account's proved address (the password was just checked).
pub async fn send(db: &Db, account: &CitizenAccount, now: i64) -> Result<Sent> {
    let Some(email) = accounts::verified_email(db, &account.id).await? else {
        return Err(invalid(
            "totp",
            "this account has no proved e-mail address: use the authenticator app",
        ));
    };
    let day_ago = now - 24 * 3600 * 1_000_000;
    if store::resets_since(db, store::LOGIN, &account.id, day_ago).await? >= PER_ACCOUNT_PER_DAY {
        return Err(invalid(
            "totp",
            "too many codes were sent today: use the authenticator app",
        ));
    }
    let id = random_token(18);
    let code = six_digits();
    let mut tx = db.begin().await?;
    store::insert_reset(
        &mut tx,
        store::LOGIN,
        &id,
        &account.id,
        &code_hash(&id, &code),
        now,
        now + CODE_LIFETIME_US,
    )
    .await?;
    let message = motcua_mail::Message {
        to: email.clone(),
        subject: "Mã đăng nhập định danh điện tử / Your login code".into(),
        text: format!(
            "Mã đăng nhập của bạn là {code}. Mã có hiệu lực trong 10 phút. Không cung cấp mã này cho bất kỳ ai.\n\n\
             Your login code is {code}. It is valid for 10 minutes. Do not give it to anyone.\n"
        ),
        html: None,
    };
    motcua_mail::enqueue(&mut tx, &message)
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    tx.commit().await?;
    Ok(Sent {
        id,
        masked_email: mask(&email),
    })
}

/// `an.nguyen@example.com` → `a•••n@example.com`.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().unwrap_or('•');
            let last = local.chars().last().unwrap_or('•');
            format!("{first}•••{last}@{domain}")
        }
        None => "•••".into(),
    }
}

/// Completes a login with the code of `id`: the account, or why not (naming `code`).
pub async fn confirm(db: &Db, id: &str, code: &str, now: i64) -> Result<CitizenAccount> {
    let wrong = || {
        invalid(
            "code",
            "the code is not correct, or has expired: log in again",
        )
    };
    let Some(row) = store::reset(db, store::LOGIN, id).await? else {
        return Err(wrong());
    };
    if row.used_at.is_some() || row.expires_at <= now || row.attempts >= MAX_ATTEMPTS {
        return Err(wrong());
    }
    let mut tx = db.begin().await?;
    if !store::count_reset_attempt(&mut tx, id, MAX_ATTEMPTS).await? {
        return Err(wrong());
    }
    if !constant_time_eq(&code_hash(id, code.trim()), &row.code_hash) {
        tx.commit().await?;
        return Err(wrong());
    }
    if !store::use_reset(&mut tx, id, now).await? {
        return Err(wrong());
    }
    let Some(account) = citizen_accounts::by_id(db, &row.account_id).await? else {
        return Err(wrong());
    };
    if account.closed {
        return Err(wrong());
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &account.id,
            event_type: "citizen_account.logged_in",
            actor: &format!("citizen:{}", account.id),
            reason: "login",
            payload: json!({ "amr": ["pwd", "otp"], "second_factor": "email" }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}
