//! The OpenID Connect provider's clients (relying parties): ministry and provincial portals
//! that log citizens in through it, and agency systems that take tokens for the registry APIs
//! with `client_credentials`.
//!
//! A client is public (a browser or mobile app: no secret, PKCE with S256 required) or
//! confidential, authenticating with `client_secret_basic` (a long random secret, stored as
//! SHA-256) or `private_key_jwt` (its public keys registered as a JWK Set, RFC 7523).
//! Redirect URIs are compared exactly, so they are checked here once: absolute, no fragment
//! (RFC 6749 §3.1.2), and `https` unless the host is the loopback (RFC 8252 §7.3).

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde::Serialize;
use serde_json::{Value, json};

use crate::store::relying_parties::{self as store, NewRelyingParty};
use crate::token::{random_token, sha256_hex};
use crate::{IdentityError, Result, invalid};

/// Scopes a relying party may ask for on a citizen's behalf.
pub const CITIZEN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "pid",
    "birthdate",
    "address",
    "phone",
    "email",
    "offline_access",
];
/// Scopes of agency systems (`client_credentials`): the registry APIs'.
pub const AGENCY_SCOPES: &[&str] = crate::clients::KNOWN_SCOPES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Public clients.
    None,
    ClientSecretBasic,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Result<AuthMethod> {
        match s {
            "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
            "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
            _ => Err(invalid(
                "auth_method",
                format!("{s:?} is not client_secret_basic or private_key_jwt"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// What an administrator registers.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    /// `None`: `client_secret_basic` for a confidential client.
    pub auth_method: Option<String>,
    /// The client's JWK Set (text), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Grants beyond the authorization code (and its refresh tokens): `client_credentials`.
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    /// Where the client may send the browser after logout (OpenID Connect RP-Initiated Logout).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the provider posts logout tokens (OpenID Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Authorization requests must be pushed first (RFC 9126 §6).
    pub require_par: bool,
    /// Tokens must be bound to a DPoP key (RFC 9449 §5.2).
    pub require_dpop: bool,
}

/// A new client; the secret, when it has one, is shown once and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedRelyingParty {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A registration checked: what is stored.
struct Checked {
    name: String,
    redirect_uris: Vec<String>,
    auth_method: AuthMethod,
    jwks: Option<String>,
    grants: Vec<String>,
    scopes: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
}

/// Every problem with a registration, each naming its field; empty when it can be stored.
pub fn check(r: &Registration) -> Vec<IdentityError> {
    check_all(r).err().unwrap_or_default()
}

fn check_all(r: &Registration) -> std::result::Result<Checked, Vec<IdentityError>> {
    let mut errors = Vec::new();
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(invalid("name", "must be 1–200 characters"));
    }
    let mut grants = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
    let mut machine_only = false;
    for g in &r.grants {
        match g.as_str() {
            "client_credentials" => {
                // An agency system: no citizen, so no authorization code.
                grants = vec![g.clone()];
                machine_only = true;
            }
            "authorization_code" | "refresh_token" => {}
            _ => errors.push(invalid(
                "grant",
                format!("{g:?} is not client_credentials (authorization_code and refresh_token are always granted to portals)"),
            )),
        }
    }
    let auth_method = match (&r.auth_method, r.public) {
        (Some(_), true) => {
            errors.push(invalid("auth_method", "a public client has no credentials"));
            AuthMethod::None
        }
        (None, true) => AuthMethod::None,
        (None, false) => AuthMethod::ClientSecretBasic,
        (Some(m), false) => AuthMethod::parse(m).unwrap_or_else(|e| {
            errors.push(e);
            AuthMethod::ClientSecretBasic
        }),
    };
    if r.public && machine_only {
        errors.push(invalid(
            "grant",
            "client_credentials needs a confidential client (it authenticates as itself)",
        ));
    }
    let jwks = match (&r.jwks, auth_method) {
        (Some(text), AuthMethod::PrivateKeyJwt) => match check_jwks(text) {
            Ok(set) => Some(set),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        (None, AuthMethod::PrivateKeyJwt) => {
            errors.push(invalid(
                "jwks",
                "private_key_jwt needs the client's JWK Set",
            ));
            None
        }
        (Some(_), _) => {
            errors.push(invalid(
                "jwks",
                "only a private_key_jwt client registers keys",
            ));
            None
        }
        (None, _) => None,
    };
    if machine_only {
        if !r.redirect_uris.is_empty() {
            errors.push(invalid(
                "redirect_uri",
                "a client_credentials client has no redirect URI",
            ));
        }
    } else if r.redirect_uris.is_empty() {
        errors.push(invalid(
            "redirect_uri",
            "at least one redirect URI is required",
        ));
    }
    for uri in &r.redirect_uris {
        if let Err(e) = check_redirect_uri(uri) {
            errors.push(e);
        }
    }
    let allowed = if machine_only {
        AGENCY_SCOPES
    } else {
        CITIZEN_SCOPES
    };
    if r.scopes.is_empty() {
        errors.push(invalid("scope", "at least one scope is required"));
    }
    for s in &r.scopes {
        if !allowed.contains(&s.as_str()) {
            errors.push(invalid(
                "scope",
                format!("{s:?} is not one of {}", allowed.join(", ")),
            ));
        }
    }
    if !machine_only && !r.scopes.iter().any(|s| s == "openid") && !r.scopes.is_empty() {
        errors.push(invalid(
            "scope",
            "a portal logging citizens in needs openid",
        ));
    }
    for uri in &r.post_logout_redirect_uris {
        if let Err(IdentityError::Invalid { message, .. }) = check_redirect_uri(uri) {
            errors.push(invalid("post_logout_redirect_uri", message));
        }
    }
    if let Some(uri) = &r.backchannel_logout_uri
        && let Err(IdentityError::Invalid { message, .. }) = check_redirect_uri(uri)
    {
        errors.push(invalid("backchannel_logout_uri", message));
    }
    if machine_only
        && (!r.post_logout_redirect_uris.is_empty()
            || r.backchannel_logout_uri.is_some()
            || r.require_par)
    {
        errors.push(invalid(
            "grant",
            "a client_credentials client logs no citizen in: no logout URIs, no PAR",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut scopes = r.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let mut redirect_uris = r.redirect_uris.clone();
    redirect_uris.dedup();
    Ok(Checked {
        name: name.to_owned(),
        redirect_uris,
        auth_method,
        jwks,
        grants,
        scopes,
        post_logout_redirect_uris: r.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: r.backchannel_logout_uri.clone(),
    })
}

/// An absolute `https` URI (or `http` on the loopback) without fragment or spaces.
pub fn check_redirect_uri(uri: &str) -> Result<()> {
    let bad = |why: &str| Err(invalid("redirect_uri", format!("{uri:?}: {why}")));
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must be at most 2000 characters, without spaces");
    }
    if uri.contains('#') {
        return bad("must not have a fragment");
    }
    let (scheme, rest) = match uri.split_once("://") {
        Some(parts) => parts,
        None => return bad("must be an absolute URI"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // An IPv6 literal is bracketed (RFC 3986 §3.2.2); otherwise the port follows a colon.
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return bad("must name a host");
    }
    let loopback = matches!(host, "127.0.0.1" | "::1" | "localhost");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bad("must use https (http only on the loopback, 127.0.0.1 or [::1])"),
        _ => bad("must use https"),
    }
}

/// A JWK Set of public keys, each with `kty` and `kid`, and no private member.
fn check_jwks(text: &str) -> Result<String> {
    let set: Value =
        serde_json::from_str(text).map_err(|e| invalid("jwks", format!("not JSON: {e}")))?;
    let keys = set["keys"]
        .as_array()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            invalid(
                "jwks",
                "must be a JWK Set with at least one key in \"keys\"",
            )
        })?;
    for (i, key) in keys.iter().enumerate() {
        if key["kty"].as_str().is_none() || key["kid"].as_str().is_none() {
            return Err(invalid(
                "jwks",
                format!("key {i} needs \"kty\" and \"kid\""),
            ));
        }
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|m| key.get(m).is_some())
        {
            return Err(invalid(
                "jwks",
                format!("key {i} holds private material: register the public keys only"),
            ));
        }
    }
    Ok(set.to_string())
}

/// Registers a client. `actor` is who registers it (for the event log).
pub async fn create(
    db: &Db,
    registration: &Registration,
    actor: &str,
) -> std::result::Result<IssuedRelyingParty, Vec<IdentityError>> {
    let c = check_all(registration)?;
    let client_id = format!("rp_{}", random_token(12));
    let secret = (c.auth_method == AuthMethod::ClientSecretBasic).then(|| random_token(32));
    let now = motcua_db::clock::now_us();
    let stored = async {
        let mut tx = db.begin().await?;
        let redirect_uris = c.redirect_uris.join(" ");
        let grants = c.grants.join(" ");
        let scopes = c.scopes.join(" ");
        let secret_hash = secret.as_deref().map(sha256_hex);
        store::insert(
            &mut tx,
            &NewRelyingParty {
                id: &client_id,
                name: &c.name,
                redirect_uris: &redirect_uris,
                auth_method: c.auth_method.as_str(),
                jwks: c.jwks.as_deref(),
                grants: &grants,
                scopes: &scopes,
                secret_hash: secret_hash.as_deref(),
                created_by: actor,
                post_logout_redirect_uris: &c.post_logout_redirect_uris.join(" "),
                backchannel_logout_uri: c.backchannel_logout_uri.as_deref(),
                require_par: registration.require_par,
                require_dpop: registration.require_dpop,
            },
            now,
        )
        .await?;
        events::append(
            &mut tx,
            &NewEvent {
                aggregate_type: "oidc_client",
                aggregate_id: &client_id,
                event_type: "oidc_client.registered",
                actor,
                reason: "client registered",
                payload: json!({
                    "name": c.name,
                    "redirect_uris": c.redirect_uris,
                    "auth_method": c.auth_method,
                    "grants": c.grants,
                    "scopes": c.scopes,
                    "post_logout_redirect_uris": c.post_logout_redirect_uris,
                    "backchannel_logout_uri": c.backchannel_logout_uri,
                    "require_par": registration.require_par,
                    "require_dpop": registration.require_dpop,
                }),
                occurred_at: now,
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<(), IdentityError>(())
    };
    stored.await.map_err(|e| vec![e])?;
    Ok(IssuedRelyingParty {
        client_id,
        client_secret: secret,
    })
}

/// A registered client, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelyingParty {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub auth_method: String,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub has_jwks: bool,
    pub created_at: i64,
    pub disabled: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub require_par: bool,
    pub require_dpop: bool,
    /// The registered JWK Set (`private_key_jwt`).
    #[serde(skip)]
    pub jwks: Option<String>,
    /// SHA-256 of the secret (`client_secret_basic`).
    #[serde(skip)]
    pub secret_hash: Option<String>,
}

impl RelyingParty {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None.as_str()
    }

    pub fn has_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

pub async fn by_id(db: &Db, client_id: &str) -> Result<Option<RelyingParty>> {
    Ok(store::by_id(db, client_id).await?.map(of_row))
}

/// The registered clients, newest first (the administration page).
pub async fn list(db: &Db) -> Result<Vec<RelyingParty>> {
    Ok(store::list(db, 500)
        .await?
        .into_iter()
        .map(of_row)
        .collect())
}

fn of_row(row: store::RelyingPartyRow) -> RelyingParty {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect();
    RelyingParty {
        redirect_uris: words(&row.redirect_uris),
        grants: words(&row.grants),
        scopes: words(&row.scopes),
        has_jwks: row.jwks.is_some(),
        disabled: row.disabled_at.is_some(),
        post_logout_redirect_uris: words(&row.post_logout_redirect_uris),
        backchannel_logout_uri: row.backchannel_logout_uri,
        require_par: row.require_par != 0,
        require_dpop: row.require_dpop != 0,
        jwks: row.jwks,
        secret_hash: row.secret_hash,
        client_id: row.id,
        name: row.name,
        auth_method: row.auth_method,
        created_at: row.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal() -> Registration {
        Registration {
            name: "Cổng dịch vụ công tỉnh".into(),
            redirect_uris: vec!["https://dvc.example.vn/callback".into()],
            scopes: vec!["openid".into(), "profile".into()],
            ..Registration::default()
        }
    }

    fn fields(r: &Registration) -> Vec<String> {
        check(r).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_portal_needs_https_redirects_and_openid() {
        assert!(check(&portal()).is_empty());
        let loopback = Registration {
            redirect_uris: vec!["http://127.0.0.1:8765/cb".into(), "http://[::1]/cb".into()],
            public: true,
            ..portal()
        };
        assert!(check(&loopback).is_empty(), "{:?}", fields(&loopback));
        for bad in [
            "http://dvc.example.vn/cb",
            "https://dvc.example.vn/cb#x",
            "/callback",
            "https:///cb",
            "javascript://x",
        ] {
            let r = Registration {
                redirect_uris: vec![bad.into()],
                ..portal()
            };
            let errors = fields(&r);
            assert!(
                errors.iter().any(|e| e.starts_with("redirect_uri:")),
                "{bad}: {errors:?}"
            );
        }
        let r = Registration {
            scopes: vec!["profile".into(), "registry.lookup".into()],
            ..portal()
        };
        let errors = fields(&r);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.starts_with("scope:")));
    }

    #[test]
    fn credentials_follow_the_client_type() {
        let r = Registration {
            public: true,
            auth_method: Some("client_secret_basic".into()),
            ..portal()
        };
        assert!(fields(&r)[0].starts_with("auth_method:"));
        let r = Registration {
            auth_method: Some("private_key_jwt".into()),
            ..portal()
        };
        assert!(fields(&r)[0].starts_with("jwks:"));
        let with_private = Registration {
            auth_method: Some("private_key_jwt".into()),
            jwks: Some(r#"{"keys":[{"kty":"EC","kid":"a","d":"secret"}]}"#.into()),
            ..portal()
        };
        assert!(fields(&with_private)[0].contains("private material"));
        let agency = Registration {
            name: "Hệ thống BHXH".into(),
            grants: vec!["client_credentials".into()],
            scopes: vec!["registry.verify".into()],
            ..Registration::default()
        };
        assert!(check(&agency).is_empty(), "{:?}", fields(&agency));
        let public_agency = Registration {
            public: true,
            ..agency.clone()
        };
        assert!(fields(&public_agency)[0].starts_with("grant:"));
        let with_redirect = Registration {
            redirect_uris: vec!["https://bhxh.example.vn/cb".into()],
            ..agency
        };
        assert!(fields(&with_redirect)[0].starts_with("redirect_uri:"));
    }
}
