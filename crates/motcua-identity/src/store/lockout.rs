//! Failed sign-ins and locks, the same for every kind of account (the rules are in
//! `crate::staff::LockoutPolicy`): each count is one atomic statement, so concurrent
//! attempts cannot lose each other's count.

use motcua_db::{Tx, on_tx};

use crate::Result;

/// The tables of accounts that lock: each has `id`, `failed_logins`, `locked_until` and
/// `updated_at`.
#[derive(Debug, Clone, Copy)]
pub enum Accounts {
    Staff,
    Citizens,
}

impl Accounts {
    fn table(self) -> &'static str {
        match self {
            Accounts::Staff => "staff_users",
            Accounts::Citizens => "citizen_accounts",
        }
    }
}

/// One failed sign-in, counted in one atomic statement. While the account is locked the
/// count is set past the threshold and the lock is kept as it is; once the lock has expired
/// counting starts again. The lock is set by exactly the failure whose count reaches the
/// threshold, and that count is stored as the threshold itself, so `failed_logins =
/// threshold` in the answer means "this attempt locked the account".
const COUNT_FAILURE: &str = "UPDATE {table} SET
    failed_logins = CASE
        WHEN locked_until > $2 THEN $3 + 1
        WHEN (CASE WHEN locked_until IS NULL THEN failed_logins ELSE 0 END) + 1 >= $3 THEN $3
        ELSE (CASE WHEN locked_until IS NULL THEN failed_logins ELSE 0 END) + 1
    END,
    locked_until = CASE
        WHEN locked_until > $2 THEN locked_until
        WHEN (CASE WHEN locked_until IS NULL THEN failed_logins ELSE 0 END) + 1 >= $3 THEN $4
        ELSE NULL
    END,
    updated_at = $2
    WHERE id = $1
    RETURNING failed_logins, locked_until";

/// Counts a failed sign-in of account `id` at `now`, locking it until `until` at
/// `threshold`; the count and lock as stored.
pub async fn count_failure(
    tx: &mut Tx,
    accounts: Accounts,
    id: &str,
    now: i64,
    threshold: i32,
    until: i64,
) -> Result<Option<(i32, Option<i64>)>> {
    let sql = COUNT_FAILURE.replace("{table}", accounts.table());
    let counted = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(now)
            .bind(threshold)
            .bind(until)
            .fetch_optional(&mut *c)
            .await
    })?;
    Ok(counted)
}

/// A successful sign-in clears the count, but only if the account is not locked at that
/// moment: the condition is checked on the row as it is when updated, not as it was read.
const COUNT_SUCCESS: &str = "UPDATE {table} SET failed_logins = 0, locked_until = NULL,
    updated_at = $2
    WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)
    RETURNING id";

/// Clears the failures of account `id`; false when it is locked at `now`.
pub async fn count_success(tx: &mut Tx, accounts: Accounts, id: &str, now: i64) -> Result<bool> {
    let sql = COUNT_SUCCESS.replace("{table}", accounts.table());
    let cleared: Option<String> = on_tx!(tx, c => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await
    })?;
    Ok(cleared.is_some())
}
