//! The job outbox. A job is enqueued in the same transaction as the change that needs it (the
//! outbox pattern), then claimed by any `motcua serve` process with a time-limited lease.
//! A worker that dies loses its lease and another process picks the job up; a completion from a
//! worker whose lease was taken over is refused, so handlers must be idempotent.
//!
//! A job's `queue` is its kind (`mail.send`, …): the handler registered for it runs it
//! ([`worker`]). Statuses: `pending` (queued, or waiting for a retry when `last_error` is set),
//! `running` (leased), `done`, `dead` (out of attempts, or failed permanently) and `cancelled`.
//! The rows are operational data: attempts are not events, but an administrator's retry and
//! cancel are.

pub mod worker;

use serde::Serialize;

use crate::events::{self, NewEvent};
use crate::{Db, DbError, DbResult, Engine, Pools, Tx, on_read, on_tx, on_write};

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub payload: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_until: Option<i64>,
}

/// A job as an operator sees it (admin page, `motcua jobs list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub queue: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub dedup_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: &'a serde_json::Value,
    /// Claimable from this time (microseconds); `0` or now for at once.
    pub run_at: i64,
    pub max_attempts: i32,
    /// When set, a second enqueue with the same key is a no-op (returns `None`).
    pub dedup_key: Option<&'a str>,
}

/// Attempts a job gets unless its enqueuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// Adds a job to `queue` inside the caller's transaction; it becomes claimable at `run_at`.
pub async fn enqueue(
    tx: &mut Tx,
    queue: &str,
    payload: &serde_json::Value,
    run_at: i64,
    max_attempts: i32,
) -> DbResult<String> {
    let job = NewJob {
        kind: queue,
        payload,
        run_at,
        max_attempts,
        dedup_key: None,
    };
    enqueue_job(tx, &job)
        .await?
        .ok_or_else(|| DbError::Conflict("job not enqueued".into()))
}

/// Adds a job inside the caller's transaction. Returns its id, or `None` when a job with the
/// same `dedup_key` exists already (whatever its status), so a retried sender or two nodes
/// enqueueing the same occurrence produce one job.
pub async fn enqueue_job(tx: &mut Tx, job: &NewJob<'_>) -> DbResult<Option<String>> {
    if job.kind.is_empty() || job.kind.len() > 100 {
        return Err(DbError::Conflict(
            "kind: must be 1 to 100 characters".into(),
        ));
    }
    if job.max_attempts < 1 {
        return Err(DbError::Conflict("max_attempts: must be at least 1".into()));
    }
    let id = crate::new_id();
    let now = crate::clock::now_us();
    let inserted: Option<String> = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO jobs (id, queue, payload, status, attempts, max_attempts, run_at,
                               created_at, updated_at, dedup_key)
             VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $6, $7)
             ON CONFLICT (dedup_key) DO NOTHING
             RETURNING id",
        )
        .bind(&id)
        .bind(job.kind)
        .bind(job.payload.to_string())
        .bind(job.max_attempts)
        .bind(job.run_at)
        .bind(now)
        .bind(job.dedup_key)
        .fetch_optional(&mut *c)
        .await
    })?;
    if inserted.is_some() {
        worker::wake();
    }
    Ok(inserted)
}

/// Enqueues the occurrence of a recurring job for the period containing `now` (periods are
/// multiples of `interval_us` since the epoch). The key (kind, period) is unique, so however
/// many nodes call this, each occurrence is enqueued once, and a restart does not repeat it.
/// Returns true if this call enqueued it.
pub async fn enqueue_recurring(
    db: &Db,
    kind: &str,
    interval_us: i64,
    max_attempts: i32,
    now: i64,
) -> DbResult<bool> {
    let interval = interval_us.max(1);
    let period_start = now - now.rem_euclid(interval);
    let key = format!("recurring:{kind}:{period_start}");
    let payload = serde_json::json!({ "period_start": period_start, "interval_us": interval });
    let mut tx = db.begin().await?;
    let id = enqueue_job(
        &mut tx,
        &NewJob {
            kind,
            payload: &payload,
            run_at: period_start,
            max_attempts,
            dedup_key: Some(&key),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id.is_some())
}

const CLAIMED: &str = "RETURNING id, queue, payload, attempts, max_attempts, lease_until";

/// The claim statement: `queue_filter` is empty (every kind) or `AND queue = $4`;
/// `lock` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claimers on other nodes
/// skip rows being claimed instead of waiting, and never claim the same row twice. SQLite
/// serialises claimers with `BEGIN IMMEDIATE`.
fn claim_sql(queue_filter: &str, limit_param: &str, lock: &str) -> String {
    format!(
        "UPDATE jobs
         SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1,
             updated_at = $3
         WHERE id IN (
             SELECT id FROM jobs
             WHERE ((status = 'pending' AND run_at <= $3)
                    OR (status = 'running' AND lease_until < $3)) {queue_filter}
             ORDER BY run_at, id
             LIMIT {limit_param}
             {lock})
         {CLAIMED}"
    )
}

async fn claim_with(
    db: &Db,
    queue: Option<&str>,
    worker: &str,
    limit: i64,
    lease_us: i64,
    now: i64,
) -> DbResult<Vec<Job>> {
    let (filter, limit_param) = match queue {
        Some(_) => ("AND queue = $4", "$5"),
        None => ("", "$4"),
    };
    let jobs = match db.pools() {
        Pools::Sqlite { write, .. } => {
            let sql = claim_sql(filter, limit_param, "");
            let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(worker)
                .bind(now + lease_us)
                .bind(now);
            if let Some(queue) = queue {
                q = q.bind(queue);
            }
            let jobs = q.bind(limit).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            jobs
        }
        Pools::Postgres(pool) => {
            let sql = claim_sql(filter, limit_param, "FOR UPDATE SKIP LOCKED");
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(worker)
                .bind(now + lease_us)
                .bind(now);
            if let Some(queue) = queue {
                q = q.bind(queue);
            }
            q.bind(limit).fetch_all(pool).await?
        }
    };
    debug_assert!(matches!(db.engine(), Engine::Sqlite | Engine::Postgres));
    Ok(jobs)
}

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
    claim_with(db, Some(queue), worker, limit, lease_us, now).await
}

/// Claims up to `limit` ready jobs of any kind, as [`claim`] does.
pub async fn claim_due(
    db: &Db,
    worker: &str,
    limit: i64,
    lease_us: i64,
    now: i64,
) -> DbResult<Vec<Job>> {
    claim_with(db, None, worker, limit, lease_us, now).await
}

/// Extends `worker`'s lease on a running job to `now + lease_us` (the heartbeat of a handler
/// that runs long). False when the lease was lost: another worker may be running the job.
pub async fn renew(db: &Db, job_id: &str, worker: &str, lease_us: i64, now: i64) -> DbResult<bool> {
    let n = on_write!(db, c => {
        sqlx::query(
            "UPDATE jobs SET lease_until = $3, updated_at = $4
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .bind(now + lease_us)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Marks a job done. Returns false (and changes nothing) if `worker` no longer holds it.
pub async fn complete(db: &Db, job_id: &str, worker: &str, now: i64) -> DbResult<bool> {
    let n = on_write!(db, c => {
        sqlx::query(
            "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL,
                             updated_at = $3
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Gives a running job back unrun (a worker stopping): pending again at once, and the
/// attempt it was claimed with does not count.
pub async fn release(db: &Db, job_id: &str, worker: &str, now: i64) -> DbResult<bool> {
    let n = on_write!(db, c => {
        sqlx::query(
            "UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                             run_at = $3, updated_at = $3
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Scheduled again at the given time.
    Retry(i64),
    /// Out of attempts, or failed permanently; kept as `dead` for an operator.
    Dead,
    /// The worker no longer held the job; nothing changed.
    NotHeld,
}

/// The wait before attempt `attempts + 1`: `base · 2^(attempts−1)`, capped at `max`, then
/// scaled by `jitter` in [0, 1] into its upper half, so jobs that failed together (an SMTP
/// server down) do not all come back at the same instant.
pub fn backoff_us(attempts: i32, base_us: i64, max_us: i64, jitter: f64) -> i64 {
    let shift = (attempts.max(1) - 1).min(30) as u32;
    let full = base_us
        .saturating_mul(1i64 << shift)
        .min(max_us.max(base_us));
    let jitter = jitter.clamp(0.0, 1.0);
    full / 2 + ((full / 2) as f64 * jitter) as i64
}

/// Records a failed attempt: retried at `retry_at` unless the job has had `max_attempts`
/// attempts, in which case it is `dead`. One atomic update: under READ COMMITTED a worker
/// that lost its lease meanwhile changes nothing.
pub async fn fail(
    db: &Db,
    job_id: &str,
    worker: &str,
    error: &str,
    retry_at: i64,
    now: i64,
) -> DbResult<FailOutcome> {
    let row: Option<(String, i64)> = on_write!(db, c => {
        sqlx::query_as(
            "UPDATE jobs SET
                 status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
                 run_at = CASE WHEN attempts >= max_attempts THEN $5 ELSE $4 END,
                 last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'
             RETURNING status, run_at",
        )
        .bind(job_id)
        .bind(worker)
        .bind(truncate_error(error))
        .bind(retry_at)
        .bind(now)
        .fetch_optional(c)
        .await
    })?;
    Ok(match row {
        None => FailOutcome::NotHeld,
        Some((status, _)) if status == "dead" => FailOutcome::Dead,
        Some((_, at)) => FailOutcome::Retry(at),
    })
}

/// Records an attempt that cannot succeed if repeated (unknown kind, malformed payload, a
/// recipient refused): the job is `dead` at once.
pub async fn fail_permanently(
    db: &Db,
    job_id: &str,
    worker: &str,
    error: &str,
    now: i64,
) -> DbResult<bool> {
    let n = on_write!(db, c => {
        sqlx::query(
            "UPDATE jobs SET status = 'dead', last_error = $3, lease_owner = NULL,
                             lease_until = NULL, run_at = $4, updated_at = $4
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(job_id)
        .bind(worker)
        .bind(truncate_error(error))
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Errors are kept for the operator, not in full: a long SMTP transcript is cut.
fn truncate_error(error: &str) -> &str {
    const MAX: usize = 1_000;
    if error.len() <= MAX {
        return error;
    }
    let mut end = MAX;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// Why an administrator's retry or cancel was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Done,
    /// No such job.
    NotFound,
    /// The job is in a status the action does not apply to.
    WrongStatus,
}

async fn admin_change(
    db: &Db,
    job_id: &str,
    actor: &str,
    now: i64,
    sql: &'static str,
    event_type: &str,
) -> DbResult<AdminOutcome> {
    let mut tx = db.begin().await?;
    let changed: Option<String> = on_tx!(&mut tx, c => {
        sqlx::query_scalar(sql)
            .bind(job_id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await
    })?;
    let Some(kind) = changed else {
        let exists: Option<String> = on_tx!(&mut tx, c => {
            sqlx::query_scalar("SELECT id FROM jobs WHERE id = $1")
                .bind(job_id)
                .fetch_optional(&mut *c)
                .await
        })?;
        return Ok(if exists.is_some() {
            AdminOutcome::WrongStatus
        } else {
            AdminOutcome::NotFound
        });
    };
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "job",
            aggregate_id: job_id,
            event_type,
            actor,
            reason: "operator action",
            payload: serde_json::json!({ "kind": kind }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(AdminOutcome::Done)
}

/// An administrator runs a dead job again (with its attempts counted afresh), or a job waiting
/// for its retry at once. Appends `job.retried` with the actor.
pub async fn retry(db: &Db, job_id: &str, actor: &str, now: i64) -> DbResult<AdminOutcome> {
    admin_change(
        db,
        job_id,
        actor,
        now,
        "UPDATE jobs SET status = 'pending', run_at = $2, updated_at = $2,
                 attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END
         WHERE id = $1
           AND (status = 'dead' OR (status = 'pending' AND last_error IS NOT NULL))
         RETURNING queue",
        "job.retried",
    )
    .await
}

/// An administrator cancels a queued job (never a running one: its handler may have acted).
/// Appends `job.cancelled` with the actor.
pub async fn cancel(db: &Db, job_id: &str, actor: &str, now: i64) -> DbResult<AdminOutcome> {
    admin_change(
        db,
        job_id,
        actor,
        now,
        "UPDATE jobs SET status = 'cancelled', updated_at = $2
         WHERE id = $1 AND status = 'pending'
         RETURNING queue",
        "job.cancelled",
    )
    .await
}

/// The lists an operator sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Pending, never failed.
    Queued,
    Running,
    /// Pending after a failed attempt.
    Retrying,
    Dead,
    Cancelled,
    Done,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Queued,
        View::Running,
        View::Retrying,
        View::Dead,
        View::Cancelled,
        View::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            View::Queued => "queued",
            View::Running => "running",
            View::Retrying => "retrying",
            View::Dead => "dead",
            View::Cancelled => "cancelled",
            View::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.as_str() == s)
    }

    fn condition(self) -> &'static str {
        match self {
            View::Queued => "status = 'pending' AND last_error IS NULL",
            View::Running => "status = 'running'",
            View::Retrying => "status = 'pending' AND last_error IS NOT NULL",
            View::Dead => "status = 'dead'",
            View::Cancelled => "status = 'cancelled'",
            View::Done => "status = 'done'",
        }
    }
}

const SELECT_ROW: &str = "SELECT id, queue, status, attempts, max_attempts, run_at, lease_owner,
    lease_until, last_error, dedup_key, created_at, updated_at FROM jobs";

/// One page of a view, newest first: `limit` jobs created before the job `before` (ids are
/// UUIDv7, so in creation order), for keyset pagination.
pub async fn list(db: &Db, view: View, before: Option<&str>, limit: i64) -> DbResult<Vec<JobRow>> {
    let sql = format!(
        "{SELECT_ROW} WHERE {} AND ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
        view.condition()
    );
    let rows: Result<Vec<JobRow>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(before.unwrap_or(""))
            .bind(limit.clamp(1, 1_000))
            .fetch_all(c)
            .await
    });
    Ok(rows?)
}

/// One job by id.
pub async fn get(db: &Db, job_id: &str) -> DbResult<Option<JobRow>> {
    let sql = format!("{SELECT_ROW} WHERE id = $1");
    let row: Result<Option<JobRow>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(job_id).fetch_optional(c).await
    });
    Ok(row?)
}

/// Counts of jobs by kind and status, for `/metrics` and the admin page.
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

/// Counts of jobs by view, for the admin page's tabs.
pub async fn view_counts(db: &Db) -> DbResult<Vec<(View, i64)>> {
    let rows: Result<Vec<(String, bool, i64)>, sqlx::Error> = crate::on_read!(db, c => {
        sqlx::query_as(
            "SELECT status, last_error IS NOT NULL, COUNT(*) FROM jobs
             GROUP BY status, last_error IS NOT NULL",
        )
        .fetch_all(c)
        .await
    });
    let mut out: Vec<(View, i64)> = View::ALL.iter().map(|v| (*v, 0)).collect();
    for (status, failed_before, n) in rows? {
        let view = match (status.as_str(), failed_before) {
            ("pending", false) => View::Queued,
            ("pending", true) => View::Retrying,
            ("running", _) => View::Running,
            ("dead", _) => View::Dead,
            ("cancelled", _) => View::Cancelled,
            _ => View::Done,
        };
        if let Some(slot) = out.iter_mut().find(|(v, _)| *v == view) {
            slot.1 += n;
        }
    }
    Ok(out)
}
