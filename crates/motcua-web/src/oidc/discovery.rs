//! The OpenID Connect provider's published documents: discovery (OpenID Connect Discovery
//! 1.0 §4, at `/.well-known/openid-configuration` on the server's own origin) and the JWK Set
//! of its signing keys (`/oidc/jwks`), with the keys that are about to sign and those whose
//! tokens may still be in use (`motcua_identity::signing_keys`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::issuer;
use crate::AppState;
use crate::error::Problem;

pub async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let issuer = issuer(&state, &headers);
    let document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "authorization_endpoint": format!("{issuer}/oidc/authorize"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
        "revocation_endpoint": format!("{issuer}/oidc/revoke"),
        "introspection_endpoint": format!("{issuer}/oidc/introspect"),
        "end_session_endpoint": format!("{issuer}/oidc/logout"),
        "pushed_authorization_request_endpoint": format!("{issuer}/oidc/par"),
        "scopes_supported": motcua_identity::relying_parties::CITIZEN_SCOPES
            .iter()
            .chain(motcua_identity::relying_parties::AGENCY_SCOPES)
            .collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [motcua_identity::jose::ALG],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": [motcua_identity::jose::ALG],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": ["1", "2"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "name", "family_name", "given_name", "middle_name", "gender", "pid", "birthdate",
            "address", "phone_number", "phone_number_verified", "email", "email_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "dpop_signing_alg_values_supported": [motcua_identity::jose::ALG],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "ui_locales_supported": ["vi", "en"],
    });
    cached(Json(document).into_response(), 3600)
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let now = motcua_db::clock::now_us();
    // Make the first key now rather than with the first token, so the set is never empty.
    if let Err(e) = motcua_identity::signing_keys::signing_key(&state.db, now).await {
        return Problem::from(e).into_response();
    }
    match motcua_identity::signing_keys::jwks(&state.db, now).await {
        Ok(set) => {
            let mut resp = Json(set).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            // Short: a rotation publishes its key an hour before it signs.
            cached(resp, 300)
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

fn cached(mut resp: Response, secs: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}
