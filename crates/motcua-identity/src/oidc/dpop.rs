//! DPoP proofs (RFC 9449 §4.3): a JWT the client signs with its own key for each request,
//! naming the method and URL, so a token bound to that key is useless to anyone who steals it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use motcua_db::Db;
use sha2::{Digest, Sha256};

use super::{OAuthErrorCode as E, OAuthResult, refuse, secs};
use crate::jose;
use crate::store::oidc as store;

/// How far a proof's `iat` may be from the server's clock.
const IAT_PAST_SECS: i64 = 300;
const IAT_FUTURE_SECS: i64 = 60;

/// Verifies the proof of a request to `method` `url` (without query or fragment); with
/// `access_token`, its `ath` must be that token's hash. Returns the key's thumbprint (`jkt`).
pub async fn verify_proof(
    db: &Db,
    proof: &str,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    now: i64,
) -> OAuthResult<String> {
    let bad = |why: &str| refuse(E::InvalidDpopProof, why);
    if proof.len() > 4096 {
        return bad("the DPoP proof is too long");
    }
    let Some(header) = jose::header_of(proof) else {
        return bad("the DPoP proof is not a JWT");
    };
    if header["typ"] != "dpop+jwt" {
        return bad("the DPoP proof's typ must be dpop+jwt");
    }
    let jwk = &header["jwk"];
    if ["d", "p", "q", "k"].iter().any(|m| jwk.get(m).is_some()) {
        return bad("the DPoP proof's jwk must be a public key");
    }
    let Some(jkt) = jose::jwk_thumbprint(jwk) else {
        return bad("the DPoP proof's jwk must be a P-256 key (ES256)");
    };
    let claims = match jose::verify_with_set(proof, std::slice::from_ref(jwk)) {
        Ok(v) => v.claims,
        Err(e) => return bad(&format!("the DPoP proof: {e}")),
    };
    if claims["htm"].as_str() != Some(method) {
        return bad("the DPoP proof's htm is not this request's method");
    }
    let htu = claims["htu"].as_str().unwrap_or_default();
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    if htu != url {
        return bad("the DPoP proof's htu is not this request's URL");
    }
    let Some(iat) = claims["iat"].as_i64() else {
        return bad("the DPoP proof has no iat");
    };
    let now_s = secs(now);
    if iat < now_s - IAT_PAST_SECS || iat > now_s + IAT_FUTURE_SECS {
        return bad("the DPoP proof's iat is too far from the server's time");
    }
    if let Some(token) = access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims["ath"].as_str() != Some(ath.as_str()) {
            return bad("the DPoP proof's ath is not this access token's hash");
        }
    }
    let Some(jti) = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
    else {
        return bad("the DPoP proof has no jti");
    };
    let until = (iat + IAT_PAST_SECS + IAT_FUTURE_SECS) * 1_000_000;
    if !store::remember_jti(db, &format!("dpop:{jkt}"), jti, until, now).await? {
        return bad("the DPoP proof was already used");
    }
    Ok(jkt)
}
