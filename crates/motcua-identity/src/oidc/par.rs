//! Pushed authorization requests (RFC 9126): the client sends the request's parameters over
//! the authenticated back channel first and gets a `request_uri` to put in the browser's
//! redirect, so nothing in the front channel can be altered or read.

use std::collections::BTreeMap;

use motcua_db::Db;

use super::authorize::{self, Rejection};
use super::{Lifetimes, OAuthErrorCode as E, OAuthResult, refuse};
use crate::Result;
use crate::relying_parties::RelyingParty;
use crate::store::oidc as store;
use crate::token::random_token;

pub const URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Checks and stores a pushed request from the authenticated `client`; returns the
/// `request_uri` and its lifetime in seconds.
pub async fn push(
    db: &Db,
    client: &RelyingParty,
    mut params: BTreeMap<String, String>,
    lifetimes: Lifetimes,
    now: i64,
) -> OAuthResult<(String, i64)> {
    if params.contains_key("request_uri") {
        return refuse(E::InvalidRequest, "request_uri cannot be pushed");
    }
    match params.get("client_id") {
        Some(id) if id != &client.client_id => {
            return refuse(
                E::InvalidRequest,
                "client_id is not the authenticated client",
            );
        }
        _ => {
            params.insert("client_id".into(), client.client_id.clone());
        }
    }
    if let Err(r) = authorize::check_with(client.clone(), &params, Some(String::new())) {
        let error = match r {
            Rejection::Show(e) | Rejection::Redirect { error: e, .. } => e,
        };
        return Err(error.into());
    }
    let id = random_token(24);
    let text = serde_json::to_string(&params)
        .map_err(|e| crate::IdentityError::Internal(e.to_string()))?;
    store::insert_pushed(
        db,
        &id,
        &client.client_id,
        &text,
        now + lifetimes.pushed_request_us,
    )
    .await?;
    Ok((
        format!("{URI_PREFIX}{id}"),
        super::secs(lifetimes.pushed_request_us),
    ))
}

/// The pushed parameters behind `request_uri`, when it is `client`'s and still valid.
pub async fn resolve(
    db: &Db,
    client: &RelyingParty,
    request_uri: &str,
    now: i64,
) -> Result<Option<(String, BTreeMap<String, String>)>> {
    let Some(id) = request_uri.strip_prefix(URI_PREFIX) else {
        return Ok(None);
    };
    let Some(row) = store::pushed(db, id).await? else {
        return Ok(None);
    };
    if row.client_id != client.client_id || row.expires_at <= now {
        return Ok(None);
    }
    let params: BTreeMap<String, String> = serde_json::from_str(&row.params)
        .map_err(|e| crate::IdentityError::Internal(format!("pushed request {id}: {e}")))?;
    Ok(Some((id.to_owned(), params)))
}
