//! Password reset through the e-mail address the citizen proved at registration: a one-time
//! code is sent through the job outbox; with it she sets a new password, which ends every
//! session and grant of the account (whoever knew the old password is logged out). Her
//! second factor is unchanged, so the reset alone does not let anyone log in. Whether the
//! account exists, or has that address, is never told: the answer is the same.

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;

use crate::password::PasswordService;
use crate::registration::{CODE_LIFETIME_US, MAX_ATTEMPTS, code_hash, six_digits};
use crate::store::citizen_accounts as accounts;
use crate::store::oidc;
use crate::store::registrations as store;
use crate::token::{constant_time_eq, random_token};
use crate::{IdentityError, Result, citizen_accounts, invalid};

/// Resets one account may start per day.
pub const PER_ACCOUNT_PER_DAY: i64 = 5;

/// Starts a reset for the account named by `identifier` (PID, tax or social-insurance code)
/// when `email` is the address it proved; returns the reset's id either way.
pub async fn start(db: &Db, identifier: &str, email: &str, now: i64) -> Result<String> {
    let id = random_token(18);
    let Some(row) = citizen_accounts::login_row(db, identifier).await? else {
        return Ok(id);
    };
    if row.closed_at.is_some() {
        return Ok(id);
    }
    let Some(proved) = accounts::verified_email(db, &row.id).await? else {
        return Ok(id);
    };
    if !proved.trim().eq_ignore_ascii_case(email.trim()) {
        return Ok(id);
    }
    let day_ago = now - 24 * 3600 * 1_000_000;
    if store::resets_since(db, store::PASSWORD_RESET, &row.id, day_ago).await?
        >= PER_ACCOUNT_PER_DAY
    {
        return Ok(id);
    }
    let code = six_digits();
    let mut tx = db.begin().await?;
    store::insert_reset(
        &mut tx,
        store::PASSWORD_RESET,
        &id,
        &row.id,
        &code_hash(&id, &code),
        now,
        now + CODE_LIFETIME_US,
    )
    .await?;
    let message = motcua_mail::Message {
        to: proved,
        subject: "Mã đặt lại mật khẩu định danh điện tử / Your password reset code".into(),
        text: format!(
            "Mã đặt lại mật khẩu của bạn là {code}. Mã có hiệu lực trong 10 phút. Nếu bạn không yêu cầu, hãy bỏ qua thư này.\n\n\
             Your password reset code is {code}. It is valid for 10 minutes. If you did not ask for it, ignore this message.\n"
        ),
        html: None,
    };
    motcua_mail::enqueue(&mut tx, &message)
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    tx.commit().await?;
    Ok(id)
}

/// Sets a new password with the code of reset `id`.
pub async fn complete(
    db: &Db,
    passwords: &PasswordService,
    id: &str,
    code: &str,
    new_password: &str,
    now: i64,
) -> Result<()> {
    let wrong = || {
        invalid(
            "code",
            "the code is not correct, or has expired: start again",
        )
    };
    let Some(row) = store::reset(db, store::PASSWORD_RESET, id).await? else {
        return Err(wrong());
    };
    if row.used_at.is_some() || row.expires_at <= now || row.attempts >= MAX_ATTEMPTS {
        return Err(wrong());
    }
    let Some(account) = citizen_accounts::by_id(db, &row.account_id).await? else {
        return Err(wrong());
    };
    PasswordService::check_policy(new_password, &account.pid.to_string())?;
    let hash = passwords.hash(new_password).await?;
    let mut tx = db.begin().await?;
    if !store::count_reset_attempt(&mut tx, id, MAX_ATTEMPTS).await? {
        return Err(wrong());
    }
    if !constant_time_eq(&code_hash(id, code.trim()), &row.code_hash) {
        tx.commit().await?;
        return Err(wrong());
    }
    if !store::use_reset(&mut tx, id, now).await?
        || !accounts::set_password(&mut tx, &account.id, &hash, now).await?
    {
        return Err(wrong());
    }
    let sessions = oidc::delete_sessions_of(&mut tx, &account.id).await?;
    let grants =
        oidc::revoke_grants_of_account(&mut tx, &account.id, None, "password reset", now).await?;
    crate::oidc::backchannel::enqueue(&mut tx, &account.id, &grants, now).await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &account.id,
            event_type: "citizen_account.password_reset",
            actor: &format!("citizen:{}", account.id),
            reason: "password reset through the proved e-mail address",
            payload: json!({ "sessions_ended": sessions.len(), "grants_revoked": grants.len() }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
