-- The job worker: jobs out of attempts are `dead` (formerly `failed`), an operator may
-- `cancel` a queued job, and an optional `dedup_key` makes an enqueue happen at most once
-- (a sender's idempotency key; a recurring job's (kind, period)).

ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
UPDATE jobs SET status = 'dead' WHERE status = 'failed';
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('pending', 'running', 'done', 'dead', 'cancelled'));
ALTER TABLE jobs ADD COLUMN dedup_key TEXT UNIQUE;
-- The worker claims due jobs of every kind; the admin page lists by status.
CREATE INDEX jobs_due ON jobs (status, run_at);
