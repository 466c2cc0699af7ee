//! The back-channel endpoints: token (RFC 6749 §3.2), pushed authorization requests
//! (RFC 9126), revocation (RFC 7009) and introspection (RFC 7662). Each authenticates the
//! client first, in one place ([`authenticated`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use motcua_identity::oidc::client_auth::Presented;
use motcua_identity::oidc::tokens::{self, Issuer, TokenRequest};
use motcua_identity::oidc::{OAuthErrorCode, OAuthFailure, OAuthResult, dpop, par, refuse};
use motcua_identity::relying_parties::RelyingParty;
use serde_json::json;

use super::{basic_credentials, failure_response, issuer, no_store};
use crate::AppState;

/// A form body as a map; a parameter sent twice is refused (RFC 6749 §3.2).
fn form(body: &str) -> OAuthResult<BTreeMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).map_err(|_| {
        OAuthFailure::Protocol(motcua_identity::oidc::OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ))
    })?;
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if map.contains_key(&k) {
            return refuse(
                OAuthErrorCode::InvalidRequest,
                format!("{k} is given twice"),
            );
        }
        map.insert(k, v);
    }
    Ok(map)
}

/// The client of a back-channel request to `endpoint` (a path under the issuer).
async fn authenticated(
    state: &AppState,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
    endpoint: &str,
) -> OAuthResult<Arc<RelyingParty>> {
    let iss = issuer(state, headers);
    let url = format!("{iss}{endpoint}");
    let token_url = format!("{iss}/oidc/token");
    let presented = Presented {
        basic: basic_credentials(headers),
        client_id: params.get("client_id").cloned(),
        assertion_type: params.get("client_assertion_type").cloned(),
        assertion: params.get("client_assertion").cloned(),
    };
    if presented.basic.is_none()
        && headers.contains_key(axum::http::header::AUTHORIZATION)
        && presented.assertion.is_none()
    {
        return refuse(
            OAuthErrorCode::InvalidClient,
            "the Authorization header is not usable HTTP Basic",
        );
    }
    state
        .relying_parties
        .authenticate(
            &state.db,
            &presented,
            &[iss.as_str(), url.as_str(), token_url.as_str()],
            motcua_db::clock::now_us(),
        )
        .await
}

fn json_ok(value: serde_json::Value) -> Response {
    let mut resp = (StatusCode::OK, Json(value)).into_response();
    no_store(&mut resp);
    resp
}

/// `POST /oidc/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    match token_inner(&state, &headers, &body).await {
        Ok(resp) => resp,
        Err(f) => failure_response(f),
    }
}

async fn token_inner(state: &AppState, headers: &HeaderMap, body: &str) -> OAuthResult<Response> {
    let params = form(body)?;
    let client = authenticated(state, headers, &params, "/oidc/token").await?;
    let now = motcua_db::clock::now_us();
    let iss = issuer(state, headers);
    let jkt = match dpop_header(headers)? {
        Some(proof) => Some(
            dpop::verify_proof(
                &state.db,
                proof,
                "POST",
                &format!("{iss}/oidc/token"),
                None,
                now,
            )
            .await?,
        ),
        None => None,
    };
    let req = TokenRequest {
        grant_type: params.get("grant_type").cloned().unwrap_or_default(),
        code: params.get("code").cloned(),
        redirect_uri: params.get("redirect_uri").cloned(),
        code_verifier: params.get("code_verifier").cloned(),
        refresh_token: params.get("refresh_token").cloned(),
        scope: params.get("scope").cloned(),
    };
    let at = Issuer {
        db: &state.db,
        keys: &state.keys,
        issuer: &iss,
        lifetimes: state.config.oidc,
    };
    let answer = tokens::exchange(&at, &client, &req, jkt.as_deref(), now).await?;
    let value = serde_json::to_value(&answer)
        .map_err(|e| motcua_identity::IdentityError::Internal(e.to_string()))?;
    Ok(json_ok(value))
}

/// The `DPoP` header's proof, if one was sent (once at most).
pub fn dpop_header(headers: &HeaderMap) -> OAuthResult<Option<&str>> {
    let mut all = headers.get_all("dpop").iter();
    let first = all.next();
    if all.next().is_some() {
        return refuse(OAuthErrorCode::InvalidDpopProof, "send one DPoP header");
    }
    match first {
        Some(v) => match v.to_str() {
            Ok(s) => Ok(Some(s)),
            Err(_) => refuse(
                OAuthErrorCode::InvalidDpopProof,
                "the DPoP header is not text",
            ),
        },
        None => Ok(None),
    }
}

/// `POST /oidc/par` (RFC 9126 §2).
pub async fn par(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let inner = async {
        let mut params = form(&body)?;
        let client = authenticated(&state, &headers, &params, "/oidc/par").await?;
        for k in ["client_assertion", "client_assertion_type"] {
            params.remove(k);
        }
        let now = motcua_db::clock::now_us();
        if let Some(proof) = dpop_header(&headers)? {
            let iss = issuer(&state, &headers);
            let jkt = dpop::verify_proof(
                &state.db,
                proof,
                "POST",
                &format!("{iss}/oidc/par"),
                None,
                now,
            )
            .await?;
            match params.get("dpop_jkt") {
                Some(given) if given != &jkt => {
                    return refuse(
                        OAuthErrorCode::InvalidDpopProof,
                        "dpop_jkt is not the proof's key",
                    );
                }
                _ => {
                    params.insert("dpop_jkt".into(), jkt);
                }
            }
        }
        let (uri, expires_in) =
            par::push(&state.db, &client, params, state.config.oidc, now).await?;
        let mut resp = (
            StatusCode::CREATED,
            Json(json!({ "request_uri": uri, "expires_in": expires_in })),
        )
            .into_response();
        no_store(&mut resp);
        Ok::<Response, OAuthFailure>(resp)
    };
    inner.await.unwrap_or_else(failure_response)
}

/// `POST /oidc/revoke` (RFC 7009 §2): 200 whether or not the token was known.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let inner = async {
        let params = form(&body)?;
        let client = authenticated(&state, &headers, &params, "/oidc/revoke").await?;
        let Some(token) = params.get("token") else {
            return refuse(OAuthErrorCode::InvalidRequest, "token is required");
        };
        let iss = issuer(&state, &headers);
        let at = Issuer {
            db: &state.db,
            keys: &state.keys,
            issuer: &iss,
            lifetimes: state.config.oidc,
        };
        tokens::revoke(&at, &client, token, motcua_db::clock::now_us()).await?;
        Ok::<Response, OAuthFailure>(json_ok(json!({})))
    };
    inner.await.unwrap_or_else(failure_response)
}

/// `POST /oidc/introspect` (RFC 7662 §2): only confidential clients may ask.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let inner = async {
        let params = form(&body)?;
        let client = authenticated(&state, &headers, &params, "/oidc/introspect").await?;
        if client.is_public() {
            return refuse(
                OAuthErrorCode::InvalidClient,
                "a public client may not introspect",
            );
        }
        let Some(token) = params.get("token") else {
            return refuse(OAuthErrorCode::InvalidRequest, "token is required");
        };
        let iss = issuer(&state, &headers);
        let at = Issuer {
            db: &state.db,
            keys: &state.keys,
            issuer: &iss,
            lifetimes: state.config.oidc,
        };
        let answer = tokens::introspect(&at, &client, token, motcua_db::clock::now_us()).await?;
        Ok::<Response, OAuthFailure>(json_ok(answer))
    };
    inner.await.unwrap_or_else(failure_response)
}
