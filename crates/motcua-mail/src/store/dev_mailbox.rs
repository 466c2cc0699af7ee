//! The development mailbox: where messages go when no SMTP server is configured (`motcua
//! demo`, development). One row per job; a second delivery of the same job (a worker that
//! lost its lease after delivering) increments `deliveries` instead of adding a copy, so it
//! shows up rather than disappearing.

use motcua_db::{Db, DbResult, on_read, on_write};
use serde::Serialize;

use crate::Message;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub job_id: String,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub delivered_by: String,
    pub deliveries: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Keeps the message of job `job_id`, delivered by `worker`.
pub async fn deliver(
    db: &Db,
    job_id: &str,
    worker: &str,
    sender: &str,
    message: &Message,
) -> DbResult<()> {
    let now = motcua_db::clock::now_us();
    let id = motcua_db::new_id();
    on_write!(db, c => {
        sqlx::query(
            "INSERT INTO dev_mailbox (id, job_id, sender, recipient, subject, text_body,
                                      html_body, delivered_by, deliveries, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)
             ON CONFLICT (job_id) DO UPDATE
                 SET deliveries = dev_mailbox.deliveries + 1,
                     delivered_by = excluded.delivered_by, updated_at = excluded.updated_at",
        )
        .bind(&id)
        .bind(job_id)
        .bind(sender)
        .bind(&message.to)
        .bind(&message.subject)
        .bind(&message.text)
        .bind(message.html.as_deref())
        .bind(worker)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The newest messages first: `limit` of them created before the message `before`.
pub async fn list(db: &Db, before: Option<&str>, limit: i64) -> DbResult<Vec<Entry>> {
    let rows: Result<Vec<Entry>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT id, job_id, sender, recipient, subject, text_body, html_body, delivered_by,
                    deliveries, created_at, updated_at
             FROM dev_mailbox WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(""))
        .bind(limit.clamp(1, 1_000))
        .fetch_all(c)
        .await
    });
    Ok(rows?)
}

/// Deliveries per job, for checking that no job was delivered twice: (messages, jobs
/// delivered more than once).
pub async fn delivery_summary(db: &Db) -> DbResult<(i64, i64)> {
    let row: Result<(i64, i64), sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN deliveries > 1 THEN 1 ELSE 0 END), 0)
             FROM dev_mailbox",
        )
        .fetch_one(c)
        .await
    });
    Ok(row?)
}
