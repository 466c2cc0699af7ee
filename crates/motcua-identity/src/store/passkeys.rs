//! The `citizen_passkeys` and `webauthn_challenges` tables; the rules are in
//! `crate::passkeys`.

use motcua_db::{Db, Tx, on_read, on_tx, on_write};

use crate::Result;

pub async fn insert_challenge(
    db: &Db,
    id: &str,
    challenge: &str,
    account_id: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    on_tx!(&mut tx, c => {
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, challenge, account_id, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(challenge)
        .bind(account_id)
        .bind(expires_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(())
}

/// Takes a challenge (once): its value, account and expiry.
pub async fn take_challenge(db: &Db, id: &str) -> Result<Option<(String, Option<String>, i64)>> {
    let row = on_write!(db, c => {
        sqlx::query_as(
            "DELETE FROM webauthn_challenges WHERE id = $1
             RETURNING challenge, account_id, expires_at",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

pub async fn insert(
    tx: &mut Tx,
    credential_id: &str,
    account_id: &str,
    public_key: &str,
    sign_count: i64,
    user_verified: bool,
    now: i64,
) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO citizen_passkeys (credential_id, account_id, public_key, sign_count,
                                           user_verified, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(credential_id)
        .bind(account_id)
        .bind(public_key)
        .bind(sign_count)
        .bind(i32::from(user_verified))
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct PasskeyRow {
    pub credential_id: String,
    pub account_id: String,
    pub public_key: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn get(db: &Db, credential_id: &str) -> Result<Option<PasskeyRow>> {
    let row = on_read!(db, c => {
        sqlx::query_as(
            "SELECT credential_id, account_id, public_key, created_at, last_used_at
             FROM citizen_passkeys WHERE credential_id = $1",
        )
        .bind(credential_id)
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

pub async fn of_account(db: &Db, account_id: &str) -> Result<Vec<PasskeyRow>> {
    let rows = on_read!(db, c => {
        sqlx::query_as(
            "SELECT credential_id, account_id, public_key, created_at, last_used_at
             FROM citizen_passkeys WHERE account_id = $1 ORDER BY created_at",
        )
        .bind(account_id)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// Records a use with the authenticator's new counter, if it did not go backwards (a cloned
/// authenticator would repeat or lower it); false otherwise.
pub async fn record_use(
    tx: &mut Tx,
    credential_id: &str,
    sign_count: i64,
    now: i64,
) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizen_passkeys SET sign_count = $2, last_used_at = $3
             WHERE credential_id = $1 AND (sign_count < $2 OR ($2 = 0 AND sign_count = 0))",
        )
        .bind(credential_id)
        .bind(sign_count)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn delete(tx: &mut Tx, account_id: &str, credential_id: &str) -> Result<bool> {
    let n = on_tx!(tx, c => {
        sqlx::query("DELETE FROM citizen_passkeys WHERE account_id = $1 AND credential_id = $2")
            .bind(account_id)
            .bind(credential_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
