//! The OpenID Connect provider over HTTP: discovery and JWKS ([`discovery`]), the
//! authorization endpoint with the citizen's login and consent pages ([`authorize`]), the
//! back-channel endpoints (token, PAR, revocation, introspection: [`token`]), userinfo
//! ([`userinfo`]) and logout ([`logout`]). The rules live in `motcua_identity::oidc`; these
//! handlers parse, call, and answer in the protocol's formats.

pub mod authorize;
pub mod discovery;
pub mod logout;
pub mod token;
pub mod userinfo;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use motcua_identity::oidc::{OAuthError, OAuthErrorCode, OAuthFailure};
use serde_json::json;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/oidc/jwks", get(discovery::jwks))
        .route(
            "/oidc/authorize",
            get(authorize::start).post(authorize::start_post),
        )
        .route("/oidc/authorize/login", post(authorize::login))
        .route("/oidc/authorize/consent", post(authorize::consent))
        .route("/oidc/authorize/passkey", post(authorize::passkey_login))
        .route("/oidc/authorize/email-code", post(authorize::email_code))
        .route(
            "/oidc/authorize/passkey/options",
            post(authorize::passkey_options),
        )
        .route("/oidc/token", post(token::token))
        .route("/oidc/par", post(token::par))
        .route("/oidc/revoke", post(token::revoke))
        .route("/oidc/introspect", post(token::introspect))
        .route(
            "/oidc/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oidc/logout", get(logout::start).post(logout::confirm))
}

/// The issuer: the configured public URL, else this request's own origin (development).
pub fn issuer(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A back-channel error answer (RFC 6749 §5.2): JSON `error` and `error_description`, never
/// cached; `invalid_client` with the authentication scheme challenged (§5.2 requires
/// `WWW-Authenticate` when the client tried HTTP Basic).
pub fn error_response(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (
        status,
        axum::Json(json!({ "error": e.code.as_str(), "error_description": e.description })),
    )
        .into_response();
    no_store(&mut resp);
    if e.code == OAuthErrorCode::InvalidClient {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"motcua\""),
        );
    }
    resp
}

/// The answer to a failure: the protocol's error, or a server error logged here.
pub fn failure_response(f: OAuthFailure) -> Response {
    match f {
        OAuthFailure::Protocol(e) => error_response(&e),
        OAuthFailure::Server(e) => {
            tracing::error!(error = %e, "OpenID Connect endpoint failed");
            error_response(&OAuthError::new(
                OAuthErrorCode::ServerError,
                "the server could not complete the request",
            ))
        }
    }
}

pub fn no_store(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `Authorization: Basic` credentials, form-decoded (RFC 6749 §2.3.1 encodes both parts).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` value.
pub fn form_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}
