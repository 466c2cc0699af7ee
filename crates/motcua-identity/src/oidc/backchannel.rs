//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a session ends, each
//! relying party that registered a `backchannel_logout_uri` and holds a grant of it gets a
//! signed logout token naming the session (`sid`) and the citizen (`sub`), posted by the job
//! worker, with retries. The job is enqueued in the transaction that ends the grant, so a
//! logout is never recorded without its notices, nor a notice sent for a logout undone.

use std::time::Duration;

use motcua_db::jobs::worker::{JobError, JobRun, Registry};
use motcua_db::jobs::{self, NewJob};
use motcua_db::{Db, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::keys::KeyRing;
use super::secs;
use crate::Result;
use crate::store::oidc::{self as store, RevokedGrant};
use crate::token::random_token;

pub const KIND: &str = "oidc.backchannel_logout";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Notice {
    client_id: String,
    uri: String,
    sid: String,
    sub: String,
}

/// Enqueues a notice for each revoked grant whose client takes them.
pub async fn enqueue(
    tx: &mut Tx,
    account_id: &str,
    revoked: &[RevokedGrant],
    now: i64,
) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for grant in revoked {
        if !seen.insert((grant.client_id.clone(), grant.sid.clone())) {
            continue;
        }
        let Some(uri) = store::backchannel_uri(tx, &grant.client_id).await? else {
            continue;
        };
        let notice = Notice {
            client_id: grant.client_id.clone(),
            uri,
            sid: grant.sid.clone(),
            sub: account_id.to_owned(),
        };
        let payload = json!(notice);
        jobs::enqueue_job(
            tx,
            &NewJob {
                kind: KIND,
                payload: &payload,
                run_at: now,
                max_attempts: 6,
                dedup_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Registers the job handler. `issuer` is the provider's public URL, the `iss` of the
/// logout tokens.
pub fn register(registry: &mut Registry, db: Db, issuer: String) {
    let keys = KeyRing::default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    registry.register(KIND, move |run| {
        let (db, keys, http, issuer) = (db.clone(), keys.clone(), http.clone(), issuer.clone());
        async move { deliver(&db, &keys, &http, &issuer, run).await }
    });
}

async fn deliver(
    db: &Db,
    keys: &KeyRing,
    http: &reqwest::Client,
    issuer: &str,
    run: JobRun,
) -> std::result::Result<(), JobError> {
    let notice: Notice = serde_json::from_str(&run.job.payload)
        .map_err(|e| JobError::Permanent(format!("the payload is not a logout notice: {e}")))?;
    let now = motcua_db::clock::now_us();
    let claims = json!({
        "iss": issuer,
        "aud": notice.client_id,
        "iat": secs(now),
        "exp": secs(now) + 120,
        "jti": random_token(16),
        "sub": notice.sub,
        "sid": notice.sid,
        "events": { EVENT: {} },
    });
    let token = keys
        .sign(db, "logout+jwt", &claims, now)
        .await
        .map_err(|e| JobError::Retryable(e.to_string()))?;
    let resp = http
        .post(&notice.uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| JobError::Retryable(format!("{}: {e}", notice.uri)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else if status.is_client_error() && status.as_u16() != 429 {
        Err(JobError::Permanent(format!(
            "{} answered {status}",
            notice.uri
        )))
    } else {
        Err(JobError::Retryable(format!(
            "{} answered {status}",
            notice.uri
        )))
    }
}
