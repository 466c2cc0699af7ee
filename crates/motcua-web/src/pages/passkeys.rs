//! Passkey pages (`motcua_identity::passkeys`): a logged-in citizen adds or removes one on her
//! account page; the provider's login page logs her in with one. The browser part is
//! `static/passkeys.js`, which fills a plain form and submits it, so each ceremony ends in an
//! ordinary POST with its CSRF token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use motcua_identity::IdentityError;
use motcua_identity::passkeys::{self, Answer, Ceremony, RelyingParty};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::kit::{CitizenForm, NoFields};
use crate::oidc::issuer;

/// The provider as a WebAuthn relying party: its origin and host.
pub fn relying_party(state: &AppState, headers: &HeaderMap) -> RelyingParty {
    RelyingParty::of_issuer(&issuer(state, headers), "motcua")
}

pub fn ceremony_json(c: Ceremony) -> Response {
    let mut resp = Json(json!({ "ceremony_id": c.id, "publicKey": c.options })).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// `POST /account/passkeys/options`.
pub async fn registration_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    f: CitizenForm<NoFields>,
) -> Response {
    let rp = relying_party(&state, &headers);
    let now = motcua_db::clock::now_us();
    match passkeys::start_registration(&state.db, &rp, &f.session.account, now).await {
        Ok(c) => ceremony_json(c),
        Err(e) => super::server_error(f.ctx.lang, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct RegistrationForm {
    ceremony_id: Option<String>,
    credential_id: Option<String>,
    client_data_json: Option<String>,
    attestation_object: Option<String>,
}

/// `POST /account/passkeys`.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    f: CitizenForm<RegistrationForm>,
) -> Response {
    let rp = relying_party(&state, &headers);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let answer = Answer {
        ceremony_id: text(&f.form.ceremony_id),
        credential_id: text(&f.form.credential_id),
        client_data_json: text(&f.form.client_data_json),
        attestation_object: text(&f.form.attestation_object),
        ..Answer::default()
    };
    let now = motcua_db::clock::now_us();
    match passkeys::finish_registration(&state.db, &rp, &f.session.account, &answer, now).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(IdentityError::Invalid { message, .. }) => {
            let mut resp = super::message(
                &f.ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                "passkey.failed_title",
                "passkey.failed_body",
            );
            tracing::info!(reason = %message, "passkey registration refused");
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => super::server_error(f.ctx.lang, &e.to_string()),
    }
}

/// `POST /account/passkeys/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CitizenForm<NoFields>,
) -> Response {
    let now = motcua_db::clock::now_us();
    match passkeys::remove(&state.db, &f.session.account.id, &id, now).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(e) => super::server_error(f.ctx.lang, &e.to_string()),
    }
}
