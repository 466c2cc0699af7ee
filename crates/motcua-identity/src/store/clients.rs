//! The `api_clients` table.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

#[derive(sqlx::FromRow, Clone)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    /// Space-separated.
    pub scopes: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// A client to store: only the hash of its secret.
pub struct NewClient<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub created_by: &'a str,
}

pub async fn insert(tx: &mut Tx, client: &NewClient<'_>, now: i64) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO api_clients (id, name, secret_hash, scopes, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(client.id)
        .bind(client.name)
        .bind(client.secret_hash)
        .bind(client.scopes)
        .bind(client.created_by)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Every client, newest first.
pub async fn all(db: &Db) -> Result<Vec<ClientRow>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, name, secret_hash, scopes, created_at, disabled_at
             FROM api_clients ORDER BY created_at DESC",
        )
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ClientRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, name, secret_hash, scopes, created_at, disabled_at
             FROM api_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

/// Disables the client unless it already is; returns the rows changed (0: unknown or
/// already disabled).
pub async fn disable(tx: &mut Tx, id: &str, now: i64) -> Result<u64> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE api_clients SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}
