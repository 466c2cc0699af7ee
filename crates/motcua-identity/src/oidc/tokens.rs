//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; OpenID Connect Core §3.1.3),
//! revocation (RFC 7009) and introspection (RFC 7662).
//!
//! A refresh token is used once: redeeming it marks it used and issues the next of its family
//! in the same transaction. A second use of a used token means it was copied, so the whole
//! grant is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). A replayed authorization code
//! revokes its grant likewise (RFC 6749 §4.1.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::access_tokens::{self, NewAccessToken};
use super::authorize::is_pkce_text;
use super::keys::KeyRing;
use super::{Lifetimes, OAuthErrorCode as E, OAuthResult, refuse, secs, words};
use crate::citizen_accounts;
use crate::relying_parties::RelyingParty;
use crate::store::oidc::{self as store, GrantRow};
use crate::token::{random_token, sha256_hex};

/// The token endpoint's parameters.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What the token endpoint needs besides the request.
pub struct Issuer<'a> {
    pub db: &'a Db,
    pub keys: &'a KeyRing,
    pub issuer: &'a str,
    pub lifetimes: Lifetimes,
}

/// Runs a grant for the authenticated `client`; `dpop_jkt` is the key of a verified DPoP
/// proof sent with the request.
pub async fn exchange(
    at: &Issuer<'_>,
    client: &RelyingParty,
    req: &TokenRequest,
    dpop_jkt: Option<&str>,
    now: i64,
) -> OAuthResult<TokenResponse> {
    if client.require_dpop && dpop_jkt.is_none() {
        return refuse(
            E::InvalidDpopProof,
            "this client's tokens must be bound to a DPoP key",
        );
    }
    match req.grant_type.as_str() {
        "authorization_code" if client.has_grant("authorization_code") => {
            authorization_code(at, client, req, dpop_jkt, now).await
        }
        "refresh_token" if client.has_grant("refresh_token") => {
            refresh_token(at, client, req, dpop_jkt, now).await
        }
        "client_credentials" if client.has_grant("client_credentials") => {
            client_credentials(at, client, req, dpop_jkt, now).await
        }
        "authorization_code" | "refresh_token" | "client_credentials" => refuse(
            E::UnauthorizedClient,
            format!("this client may not use {}", req.grant_type),
        ),
        "" => refuse(E::InvalidRequest, "grant_type is required"),
        other => refuse(
            E::UnsupportedGrantType,
            format!("grant_type {other} is not supported"),
        ),
    }
}

async fn authorization_code(
    at: &Issuer<'_>,
    client: &RelyingParty,
    req: &TokenRequest,
    dpop_jkt: Option<&str>,
    now: i64,
) -> OAuthResult<TokenResponse> {
    let Some(code) = req.code.as_deref().filter(|c| c.len() <= 128) else {
        return refuse(E::InvalidRequest, "code is required");
    };
    let mut tx = at.db.begin().await?;
    let Some(row) = store::use_code(&mut tx, &sha256_hex(code), now).await? else {
        return refuse(E::InvalidGrant, "the code is unknown");
    };
    let Some(grant) = store::grant_in(&mut tx, &row.grant_id).await? else {
        return refuse(E::InvalidGrant, "the code is unknown");
    };
    if grant.client_id != client.client_id {
        // Not this client's code: say nothing more, and leave it unspent for its owner.
        return refuse(E::InvalidGrant, "the code was not issued to this client");
    }
    if row.used_at.is_some() {
        if store::revoke_grant(&mut tx, &grant.id, "authorization code replayed", now).await? {
            grant_event(
                &mut tx,
                &grant,
                "oidc.grant_revoked",
                "authorization code replayed",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        return refuse(
            E::InvalidGrant,
            "the code was already used; the tokens issued with it are revoked",
        );
    }
    tx.commit().await?;
    // The code is spent whatever follows: a failed exchange below must not leave it usable.
    let fail = |why: &str| refuse(E::InvalidGrant, why);
    if row.expires_at <= now {
        return fail("the code has expired");
    }
    if req.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return fail("redirect_uri is not the one the code was issued for");
    }
    match (&row.code_challenge, &req.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !(43..=128).contains(&verifier.len()) || !is_pkce_text(verifier) {
                return refuse(
                    E::InvalidRequest,
                    "code_verifier must be 43–128 unreserved characters",
                );
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if &computed != challenge {
                return fail("code_verifier does not match the code_challenge (PKCE)");
            }
        }
        (Some(_), None) => return fail("code_verifier is required (PKCE)"),
        (None, Some(_)) => {
            return fail("code_verifier given, but the request had no code_challenge");
        }
        (None, None) => {}
    }
    if grant.revoked_at.is_some() {
        return fail("the grant has been revoked");
    }
    let jkt = bind(&grant, dpop_jkt)?;
    let mut tx = at.db.begin().await?;
    let live = match jkt {
        Some(k) if grant.dpop_jkt.is_none() => store::bind_grant(&mut tx, &grant.id, k).await?,
        _ => true,
    };
    if !live {
        return fail("the grant has been revoked");
    }
    let refresh = random_token(32);
    let refresh_expiry = grant.expires_at;
    store::insert_refresh(
        &mut tx,
        &sha256_hex(&refresh),
        &grant.id,
        now,
        refresh_expiry,
    )
    .await?;
    grant_event(
        &mut tx,
        &grant,
        "oidc.tokens_issued",
        "authorization code",
        now,
    )
    .await?;
    tx.commit().await?;
    let id_token = id_token(at, &grant, row.nonce.as_deref(), now).await?;
    respond(
        at,
        client,
        &grant,
        jkt,
        Some(refresh),
        Some(id_token),
        words(&grant.scopes),
        now,
    )
    .await
}

/// The DPoP key the tokens are bound to: a grant bound at authorization needs the same key.
fn bind<'a>(grant: &'a GrantRow, proof_jkt: Option<&'a str>) -> OAuthResult<Option<&'a str>> {
    match (grant.dpop_jkt.as_deref(), proof_jkt) {
        (Some(bound), Some(p)) if bound == p => Ok(Some(bound)),
        (Some(_), _) => refuse(
            E::InvalidDpopProof,
            "the DPoP proof is not signed by the key this grant is bound to",
        ),
        (None, p) => Ok(p),
    }
}

async fn refresh_token(
    at: &Issuer<'_>,
    client: &RelyingParty,
    req: &TokenRequest,
    dpop_jkt: Option<&str>,
    now: i64,
) -> OAuthResult<TokenResponse> {
    let Some(token) = req.refresh_token.as_deref().filter(|t| t.len() <= 128) else {
        return refuse(E::InvalidRequest, "refresh_token is required");
    };
    let hash = sha256_hex(token);
    let mut tx = at.db.begin().await?;
    let Some(row) = store::use_refresh(&mut tx, &hash, now).await? else {
        return refuse(E::InvalidGrant, "the refresh token is unknown");
    };
    let Some(grant) = store::grant_in(&mut tx, &row.grant_id).await? else {
        return refuse(E::InvalidGrant, "the refresh token is unknown");
    };
    if grant.client_id != client.client_id {
        return refuse(
            E::InvalidGrant,
            "the refresh token was not issued to this client",
        );
    }
    if row.used_at.is_some() {
        if store::revoke_grant(&mut tx, &grant.id, "refresh token reused", now).await? {
            grant_event(
                &mut tx,
                &grant,
                "oidc.grant_revoked",
                "refresh token reused",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        return refuse(
            E::InvalidGrant,
            "the refresh token was already used; its grant is revoked",
        );
    }
    if grant.revoked_at.is_some() || row.expires_at <= now || grant.expires_at <= now {
        return refuse(
            E::InvalidGrant,
            "the refresh token has expired or been revoked",
        );
    }
    let jkt = bind(&grant, dpop_jkt)?;
    let scopes = match &req.scope {
        Some(s) => {
            let asked = words(s);
            let granted = words(&grant.scopes);
            if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                return refuse(E::InvalidScope, format!("scope {extra} was not granted"));
            }
            asked
        }
        None => words(&grant.scopes),
    };
    let account_open = citizen_accounts::by_id(at.db, &grant.account_id)
        .await?
        .is_some_and(|a| !a.closed);
    if !account_open {
        store::revoke_grant(&mut tx, &grant.id, "account closed", now).await?;
        tx.commit().await?;
        return refuse(E::InvalidGrant, "the account is closed");
    }
    let next = random_token(32);
    store::insert_refresh(
        &mut tx,
        &sha256_hex(&next),
        &grant.id,
        now,
        grant.expires_at,
    )
    .await?;
    tx.commit().await?;
    let id_token = if scopes.iter().any(|s| s == "openid") {
        Some(id_token(at, &grant, None, now).await?)
    } else {
        None
    };
    respond(at, client, &grant, jkt, Some(next), id_token, scopes, now).await
}

async fn client_credentials(
    at: &Issuer<'_>,
    client: &RelyingParty,
    req: &TokenRequest,
    dpop_jkt: Option<&str>,
    now: i64,
) -> OAuthResult<TokenResponse> {
    let scopes = match &req.scope {
        Some(s) => {
            let asked = words(s);
            if let Some(extra) = asked.iter().find(|s| !client.has_scope(s)) {
                return refuse(
                    E::InvalidScope,
                    format!("scope {extra} is not allowed for this client"),
                );
            }
            asked
        }
        None => client.scopes.clone(),
    };
    let token = access_tokens::issue(
        at.db,
        at.keys,
        &NewAccessToken {
            issuer: at.issuer,
            client_id: &client.client_id,
            sub: &client.client_id,
            scopes: &scopes,
            grant_id: None,
            acr: None,
            auth_time_us: None,
            jkt: dpop_jkt,
            lifetime_us: at.lifetimes.client_credentials_us,
        },
        now,
    )
    .await?;
    Ok(TokenResponse {
        access_token: token,
        token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        expires_in: secs(at.lifetimes.client_credentials_us),
        scope: scopes.join(" "),
        refresh_token: None,
        id_token: None,
    })
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    at: &Issuer<'_>,
    client: &RelyingParty,
    grant: &GrantRow,
    jkt: Option<&str>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scopes: Vec<String>,
    now: i64,
) -> OAuthResult<TokenResponse> {
    let access_token = access_tokens::issue(
        at.db,
        at.keys,
        &NewAccessToken {
            issuer: at.issuer,
            client_id: &client.client_id,
            sub: &grant.account_id,
            scopes: &scopes,
            grant_id: Some(&grant.id),
            acr: Some(grant.acr),
            auth_time_us: Some(grant.auth_time),
            jkt,
            lifetime_us: at.lifetimes.access_token_us,
        },
        now,
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: if jkt.is_some() { "DPoP" } else { "Bearer" },
        expires_in: secs(at.lifetimes.access_token_us),
        scope: scopes.join(" "),
        refresh_token,
        id_token,
    })
}

/// The ID token (OpenID Connect Core §2): who logged in, how (`acr`, `amr`), when, and in
/// which session (`sid`, for logout).
async fn id_token(
    at: &Issuer<'_>,
    grant: &GrantRow,
    nonce: Option<&str>,
    now: i64,
) -> OAuthResult<String> {
    let mut claims = json!({
        "iss": at.issuer,
        "sub": grant.account_id,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "iat": secs(now),
        "exp": secs(now + at.lifetimes.id_token_us),
        "auth_time": secs(grant.auth_time),
        "acr": grant.acr.to_string(),
        "amr": words(&grant.amr),
        "sid": grant.sid,
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    Ok(at.keys.sign(at.db, "JWT", &claims, now).await?)
}

async fn grant_event(
    tx: &mut motcua_db::Tx,
    grant: &GrantRow,
    event_type: &str,
    reason: &str,
    now: i64,
) -> crate::Result<()> {
    events::append(
        tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &grant.account_id,
            event_type,
            actor: &format!("client:{}", grant.client_id),
            reason,
            payload: json!({ "grant_id": grant.id, "client_id": grant.client_id, "scopes": grant.scopes, "acr": grant.acr }),
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

/// Revokes a refresh token (with its grant) or an access token issued to `client`
/// (RFC 7009 §2.1). Tokens that are unknown or another client's are ignored: the answer is
/// the same, so it tells nothing.
pub async fn revoke(
    at: &Issuer<'_>,
    client: &RelyingParty,
    token: &str,
    now: i64,
) -> OAuthResult<()> {
    if token.len() > 4096 {
        return Ok(());
    }
    if let Some(row) = store::refresh(at.db, &sha256_hex(token)).await? {
        let mut tx = at.db.begin().await?;
        if let Some(grant) = store::grant_in(&mut tx, &row.grant_id).await?
            && grant.client_id == client.client_id
            && store::revoke_grant(&mut tx, &grant.id, "revoked by the client", now).await?
        {
            grant_event(
                &mut tx,
                &grant,
                "oidc.grant_revoked",
                "revoked by the client",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(());
    }
    if let Some(claims) = access_tokens::verify(at.db, at.keys, at.issuer, token, now).await?
        && claims.client_id == client.client_id
    {
        access_tokens::revoke(at.db, &claims).await?;
    }
    Ok(())
}

/// Introspects a token issued to `client` (RFC 7662 §2.2): `{"active": false}` for anything
/// else.
pub async fn introspect(
    at: &Issuer<'_>,
    client: &RelyingParty,
    token: &str,
    now: i64,
) -> OAuthResult<Value> {
    let inactive = json!({ "active": false });
    if token.len() > 4096 {
        return Ok(inactive);
    }
    if let Some(claims) = access_tokens::verify(at.db, at.keys, at.issuer, token, now).await? {
        if claims.client_id != client.client_id {
            return Ok(inactive);
        }
        let mut answer = json!({
            "active": true,
            "token_type": if claims.jkt.is_some() { "DPoP" } else { "Bearer" },
            "scope": claims.scopes.join(" "),
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": at.issuer,
            "iss": at.issuer,
            "iat": claims.iat,
            "exp": claims.exp,
            "jti": claims.jti,
        });
        if let Some(acr) = claims.acr {
            answer["acr"] = json!(acr);
        }
        if let Some(jkt) = claims.jkt {
            answer["cnf"] = json!({ "jkt": jkt });
        }
        return Ok(answer);
    }
    let Some(row) = store::refresh(at.db, &sha256_hex(token)).await? else {
        return Ok(inactive);
    };
    let Some(grant) = store::grant(at.db, &row.grant_id).await? else {
        return Ok(inactive);
    };
    let live = row.used_at.is_none()
        && row.expires_at > now
        && grant.revoked_at.is_none()
        && grant.client_id == client.client_id;
    if !live {
        return Ok(inactive);
    }
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": grant.scopes,
        "client_id": grant.client_id,
        "sub": grant.account_id,
        "iss": at.issuer,
        "iat": secs(grant.created_at),
        "exp": secs(row.expires_at),
    }))
}
