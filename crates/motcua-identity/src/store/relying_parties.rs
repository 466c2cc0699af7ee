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
    pub post_logout_redirect_uris: &'a str,
    pub backchannel_logout_uri: Option<&'a str>,
    pub require_par: bool,
    pub require_dpop: bool,
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
    pub secret_hash: Option<String>,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub require_par: i32,
    pub require_dpop: i32,
}

pub async fn insert(tx: &mut Tx, c: &NewRelyingParty<'_>, now: i64) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO oidc_clients (id, name, redirect_uris, auth_method, jwks, grants,
                                       scopes, secret_hash, created_by, created_at,
                                       post_logout_redirect_uris, backchannel_logout_uri,
                                       require_par, require_dpop)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
        .bind(c.post_logout_redirect_uris)
        .bind(c.backchannel_logout_uri)
        .bind(i32::from(c.require_par))
        .bind(i32::from(c.require_dpop))
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
                    disabled_at, secret_hash, post_logout_redirect_uris,
                    backchannel_logout_uri, require_par, require_dpop
             FROM oidc_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

pub async fn list(db: &Db, limit: i64) -> Result<Vec<RelyingPartyRow>> {
    let rows: Vec<RelyingPartyRow> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, name, redirect_uris, auth_method, jwks, grants, scopes, created_at,
                    disabled_at, secret_hash, post_logout_redirect_uris,
                    backchannel_logout_uri, require_par, require_dpop
             FROM oidc_clients ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}
