//! The citizen's own pages: her registry record (read-only), account level and second
//! factor, active sessions (end any), consents given (withdraw any), her logins, and who read
//! her data (every access-log entry about her PID, newest first, paginated by a cursor on the
//! per-citizen index, so a PID with a million entries pages as fast as one with ten).
//!
//! The portal reaches them as a relying party of its own OpenID Connect provider
//! (`/auth/login`, `/auth/callback`): the citizen logs in and consents like at any portal.
//! Her viewing her own record is not a disclosure and is not logged as one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_db::events;
use motcua_identity::oidc::consents;
use motcua_identity::oidc::sessions;
use serde::Deserialize;

use super::{Chrome, local_date, local_time, render};
use crate::AppState;
use crate::auth::{citizen_cookie, cookie, cookie_header};
use crate::kit::{Citizen, CitizenForm, NoFields};

/// Entries per page of "who read my data".
const PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    csrf: String,
    pid: String,
    name: String,
    dob: String,
    gender: String,
    address: String,
    level: i32,
    has_totp: bool,
    organisations: Vec<(String, String, String)>,
    passkeys: Vec<(String, String, String)>,
    children: Vec<(String, String, String)>,
}

fn chrome(ctx: &crate::auth::Ctx, key: &str) -> Chrome {
    Chrome::new(ctx, key)
}

/// `GET /account`.
pub async fn overview(State(state): State<AppState>, Citizen(ctx, session): Citizen) -> Response {
    let person = match motcua_registry::citizens::get(&state.db, session.account.pid).await {
        Ok(p) => p,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let (name, dob, gender, address) = match person {
        Some(p) => (
            p.full_name,
            local_date(&p.date_of_birth),
            p.gender,
            p.residence_address.unwrap_or_default(),
        ),
        None => Default::default(),
    };
    let t = ctx.t();
    let organisations = match motcua_identity::organisations::represented_by(
        &state.db,
        &session.account.id,
    )
    .await
    {
        Ok(list) => list
            .into_iter()
            .map(|o| {
                let role = t.get(&format!("orgs.role.{}", o.role)).to_owned();
                (o.tax_code, o.name, role)
            })
            .collect(),
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let passkeys = match motcua_identity::passkeys::list(&state.db, &session.account.id).await {
        Ok(list) => list
            .into_iter()
            .map(|(id, created, used)| {
                (
                    id,
                    local_time(created),
                    used.map(local_time).unwrap_or_default(),
                )
            })
            .collect(),
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let today = motcua_domain::vietnam_time::date_at(motcua_db::clock::now_us());
    let children = match motcua_identity::citizen_accounts::children_under_14(
        &state.db,
        &session.account,
        today,
    )
    .await
    {
        Ok(list) => list
            .into_iter()
            .map(|c| (c.pid, c.full_name, local_date(&c.date_of_birth)))
            .collect(),
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    render(
        StatusCode::OK,
        &AccountPage {
            organisations,
            passkeys,
            children,
            c: chrome(&ctx, "account.title"),
            csrf: session.csrf_token.clone(),
            pid: session.account.pid.to_string(),
            name,
            dob,
            gender,
            address,
            level: session.account.level.as_i32(),
            has_totp: session.account.has_totp,
        },
    )
}

struct SessionRow {
    sid: String,
    started: String,
    device: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account_sessions.html")]
struct SessionsPage {
    c: Chrome,
    csrf: String,
    sessions: Vec<SessionRow>,
    consents: Vec<(String, String, String, String)>,
}

/// `GET /account/sessions`: active sessions and consents given.
pub async fn sessions_page(
    State(state): State<AppState>,
    Citizen(ctx, session): Citizen,
) -> Response {
    let now = motcua_db::clock::now_us();
    let listed = match sessions::list(&state.db, &session.account, now).await {
        Ok(l) => l,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let given = match consents::list(&state.db, &session.account.id).await {
        Ok(l) => l,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let t = ctx.t();
    render(
        StatusCode::OK,
        &SessionsPage {
            c: chrome(&ctx, "account.sessions"),
            csrf: session.csrf_token.clone(),
            sessions: listed
                .into_iter()
                .map(|s| SessionRow {
                    current: s.sid == session.sid,
                    started: local_time(s.created_at),
                    device: s.user_agent.unwrap_or_default(),
                    sid: s.sid,
                })
                .collect(),
            consents: given
                .into_iter()
                .map(|k| {
                    let scopes = k
                        .scopes
                        .iter()
                        .map(|s| t.get(&format!("scope.{s}")).to_owned())
                        .collect::<Vec<_>>()
                        .join("; ");
                    (k.client_id, k.client_name, scopes, local_time(k.granted_at))
                })
                .collect(),
        },
    )
}

/// `POST /account/sessions/{sid}/end`.
pub async fn end_session(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    f: CitizenForm<NoFields>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let account = &f.session.account.id;
    if let Err(e) =
        sessions::end_by_sid(&state.db, account, &sid, "ended by the citizen", now).await
    {
        return super::server_error(f.ctx.lang, &e.to_string());
    }
    if sid == f.session.sid {
        return signed_out(&state);
    }
    Redirect::to("/account/sessions").into_response()
}

/// `POST /account/consents/{client_id}/withdraw`.
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    f: CitizenForm<NoFields>,
) -> Response {
    let now = motcua_db::clock::now_us();
    match consents::withdraw(&state.db, &f.session.account.id, &client_id, now).await {
        Ok(_) => Redirect::to("/account/sessions").into_response(),
        Err(e) => super::server_error(f.ctx.lang, &e.to_string()),
    }
}

/// `POST /account/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    f: CitizenForm<NoFields>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let token = cookie(&headers, citizen_cookie(&state.config)).unwrap_or("");
    if let Err(e) = sessions::end(&state.db, token, &f.session.account.id, now).await {
        return super::server_error(f.ctx.lang, &e.to_string());
    }
    signed_out(&state)
}

fn signed_out(state: &AppState) -> Response {
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(state, citizen_cookie(&state.config), "", Some(0)),
    );
    resp
}

#[derive(Template)]
#[template(path = "account_logins.html")]
struct LoginsPage {
    c: Chrome,
    csrf: String,
    logins: Vec<(String, String, String)>,
}

/// `GET /account/logins`: her account's authentication events, newest first.
pub async fn logins(State(state): State<AppState>, Citizen(ctx, session): Citizen) -> Response {
    let all = match events::for_aggregate(&state.db, "citizen_account", &session.account.id).await {
        Ok(e) => e,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let t = ctx.t();
    let logins = all
        .into_iter()
        .rev()
        .take(100)
        .map(|e| {
            let key = format!("event.{}", e.event_type);
            let text = t.get(&key);
            let text = if text == key {
                e.event_type.clone()
            } else {
                text.to_owned()
            };
            (local_time(e.occurred_at), text, e.actor)
        })
        .collect();
    render(
        StatusCode::OK,
        &LoginsPage {
            c: chrome(&ctx, "account.logins"),
            csrf: session.csrf_token.clone(),
            logins,
        },
    )
}

struct AccessRow {
    at: String,
    who: String,
    kind: String,
    action: String,
    purpose: String,
}

#[derive(Template)]
#[template(path = "account_accesses.html")]
struct AccessesPage {
    c: Chrome,
    csrf: String,
    entries: Vec<AccessRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct Cursor {
    before: Option<String>,
}

/// `GET /account/accesses?before=AT.ID`: who read her data.
pub async fn accesses(
    State(state): State<AppState>,
    Citizen(ctx, session): Citizen,
    Query(q): Query<Cursor>,
) -> Response {
    let before = q.before.as_deref().and_then(|b| {
        let (at, id) = b.split_once('.')?;
        Some((at.parse::<i64>().ok()?, id.parse::<i64>().ok()?))
    });
    let pid = session.account.pid.as_i64();
    let page = match state
        .access_log
        .by_subject_before(pid, before, PAGE + 1)
        .await
    {
        Ok(p) => p,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let more = page.len() as i64 > PAGE;
    let shown: Vec<_> = page.into_iter().take(PAGE as usize).collect();
    let next = more
        .then(|| shown.last().map(|e| format!("{}.{}", e.at, e.id)))
        .flatten();
    let t = ctx.t();
    let entries = shown
        .into_iter()
        .map(|e| {
            let kind_key = format!("actor.{}", e.actor_kind);
            AccessRow {
                at: local_time(e.at),
                who: e.actor_name,
                kind: t.get(&kind_key).to_owned(),
                action: e.action,
                purpose: e.purpose,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &AccessesPage {
            c: chrome(&ctx, "account.accesses"),
            csrf: session.csrf_token.clone(),
            entries,
            next,
        },
    )
}
