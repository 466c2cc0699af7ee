//! Passkeys (Web Authentication Level 2, W3C): a logged-in citizen registers one, and later
//! logs in with it instead of password and TOTP. Only ES256 (COSE -7, P-256) credentials are
//! accepted, the algorithm every platform authenticator offers; attestation is not asked for
//! ("none"): the account, not the device model, is what the provider vouches for.
//!
//! Each ceremony checks what §7.1 and §7.2 of the specification require of a relying party:
//! the challenge it issued (used once), the type, the origin, the RP ID hash, the user-present
//! flag, the signature over `authenticatorData ‖ SHA-256(clientDataJSON)`, and a signature
//! counter that never goes backwards.

pub mod cbor;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::citizen_accounts::{self, CitizenAccount};
use crate::store::passkeys as store;
use crate::token::random_token;
use crate::{IdentityError, Result, invalid};

/// How long a ceremony may take.
pub const CHALLENGE_LIFETIME_US: i64 = 5 * 60 * 1_000_000;
const COSE_ES256: i128 = -7;
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

/// Who the relying party is: the provider's origin and its RP ID (the origin's host).
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub origin: String,
    pub rp_id: String,
    pub name: String,
}

impl RelyingParty {
    /// From the issuer URL (`https://dichvucong.example.vn`).
    pub fn of_issuer(issuer: &str, name: &str) -> RelyingParty {
        let host_port = issuer.split_once("://").map_or(issuer, |(_, r)| r);
        let host_port = host_port.split('/').next().unwrap_or_default();
        let rp_id = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        };
        RelyingParty {
            origin: issuer.trim_end_matches('/').to_owned(),
            rp_id: rp_id.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A ceremony started: its id (sent back with the answer) and the options for
/// `navigator.credentials.create()` or `.get()`, as JSON with base64url binary members.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub id: String,
    pub options: Json,
}

/// What the browser sends back, base64url-encoded.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub ceremony_id: String,
    pub credential_id: String,
    pub client_data_json: String,
    /// Registration only.
    pub attestation_object: String,
    /// Login only.
    pub authenticator_data: String,
    /// Login only (DER-encoded ECDSA).
    pub signature: String,
}

fn bad(why: &str) -> IdentityError {
    invalid("passkey", why.to_owned())
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| bad(&format!("{field} is not base64url")))
}

/// Starts adding a passkey to `account`.
pub async fn start_registration(
    db: &Db,
    rp: &RelyingParty,
    account: &CitizenAccount,
    now: i64,
) -> Result<Ceremony> {
    let existing = store::of_account(db, &account.id).await?;
    let (id, challenge) = new_challenge(db, Some(&account.id), now).await?;
    let options = json!({
        "challenge": challenge,
        "rp": { "id": rp.rp_id, "name": rp.name },
        "user": {
            "id": URL_SAFE_NO_PAD.encode(account.id.as_bytes()),
            "name": account.pid.to_string(),
            "displayName": account.pid.to_string(),
        },
        "pubKeyCredParams": [{ "type": "public-key", "alg": COSE_ES256 }],
        "timeout": CHALLENGE_LIFETIME_US / 1000,
        "attestation": "none",
        "authenticatorSelection": { "residentKey": "required", "userVerification": "required" },
        "excludeCredentials": existing.iter().map(|p| json!({ "type": "public-key", "id": p.credential_id })).collect::<Vec<_>>(),
    });
    Ok(Ceremony { id, options })
}

/// Starts a login with a passkey (a discoverable credential: no account named first).
pub async fn start_login(db: &Db, rp: &RelyingParty, now: i64) -> Result<Ceremony> {
    let (id, challenge) = new_challenge(db, None, now).await?;
    let options = json!({
        "challenge": challenge,
        "rpId": rp.rp_id,
        "timeout": CHALLENGE_LIFETIME_US / 1000,
        "userVerification": "required",
        "allowCredentials": [],
    });
    Ok(Ceremony { id, options })
}

async fn new_challenge(db: &Db, account_id: Option<&str>, now: i64) -> Result<(String, String)> {
    let id = random_token(18);
    let challenge = random_token(32);
    store::insert_challenge(
        db,
        &id,
        &challenge,
        account_id,
        now,
        now + CHALLENGE_LIFETIME_US,
    )
    .await?;
    Ok((id, challenge))
}

/// Checks `clientDataJSON` (§7.1 steps 7–12, §7.2 steps 11–15): type, challenge, origin.
fn check_client_data(
    raw: &[u8],
    expected_type: &str,
    challenge: &str,
    rp: &RelyingParty,
) -> Result<()> {
    let data: Json = serde_json::from_slice(raw).map_err(|_| bad("clientDataJSON is not JSON"))?;
    if data["type"] != expected_type {
        return Err(bad(&format!("clientDataJSON.type must be {expected_type}")));
    }
    if data["challenge"].as_str() != Some(challenge) {
        return Err(bad("the challenge is not the one issued"));
    }
    if data["origin"].as_str() != Some(rp.origin.as_str()) {
        return Err(bad("the origin is not this site's"));
    }
    if data["crossOrigin"] == true {
        return Err(bad(
            "a passkey ceremony in a frame of another site is refused",
        ));
    }
    Ok(())
}

/// The fixed part of authenticator data: RP ID hash, flags and counter (§6.1).
fn check_authenticator_data(auth: &[u8], rp: &RelyingParty) -> Result<(u8, u32)> {
    if auth.len() < 37 {
        return Err(bad("authenticatorData is too short"));
    }
    if auth[..32] != Sha256::digest(rp.rp_id.as_bytes())[..] {
        return Err(bad(
            "the credential is for another relying party (RP ID hash)",
        ));
    }
    let flags = auth[32];
    if flags & FLAG_UP == 0 {
        return Err(bad("the user was not present"));
    }
    if flags & FLAG_UV == 0 {
        return Err(bad("the authenticator did not verify the user"));
    }
    let count = u32::from_be_bytes([auth[33], auth[34], auth[35], auth[36]]);
    Ok((flags, count))
}

/// Finishes adding a passkey to `account`.
pub async fn finish_registration(
    db: &Db,
    rp: &RelyingParty,
    account: &CitizenAccount,
    answer: &Answer,
    now: i64,
) -> Result<String> {
    let Some((challenge, owner, expires_at)) =
        store::take_challenge(db, &answer.ceremony_id).await?
    else {
        return Err(bad("the ceremony is unknown or was already used"));
    };
    if owner.as_deref() != Some(account.id.as_str()) || expires_at <= now {
        return Err(bad("the ceremony has expired or is another account's"));
    }
    check_client_data(
        &b64("clientDataJSON", &answer.client_data_json)?,
        "webauthn.create",
        &challenge,
        rp,
    )?;
    let attestation = b64("attestationObject", &answer.attestation_object)?;
    let (object, _) =
        cbor::decode(&attestation).ok_or_else(|| bad("attestationObject is not CBOR"))?;
    let auth = object
        .text_key("authData")
        .and_then(cbor::Value::as_bytes)
        .ok_or_else(|| bad("attestationObject has no authData"))?;
    let (flags, count) = check_authenticator_data(auth, rp)?;
    if flags & FLAG_AT == 0 || auth.len() < 55 {
        return Err(bad("authData carries no credential"));
    }
    let id_len = usize::from(u16::from_be_bytes([auth[53], auth[54]]));
    if auth.len() < 55 + id_len || id_len == 0 || id_len > 1023 {
        return Err(bad("the credential id is malformed"));
    }
    let credential_id = &auth[55..55 + id_len];
    if URL_SAFE_NO_PAD.encode(credential_id) != answer.credential_id.trim_end_matches('=') {
        return Err(bad("the credential id differs from the one in authData"));
    }
    let (key, _) =
        cbor::decode(&auth[55 + id_len..]).ok_or_else(|| bad("the public key is not CBOR"))?;
    let public_key = es256_key(&key)?;
    let credential = URL_SAFE_NO_PAD.encode(credential_id);
    let mut tx = db.begin().await?;
    if !store::insert(
        &mut tx,
        &credential,
        &account.id,
        &hex::encode(public_key.to_encoded_point(false).as_bytes()),
        i64::from(count),
        true,
        now,
    )
    .await?
    {
        return Err(bad("this passkey is already registered"));
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &account.id,
            event_type: "citizen_account.passkey_added",
            actor: &format!("citizen:{}", account.id),
            reason: "passkey registered",
            payload: json!({ "credential_id": credential }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(credential)
}

/// The P-256 key of a COSE_Key (RFC 9053 §7.1.1): kty 2 (EC2), alg −7, crv 1, x, y.
fn es256_key(key: &cbor::Value) -> Result<VerifyingKey> {
    let int = |k: i128| key.int_key(k).and_then(cbor::Value::as_int);
    if int(1) != Some(2) || int(3) != Some(COSE_ES256) || int(-1) != Some(1) {
        return Err(bad("only ES256 (P-256) passkeys are accepted"));
    }
    let (Some(x), Some(y)) = (
        key.int_key(-2).and_then(cbor::Value::as_bytes),
        key.int_key(-3).and_then(cbor::Value::as_bytes),
    ) else {
        return Err(bad("the public key lacks its coordinates"));
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(bad("the public key's coordinates are malformed"));
    }
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| bad("the public key is not on P-256"))
}

/// Finishes a login: the account whose passkey signed the challenge.
pub async fn finish_login(
    db: &Db,
    rp: &RelyingParty,
    answer: &Answer,
    now: i64,
) -> Result<CitizenAccount> {
    let Some((challenge, owner, expires_at)) =
        store::take_challenge(db, &answer.ceremony_id).await?
    else {
        return Err(bad("the ceremony is unknown or was already used"));
    };
    if owner.is_some() || expires_at <= now {
        return Err(bad("the ceremony has expired"));
    }
    let client_data = b64("clientDataJSON", &answer.client_data_json)?;
    check_client_data(&client_data, "webauthn.get", &challenge, rp)?;
    let auth = b64("authenticatorData", &answer.authenticator_data)?;
    let (_, count) = check_authenticator_data(&auth, rp)?;
    let credential = answer.credential_id.trim_end_matches('=');
    let Some(stored) = store::get(db, credential).await? else {
        return Err(bad("this passkey is not registered"));
    };
    let key_bytes =
        hex::decode(&stored.public_key).map_err(|e| IdentityError::Internal(e.to_string()))?;
    let key = VerifyingKey::from_sec1_bytes(&key_bytes)
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    let signature = der_signature(&b64("signature", &answer.signature)?)
        .ok_or_else(|| bad("the signature is malformed"))?;
    let mut signed = auth.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    key.verify(&signed, &signature)
        .map_err(|_| bad("the signature does not verify"))?;
    let Some(account) = citizen_accounts::by_id(db, &stored.account_id).await? else {
        return Err(bad("the account no longer exists"));
    };
    let alive = citizen_accounts::registry_person(db, account.pid)
        .await?
        .is_some_and(|p| p.alive);
    if account.closed || !alive {
        return Err(bad("the account is closed"));
    }
    let mut tx = db.begin().await?;
    if !store::record_use(&mut tx, credential, i64::from(count), now).await? {
        return Err(bad(
            "the authenticator's counter went backwards: it may have been cloned",
        ));
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: &account.id,
            event_type: "citizen_account.logged_in",
            actor: &format!("citizen:{}", account.id),
            reason: "login",
            payload: json!({ "amr": ["hwk", "user"], "credential_id": credential }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

/// An ECDSA signature in ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`), as WebAuthn sends
/// ES256 signatures, to the fixed 64-byte form.
fn der_signature(der: &[u8]) -> Option<Signature> {
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || usize::from(len) != body.len() {
        return None;
    }
    let mut out = [0u8; 64];
    let mut rest = body;
    for half in 0..2 {
        let (&t, r) = rest.split_first()?;
        let (&l, r) = r.split_first()?;
        let l = usize::from(l);
        if t != 0x02 || r.len() < l || l == 0 || l > 33 {
            return None;
        }
        let int = &r[..l];
        let int = int.strip_prefix(&[0u8]).unwrap_or(int);
        if int.len() > 32 {
            return None;
        }
        out[half * 32 + 32 - int.len()..half * 32 + 32].copy_from_slice(int);
        rest = &r[l..];
    }
    if !rest.is_empty() {
        return None;
    }
    Signature::from_slice(&out).ok()
}

/// The account's passkeys: (credential id, created, last used).
pub async fn list(db: &Db, account_id: &str) -> Result<Vec<(String, i64, Option<i64>)>> {
    Ok(store::of_account(db, account_id)
        .await?
        .into_iter()
        .map(|p| (p.credential_id, p.created_at, p.last_used_at))
        .collect())
}

/// Removes one of the account's passkeys.
pub async fn remove(db: &Db, account_id: &str, credential_id: &str, now: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    if !store::delete(&mut tx, account_id, credential_id).await? {
        return Ok(false);
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: account_id,
            event_type: "citizen_account.passkey_removed",
            actor: &format!("citizen:{account_id}"),
            reason: "passkey removed",
            payload: json!({ "credential_id": credential_id }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;

    #[test]
    fn der_signatures_become_fixed_width() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sig: Signature = key.sign(b"message");
        let der = sig.to_der();
        assert_eq!(der_signature(der.as_bytes()), Some(sig));
        assert!(der_signature(&der.as_bytes()[..10]).is_none());
        assert!(der_signature(&[0x30, 0x00]).is_none());
    }

    #[test]
    fn the_rp_id_is_the_issuer_host() {
        let rp = RelyingParty::of_issuer("https://dichvucong.example.vn", "x");
        assert_eq!(rp.rp_id, "dichvucong.example.vn");
        assert_eq!(
            RelyingParty::of_issuer("http://localhost:8080/", "x").rp_id,
            "localhost"
        );
        assert_eq!(
            RelyingParty::of_issuer("http://localhost:8080/", "x").origin,
            "http://localhost:8080"
        );
    }
}
