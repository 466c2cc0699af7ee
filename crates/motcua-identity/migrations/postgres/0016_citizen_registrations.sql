-- Level-1 self-registration (crates/motcua-identity/src/registration.rs): the citizen's
-- details matched the registry and a one-time code went to her e-mail; the account is made
-- when she enters it. The code is stored as SHA-256 with the registration's id as salt.
CREATE TABLE citizen_registrations (
    id TEXT PRIMARY KEY,
    pid BIGINT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    confirmed_at BIGINT
);
CREATE INDEX citizen_registrations_by_pid ON citizen_registrations (pid);

-- A contact the citizen proved she holds (by a one-time code), for codes and notices.
ALTER TABLE citizen_accounts ADD COLUMN email TEXT;
ALTER TABLE citizen_accounts ADD COLUMN email_verified_at BIGINT;
