//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). With a valid `id_token_hint`
//! the relying party has shown which session it means, so that session ends at once; without
//! one, the citizen is asked to confirm (a form with her session's CSRF token), so that a link
//! on another site cannot log her out. Either way the grants of the session end, and the
//! other relying parties of the session are told by back-channel logout.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::oidc::authorize::with_query;
use motcua_identity::oidc::sessions;
use motcua_identity::token::constant_time_eq;
use serde::Deserialize;

use super::issuer;
use crate::AppState;
use crate::auth::{Ctx, citizen_cookie, citizen_session, cookie, cookie_header};
use crate::pages::{Chrome, render};

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage {
    c: Chrome,
    csrf: String,
    post_logout_redirect_uri: String,
    client_id: String,
    state: String,
}

#[derive(Deserialize, Default)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    client_id: Option<String>,
    state: Option<String>,
    csrf: Option<String>,
}

/// Where to send the browser afterwards: the URI, when the client registered it.
async fn destination(
    state: &AppState,
    p: &LogoutParams,
    hinted_client: Option<&str>,
) -> Option<String> {
    let uri = p
        .post_logout_redirect_uri
        .as_deref()
        .filter(|u| !u.is_empty())?;
    let client_id = hinted_client.or(p.client_id.as_deref())?;
    let client = state
        .relying_parties
        .get(&state.db, client_id, motcua_db::clock::now_us())
        .await
        .ok()
        .flatten()?;
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return None;
    }
    let mut params = Vec::new();
    if let Some(s) = p.state.as_deref().filter(|s| !s.is_empty()) {
        params.push(("state", s));
    }
    Some(with_query(uri, &params))
}

/// `GET /oidc/logout`.
pub async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Query(p): Query<LogoutParams>,
) -> Response {
    let now = motcua_db::clock::now_us();
    if let Some(hint) = &p.id_token_hint {
        let iss = issuer(&state, &headers);
        let verified = match state.keys.verify(&state.db, hint, now).await {
            Ok(v) => v.ok().filter(|v| v.claims["iss"] == iss.as_str()),
            Err(e) => return crate::pages::server_error(ctx.lang, &e.to_string()),
        };
        let Some(v) = verified else {
            return crate::pages::message(
                &ctx,
                StatusCode::BAD_REQUEST,
                "oidc.error_title",
                "oidc.error_body",
            );
        };
        let (Some(sub), Some(sid), Some(aud)) = (
            v.claims["sub"].as_str(),
            v.claims["sid"].as_str(),
            v.claims["aud"].as_str(),
        ) else {
            return crate::pages::message(
                &ctx,
                StatusCode::BAD_REQUEST,
                "oidc.error_title",
                "oidc.error_body",
            );
        };
        if p.client_id.as_deref().is_some_and(|c| c != aud) {
            return crate::pages::message(
                &ctx,
                StatusCode::BAD_REQUEST,
                "oidc.error_title",
                "oidc.error_body",
            );
        }
        if let Err(e) = sessions::end_by_sid(
            &state.db,
            sub,
            sid,
            "logout requested by a relying party",
            now,
        )
        .await
        {
            return crate::pages::server_error(ctx.lang, &e.to_string());
        }
        let ours = match citizen_session(&state, &headers).await {
            Ok(s) => s.is_none_or(|s| s.sid == sid),
            Err(_) => true,
        };
        let to = destination(&state, &p, Some(aud)).await;
        return finish(&state, &ctx, to, ours).await;
    }
    match citizen_session(&state, &headers).await {
        Ok(Some(session)) => render(
            StatusCode::OK,
            &ConfirmPage {
                c: Chrome::new(&ctx, "oidc.logout_title"),
                csrf: session.csrf_token,
                post_logout_redirect_uri: p.post_logout_redirect_uri.clone().unwrap_or_default(),
                client_id: p.client_id.clone().unwrap_or_default(),
                state: p.state.clone().unwrap_or_default(),
            },
        ),
        Ok(None) => {
            let to = destination(&state, &p, None).await;
            finish(&state, &ctx, to, false).await
        }
        Err(e) => crate::pages::server_error(ctx.lang, &e.to_string()),
    }
}

/// `POST /oidc/logout`: the citizen confirmed.
pub async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(p): Form<LogoutParams>,
) -> Response {
    let now = motcua_db::clock::now_us();
    let session = match citizen_session(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return crate::pages::server_error(ctx.lang, &e.to_string()),
    };
    let Some(session) = session else {
        let to = destination(&state, &p, None).await;
        return finish(&state, &ctx, to, true).await;
    };
    if !constant_time_eq(&session.csrf_token, p.csrf.as_deref().unwrap_or("")) {
        return crate::pages::message(&ctx, StatusCode::FORBIDDEN, "error.forbidden", "error.csrf");
    }
    let token = cookie(&headers, citizen_cookie(&state.config)).unwrap_or("");
    if let Err(e) = sessions::end(&state.db, token, &session.account.id, now).await {
        return crate::pages::server_error(ctx.lang, &e.to_string());
    }
    let to = destination(&state, &p, None).await;
    finish(&state, &ctx, to, true).await
}

/// The answer once the session ended (its grants' back-channel notices were queued with
/// their revocation): the client's post-logout URI, or the logged-out page.
async fn finish(state: &AppState, ctx: &Ctx, to: Option<String>, clear: bool) -> Response {
    let mut resp = match to {
        Some(uri) => Redirect::to(&uri).into_response(),
        None => crate::pages::message(ctx, StatusCode::OK, "oidc.logout_title", "oidc.logged_out"),
    };
    if clear {
        resp.headers_mut().append(
            header::SET_COOKIE,
            cookie_header(state, citizen_cookie(&state.config), "", Some(0)),
        );
    }
    resp
}
