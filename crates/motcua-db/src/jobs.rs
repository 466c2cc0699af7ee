//! The job outbox. A job is enqueued in the same transaction as the change that needs it (the
//! outbox pattern), then claimed by any `motcua serve` process with a time-limited lease.
//! A worker that dies loses its lease and another process picks the job up; a completion from a
//! worker whose lease was taken over is refused, so handlers must be idempotent.

use serde::Serialize;

use crate::{Db, DbResult, Engine, Pools, Tx, on_tx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub payload: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_until: Option<i64>,
}

/// Adds a job to `queue` inside the caller's transaction; it becomes claimable at `run_at`.
pub async fn enqueue(
    tx: &mut Tx,
    queue: &str,
    payload: &serde_json::Value,
    run_at: i64,
    max_attempts: i32,
) -> DbResult<String> {
    let id = crate::new_id();
    let now = crate::clock::now_us();
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO jobs (id, queue, payload, status, attempts, max_attempts, run_at,
                               created_at, updated_at)
             VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $6)",
        )
        .bind(&id)
        .bind(queue)
        .bind(payload.to_string())
        .bind(max_attempts)
        .bind(run_at)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(id)
}

const CLAIM_SQLITE: &str = "UPDATE jobs
    SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
        updated_at = $3
    WHERE id IN (
        SELECT id FROM jobs
        WHERE queue = $4
          AND ((status = 'pending' AND run_at <= $3)
               OR (status = 'running' AND lease_until < $3))
        ORDER BY run_at, id
        LIMIT $5)
    RETURNING id, queue, payload, attempts, max_attempts, lease_until";

// FOR UPDATE SKIP LOCKED: concurrent claimers on other nodes skip rows being claimed instead
// of waiting, and never claim the same row twice.
const CLAIM_POSTGRES: &str = "UPDATE jobs
    SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
        updated_at = $3
    WHERE id IN (
        SELECT id FROM jobs
        WHERE queue = $4
          AND ((status = 'pending' AND run_at <= $3)
               OR (status = 'running' AND lease_until < $3))
        ORDER BY run_at, id
        LIMIT $5
        FOR UPDATE SKIP LOCKED)
    RETURNING id, queue, payload, attempts, max_attempts, lease_until";

/// Claims up to `limit` ready jobs of `queue` for `worker`, leased until `now + lease_us`.
/// A job whose lease expired (its worker died) is ready again.
pub async fn claim(
    db: &Db,
    queue: &str,
    worker: &str,
    limit: i64,
    lease_us: i64,
    now: i64,
) -> DbResult<Vec<Job>> {
    let jobs = match db.pools() {
        Pools::Sqlite { write, .. } => {
            let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
            let jobs = sqlx::query_as(CLAIM_SQLITE)
                .bind(worker)
                .bind(now + lease_us)
                .bind(now)
                .bind(queue)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            jobs
        }
        Pools::Postgres(pool) => {
            sqlx::query_as(CLAIM_POSTGRES)
                .bind(worker)
                .bind(now + lease_us)
                .bind(now)
                .bind(queue)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    debug_assert!(matches!(db.engine(), Engine::Sqlite | Engine::Postgres));
    Ok(jobs)
}

/// Marks a job done. Returns false (and changes nothing) if `worker` no longer holds it.
pub async fn complete(db: &Db, job_id: &str, worker: &str, now: i64) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL,
                             updated_at = $3
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n == 1)
}

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Scheduled again at the given time.
    Retry(i64),
    /// Out of attempts; kept as `failed` for an operator.
    Dead,
    /// The worker no longer held the job; nothing changed.
    NotHeld,
}

/// Records a failed attempt: retried with exponential backoff (`base_backoff_us · 2^(n−1)`)
/// until `max_attempts`, then left as `failed`.
pub async fn fail(
    db: &Db,
    job_id: &str,
    worker: &str,
    error: &str,
    base_backoff_us: i64,
    now: i64,
) -> DbResult<FailOutcome> {
    let mut tx = db.begin().await?;
    let held: Option<(i32, i32)> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT attempts, max_attempts FROM jobs
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .fetch_optional(&mut *c)
        .await
    })?;
    let Some((attempts, max_attempts)) = held else {
        return Ok(FailOutcome::NotHeld);
    };
    let outcome = if attempts >= max_attempts {
        FailOutcome::Dead
    } else {
        let shift = (attempts.max(1) - 1).min(20) as u32;
        FailOutcome::Retry(now + base_backoff_us.saturating_mul(1i64 << shift))
    };
    let (status, run_at) = match outcome {
        FailOutcome::Retry(at) => ("pending", at),
        _ => ("failed", now),
    };
    on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, lease_owner = NULL,
                             lease_until = NULL, updated_at = $4
             WHERE id = $5",
        )
        .bind(status)
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(job_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(outcome)
}

/// Counts of jobs by status, for `/metrics`.
pub async fn counts(db: &Db) -> DbResult<Vec<(String, String, i64)>> {
    let rows: Result<Vec<(String, String, i64)>, sqlx::Error> = crate::on_read!(db, c => {
        sqlx::query_as(
            "SELECT queue, status, COUNT(*) FROM jobs GROUP BY queue, status ORDER BY queue, status",
        )
        .fetch_all(c)
        .await
    });
    Ok(rows?)
}
