//! Self-registration of a level-1 account (`motcua_identity::registration`): the form, the
//! page where the citizen enters the code sent to her e-mail, and the page that gives her the
//! TOTP secret for her authenticator app, once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::registration::{self, Application, Refusal};
use motcua_identity::totp;
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::Ctx;
use crate::kit::{FormErrors, pre_session_csrf, pre_session_csrf_ok};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    c: Chrome,
    errors: FormErrors,
    csrf: String,
    pid: String,
    full_name: String,
    date_of_birth: String,
    email: String,
}

#[derive(Template)]
#[template(path = "register_confirm.html")]
struct ConfirmPage {
    c: Chrome,
    errors: FormErrors,
    csrf: String,
    id: String,
    email: String,
}

#[derive(Template)]
#[template(path = "register_done.html")]
struct DonePage {
    c: Chrome,
    totp_secret: String,
    otpauth_uri: String,
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    csrf: Option<String>,
    pid: Option<String>,
    full_name: Option<String>,
    date_of_birth: Option<String>,
    email: Option<String>,
    password: Option<String>,
    password_again: Option<String>,
}

/// A pre-session form page with its CSRF cookie, never cached.
fn with_csrf(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn form_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    f: &RegisterForm,
    errors: FormErrors,
) -> Response {
    let (csrf, cookie) = pre_session_csrf(state);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let page = RegisterPage {
        c: Chrome::new(ctx, "register.title"),
        errors,
        csrf,
        pid: text(&f.pid),
        full_name: text(&f.full_name),
        date_of_birth: text(&f.date_of_birth),
        email: text(&f.email),
    };
    with_csrf(render(status, &page), cookie)
}

/// `GET /account/register`.
pub async fn form(State(state): State<AppState>, ctx: Ctx) -> Response {
    form_page(
        &state,
        &ctx,
        StatusCode::OK,
        &RegisterForm::default(),
        FormErrors::new(),
    )
}

fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    connect
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// `POST /account/register`.
pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<RegisterForm>,
) -> Response {
    let mut errors = FormErrors::new();
    if !pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        errors.add_key(&ctx, "pid", "login.csrf");
        return form_page(&state, &ctx, StatusCode::FORBIDDEN, &f, errors);
    }
    if !state
        .login_limiter
        .allow(client_ip(connect.as_ref().map(|e| &e.0)))
    {
        errors.add_key(&ctx, "pid", "login.rate_limited");
        return form_page(&state, &ctx, StatusCode::TOO_MANY_REQUESTS, &f, errors);
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let app = Application {
        pid: text(&f.pid),
        full_name: text(&f.full_name),
        date_of_birth: text(&f.date_of_birth),
        email: text(&f.email),
        password: text(&f.password),
        password_again: text(&f.password_again),
    };
    let now = motcua_db::clock::now_us();
    match registration::start(
        &state.db,
        &state.passwords,
        &state.verification_throttle,
        &app,
        now,
    )
    .await
    {
        Ok(Ok(started)) => {
            Redirect::to(&format!("/account/register/{}", started.id)).into_response()
        }
        Ok(Err(Refusal::Fields(list))) => {
            errors.extend_fields(list);
            form_page(&state, &ctx, errors.status(), &f, errors)
        }
        Ok(Err(Refusal::Throttled { retry_after_secs })) => {
            errors.add_key(&ctx, "pid", "register.throttled");
            let mut resp = form_page(&state, &ctx, StatusCode::TOO_MANY_REQUESTS, &f, errors);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

fn confirm_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    id: &str,
    email: &str,
    errors: FormErrors,
) -> Response {
    let (csrf, cookie) = pre_session_csrf(state);
    let page = ConfirmPage {
        c: Chrome::new(ctx, "register.confirm_title"),
        errors,
        csrf,
        id: id.to_owned(),
        email: email.to_owned(),
    };
    with_csrf(render(status, &page), cookie)
}

/// `GET /account/register/{id}`.
pub async fn confirm_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let now = motcua_db::clock::now_us();
    match registration::pending_email(&state.db, &id, now).await {
        Ok(Some(email)) => {
            confirm_page(&state, &ctx, StatusCode::OK, &id, &email, FormErrors::new())
        }
        Ok(None) => super::message(
            &ctx,
            StatusCode::NOT_FOUND,
            "register.gone_title",
            "register.gone_body",
        ),
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: Option<String>,
    code: Option<String>,
}

/// `POST /account/register/{id}`.
pub async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CodeForm>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let email = match registration::pending_email(&state.db, &id, now).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return super::message(
                &ctx,
                StatusCode::NOT_FOUND,
                "register.gone_title",
                "register.gone_body",
            );
        }
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let mut errors = FormErrors::new();
    if !pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        errors.add_key(&ctx, "code", "login.csrf");
        return confirm_page(&state, &ctx, StatusCode::FORBIDDEN, &id, &email, errors);
    }
    let code = f.code.unwrap_or_default();
    if code.trim().is_empty() {
        errors.add_key(&ctx, "code", "register.code_required");
        return confirm_page(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &id,
            &email,
            errors,
        );
    }
    match registration::confirm(&state.db, &id, &code, now).await {
        Ok(Ok(created)) => {
            let pid = motcua_identity::citizen_accounts::by_id(&state.db, &created.account_id)
                .await
                .ok()
                .flatten()
                .map(|a| a.pid.to_string())
                .unwrap_or_default();
            let mut resp = render(
                StatusCode::OK,
                &DonePage {
                    c: Chrome::new(&ctx, "register.done_title"),
                    otpauth_uri: totp::otpauth_uri("motcua", &pid, &created.totp_secret),
                    totp_secret: created.totp_secret,
                },
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Ok(Err(Refusal::Fields(list))) => {
            errors.extend_fields(list);
            confirm_page(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &id,
                &email,
                errors,
            )
        }
        Ok(Err(Refusal::Throttled { .. })) => {
            errors.add_key(&ctx, "code", "register.throttled");
            confirm_page(
                &state,
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &id,
                &email,
                errors,
            )
        }
        Err(e) => super::server_error(ctx.lang, &e.to_string()),
    }
}
