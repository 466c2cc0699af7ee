//! The OpenID Connect provider's signing keys and their rotation.
//!
//! A rotation publishes a new key at once and signs with it only from `publish_ahead` later, so
//! that relying parties that cache the JWKS have fetched it before they see a token it signed;
//! the keys it replaces stay published for `overlap` after that, so that every token they
//! signed still verifies until it expires. The first key is made on first use and signs at
//! once (nothing was signed before it).

use motcua_db::Db;
use serde_json::{Value, json};

use crate::jose::{self, KeyPair};
use crate::store::signing_keys::{self as store, KeyRow};
use crate::{IdentityError, Result};

/// How a rotation is timed (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationTiming {
    /// From publication to first signature (µs).
    pub publish_ahead_us: i64,
    /// How long replaced keys stay published once the new one signs (µs): at least the
    /// lifetime of the longest-lived token they sign.
    pub overlap_us: i64,
}

impl Default for RotationTiming {
    fn default() -> Self {
        const HOUR_US: i64 = 3_600_000_000;
        RotationTiming {
            publish_ahead_us: HOUR_US,
            overlap_us: 24 * HOUR_US,
        }
    }
}

/// The key that signs at `now`: of the published keys, the one activated last. Makes the
/// first key when there is none.
pub async fn signing_key(db: &Db, now: i64) -> Result<KeyPair> {
    let published = store::published(db, now).await?;
    if let Some(row) = published.iter().find(|k| k.active_from <= now) {
        return KeyPair::from_secret_hex(&row.private_key);
    }
    let key = KeyPair::generate();
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row_of(&key, now, now)).await?;
    tx.commit().await?;
    tracing::info!(kid = %key.kid, "made the first OpenID Connect signing key");
    Ok(key)
}

/// Publishes a new key that signs from `now + publish_ahead`, and retires the keys published
/// before it `overlap` after that. Returns the new key's id.
pub async fn rotate(db: &Db, timing: RotationTiming, now: i64) -> Result<String> {
    if timing.publish_ahead_us < 0 || timing.overlap_us < 0 {
        return Err(crate::invalid("rotation", "times must not be negative"));
    }
    let key = KeyPair::generate();
    let active_from = now.saturating_add(timing.publish_ahead_us);
    let mut tx = db.begin().await?;
    store::retire_all(&mut tx, active_from.saturating_add(timing.overlap_us)).await?;
    store::insert(&mut tx, &row_of(&key, now, active_from)).await?;
    tx.commit().await?;
    tracing::info!(kid = %key.kid, active_from, "published a new OpenID Connect signing key");
    Ok(key.kid)
}

/// The JWK Set to publish at `now` (RFC 7517 §5).
pub async fn jwks(db: &Db, now: i64) -> Result<Value> {
    let keys = store::published(db, now)
        .await?
        .iter()
        .map(|row| {
            serde_json::from_str::<Value>(&row.public_jwk)
                .map_err(|e| IdentityError::Internal(format!("stored JWK {}: {e}", row.kid)))
        })
        .collect::<Result<Vec<Value>>>()?;
    Ok(json!({ "keys": keys }))
}

fn row_of(key: &KeyPair, now: i64, active_from: i64) -> KeyRow {
    KeyRow {
        kid: key.kid.clone(),
        alg: jose::ALG.to_owned(),
        private_key: key.secret_hex(),
        public_jwk: key.public_jwk().to_string(),
        created_at: now,
        active_from,
        retired_at: None,
    }
}
