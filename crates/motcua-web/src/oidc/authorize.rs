//! The authorization endpoint and the pages a citizen sees in it: login (PID, password, TOTP
//! code) and consent. The authorization request travels through both forms as its original
//! query (`authz`) and is checked again each time, so nothing about it is trusted from the
//! browser that the endpoint would not accept in the first place.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::citizen_accounts;
use motcua_identity::oidc::authorize::{self, AuthorizationRequest, Next, Rejection};
use motcua_identity::oidc::sessions::{self, CitizenSession};
use motcua_identity::oidc::{OAuthError, OAuthErrorCode};
use motcua_identity::staff::LoginFailure;
use motcua_identity::token::constant_time_eq;
use serde::Deserialize;

use super::issuer;
use crate::AppState;
use crate::auth::{Ctx, citizen_cookie, citizen_session, cookie, cookie_header, login_csrf_cookie};
use crate::pages::{Chrome, MessagePage, render};

#[derive(Template)]
#[template(path = "citizen_login.html")]
struct LoginPage {
    c: Chrome,
    errors: Vec<(String, String)>,
    client_name: String,
    step_up: bool,
    pid: String,
    login_csrf: String,
    authz: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    c: Chrome,
    client_name: String,
    scopes: Vec<(String, String)>,
    csrf: String,
    authz: String,
    who: String,
}

/// `GET /oidc/authorize`.
pub async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    proceed(&state, &ctx, &headers, &raw, Arrival::Start).await
}

/// `POST /oidc/authorize` (OpenID Connect Core §3.1.2.1: the parameters form-encoded).
pub async fn start_post(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: String,
) -> Response {
    proceed(&state, &ctx, &headers, &body, Arrival::Start).await
}

/// How the request reached [`proceed`].
enum Arrival {
    Start,
    /// Right after the citizen logged in for it, with her new session.
    LoggedIn(Box<CitizenSession>),
    /// Right after she agreed to its scopes.
    Consented(Box<CitizenSession>),
}

async fn proceed(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    raw: &str,
    arrival: Arrival,
) -> Response {
    let now = motcua_db::clock::now_us();
    let req = match parse(state, headers, raw, now).await {
        Ok(req) => req,
        Err(resp) => return resp,
    };
    let (session, fresh, consented) = match arrival {
        Arrival::Start => match citizen_session(state, headers).await {
            Ok(s) => (s, false, false),
            Err(e) => return server_error(ctx, e),
        },
        Arrival::LoggedIn(s) => (Some(*s), true, false),
        Arrival::Consented(s) => (Some(*s), false, true),
    };
    let next =
        match authorize::decide(&state.db, &req, session.as_ref(), fresh, consented, now).await {
            Ok(n) => n,
            Err(e) => return server_error(ctx, e),
        };
    let iss = issuer(state, headers);
    match (next, session) {
        (Next::Login { step_up }, _) => login_page(
            state,
            ctx,
            StatusCode::OK,
            &req,
            raw,
            step_up,
            "",
            Vec::new(),
        ),
        (Next::Consent { scopes }, Some(session)) => {
            consent_page(ctx, &req, &session, raw, &scopes)
        }
        (Next::Issue, Some(session)) => {
            match authorize::issue_code(&state.db, &req, &session, state.config.oidc, now).await {
                Ok(code) => {
                    let mut params = vec![("code", code.as_str())];
                    if let Some(s) = &req.state {
                        params.push(("state", s));
                    }
                    params.push(("iss", &iss));
                    redirect(&authorize::with_query(&req.redirect_uri, &params))
                }
                Err(e) => server_error(ctx, e),
            }
        }
        (Next::Refuse(e), _) => redirect_error(&req.redirect_uri, req.state.as_deref(), &e, &iss),
        // A decision to consent or issue always has a session.
        (_, None) => login_page(state, ctx, StatusCode::OK, &req, raw, false, "", Vec::new()),
    }
}

/// Checks the raw request; a refusal is already the response.
async fn parse(
    state: &AppState,
    headers: &HeaderMap,
    raw: &str,
    now: i64,
) -> Result<AuthorizationRequest, Response> {
    let lang_ctx = |lang| crate::pages::bare_ctx(lang, "/oidc/authorize");
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(raw) {
        Ok(p) => p,
        Err(_) => {
            return Err(show_error(
                &lang_ctx(crate::i18n::Lang::Vi),
                &OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "the query is not form-encoded",
                ),
            ));
        }
    };
    let params = match authorize::params_of(&pairs) {
        Ok(p) => p,
        Err(name) => {
            return Err(show_error(
                &lang_ctx(crate::i18n::Lang::Vi),
                &OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    format!("{name} is given twice"),
                ),
            ));
        }
    };
    let lang = match params.get("ui_locales").map(String::as_str) {
        Some(l) if l.split_whitespace().next() == Some("en") => crate::i18n::Lang::En,
        _ => crate::i18n::Lang::Vi,
    };
    match authorize::check(&state.db, &params, now).await {
        Ok(Ok(req)) => Ok(req),
        Ok(Err(Rejection::Show(e))) => Err(show_error(&lang_ctx(lang), &e)),
        Ok(Err(Rejection::Redirect {
            redirect_uri,
            state: st,
            error,
        })) => {
            let iss = issuer(state, headers);
            Err(redirect_error(&redirect_uri, st.as_deref(), &error, &iss))
        }
        Err(e) => Err(server_error(&lang_ctx(lang), e)),
    }
}

fn redirect(to: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    super::no_store(&mut resp);
    resp
}

/// An error sent back to the client (RFC 6749 §4.1.2.1, with `iss` of RFC 9207).
fn redirect_error(redirect_uri: &str, state: Option<&str>, e: &OAuthError, iss: &str) -> Response {
    let mut params = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    if !iss.is_empty() {
        params.push(("iss", iss));
    }
    redirect(&authorize::with_query(redirect_uri, &params))
}

/// An error shown to the user: the request names no client or redirect URI to trust.
fn show_error(ctx: &Ctx, e: &OAuthError) -> Response {
    let t = ctx.t();
    render(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            c: Chrome::new(ctx, "oidc.error_title"),
            heading: t.get("oidc.error_title").to_owned(),
            body: format!(
                "{} ({}: {})",
                t.get("oidc.error_body"),
                e.code.as_str(),
                e.description
            ),
        },
    )
}

fn server_error(ctx: &Ctx, e: IdentityError) -> Response {
    crate::pages::server_error(ctx.lang, &e.to_string())
}

#[allow(clippy::too_many_arguments)]
fn login_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    req: &AuthorizationRequest,
    raw: &str,
    step_up: bool,
    pid: &str,
    errors: Vec<(String, String)>,
) -> Response {
    let (token, csrf_cookie) = crate::kit::pre_session_csrf(state);
    let pid = if pid.is_empty() {
        req.login_hint
            .as_deref()
            .filter(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or("")
    } else {
        pid
    };
    let mut resp = render(
        status,
        &LoginPage {
            c: Chrome::new(ctx, "citizen_login.title"),
            errors,
            client_name: req.client.name.clone(),
            step_up,
            pid: pid.to_owned(),
            login_csrf: token.clone(),
            authz: raw.to_owned(),
        },
    );
    resp.headers_mut().append(header::SET_COOKIE, csrf_cookie);
    super::no_store(&mut resp);
    allow_redirect_to(&mut resp, &req.redirect_uri);
    resp
}

/// The page's Content-Security-Policy: the site's, with the client's origin added to
/// `form-action`, since browsers apply it to the redirect that answers the form (to the
/// client's redirect URI).
fn allow_redirect_to(resp: &mut Response, redirect_uri: &str) {
    let origin = redirect_uri
        .split_once("://")
        .map(|(scheme, rest)| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        })
        .filter(|o| !o.contains(['\'', ';', ' ', ',']));
    let Some(origin) = origin else { return };
    let csp = crate::middleware::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

fn consent_page(
    ctx: &Ctx,
    req: &AuthorizationRequest,
    session: &CitizenSession,
    raw: &str,
    scopes: &[String],
) -> Response {
    let t = ctx.t();
    let scopes = scopes
        .iter()
        .map(|s| {
            let key = format!("scope.{s}");
            let text = t.get(&key);
            let text = if text == key { s.as_str() } else { text };
            (s.clone(), text.to_owned())
        })
        .collect();
    let mut resp = render(
        StatusCode::OK,
        &ConsentPage {
            c: Chrome::new(ctx, "consent.title"),
            client_name: req.client.name.clone(),
            scopes,
            csrf: session.csrf_token.clone(),
            authz: raw.to_owned(),
            who: session.account.pid.to_string(),
        },
    );
    super::no_store(&mut resp);
    allow_redirect_to(&mut resp, &req.redirect_uri);
    resp
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: Option<String>,
    pid: Option<String>,
    password: Option<String>,
    totp: Option<String>,
    authz: Option<String>,
    /// `email`: send a code by e-mail instead of asking for the TOTP code.
    second: Option<String>,
}

fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    connect
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// `POST /oidc/authorize/login`: the citizen's PID, password and TOTP code.
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let raw = f.authz.unwrap_or_default();
    let req = match parse(&state, &headers, &raw, now).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let t = ctx.t();
    let pid = f.pid.as_deref().unwrap_or("").trim().to_owned();
    let password = f.password.unwrap_or_default();
    let totp = f.totp.as_deref().unwrap_or("").trim().to_owned();
    let again = |status: StatusCode, errors: Vec<(String, String)>| {
        login_page(&state, &ctx, status, &req, &raw, false, &pid, errors)
    };
    let err = |field: &str, key: &str| vec![(field.to_owned(), t.get(key).to_owned())];
    if !crate::kit::pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        return again(StatusCode::FORBIDDEN, err("pid", "login.csrf"));
    }
    if !state
        .login_limiter
        .allow(client_ip(connect.as_ref().map(|e| &e.0)))
    {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            err("pid", "login.rate_limited"),
        );
    }
    let mut errors = Vec::new();
    if pid.is_empty() {
        errors.extend(err("pid", "citizen_login.required_pid"));
    }
    if password.is_empty() {
        errors.extend(err("password", "login.required_password"));
    }
    let by_email = f.second.as_deref() == Some("email");
    if totp.is_empty() && !by_email {
        errors.extend(err("totp", "citizen_login.required_totp"));
    }
    if !errors.is_empty() {
        return again(StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    let factor = if by_email {
        citizen_accounts::SecondFactor::EmailCodeNext
    } else {
        citizen_accounts::SecondFactor::Totp(&totp)
    };
    let outcome = citizen_accounts::authenticate_with(
        &state.db,
        &state.passwords,
        state.config.lockout,
        &pid,
        &password,
        factor,
        now,
    )
    .await;
    let account = match outcome {
        Ok(Ok(account)) => account,
        // One answer for every failure, so none can be told from the others.
        Ok(Err(LoginFailure::BadCredentials | LoginFailure::Locked | LoginFailure::Disabled)) => {
            return again(StatusCode::UNAUTHORIZED, err("pid", "citizen_login.failed"));
        }
        Err(IdentityError::Busy { retry_after_secs }) => {
            let mut resp = again(StatusCode::SERVICE_UNAVAILABLE, err("pid", "login.busy"));
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return resp;
        }
        Err(e) => return server_error(&ctx, e),
    };
    if by_email {
        return match motcua_identity::login_codes::send(&state.db, &account, now).await {
            Ok(sent) => email_code_page(
                &state,
                &ctx,
                StatusCode::OK,
                &raw,
                &sent.id,
                &sent.masked_email,
                Vec::new(),
            ),
            Err(IdentityError::Invalid { field, message }) => again(
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![(field.to_owned(), message)],
            ),
            Err(e) => server_error(&ctx, e),
        };
    }
    logged_in(
        &state,
        &ctx,
        &headers,
        &raw,
        &req,
        &account,
        &["pwd", "otp"],
        now,
    )
    .await
}

/// After a successful login by any method: opens the session (the cookie), records a
/// step-up when it replaces one, and goes on with the authorization request.
#[allow(clippy::too_many_arguments)]
async fn logged_in(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    raw: &str,
    req: &AuthorizationRequest,
    account: &motcua_identity::citizen_accounts::CitizenAccount,
    amr: &[&str],
    now: i64,
) -> Response {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (token, session) =
        match sessions::create(&state.db, account, amr, user_agent, state.config.oidc, now).await {
            Ok(s) => s,
            Err(e) => return server_error(ctx, e),
        };
    if let Err(e) = record_step_up(state, headers, &session, req, now).await {
        return server_error(ctx, e);
    }
    let mut resp = proceed(
        state,
        ctx,
        headers,
        raw,
        Arrival::LoggedIn(Box::new(session)),
    )
    .await;
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(state, citizen_cookie(&state.config), &token, None),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(state, login_csrf_cookie(&state.config), "", Some(0)),
    );
    resp
}

/// A login while a session was open replaces it: a step-up (or `prompt=login`), recorded.
async fn record_step_up(
    state: &AppState,
    headers: &HeaderMap,
    new: &CitizenSession,
    req: &AuthorizationRequest,
    now: i64,
) -> Result<(), IdentityError> {
    let Some(old_token) = cookie(headers, citizen_cookie(&state.config)) else {
        return Ok(());
    };
    let Some(old) = citizen_session(state, headers).await? else {
        return Ok(());
    };
    sessions::replace_after_step_up(&state.db, old_token, &old, new, req.acr_required, now).await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: Option<String>,
    authz: Option<String>,
    decision: Option<String>,
}

/// `POST /oidc/authorize/consent`: allow or deny.
pub async fn consent(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<ConsentForm>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let raw = f.authz.unwrap_or_default();
    let req = match parse(&state, &headers, &raw, now).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let session = match citizen_session(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return proceed(&state, &ctx, &headers, &raw, Arrival::Start).await,
        Err(e) => return server_error(&ctx, e),
    };
    if !constant_time_eq(&session.csrf_token, f.csrf.as_deref().unwrap_or("")) {
        return crate::pages::message(&ctx, StatusCode::FORBIDDEN, "error.forbidden", "error.csrf");
    }
    let iss = issuer(&state, &headers);
    match f.decision.as_deref() {
        Some("allow") => {}
        Some("deny") => {
            let e = OAuthError::new(OAuthErrorCode::AccessDenied, "the citizen declined");
            return redirect_error(&req.redirect_uri, req.state.as_deref(), &e, &iss);
        }
        _ => return consent_page(&ctx, &req, &session, &raw, &req.scopes),
    }
    if let Err(e) = authorize::give_consent(&state.db, &req, &session, now).await {
        return server_error(&ctx, e);
    }
    proceed(
        &state,
        &ctx,
        &headers,
        &raw,
        Arrival::Consented(Box::new(session)),
    )
    .await
}

/// `POST /oidc/authorize/passkey/options`: a login ceremony for the page's passkey button.
pub async fn passkey_options(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<PasskeyOptionsForm>,
) -> Response {
    if !crate::kit::pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        return crate::pages::message(&ctx, StatusCode::FORBIDDEN, "error.forbidden", "error.csrf");
    }
    let rp = crate::pages::passkeys::relying_party(&state, &headers);
    match motcua_identity::passkeys::start_login(&state.db, &rp, motcua_db::clock::now_us()).await {
        Ok(c) => crate::pages::passkeys::ceremony_json(c),
        Err(e) => server_error(&ctx, e),
    }
}

#[derive(Deserialize)]
pub struct PasskeyOptionsForm {
    csrf: Option<String>,
}

#[derive(Deserialize)]
pub struct PasskeyLoginForm {
    csrf: Option<String>,
    authz: Option<String>,
    ceremony_id: Option<String>,
    credential_id: Option<String>,
    client_data_json: Option<String>,
    authenticator_data: Option<String>,
    signature: Option<String>,
}

/// `POST /oidc/authorize/passkey`: the signed challenge of the page's passkey button.
pub async fn passkey_login(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<PasskeyLoginForm>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let raw = f.authz.clone().unwrap_or_default();
    let req = match parse(&state, &headers, &raw, now).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let t = ctx.t();
    let err = |key: &str| vec![("pid".to_owned(), t.get(key).to_owned())];
    if !crate::kit::pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        return login_page(
            &state,
            &ctx,
            StatusCode::FORBIDDEN,
            &req,
            &raw,
            false,
            "",
            err("login.csrf"),
        );
    }
    if !state
        .login_limiter
        .allow(client_ip(connect.as_ref().map(|e| &e.0)))
    {
        return login_page(
            &state,
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            &req,
            &raw,
            false,
            "",
            err("login.rate_limited"),
        );
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let answer = motcua_identity::passkeys::Answer {
        ceremony_id: text(&f.ceremony_id),
        credential_id: text(&f.credential_id),
        client_data_json: text(&f.client_data_json),
        authenticator_data: text(&f.authenticator_data),
        signature: text(&f.signature),
        ..Default::default()
    };
    let rp = crate::pages::passkeys::relying_party(&state, &headers);
    let account = match motcua_identity::passkeys::finish_login(&state.db, &rp, &answer, now).await
    {
        Ok(a) => a,
        Err(IdentityError::Invalid { message, .. }) => {
            tracing::info!(reason = %message, "passkey login refused");
            return login_page(
                &state,
                &ctx,
                StatusCode::UNAUTHORIZED,
                &req,
                &raw,
                false,
                "",
                err("passkey.browser_failed"),
            );
        }
        Err(e) => return server_error(&ctx, e),
    };
    logged_in(
        &state,
        &ctx,
        &headers,
        &raw,
        &req,
        &account,
        &["hwk", "user"],
        now,
    )
    .await
}

#[derive(Template)]
#[template(path = "email_code.html")]
struct EmailCodePage {
    c: Chrome,
    errors: Vec<(String, String)>,
    login_csrf: String,
    authz: String,
    code_id: String,
    masked_email: String,
}

fn email_code_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    raw: &str,
    code_id: &str,
    masked_email: &str,
    errors: Vec<(String, String)>,
) -> Response {
    let (token, cookie) = crate::kit::pre_session_csrf(state);
    let mut resp = render(
        status,
        &EmailCodePage {
            c: Chrome::new(ctx, "email_code.title"),
            errors,
            login_csrf: token,
            authz: raw.to_owned(),
            code_id: code_id.to_owned(),
            masked_email: masked_email.to_owned(),
        },
    );
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    super::no_store(&mut resp);
    resp
}

#[derive(Deserialize)]
pub struct EmailCodeForm {
    csrf: Option<String>,
    authz: Option<String>,
    code_id: Option<String>,
    masked_email: Option<String>,
    code: Option<String>,
}

/// `POST /oidc/authorize/email-code`: the code sent by e-mail completes the login.
pub async fn email_code(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<EmailCodeForm>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let raw = f.authz.clone().unwrap_or_default();
    let req = match parse(&state, &headers, &raw, now).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let code_id = f.code_id.clone().unwrap_or_default();
    let masked = f.masked_email.clone().unwrap_or_default();
    let t = ctx.t();
    if !crate::kit::pre_session_csrf_ok(&state, &headers, f.csrf.as_deref()) {
        let errors = vec![("code".to_owned(), t.get("login.csrf").to_owned())];
        return email_code_page(
            &state,
            &ctx,
            StatusCode::FORBIDDEN,
            &raw,
            &code_id,
            &masked,
            errors,
        );
    }
    let account = match motcua_identity::login_codes::confirm(
        &state.db,
        &code_id,
        f.code.as_deref().unwrap_or(""),
        now,
    )
    .await
    {
        Ok(a) => a,
        Err(IdentityError::Invalid { field, message }) => {
            let errors = vec![(field.to_owned(), message)];
            return email_code_page(
                &state,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &raw,
                &code_id,
                &masked,
                errors,
            );
        }
        Err(e) => return server_error(&ctx, e),
    };
    logged_in(
        &state,
        &ctx,
        &headers,
        &raw,
        &req,
        &account,
        &["pwd", "otp"],
        now,
    )
    .await
}
