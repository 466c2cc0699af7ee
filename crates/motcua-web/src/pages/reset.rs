//! Password reset pages (`motcua_identity::password_reset`): ask for a code, then set a new
//! password with it. Both forms are pre-session, with the cookie-bound CSRF token.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::password_reset;
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{FormErrors, pre_session_csrf, pre_session_csrf_ok};

#[derive(Template)]
#[template(path = "reset.html")]
struct StartPage {
    c: Chrome,
    errors: FormErrors,
    csrf: String,
}

#[derive(Template)]
#[template(path = "reset_confirm.html")]
struct CompletePage {
    c: Chrome,
    errors: FormErrors,
    csrf: String,
    id: String,
}

fn start_page(state: &AppState, ctx: &Ctx, status: StatusCode, errors: FormErrors) -> Response {
    let (csrf, cookie) = pre_session_csrf(state);
    let mut resp = render(
        status,
        &StartPage {
            c: Chrome::new(ctx, "reset.title"),
            errors,
            csrf,
        },
    );
    resp.headers_mut()
        .append(axum::http::header::SET_COOKIE, cookie);
    resp
}

fn complete_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    id: &str,
    errors: FormErrors,
) -> Response {
    let (csrf, cookie) = pre_session_csrf(state);
    let page = CompletePage {
        c: Chrome::new(ctx, "reset.title"),
        errors,
        csrf,
        id: id.to_owned(),
    };
    let mut resp = render(status, &page);
    resp.headers_mut()
        .append(axum::http::header::SET_COOKIE, cookie);
    resp
}

/// `GET /account/reset`.
pub async fn form(State(state): State<AppState>, ctx: Ctx) -> Response {
    start_page(&state, &ctx, StatusCode::OK, FormErrors::new())
}

#[derive(Deserialize)]
pub struct StartForm {
    csrf: Option<String>,
    pid: Option<String>,
    email: Option<String>,
}

/// `POST /account/reset`.
pub async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<StartForm>,
) -> Response {
    let mut errors = FormErrors::new();
    if !pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        errors.add_key(&ctx, "pid", "login.csrf");
        return start_page(&state, &ctx, StatusCode::FORBIDDEN, errors);
    }
    let pid = f.pid.unwrap_or_default();
    let email = f.email.unwrap_or_default();
    if pid.trim().is_empty() {
        errors.add_key(&ctx, "pid", "citizen_login.required_pid");
    }
    if email.trim().is_empty() {
        errors.add_key(&ctx, "email", "reset.email_required");
    }
    if !errors.is_empty() {
        return start_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    match password_reset::start(&state.db, &pid, &email, motcua_db::clock::now_us()).await {
        Ok(id) => Redirect::to(&format!("/account/reset/{id}")).into_response(),
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

/// `GET /account/reset/{id}`.
pub async fn complete_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    complete_page(&state, &ctx, StatusCode::OK, &id, FormErrors::new())
}

#[derive(Deserialize)]
pub struct CompleteForm {
    csrf: Option<String>,
    code: Option<String>,
    password: Option<String>,
    password_again: Option<String>,
}

/// `POST /account/reset/{id}`.
pub async fn complete(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CompleteForm>,
) -> Response {
    let mut errors = FormErrors::new();
    if !pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        errors.add_key(&ctx, "code", "login.csrf");
        return complete_page(&state, &ctx, StatusCode::FORBIDDEN, &id, errors);
    }
    let password = f.password.unwrap_or_default();
    if f.password_again.as_deref() != Some(password.as_str()) {
        errors.add_key(&ctx, "password_again", "reset.mismatch");
        return complete_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &id, errors);
    }
    let now = motcua_db::clock::now_us();
    let code = f.code.unwrap_or_default();
    match password_reset::complete(&state.db, &state.passwords, &id, &code, &password, now).await {
        Ok(()) => super::message(&ctx, StatusCode::OK, "reset.done_title", "reset.done_body"),
        Err(IdentityError::Invalid { field, message }) => {
            errors.add(field, message);
            complete_page(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, &id, errors)
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}
