//! Citizens' single sign-on sessions at the provider. As for staff, the browser holds a random
//! token and the database its SHA-256; the session also has a public name (`sid`, in ID and
//! logout tokens), the assurance level and methods of its login (`acr`, `amr`) and the login
//! time (`auth_time`). Ending a session revokes the grants made in it, except those given for
//! offline access.

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;

use super::Lifetimes;
use crate::Result;
use crate::citizen_accounts::{self, CitizenAccount, Level};
use crate::store::oidc::{self as store, NewCitizenSession, RevokedGrant};
use crate::token::{random_token, sha256_hex};

const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub sid: String,
    pub account: CitizenAccount,
    pub csrf_token: String,
    /// The level this login reached: the account's level when it logged in.
    pub acr: Level,
    pub amr: Vec<String>,
    pub auth_time_us: i64,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Opens a session for `account` after a login by `amr`; returns the cookie token.
pub async fn create(
    db: &Db,
    account: &CitizenAccount,
    amr: &[&str],
    user_agent: Option<&str>,
    lifetimes: Lifetimes,
    now: i64,
) -> Result<(String, CitizenSession)> {
    let token = random_token(32);
    let sid = random_token(16);
    let csrf = random_token(32);
    let expires_at = now + lifetimes.session_idle_us.min(lifetimes.session_max_us);
    let user_agent = user_agent.map(|ua| ua.chars().take(200).collect::<String>());
    let amr_text = amr.join(" ");
    let mut tx = db.begin().await?;
    store::insert_session(
        &mut tx,
        &NewCitizenSession {
            token_hash: &sha256_hex(&token),
            sid: &sid,
            account_id: &account.id,
            csrf_token: &csrf,
            acr: account.level.as_i32(),
            amr: &amr_text,
            auth_time: now,
            user_agent: user_agent.as_deref(),
            expires_at,
        },
        now,
    )
    .await?;
    store::delete_expired_sessions(&mut tx, now).await?;
    tx.commit().await?;
    Ok((
        token,
        CitizenSession {
            sid,
            account: account.clone(),
            csrf_token: csrf,
            acr: account.level,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            auth_time_us: now,
            user_agent,
            created_at: now,
            expires_at,
        },
    ))
}

/// The live session for `token`, its idle expiry slid forward. A closed account has none.
pub async fn get(
    db: &Db,
    token: &str,
    lifetimes: Lifetimes,
    now: i64,
) -> Result<Option<CitizenSession>> {
    if token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let Some(row) = store::session_by_hash(db, &hash).await? else {
        return Ok(None);
    };
    if row.expires_at <= now || row.created_at + lifetimes.session_max_us <= now {
        return Ok(None);
    }
    let Some(account) = citizen_accounts::by_id(db, &row.account_id).await? else {
        return Ok(None);
    };
    if account.closed {
        return Ok(None);
    }
    let mut expires_at = row.expires_at;
    if now - row.last_seen_at >= TOUCH_EVERY_US {
        expires_at =
            (now + lifetimes.session_idle_us).min(row.created_at + lifetimes.session_max_us);
        store::touch_session(db, &hash, now, expires_at).await?;
    }
    let session = of_row(row, account);
    Ok(Some(CitizenSession {
        expires_at,
        ..session
    }))
}

fn of_row(row: store::CitizenSessionRow, account: CitizenAccount) -> CitizenSession {
    // The level reached at login, never above what the account has now (an account lowered
    // or closed since cannot keep a higher one).
    let acr = if row.acr >= 2 && account.level == Level::Two {
        Level::Two
    } else {
        Level::One
    };
    CitizenSession {
        sid: row.sid,
        csrf_token: row.csrf_token,
        acr,
        amr: super::words(&row.amr),
        auth_time_us: row.auth_time,
        user_agent: row.user_agent,
        created_at: row.created_at,
        expires_at: row.expires_at,
        account,
    }
}

/// What ending a session did: its name, and the grants it revoked (their clients are told
/// by back-channel logout).
#[derive(Debug, Clone, Default)]
pub struct Ended {
    pub sid: Option<String>,
    pub revoked: Vec<RevokedGrant>,
}

/// Ends the session whose cookie holds `token` (logout).
pub async fn end(db: &Db, token: &str, account_id: &str, now: i64) -> Result<Ended> {
    let mut tx = db.begin().await?;
    let sid = store::delete_session(&mut tx, &sha256_hex(token)).await?;
    let revoked = match &sid {
        Some(sid) => end_grants(&mut tx, account_id, sid, "logout", now).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(Ended { sid, revoked })
}

/// Ends the account's session named `sid` (from the citizen's list of sessions, or an ID
/// token hint at RP-initiated logout).
pub async fn end_by_sid(
    db: &Db,
    account_id: &str,
    sid: &str,
    reason: &str,
    now: i64,
) -> Result<Ended> {
    let mut tx = db.begin().await?;
    let found = store::delete_session_by_sid(&mut tx, account_id, sid).await?;
    let revoked = end_grants(&mut tx, account_id, sid, reason, now).await?;
    tx.commit().await?;
    Ok(Ended {
        sid: found.then(|| sid.to_owned()),
        revoked,
    })
}

async fn end_grants(
    tx: &mut motcua_db::Tx,
    account_id: &str,
    sid: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<RevokedGrant>> {
    let revoked = store::revoke_grants_of_session(tx, sid, reason, now).await?;
    super::backchannel::enqueue(tx, account_id, &revoked, now).await?;
    events::append(
        tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: account_id,
            event_type: "citizen_account.logged_out",
            actor: &format!("citizen:{account_id}"),
            reason,
            payload: json!({ "sid": sid, "grants_revoked": revoked.len() }),
            occurred_at: now,
        },
    )
    .await?;
    Ok(revoked)
}

/// The account's live sessions, newest first.
pub async fn list(db: &Db, account: &CitizenAccount, now: i64) -> Result<Vec<CitizenSession>> {
    Ok(store::sessions_of(db, &account.id, now)
        .await?
        .into_iter()
        .map(|row| of_row(row, account.clone()))
        .collect())
}

/// Records that a logged-in citizen logged in again for a request asking more than her
/// session had (a step-up, or `prompt=login`), and ends the session it replaces.
pub async fn replace_after_step_up(
    db: &Db,
    old_token: &str,
    old: &CitizenSession,
    new: &CitizenSession,
    required: Option<Level>,
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    store::delete_session(&mut tx, &sha256_hex(old_token)).await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &new.account.id,
            event_type: "citizen_account.stepped_up",
            actor: &format!("citizen:{}", new.account.id),
            reason: "login again for a request asking more than the session had",
            payload: json!({
                "from_acr": old.acr,
                "to_acr": new.acr,
                "required_acr": required,
                "previous_account": (old.account.id != new.account.id).then_some(&old.account.id),
            }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
