//! JSON Web Signatures (RFC 7515, compact form) with ES256 (ECDSA on P-256 with SHA-256,
//! RFC 7518 §3.4) and the public keys as JWKs (RFC 7517), named by their RFC 7638 thumbprint.
//! ES256 rather than RS256: a signature costs tens of microseconds instead of milliseconds,
//! and every current OpenID Connect client library verifies it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{IdentityError, Result};

pub const ALG: &str = "ES256";

/// A private signing key and its key id.
pub struct KeyPair {
    pub kid: String,
    key: SigningKey,
}

impl KeyPair {
    /// A new key from the operating system's random source.
    pub fn generate() -> KeyPair {
        loop {
            let mut bytes = [0u8; 32];
            if getrandom::getrandom(&mut bytes).is_err() {
                tracing::error!("the operating system's random source failed; aborting");
                std::process::abort();
            }
            // A value of 0 or at least the group order (probability ~2^-32) is drawn again.
            if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
                return KeyPair::from_key(key);
            }
        }
    }

    /// The key from its stored form (the 32-byte scalar, hex).
    pub fn from_secret_hex(hex_text: &str) -> Result<KeyPair> {
        let bytes = hex::decode(hex_text)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                IdentityError::Internal("a stored signing key is not 32 bytes of hex".into())
            })?;
        let key = SigningKey::from_slice(&bytes).map_err(|_| {
            IdentityError::Internal("a stored signing key is not a P-256 scalar".into())
        })?;
        Ok(KeyPair::from_key(key))
    }

    fn from_key(key: SigningKey) -> KeyPair {
        let kid = thumbprint(key.verifying_key());
        KeyPair { kid, key }
    }

    /// The stored form of the private key.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The public key as a JWK, with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = public_members(self.key.verifying_key());
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(ALG);
        jwk
    }

    /// `claims` as a compact JWS with this key, the header naming `typ` (e.g. `JWT`,
    /// `at+jwt`) and the key id.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        let header = json!({ "alg": ALG, "kid": self.kid, "typ": typ });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// The JWK members that define a P-256 public key, in the order RFC 7638 hashes them.
fn public_members(key: &VerifyingKey) -> Value {
    let point = key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        // An uncompressed point always has both coordinates.
        return json!({});
    };
    json!({
        "crv": "P-256",
        "kty": "EC",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
    })
}

/// The RFC 7638 thumbprint: SHA-256 of the required members, lexically ordered, no spaces.
fn thumbprint(key: &VerifyingKey) -> String {
    let members = public_members(key);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        members["x"].as_str().unwrap_or_default(),
        members["y"].as_str().unwrap_or_default()
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A verified token's header and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub header: Value,
    pub claims: Value,
}

/// Why a compact JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("no published key has id {0}")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
}

/// Verifies a compact ES256 JWS against a set of public JWKs (as published in the JWKS).
pub fn verify(token: &str, jwks: &[Value]) -> std::result::Result<Verified, JwsError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed)
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if alg != ALG {
        return Err(JwsError::Algorithm(alg.to_owned()));
    }
    let kid = header["kid"].as_str().unwrap_or_default();
    let jwk = jwks
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| JwsError::UnknownKey(kid.to_owned()))?;
    let key = verifying_key(jwk).ok_or(JwsError::UnknownKey(kid.to_owned()))?;
    let signature = Signature::from_slice(&decode(s)?).map_err(|_| JwsError::BadSignature)?;
    key.verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| JwsError::BadSignature)?;
    let claims = serde_json::from_slice(&decode(c)?).map_err(|_| JwsError::Malformed)?;
    Ok(Verified { header, claims })
}

/// The protected header of a compact JWS, unverified (to choose the key).
pub fn header_of(token: &str) -> Option<Value> {
    let h = token.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()
}

/// The claims of a compact JWS, unverified (to find who claims to have signed it).
pub fn claims_of(token: &str) -> Option<Value> {
    let c = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()
}

/// Verifies a compact ES256 JWS with the keys of a client's JWK Set: the one its `kid`
/// names, or, without a `kid`, whichever of them verifies it.
pub fn verify_with_set(token: &str, keys: &[Value]) -> std::result::Result<Verified, JwsError> {
    let kid = header_of(token).ok_or(JwsError::Malformed)?["kid"].clone();
    if kid.is_string() {
        return verify(token, keys);
    }
    let mut last = JwsError::UnknownKey(String::new());
    for key in keys {
        let mut named = key.clone();
        named["kid"] = json!("");
        match verify(token, &[named]) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The RFC 7638 thumbprint of a public P-256 JWK, `None` for any other key.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    verifying_key(jwk).map(|k| thumbprint(&k))
}

fn verifying_key(jwk: &Value) -> Option<VerifyingKey> {
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return None;
    }
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str()?).ok()?;
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str()?).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_and_a_tampered_one_does_not() {
        let key = KeyPair::generate();
        let jwks = vec![key.public_jwk()];
        let token = key.sign("JWT", &json!({ "sub": "a", "n": 1 }));
        let ok = verify(&token, &jwks).unwrap();
        assert_eq!(ok.claims["sub"], "a");
        assert_eq!(ok.header["kid"], key.kid.as_str());

        // Claims changed, signature kept.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(json!({ "sub": "b", "n": 1 }).to_string()),
            parts[2]
        );
        assert_eq!(verify(&forged, &jwks), Err(JwsError::BadSignature));
        // "none" and other algorithms are refused before any key is looked at.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(
            verify(&none, &jwks),
            Err(JwsError::Algorithm("none".into()))
        );
        // Another key's signature under this key's id fails; an unknown id is named.
        let other = KeyPair::generate();
        assert!(matches!(
            verify(&other.sign("JWT", &json!({})), &jwks),
            Err(JwsError::UnknownKey(_))
        ));
        assert_eq!(verify("a.b", &jwks), Err(JwsError::Malformed));
    }

    #[test]
    fn the_stored_form_gives_back_the_same_key() {
        let key = KeyPair::generate();
        let again = KeyPair::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.kid, key.kid);
        assert_eq!(again.public_jwk(), key.public_jwk());
        assert!(KeyPair::from_secret_hex("00").is_err());
        assert!(KeyPair::from_secret_hex(&"0".repeat(64)).is_err());
    }

    /// On the P-256 key of RFC 7517 Appendix A.1: the coordinates as published, in the
    /// members' lexical order, without spaces (RFC 7638 §3.2–3.3), then SHA-256.
    #[test]
    fn the_key_id_is_the_rfc_7638_thumbprint() {
        let x = URL_SAFE_NO_PAD
            .decode("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4")
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
            .unwrap();
        let mut sec1 = vec![0x04];
        sec1.extend(x);
        sec1.extend(y);
        let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#,
        ));
        assert_eq!(thumbprint(&key), expected);
    }
}
