//! The counter's in-person check (Decree 69/2024/NĐ-CP, Art. 12: level 2 is granted after the
//! holder is verified in person): an officer who has the citizen and her identity card in
//! front of her raises her account to level 2, recording where and which document she saw.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use motcua_domain::Pid;
use motcua_identity::IdentityError;
use motcua_identity::citizen_accounts::{self, CitizenAccount, InPersonCheck};
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{CsrfForm, FormErrors, SignedIn};

#[derive(Template)]
#[template(path = "level2.html")]
struct Level2Page {
    c: Chrome,
    errors: FormErrors,
    pid: String,
    account: Option<(i32, bool)>,
    place: String,
    document_seen: String,
}

fn page(
    ctx: &Ctx,
    status: StatusCode,
    pid: Pid,
    account: Option<&CitizenAccount>,
    f: &Level2Form,
    errors: FormErrors,
) -> Response {
    render(
        status,
        &Level2Page {
            c: Chrome::new(ctx, "level2.title"),
            errors,
            pid: pid.to_string(),
            account: account.map(|a| (a.level.as_i32(), a.closed)),
            place: f.place.clone().unwrap_or_default(),
            document_seen: f
                .document_seen
                .clone()
                .unwrap_or_else(|| format!("căn cước {pid}")),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct Level2Form {
    place: Option<String>,
    document_seen: Option<String>,
}

async fn account_of(
    state: &AppState,
    ctx: &Ctx,
    pid_text: &str,
) -> Result<(Pid, Option<CitizenAccount>), Response> {
    let Ok(pid) = Pid::parse(pid_text) else {
        return Err(super::message(
            ctx,
            StatusCode::NOT_FOUND,
            "error.not_found",
            "citizen.not_found",
        ));
    };
    match citizen_accounts::by_pid(&state.db, pid).await {
        Ok(a) => Ok((pid, a)),
        Err(e) => Err(super::server_error(ctx.lang, &e.to_string())),
    }
}

/// `GET /identity/accounts/{pid}/level2`.
pub async fn form(
    State(state): State<AppState>,
    SignedIn(ctx, _, _): SignedIn,
    Path(pid): Path<String>,
) -> Response {
    match account_of(&state, &ctx, &pid).await {
        Ok((pid, account)) => page(
            &ctx,
            StatusCode::OK,
            pid,
            account.as_ref(),
            &Level2Form::default(),
            FormErrors::new(),
        ),
        Err(resp) => resp,
    }
}

/// `POST /identity/accounts/{pid}/level2`.
pub async fn raise(
    State(state): State<AppState>,
    Path(pid): Path<String>,
    CsrfForm {
        ctx,
        session,
        form: f,
        ..
    }: CsrfForm<Level2Form>,
) -> Response {
    let (pid, account) = match account_of(&state, &ctx, &pid).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let Some(account) = account else {
        return page(
            &ctx,
            StatusCode::NOT_FOUND,
            pid,
            None,
            &f,
            FormErrors::new(),
        );
    };
    let officer = format!("staff:{}", session.user.username);
    let check = InPersonCheck {
        officer: &officer,
        place: f.place.as_deref().unwrap_or(""),
        document_seen: f.document_seen.as_deref().unwrap_or(""),
    };
    let now = motcua_db::clock::now_us();
    let mut errors = FormErrors::new();
    match citizen_accounts::raise_to_level_2(&state.db, &account.id, &check, now).await {
        Ok(()) => Redirect::to(&format!("/identity/accounts/{pid}/level2")).into_response(),
        Err(IdentityError::Invalid { field, message }) => {
            errors.add(field, message);
            page(
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                pid,
                Some(&account),
                &f,
                errors,
            )
        }
        Err(IdentityError::Conflict(message)) => {
            errors.add("place", message);
            page(&ctx, StatusCode::CONFLICT, pid, Some(&account), &f, errors)
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}
