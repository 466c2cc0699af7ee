//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1) and what the
//! provider does with it once it knows who is logged in.
//!
//! Until the client and its redirect URI are known to be genuine, an error is shown to the
//! user and never sent anywhere ([`Rejection::Show`]); after that, errors go back to the
//! client's redirect URI with `state` and `iss` (RFC 9207) ([`Rejection::Redirect`]).

use std::collections::BTreeMap;

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;

use super::sessions::CitizenSession;
use super::{Lifetimes, OAuthError, OAuthErrorCode as E, par, words};
use crate::Result;
use crate::citizen_accounts::Level;
use crate::relying_parties::{self, RelyingParty};
use crate::store::oidc::{self as store, NewCode, NewGrant};
use crate::token::{random_token, sha256_hex};

/// The parameters the provider understands; others are ignored (RFC 6749 §3.1).
const KNOWN: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "response_mode",
    "request_uri",
    "request",
    "dpop_jkt",
];

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: RelyingParty,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The lowest level among the `acr_values` the provider knows, if any were asked for.
    pub acr_required: Option<Level>,
    pub prompt: Vec<String>,
    pub max_age_secs: Option<i64>,
    pub login_hint: Option<String>,
    /// The key the client will bind tokens to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// The pushed request this came from (RFC 9126), spent when the code is issued.
    pub pushed_id: Option<String>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// Shown to the user: the client or redirect URI cannot be trusted.
    Show(OAuthError),
    /// Sent back to the client.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// The query (or pushed) parameters, refusing a parameter given twice (RFC 6749 §3.1).
pub fn params_of(
    pairs: &[(String, String)],
) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v.clone()).is_some() && KNOWN.contains(&k.as_str()) {
            return Err(k.clone());
        }
    }
    Ok(map)
}

/// Checks an authorization request. A `request_uri` is resolved to its pushed request.
pub async fn check(
    db: &Db,
    params: &BTreeMap<String, String>,
    now: i64,
) -> Result<std::result::Result<AuthorizationRequest, Rejection>> {
    let show = |d: &str| Ok(Err(Rejection::Show(OAuthError::new(E::InvalidRequest, d))));
    let Some(client_id) = params.get("client_id").filter(|c| !c.is_empty()) else {
        return show("client_id is required");
    };
    let client = match relying_parties::by_id(db, client_id).await? {
        Some(c) if !c.disabled && c.has_grant("authorization_code") => c,
        Some(c) if !c.disabled => {
            return Ok(Err(Rejection::Show(OAuthError::new(
                E::UnauthorizedClient,
                "this client may not log citizens in",
            ))));
        }
        _ => return show("client_id names no registered client"),
    };
    let mut pushed_id = None;
    let owned;
    let params = match params.get("request_uri") {
        Some(uri) => match par::resolve(db, &client, uri, now).await? {
            Some((id, pushed)) => {
                pushed_id = Some(id);
                owned = pushed;
                &owned
            }
            None => {
                return Ok(Err(Rejection::Show(OAuthError::new(
                    E::InvalidRequestUri,
                    "request_uri is unknown, expired, or not this client's",
                ))));
            }
        },
        None => params,
    };
    Ok(check_with(client, params, pushed_id))
}

/// Checks the parameters of a request from `client` (pushed ones when `pushed_id` is set).
pub fn check_with(
    client: RelyingParty,
    params: &BTreeMap<String, String>,
    pushed_id: Option<String>,
) -> std::result::Result<AuthorizationRequest, Rejection> {
    let show = |d: &str| Err(Rejection::Show(OAuthError::new(E::InvalidRequest, d)));
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return show("redirect_uri is required");
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return show("redirect_uri is not registered for this client");
    }
    let state = params.get("state").cloned();
    let refuse = |code: E, d: &str| {
        Err(Rejection::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error: OAuthError::new(code, d),
        })
    };
    if client.require_par && pushed_id.is_none() {
        return refuse(
            E::InvalidRequest,
            "this client must push its authorization requests (PAR)",
        );
    }
    if params.contains_key("request") {
        return refuse(E::InvalidRequest, "request objects are not supported");
    }
    if params.get("response_type").map(String::as_str) != Some("code") {
        return refuse(E::UnsupportedResponseType, "response_type must be code");
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return refuse(E::InvalidRequest, "response_mode must be query");
    }
    let scopes = words(params.get("scope").map(String::as_str).unwrap_or(""));
    if !scopes.iter().any(|s| s == "openid") {
        return refuse(E::InvalidScope, "scope must include openid");
    }
    if let Some(s) = scopes.iter().find(|s| !client.has_scope(s)) {
        return refuse(
            E::InvalidScope,
            &format!("scope {s} is not allowed for this client"),
        );
    }
    let code_challenge = params.get("code_challenge").cloned();
    match (
        &code_challenge,
        params.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) if is_pkce_text(c) && c.len() == 43 => {}
        (Some(_), Some("S256")) => {
            return refuse(
                E::InvalidRequest,
                "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
            );
        }
        (Some(_), _) => return refuse(E::InvalidRequest, "code_challenge_method must be S256"),
        (None, Some(_)) => {
            return refuse(
                E::InvalidRequest,
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) if client.is_public() => {
            return refuse(E::InvalidRequest, "a public client must use PKCE (S256)");
        }
        (None, None) => {}
    }
    let acr_values = words(params.get("acr_values").map(String::as_str).unwrap_or(""));
    let acr_required = acr_values.iter().filter_map(|v| Level::parse(v).ok()).min();
    let prompt = words(params.get("prompt").map(String::as_str).unwrap_or(""));
    if let Some(p) = prompt
        .iter()
        .find(|p| !matches!(p.as_str(), "none" | "login" | "consent"))
    {
        return refuse(E::InvalidRequest, &format!("prompt {p} is not supported"));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return refuse(E::InvalidRequest, "prompt=none cannot be combined");
    }
    let max_age_secs = match params.get("max_age") {
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return refuse(E::InvalidRequest, "max_age must be a non-negative integer"),
        },
        None => None,
    };
    let dpop_jkt = params.get("dpop_jkt").cloned();
    if client.require_dpop && dpop_jkt.is_none() && pushed_id.is_none() {
        return refuse(
            E::InvalidRequest,
            "this client's codes must be bound to its DPoP key (dpop_jkt)",
        );
    }
    Ok(AuthorizationRequest {
        client,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state,
        nonce: params.get("nonce").filter(|n| n.len() <= 512).cloned(),
        code_challenge,
        acr_required,
        prompt,
        max_age_secs,
        login_hint: params.get("login_hint").cloned(),
        dpop_jkt,
        pushed_id,
    })
}

/// The characters of a PKCE verifier or challenge (RFC 7636 §4.1).
pub fn is_pkce_text(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// What the provider must do next with a checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask the citizen to log in; `step_up` when she is logged in, but below the level asked.
    Login { step_up: bool },
    /// Ask the citizen to agree to these scopes.
    Consent { scopes: Vec<String> },
    /// Issue the code.
    Issue,
    /// Refuse (sent back to the client).
    Refuse(OAuthError),
}

/// Decides the next step. `fresh` is true right after the citizen logged in for this request,
/// so `prompt=login` and `max_age` are satisfied.
pub async fn decide(
    db: &Db,
    req: &AuthorizationRequest,
    session: Option<&CitizenSession>,
    fresh: bool,
    consented_now: bool,
    now: i64,
) -> Result<Next> {
    let none = req.prompt.iter().any(|p| p == "none");
    let interactive = |next: Next, code: E, why: &str| {
        if none {
            Next::Refuse(OAuthError::new(code, why))
        } else {
            next
        }
    };
    let Some(session) = session else {
        return Ok(interactive(
            Next::Login { step_up: false },
            E::LoginRequired,
            "no citizen is logged in",
        ));
    };
    if let Some(required) = req.acr_required
        && session.account.level < required
    {
        if fresh || none {
            return Ok(Next::Refuse(OAuthError::new(
                E::UnmetAuthenticationRequirements,
                "the account has not reached the assurance level asked for (level 2 is raised in person at a counter)",
            )));
        }
        return Ok(Next::Login { step_up: true });
    }
    if !fresh {
        if let Some(required) = req.acr_required
            && session.acr < required
        {
            return Ok(interactive(
                Next::Login { step_up: true },
                E::LoginRequired,
                "a new login is needed for the level asked",
            ));
        }
        if req.prompt.iter().any(|p| p == "login") {
            return Ok(Next::Login { step_up: false });
        }
        if let Some(max_age) = req.max_age_secs
            && super::secs(now - session.auth_time_us) > max_age
        {
            return Ok(interactive(
                Next::Login { step_up: false },
                E::LoginRequired,
                "the login is older than max_age",
            ));
        }
    }
    if consented_now {
        return Ok(Next::Issue);
    }
    let given = store::consent(db, &session.account.id, &req.client.client_id)
        .await?
        .map(|s| words(&s))
        .unwrap_or_default();
    let missing: Vec<String> = req
        .scopes
        .iter()
        .filter(|s| !given.contains(s))
        .cloned()
        .collect();
    if !missing.is_empty() || req.prompt.iter().any(|p| p == "consent") {
        return Ok(interactive(
            Next::Consent {
                scopes: req.scopes.clone(),
            },
            E::ConsentRequired,
            "the citizen has not agreed to these scopes",
        ));
    }
    Ok(Next::Issue)
}

/// Records the citizen's agreement to the request's scopes for its client (remembered until
/// she withdraws it).
pub async fn give_consent(
    db: &Db,
    req: &AuthorizationRequest,
    session: &CitizenSession,
    now: i64,
) -> Result<()> {
    let mut scopes = store::consent(db, &session.account.id, &req.client.client_id)
        .await?
        .map(|s| words(&s))
        .unwrap_or_default();
    scopes.extend(req.scopes.iter().cloned());
    scopes.sort();
    scopes.dedup();
    let mut tx = db.begin().await?;
    store::put_consent(
        &mut tx,
        &session.account.id,
        &req.client.client_id,
        &scopes.join(" "),
        now,
    )
    .await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &session.account.id,
            event_type: "citizen_account.consent_given",
            actor: &format!("citizen:{}", session.account.id),
            reason: "consent",
            payload: json!({ "client_id": req.client.client_id, "scopes": req.scopes }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Issues a code for the request: a new grant (scopes, level, session) and its single-use
/// code. Returns the code to put in the redirect.
pub async fn issue_code(
    db: &Db,
    req: &AuthorizationRequest,
    session: &CitizenSession,
    lifetimes: Lifetimes,
    now: i64,
) -> Result<String> {
    let code = random_token(32);
    let grant_id = format!("g_{}", random_token(16));
    let offline = req.scopes.iter().any(|s| s == "offline_access");
    let grant_expiry = if offline {
        now + lifetimes.offline_us
    } else {
        session.created_at + lifetimes.session_max_us
    };
    let scopes = req.scopes.join(" ");
    let amr = session.amr.join(" ");
    let mut tx = db.begin().await?;
    store::insert_grant(
        &mut tx,
        &NewGrant {
            id: &grant_id,
            client_id: &req.client.client_id,
            account_id: &session.account.id,
            sid: &session.sid,
            scopes: &scopes,
            acr: session.acr.as_i32(),
            amr: &amr,
            auth_time: session.auth_time_us,
            dpop_jkt: req.dpop_jkt.as_deref(),
            expires_at: grant_expiry,
        },
        now,
    )
    .await?;
    store::insert_code(
        &mut tx,
        &NewCode {
            code_hash: &sha256_hex(&code),
            grant_id: &grant_id,
            redirect_uri: &req.redirect_uri,
            nonce: req.nonce.as_deref(),
            code_challenge: req.code_challenge.as_deref(),
            expires_at: now + lifetimes.code_us,
        },
        now,
    )
    .await?;
    if let Some(id) = &req.pushed_id {
        store::delete_pushed(&mut tx, id).await?;
    }
    store::delete_expired_codes(&mut tx, now - lifetimes.code_us).await?;
    tx.commit().await?;
    Ok(code)
}

/// `uri` with `params` appended to its query.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&form_encode(v));
        sep = '&';
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
