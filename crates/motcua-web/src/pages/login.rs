//! Staff sign-in and sign-out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::staff::{self, LoginFailure};
use motcua_identity::token::constant_time_eq;
use motcua_identity::{IdentityError, sessions};
use serde::Deserialize;

use super::{Chrome, render};
use crate::AppState;
use crate::auth::{Ctx, Staff, cookie, cookie_header, login_csrf_cookie, session_cookie};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    username: String,
    login_csrf: String,
}

fn page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    username: &str,
    errors: Vec<(String, String)>,
) -> Response {
    let (token, csrf_cookie) = crate::kit::pre_session_csrf(state);
    let mut resp = render(
        status,
        &LoginPage {
            c: Chrome::new(ctx, "login.title"),
            errors,
            username: username.to_owned(),
            login_csrf: token.clone(),
        },
    );
    resp.headers_mut().append(header::SET_COOKIE, csrf_cookie);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn form(State(state): State<AppState>, ctx: Ctx) -> Response {
    if ctx.session.is_some() {
        return Redirect::to("/staff").into_response();
    }
    page(&state, &ctx, StatusCode::OK, "", Vec::new())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
}

fn client_ip(req_info: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    req_info
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let t = ctx.t();
    let username = f.username.as_deref().unwrap_or("").trim().to_owned();
    let password = f.password.unwrap_or_default();
    let err = |field: &str, key: &str| vec![(field.to_owned(), t.get(key).to_owned())];

    if !crate::kit::pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        return page(
            &state,
            &ctx,
            StatusCode::FORBIDDEN,
            &username,
            err("username", "login.csrf"),
        );
    }
    if !state
        .login_limiter
        .allow(client_ip(connect.as_ref().map(|e| &e.0)))
    {
        return page(
            &state,
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            &username,
            err("username", "login.rate_limited"),
        );
    }
    let mut errors = Vec::new();
    if username.is_empty() {
        errors.extend(err("username", "login.required_username"));
    }
    if password.is_empty() {
        errors.extend(err("password", "login.required_password"));
    }
    if !errors.is_empty() {
        return page(
            &state,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &username,
            errors,
        );
    }
    let now = motcua_db::clock::now_us();
    let outcome = staff::authenticate(
        &state.db,
        &state.passwords,
        state.config.lockout,
        &username,
        &password,
        now,
    )
    .await;
    let user = match outcome {
        Ok(Ok(user)) => user,
        // A wrong password, an unknown, locked or disabled account: one answer, so that
        // none of them can be told from the others.
        Ok(Err(LoginFailure::BadCredentials | LoginFailure::Locked | LoginFailure::Disabled)) => {
            return page(
                &state,
                &ctx,
                StatusCode::UNAUTHORIZED,
                &username,
                err("username", "login.failed"),
            );
        }
        Err(IdentityError::Busy { retry_after_secs }) => {
            let mut resp = page(
                &state,
                &ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                &username,
                err("username", "login.busy"),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return resp;
        }
        Err(e) => return failure(&ctx, e),
    };
    match sessions::create(&state.db, &user, now).await {
        Ok((token, _)) => {
            let mut resp = Redirect::to("/staff").into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie_header(&state, session_cookie(&state.config), &token, None),
            );
            h.append(
                header::SET_COOKIE,
                cookie_header(&state, login_csrf_cookie(&state.config), "", Some(0)),
            );
            resp
        }
        Err(e) => failure(&ctx, e),
    }
}

fn failure(ctx: &Ctx, e: IdentityError) -> Response {
    super::server_error(ctx.lang, &e.to_string())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    Staff(ctx, session): Staff,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !constant_time_eq(&session.csrf_token, f.csrf.as_deref().unwrap_or("")) {
        return super::message(&ctx, StatusCode::FORBIDDEN, "error.forbidden", "error.csrf");
    }
    if let Some(token) = cookie(&headers, session_cookie(&state.config))
        && let Err(e) = sessions::end(&state.db, token).await
    {
        return failure(&ctx, e);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, session_cookie(&state.config), "", Some(0)),
    );
    resp
}
