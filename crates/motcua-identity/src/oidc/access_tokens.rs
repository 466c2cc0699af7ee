//! Access tokens: JWTs signed by the provider (RFC 9068 profile, `typ` `at+jwt`), so that a
//! resource server, the registry APIs among them, verifies them without a database round trip
//! for the signature. What can end a token early is checked after: its grant (a citizen's
//! token: logout, consent withdrawal, refresh-token reuse) or its own revocation by `jti`.

use motcua_db::Db;
use serde_json::{Value, json};

use super::keys::KeyRing;
use super::{secs, words};
use crate::Result;
use crate::store::oidc as store;
use crate::token::random_token;

pub const TYP: &str = "at+jwt";

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub jti: String,
    pub client_id: String,
    /// The account (a citizen's token) or the client itself (`client_credentials`).
    pub sub: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// The grant of a citizen's token; `None` for `client_credentials`.
    pub grant_id: Option<String>,
    pub acr: Option<String>,
    /// The DPoP key the token is bound to (RFC 9449 §6).
    pub jkt: Option<String>,
}

impl AccessClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What to put in a new access token.
pub struct NewAccessToken<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub sub: &'a str,
    pub scopes: &'a [String],
    pub grant_id: Option<&'a str>,
    pub acr: Option<i32>,
    pub auth_time_us: Option<i64>,
    pub jkt: Option<&'a str>,
    pub lifetime_us: i64,
}

/// Signs a new access token.
pub async fn issue(db: &Db, keys: &KeyRing, t: &NewAccessToken<'_>, now: i64) -> Result<String> {
    let mut claims = json!({
        "iss": t.issuer,
        "sub": t.sub,
        "aud": t.issuer,
        "client_id": t.client_id,
        "scope": t.scopes.join(" "),
        "iat": secs(now),
        "exp": secs(now + t.lifetime_us),
        "jti": random_token(16),
    });
    if let Some(g) = t.grant_id {
        claims["gid"] = json!(g);
    }
    if let Some(acr) = t.acr {
        claims["acr"] = json!(acr.to_string());
    }
    if let Some(at) = t.auth_time_us {
        claims["auth_time"] = json!(secs(at));
    }
    if let Some(jkt) = t.jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    keys.sign(db, TYP, &claims, now).await
}

/// The claims of a live access token this provider issued, or `None`: bad signature, another
/// issuer, expired, revoked, or its grant ended.
pub async fn verify(
    db: &Db,
    keys: &KeyRing,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<Option<AccessClaims>> {
    if token.len() > 4096 {
        return Ok(None);
    }
    let Ok(v) = keys.verify(db, token, now).await? else {
        return Ok(None);
    };
    if v.header["typ"] != TYP {
        return Ok(None);
    }
    let Some(claims) = parse(&v.claims) else {
        return Ok(None);
    };
    if v.claims["iss"] != issuer || claims.exp <= secs(now) {
        return Ok(None);
    }
    if !live(db, &claims, now).await? {
        return Ok(None);
    }
    Ok(Some(claims))
}

fn parse(c: &Value) -> Option<AccessClaims> {
    Some(AccessClaims {
        jti: c["jti"].as_str()?.to_owned(),
        client_id: c["client_id"].as_str()?.to_owned(),
        sub: c["sub"].as_str()?.to_owned(),
        scopes: words(c["scope"].as_str().unwrap_or("")),
        iat: c["iat"].as_i64()?,
        exp: c["exp"].as_i64()?,
        grant_id: c["gid"].as_str().map(str::to_owned),
        acr: c["acr"].as_str().map(str::to_owned),
        jkt: c["cnf"]["jkt"].as_str().map(str::to_owned),
    })
}

async fn live(db: &Db, claims: &AccessClaims, now: i64) -> Result<bool> {
    if store::jti_revoked(db, &claims.jti).await? {
        return Ok(false);
    }
    match &claims.grant_id {
        Some(gid) => Ok(store::grant(db, gid)
            .await?
            .is_some_and(|g| g.revoked_at.is_none() && g.expires_at > now)),
        None => Ok(true),
    }
}

/// Revokes one access token until it would have expired anyway.
pub async fn revoke(db: &Db, claims: &AccessClaims) -> Result<()> {
    store::revoke_jti(db, &claims.jti, claims.exp.saturating_mul(1_000_000)).await
}
