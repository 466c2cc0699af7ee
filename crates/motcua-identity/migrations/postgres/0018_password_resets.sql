-- Password resets through the e-mail address the citizen proved (crates/motcua-identity/src/
-- password_reset.rs). The code is stored as SHA-256 with the reset's id as salt.
CREATE TABLE citizen_password_resets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX citizen_password_resets_by_account ON citizen_password_resets (account_id, created_at);
