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
