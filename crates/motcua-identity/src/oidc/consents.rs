//! The consents a citizen gave relying parties, as she sees them on her account pages, and
//! their withdrawal: withdrawing one also revokes every grant to that client, so its tokens
//! stop working at once.

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;

use super::words;
use crate::Result;
use crate::store::oidc::{self as store, RevokedGrant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

pub async fn list(db: &Db, account_id: &str) -> Result<Vec<Consent>> {
    Ok(store::consents_of(db, account_id)
        .await?
        .into_iter()
        .map(|r| Consent {
            client_id: r.client_id,
            client_name: r.client_name,
            scopes: words(&r.scopes),
            granted_at: r.granted_at,
        })
        .collect())
}

/// Withdraws the consent to `client_id`; the grants it revoked (`None` when there was no
/// such consent).
pub async fn withdraw(
    db: &Db,
    account_id: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<Vec<RevokedGrant>>> {
    let mut tx = db.begin().await?;
    if !store::delete_consent(&mut tx, account_id, client_id).await? {
        return Ok(None);
    }
    let revoked = store::revoke_grants_of_account(
        &mut tx,
        account_id,
        Some(client_id),
        "consent withdrawn",
        now,
    )
    .await?;
    super::backchannel::enqueue(&mut tx, account_id, &revoked, now).await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "citizen_account",
            aggregate_id: account_id,
            event_type: "citizen_account.consent_withdrawn",
            actor: &format!("citizen:{account_id}"),
            reason: "consent withdrawn",
            payload: json!({ "client_id": client_id, "grants_revoked": revoked.len() }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(revoked))
}
