//! The portal as a relying party of its own OpenID Connect provider: `/auth/login` starts an
//! authorization code flow with PKCE for the portal's registered client (its id in
//! configuration), `/auth/callback` checks `state` and `iss`, redeems the code at the token
//! logic directly (the portal is this server), and checks that the ID token names the
//! browser's single sign-on session before showing the citizen her pages.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use motcua_identity::oidc::authorize::with_query;
use motcua_identity::oidc::tokens::{self, Issuer, TokenRequest};
use motcua_identity::token::{constant_time_eq, random_token};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Ctx, citizen_session, cookie, cookie_header};
use crate::oidc::issuer;

const FLOW_COOKIE: &str = "motcua_portal_flow";
const SCOPES: &str = "openid profile pid birthdate address";

fn sha256_b64(s: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(s.as_bytes()))
}

/// `GET /auth/login`.
pub async fn login(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap) -> Response {
    let Some(client_id) = state.config.portal_client_id.clone() else {
        return super::message(
            &ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            "portal.unconfigured_title",
            "portal.unconfigured_body",
        );
    };
    let iss = issuer(&state, &headers);
    let flow_state = random_token(16);
    let verifier = random_token(32);
    let url = with_query(
        &format!("{iss}/oidc/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", &format!("{iss}/auth/callback")),
            ("scope", SCOPES),
            ("state", &flow_state),
            ("code_challenge", &sha256_b64(&verifier)),
            ("code_challenge_method", "S256"),
            ("ui_locales", ctx.lang.code()),
        ],
    );
    let mut resp = Redirect::to(&url).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(
            &state,
            FLOW_COOKIE,
            &format!("{flow_state}.{verifier}"),
            Some(600),
        ),
    );
    resp
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`.
pub async fn callback(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Response {
    let refused = |ctx: &Ctx| {
        super::message(
            ctx,
            StatusCode::BAD_REQUEST,
            "portal.failed_title",
            "portal.failed_body",
        )
    };
    let iss = issuer(&state, &headers);
    let flow = cookie(&headers, FLOW_COOKIE).unwrap_or("");
    let Some((flow_state, verifier)) = flow.split_once('.') else {
        return refused(&ctx);
    };
    let state_ok = cb
        .state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s, flow_state));
    if !state_ok || cb.iss.as_deref() != Some(iss.as_str()) || cb.error.is_some() {
        return refused(&ctx);
    }
    let (Some(code), Some(client_id)) = (cb.code, state.config.portal_client_id.clone()) else {
        return refused(&ctx);
    };
    let now = motcua_db::clock::now_us();
    let client = match state.relying_parties.get(&state.db, &client_id, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused(&ctx),
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    let at = Issuer {
        db: &state.db,
        keys: &state.keys,
        issuer: &iss,
        lifetimes: state.config.oidc,
    };
    let req = TokenRequest {
        grant_type: "authorization_code".into(),
        code: Some(code),
        redirect_uri: Some(format!("{iss}/auth/callback")),
        code_verifier: Some(verifier.to_owned()),
        ..TokenRequest::default()
    };
    let Ok(answer) = tokens::exchange(&at, &client, &req, None, now).await else {
        return refused(&ctx);
    };
    let sid = match answer.id_token.as_deref() {
        Some(t) => match state.keys.verify(&state.db, t, now).await {
            Ok(Ok(v)) if v.claims["aud"] == client_id.as_str() => {
                v.claims["sid"].as_str().map(str::to_owned)
            }
            _ => None,
        },
        None => None,
    };
    let current = match citizen_session(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return super::server_error(ctx.lang, &e.to_string()),
    };
    if current.is_none_or(|s| Some(s.sid) != sid) {
        return refused(&ctx);
    }
    let mut resp = Redirect::to(&with_query("/account", &[])).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, FLOW_COOKIE, "", Some(0)),
    );
    resp
}
