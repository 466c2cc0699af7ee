//! The `oidc_clients` table; the rules are in `crate::relying_parties`.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

pub struct NewRelyingParty<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub redirect_uris: &'a str,
    pub auth_method: &'a str,
    pub jwks: Option<&'a str>,
    pub grants: &'a str,
    pub scopes: &'a str,
    pub secret_hash: Option<&'a str>,
    pub created_by: &'a str,
}

#[derive(sqlx::FromRow, Clone)]
pub struct RelyingPartyRow {
    pub id: String,
    pub name: String,
    pub redirect_uris: String,
    pub auth_method: String,
    pub jwks: Option<String>,
    pub grants: String,
    pub scopes: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

pub async fn insert(tx: &mut Tx, c: &NewRelyingParty<'_>, now: i64) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO oidc_clients (id, name, redirect_uris, auth_method, jwks, grants,
                                       scopes, secret_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.id)
        .bind(c.name)
        .bind(c.redirect_uris)
        .bind(c.auth_method)
        .bind(c.jwks)
        .bind(c.grants)
        .bind(c.scopes)
        .bind(c.secret_hash)
        .bind(c.created_by)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<RelyingPartyRow>> {
    let row: Option<RelyingPartyRow> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, name, redirect_uris, auth_method, jwks, grants, scopes, created_at,
                    disabled_at
             FROM oidc_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}
