//! The provider's keys as each node holds them: the key that signs now and the published set
//! that verifies, read from the database at most every [`RELOAD_US`] (a rotation publishes its
//! key an hour before it signs, so a few seconds of staleness never matter), and at once when
//! a token names a key this node has not seen yet.

use std::sync::{Arc, RwLock};

use motcua_db::Db;
use serde_json::Value;

use crate::Result;
use crate::jose::{self, JwsError, KeyPair, Verified};
use crate::signing_keys;

pub const RELOAD_US: i64 = 30 * 1_000_000;

/// The keys loaded at one moment.
pub struct Keys {
    pub signer: KeyPair,
    pub published: Vec<Value>,
    loaded_at: i64,
}

#[derive(Clone, Default)]
pub struct KeyRing {
    current: Arc<RwLock<Option<Arc<Keys>>>>,
}

impl KeyRing {
    /// The keys at `now`, reloaded when older than [`RELOAD_US`].
    pub async fn keys(&self, db: &Db, now: i64) -> Result<Arc<Keys>> {
        let cached = self.current.read().ok().and_then(|k| k.clone());
        if let Some(k) = cached
            && now - k.loaded_at < RELOAD_US
            && now >= k.loaded_at
        {
            return Ok(k);
        }
        self.reload(db, now).await
    }

    pub async fn reload(&self, db: &Db, now: i64) -> Result<Arc<Keys>> {
        let signer = signing_keys::signing_key(db, now).await?;
        let set = signing_keys::jwks(db, now).await?;
        let published = set["keys"].as_array().cloned().unwrap_or_default();
        let keys = Arc::new(Keys {
            signer,
            published,
            loaded_at: now,
        });
        if let Ok(mut slot) = self.current.write() {
            *slot = Some(Arc::clone(&keys));
        }
        Ok(keys)
    }

    /// Signs `claims` with the current key.
    pub async fn sign(&self, db: &Db, typ: &str, claims: &Value, now: i64) -> Result<String> {
        Ok(self.keys(db, now).await?.signer.sign(typ, claims))
    }

    /// Verifies a token this provider signed; `Ok(Err(_))` when it does not verify.
    pub async fn verify(
        &self,
        db: &Db,
        token: &str,
        now: i64,
    ) -> Result<std::result::Result<Verified, JwsError>> {
        let keys = self.keys(db, now).await?;
        match jose::verify(token, &keys.published) {
            Err(JwsError::UnknownKey(_)) if now - keys.loaded_at > 1_000_000 => {
                // Perhaps published by another node since this one loaded; once a second at most.
                let keys = self.reload(db, now).await?;
                Ok(jose::verify(token, &keys.published))
            }
            other => Ok(other),
        }
    }
}
