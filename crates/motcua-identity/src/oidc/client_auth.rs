//! Client authentication at the token, revocation, introspection and PAR endpoints:
//! `client_secret_basic` (RFC 6749 §2.3.1), `private_key_jwt` (OpenID Connect Core §9,
//! RFC 7523 §3) and, for public clients, their `client_id` alone.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use motcua_db::Db;
use serde_json::Value;

use super::{OAuthErrorCode as E, OAuthResult, refuse, secs};
use crate::jose;
use crate::relying_parties::{self, AuthMethod, RelyingParty};
use crate::store::oidc as store;
use crate::token::{constant_time_eq, sha256_hex};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A client assertion valid longer than this is refused: it would be a long-lived password.
const MAX_ASSERTION_LIFE_SECS: i64 = 600;

/// The credentials a request carries.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    /// From `Authorization: Basic`, already form-decoded.
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

/// Registered clients, kept a few seconds per node so the token endpoint does not read
/// `oidc_clients` on every call; disabling a client takes effect within [`CACHE_TTL_US`].
#[derive(Clone, Default)]
pub struct ClientDirectory {
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

/// When a client's row was read, and the client.
type Cached = (i64, Arc<RelyingParty>);

pub const CACHE_TTL_US: i64 = 10 * 1_000_000;

impl ClientDirectory {
    pub async fn get(
        &self,
        db: &Db,
        client_id: &str,
        now: i64,
    ) -> crate::Result<Option<Arc<RelyingParty>>> {
        if client_id.len() > 64 {
            return Ok(None);
        }
        let cached = self.entries.read().ok().and_then(|m| {
            m.get(client_id)
                .filter(|(at, _)| now - at < CACHE_TTL_US && now >= *at)
                .map(|(_, c)| Arc::clone(c))
        });
        if let Some(c) = cached {
            return Ok(Some(c));
        }
        let Some(client) = relying_parties::by_id(db, client_id).await? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        if let Ok(mut m) = self.entries.write() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(client_id.to_owned(), (now, Arc::clone(&client)));
        }
        Ok(Some(client))
    }

    /// Authenticates the client of a back-channel request. `audiences` are the URLs a client
    /// assertion may name as its audience (the issuer and the endpoint called).
    pub async fn authenticate(
        &self,
        db: &Db,
        presented: &Presented,
        audiences: &[&str],
        now: i64,
    ) -> OAuthResult<Arc<RelyingParty>> {
        let bad = |why: &str| refuse(E::InvalidClient, why);
        let methods =
            usize::from(presented.basic.is_some()) + usize::from(presented.assertion.is_some());
        if methods > 1 {
            return bad("use one client authentication method");
        }
        if let Some((id, secret)) = &presented.basic {
            if presented.client_id.as_ref().is_some_and(|c| c != id) {
                return bad("client_id differs from the authenticated client");
            }
            let Some(client) = self.get(db, id, now).await? else {
                return bad("unknown client or wrong secret");
            };
            let ok = client.auth_method == AuthMethod::ClientSecretBasic.as_str()
                && client
                    .secret_hash
                    .as_deref()
                    .is_some_and(|h| constant_time_eq(&sha256_hex(secret), h));
            if !ok || client.disabled {
                return bad("unknown client or wrong secret");
            }
            return Ok(client);
        }
        if let Some(assertion) = &presented.assertion {
            if presented.assertion_type.as_deref() != Some(ASSERTION_TYPE) {
                return bad(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                );
            }
            return self
                .by_assertion(
                    db,
                    assertion,
                    presented.client_id.as_deref(),
                    audiences,
                    now,
                )
                .await;
        }
        let Some(id) = &presented.client_id else {
            return bad("client authentication is required");
        };
        match self.get(db, id, now).await? {
            Some(c) if c.is_public() && !c.disabled => Ok(c),
            Some(c) if !c.disabled => bad("this client must authenticate"),
            _ => bad("unknown client"),
        }
    }

    async fn by_assertion(
        &self,
        db: &Db,
        assertion: &str,
        client_id: Option<&str>,
        audiences: &[&str],
        now: i64,
    ) -> OAuthResult<Arc<RelyingParty>> {
        let bad = |why: &str| refuse(E::InvalidClient, why);
        let Some(claims) = jose::claims_of(assertion) else {
            return bad("client_assertion is not a JWT");
        };
        let Some(iss) = claims["iss"].as_str() else {
            return bad("client_assertion has no iss");
        };
        if claims["sub"].as_str() != Some(iss) || client_id.is_some_and(|c| c != iss) {
            return bad("client_assertion's iss and sub must both be the client_id");
        }
        let Some(client) = self.get(db, iss, now).await? else {
            return bad("unknown client");
        };
        if client.disabled || client.auth_method != AuthMethod::PrivateKeyJwt.as_str() {
            return bad("this client does not authenticate with private_key_jwt");
        }
        let keys: Value = client
            .jwks
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let keys = keys["keys"].as_array().cloned().unwrap_or_default();
        if let Err(e) = jose::verify_with_set(assertion, &keys) {
            return bad(&format!("client_assertion: {e}"));
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => audiences.contains(&a.as_str()),
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| audiences.contains(&a)),
            _ => false,
        };
        if !aud_ok {
            return bad("client_assertion's aud must be the issuer or this endpoint");
        }
        let now_s = secs(now);
        let Some(exp) = claims["exp"].as_i64() else {
            return bad("client_assertion has no exp");
        };
        if exp <= now_s {
            return bad("client_assertion has expired");
        }
        if exp > now_s + MAX_ASSERTION_LIFE_SECS {
            return bad("client_assertion lives too long (at most 10 minutes)");
        }
        let Some(jti) = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.len() <= 256)
        else {
            return bad("client_assertion has no jti");
        };
        if !store::remember_jti(db, &client.client_id, jti, exp * 1_000_000, now).await? {
            return bad("client_assertion was already used");
        }
        Ok(client)
    }
}
