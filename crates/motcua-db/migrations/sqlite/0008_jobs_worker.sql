-- The job worker: jobs out of attempts are `dead` (formerly `failed`), an operator may
-- `cancel` a queued job, and an optional `dedup_key` makes an enqueue happen at most once
-- (a sender's idempotency key; a recurring job's (kind, period)).
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.

CREATE TABLE jobs_new (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'dead', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    dedup_key TEXT UNIQUE
);
INSERT INTO jobs_new (id, queue, payload, status, attempts, max_attempts, run_at, lease_owner,
                      lease_until, last_error, created_at, updated_at)
    SELECT id, queue, payload, CASE status WHEN 'failed' THEN 'dead' ELSE status END, attempts,
           max_attempts, run_at, lease_owner, lease_until, last_error, created_at, updated_at
    FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_ready ON jobs (queue, status, run_at);
-- The worker claims due jobs of every kind; the admin page lists by status.
CREATE INDEX jobs_due ON jobs (status, run_at);
