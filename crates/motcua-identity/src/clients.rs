//! Agency API clients: systems of ministries and provinces that call the registry APIs.
//! A client has an id, a long random secret (stored as SHA-256: it is not a password, so a
//! fast hash is right and checking it costs microseconds) and scopes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde::Serialize;
use serde_json::json;

use crate::store;
use crate::store::clients::{ClientRow, NewClient};
use crate::token::{constant_time_eq, random_token, sha256_hex};
use crate::{IdentityError, Result, invalid};

/// The scopes this build knows.
pub const KNOWN_SCOPES: &[&str] = &["registry.verify", "registry.lookup"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiClient {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub disabled: bool,
}

impl ApiClient {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A new client and its secret; the secret is shown once and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedClient {
    pub client_id: String,
    pub client_secret: String,
}

impl ClientRow {
    fn client(&self) -> ApiClient {
        ApiClient {
            id: self.id.clone(),
            name: self.name.clone(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            created_at: self.created_at,
            disabled: self.disabled_at.is_some(),
        }
    }
}

pub fn check_scopes(scopes: &[String]) -> Result<()> {
    if scopes.is_empty() {
        return Err(invalid("scope", "at least one scope is required"));
    }
    for s in scopes {
        if !KNOWN_SCOPES.contains(&s.as_str()) {
            return Err(invalid(
                "scope",
                format!("unknown scope {s:?}; known: {}", KNOWN_SCOPES.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Creates a client with `scopes`.
pub async fn create(db: &Db, name: &str, scopes: &[String], actor: &str) -> Result<IssuedClient> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "must be 1–200 characters"));
    }
    check_scopes(scopes)?;
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let client_id = format!("mc_{}", random_token(12));
    let client_secret = random_token(32);
    let now = motcua_db::clock::now_us();
    let mut tx = db.begin().await?;
    let new = NewClient {
        id: &client_id,
        name,
        secret_hash: &sha256_hex(&client_secret),
        scopes: &scopes.join(" "),
        created_by: actor,
    };
    store::clients::insert(&mut tx, &new, now).await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "api_client",
            aggregate_id: &client_id,
            event_type: "api_client.created",
            actor,
            reason: "client created",
            payload: json!({ "name": name, "scopes": scopes }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedClient {
        client_id,
        client_secret,
    })
}

pub async fn list(db: &Db) -> Result<Vec<ApiClient>> {
    let rows = store::clients::all(db).await?;
    Ok(rows.iter().map(ClientRow::client).collect())
}

/// Disables a client; its secret stops working (within [`ClientCache`]'s lifetime on other
/// nodes).
pub async fn disable(db: &Db, client_id: &str, actor: &str) -> Result<()> {
    let now = motcua_db::clock::now_us();
    let mut tx = db.begin().await?;
    let n = store::clients::disable(&mut tx, client_id, now).await?;
    if n == 0 {
        return Err(IdentityError::NotFound);
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "api_client",
            aggregate_id: client_id,
            event_type: "api_client.disabled",
            actor,
            reason: "client disabled",
            payload: json!({}),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Why client authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    Unknown,
    BadSecret,
    Disabled,
}

/// Authenticates API clients, keeping each client's row for a few seconds so the hot
/// verification path does not read `api_clients` on every call. Per-node and short-lived:
/// disabling a client takes effect everywhere within [`CACHE_TTL_US`].
#[derive(Clone, Default)]
pub struct ClientCache {
    entries: Arc<RwLock<HashMap<String, Cached>>>,
}

/// When a client's row was read, and the row (shared, so a hit copies no text).
type Cached = (i64, Arc<ClientRow>);

pub const CACHE_TTL_US: i64 = 10 * 1_000_000;

impl ClientCache {
    pub async fn authenticate(
        &self,
        db: &Db,
        client_id: &str,
        secret: &str,
    ) -> Result<std::result::Result<ApiClient, ClientAuthFailure>> {
        if client_id.len() > 64 || secret.len() > 256 {
            return Ok(Err(ClientAuthFailure::Unknown));
        }
        let now = motcua_db::clock::now_us();
        let cached = self.entries.read().ok().and_then(|m| {
            m.get(client_id)
                .filter(|(at, _)| now - at < CACHE_TTL_US)
                .cloned()
        });
        let row = match cached {
            Some((_, row)) => row,
            None => {
                let row = store::clients::get(db, client_id).await?;
                let Some(row) = row else {
                    return Ok(Err(ClientAuthFailure::Unknown));
                };
                let row = Arc::new(row);
                if let Ok(mut m) = self.entries.write() {
                    if m.len() > 10_000 {
                        m.clear();
                    }
                    m.insert(client_id.to_owned(), (now, Arc::clone(&row)));
                }
                row
            }
        };
        if !constant_time_eq(&sha256_hex(secret), &row.secret_hash) {
            return Ok(Err(ClientAuthFailure::BadSecret));
        }
        if row.disabled_at.is_some() {
            return Ok(Err(ClientAuthFailure::Disabled));
        }
        Ok(Ok(row.client()))
    }
}
