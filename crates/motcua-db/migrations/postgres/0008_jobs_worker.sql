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

-- Messages kept instead of sent when no SMTP server is configured (development, demo).
-- One row per job: a second run of the same job increments `deliveries`, so a duplicate
-- delivery is visible rather than silently absorbed.
CREATE TABLE dev_mailbox (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    delivered_by TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX dev_mailbox_by_time ON dev_mailbox (created_at);
