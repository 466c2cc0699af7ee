//! Who is calling: the page context (language, staff session) and API-client authentication.
//! API clients authenticate in one place ([`ApiClientAuth`]), so bearer tokens can be added
//! beside HTTP Basic without touching the handlers.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use motcua_identity::clients::ApiClient;
use motcua_identity::sessions::{self, Session};
use motcua_identity::staff::Role;

use crate::AppState;
use crate::error::Problem;
use crate::i18n::{Lang, Messages};

const SESSION_COOKIE: &str = "motcua_session";
const LOGIN_CSRF_COOKIE: &str = "motcua_login_csrf";

/// With secure cookies the names carry the `__Host-` prefix: a browser then keeps them only if
/// set `Secure`, with `Path=/` and no `Domain`, so neither a sibling subdomain nor a plain-HTTP
/// answer can plant or overwrite them (RFC 6265bis, cookie name prefixes).
const HOST_SESSION_COOKIE: &str = "__Host-motcua_session";
const HOST_LOGIN_CSRF_COOKIE: &str = "__Host-motcua_login_csrf";

/// The name of the staff session cookie under `config`.
pub fn session_cookie(config: &crate::WebConfig) -> &'static str {
    if config.secure_cookies {
        HOST_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The name of the sign-in form's CSRF cookie under `config`.
pub fn login_csrf_cookie(config: &crate::WebConfig) -> &'static str {
    if config.secure_cookies {
        HOST_LOGIN_CSRF_COOKIE
    } else {
        LOGIN_CSRF_COOKIE
    }
}

const CITIZEN_COOKIE: &str = "motcua_citizen";
const HOST_CITIZEN_COOKIE: &str = "__Host-motcua_citizen";

/// The name of the citizen's single sign-on cookie under `config`.
pub fn citizen_cookie(config: &crate::WebConfig) -> &'static str {
    if config.secure_cookies {
        HOST_CITIZEN_COOKIE
    } else {
        CITIZEN_COOKIE
    }
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` with secure cookies;
/// `max_age` `Some(0)` deletes it.
pub fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> axum::http::HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.secure_cookies {
        c.push_str("; Secure");
    }
    axum::http::HeaderValue::from_str(&c)
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static(""))
}

/// The citizen logged in at the provider in this browser, if any.
pub async fn citizen_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<motcua_identity::oidc::sessions::CitizenSession>, motcua_identity::IdentityError>
{
    match cookie(headers, citizen_cookie(&state.config)) {
        Some(token) => {
            motcua_identity::oidc::sessions::get(
                &state.db,
                token,
                state.config.oidc,
                motcua_db::clock::now_us(),
            )
            .await
        }
        None => Ok(None),
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Everything a page needs to know about the request.
#[derive(Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub session: Option<Session>,
    /// Path and query, for the language switch and login redirects.
    pub path: String,
    pub query: Option<String>,
    pub request_id: Option<String>,
}

impl Ctx {
    pub fn t(&self) -> &'static Messages {
        self.lang.messages()
    }

    /// The current URL with `lang` switched to the other language, as a query-only relative
    /// reference (`?…&lang=xx`): the browser keeps the current path, so no path — such as
    /// `//evil.example/x`, which would read as another host — can make it leave the site.
    pub fn switch_href(&self) -> String {
        let mut params: Vec<String> = self
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
            .map(str::to_owned)
            .collect();
        params.push(format!("lang={}", self.lang.other().code()));
        format!("?{}", params.join("&"))
    }

    pub fn csrf(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.csrf_token.as_str())
            .unwrap_or("")
    }

    pub fn is_admin(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.user.role == Role::Admin)
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().map(str::to_owned);
        let lang = Lang::of_request(&parts.uri, &parts.headers);
        let session = match cookie(&parts.headers, session_cookie(&state.config)) {
            Some(token) => sessions::get(&state.db, token, motcua_db::clock::now_us())
                .await
                .map_err(|e| crate::pages::server_error(lang, &e.to_string()))?,
            None => None,
        };
        Ok(Ctx {
            lang,
            session,
            path: parts.uri.path().to_owned(),
            query,
            request_id: parts
                .headers
                .get(crate::middleware::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// A page context with a logged-in staff member; anonymous visitors are sent to the login page.
pub struct Staff(pub Ctx, pub Session);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        match ctx.session.clone() {
            Some(s) => Ok(Staff(ctx, s)),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// An authenticated agency API client: HTTP Basic `client_id:client_secret` (an API client of
/// the foundation), or a bearer access token the OpenID Connect provider issued to an agency
/// system by `client_credentials` (the same scopes). A citizen's token is not an agency's and
/// is refused here.
pub struct ApiClientAuth(pub ApiClient);

impl FromRequestParts<AppState> for ApiClientAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = || Problem::unauthorized().into_response();
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        if let Some(token) = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
        {
            return bearer_client(state, &parts.headers, token.trim())
                .await?
                .map(ApiClientAuth)
                .ok_or_else(unauthorized);
        }
        let encoded = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))
            .ok_or_else(unauthorized)?;
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| unauthorized())?;
        let decoded = String::from_utf8(decoded).map_err(|_| unauthorized())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
        match state.clients.authenticate(&state.db, id, secret).await {
            Ok(Ok(client)) => Ok(ApiClientAuth(client)),
            Ok(Err(_)) => Err(unauthorized()),
            Err(e) => Err(Problem::from(e).into_response()),
        }
    }
}

/// The agency system holding a live `client_credentials` bearer token, if it is one. A token
/// bound to a DPoP key is not a bearer token and is refused here.
async fn bearer_client(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<Option<ApiClient>, Response> {
    let now = motcua_db::clock::now_us();
    let issuer = crate::oidc::issuer(state, headers);
    let claims =
        motcua_identity::oidc::access_tokens::verify(&state.db, &state.keys, &issuer, token, now)
            .await
            .map_err(|e| Problem::from(e).into_response())?;
    let Some(claims) = claims.filter(|c| c.grant_id.is_none() && c.jkt.is_none()) else {
        return Ok(None);
    };
    let client = state
        .relying_parties
        .get(&state.db, &claims.client_id, now)
        .await
        .map_err(|e| Problem::from(e).into_response())?;
    Ok(client
        .filter(|c| !c.disabled && c.has_grant("client_credentials"))
        .map(|c| ApiClient {
            id: c.client_id.clone(),
            name: c.name.clone(),
            scopes: claims.scopes,
            created_at: c.created_at,
            disabled: false,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(path: &str, query: Option<&str>) -> Ctx {
        Ctx {
            lang: Lang::Vi,
            session: None,
            path: path.to_owned(),
            query: query.map(str::to_owned),
            request_id: None,
        }
    }

    #[test]
    fn switch_href_keeps_the_query_and_replaces_lang() {
        let c = ctx("/registry/search", Some("q=nguyen&lang=vi&page=2"));
        assert_eq!(c.switch_href(), "?q=nguyen&page=2&lang=en");
        assert_eq!(ctx("/login", None).switch_href(), "?lang=en");
    }

    #[test]
    fn switch_href_never_leaves_the_site() {
        for path in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "///x",
        ] {
            let href = ctx(path, Some("a=1")).switch_href();
            assert!(href.starts_with('?'), "{path} gives {href}");
            assert!(!href.contains("evil"), "{path} gives {href}");
        }
    }

    #[test]
    fn secure_cookies_use_host_prefixed_names() {
        let mut config = crate::WebConfig::default();
        assert_eq!(session_cookie(&config), "motcua_session");
        assert_eq!(login_csrf_cookie(&config), "motcua_login_csrf");
        config.secure_cookies = true;
        assert_eq!(session_cookie(&config), "__Host-motcua_session");
        assert_eq!(login_csrf_cookie(&config), "__Host-motcua_login_csrf");
    }
}
