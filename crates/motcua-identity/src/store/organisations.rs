//! The `organisations`, `organisation_representatives` and `citizen_login_aliases` tables;
//! the rules are in `crate::organisations` and `crate::citizen_accounts`.

use motcua_db::{Db, Tx, on_read, on_tx};

use crate::Result;

/// Maps `alias` to the account, unless another account holds it.
pub async fn put_alias(tx: &mut Tx, alias: &str, kind: &str, account_id: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_login_aliases (alias, kind, account_id) VALUES ($1, $2, $3)
             ON CONFLICT (alias) DO NOTHING",
        )
        .bind(alias)
        .bind(kind)
        .bind(account_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn account_of_alias(db: &Db, alias: &str) -> Result<Option<String>> {
    let id = on_read!(db, c => {
        sqlx::query_scalar("SELECT account_id FROM citizen_login_aliases WHERE alias = $1")
            .bind(alias)
            .fetch_optional(c)
            .await
    })?;
    Ok(id)
}

pub async fn insert(
    tx: &mut Tx,
    tax_code: &str,
    name: &str,
    actor: &str,
    now: i64,
) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO organisations (tax_code, name, registered_by, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (tax_code) DO NOTHING",
        )
        .bind(tax_code)
        .bind(name)
        .bind(actor)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct OrganisationRow {
    pub tax_code: String,
    pub name: String,
    pub created_at: i64,
}

pub async fn get(db: &Db, tax_code: &str) -> Result<Option<OrganisationRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as("SELECT tax_code, name, created_at FROM organisations WHERE tax_code = $1")
            .bind(tax_code)
            .fetch_optional(c)
            .await
    })?;
    Ok(row)
}

pub async fn list(db: &Db, limit: i64) -> Result<Vec<OrganisationRow>> {
    let rows = on_read!(db, c => {
        sqlx::query_as("SELECT tax_code, name, created_at FROM organisations ORDER BY created_at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows)
}

pub async fn add_representative(
    tx: &mut Tx,
    tax_code: &str,
    account_id: &str,
    role: &str,
    actor: &str,
    now: i64,
) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO organisation_representatives (tax_code, account_id, role, added_by, added_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tax_code, account_id) DO NOTHING",
        )
        .bind(tax_code)
        .bind(account_id)
        .bind(role)
        .bind(actor)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct RepresentationRow {
    pub tax_code: String,
    pub name: String,
    pub role: String,
    pub added_at: i64,
}

/// The organisations an account represents.
pub async fn represented_by(db: &Db, account_id: &str) -> Result<Vec<RepresentationRow>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT o.tax_code, o.name, r.role, r.added_at
             FROM organisation_representatives r JOIN organisations o ON o.tax_code = r.tax_code
             WHERE r.account_id = $1 ORDER BY o.name",
        )
        .bind(account_id)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// The representatives of an organisation: account id, PID, role.
pub async fn representatives(db: &Db, tax_code: &str) -> Result<Vec<(String, i64, String)>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT r.account_id, a.pid, r.role
             FROM organisation_representatives r JOIN citizen_accounts a ON a.id = r.account_id
             WHERE r.tax_code = $1 ORDER BY r.added_at",
        )
        .bind(tax_code)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}
