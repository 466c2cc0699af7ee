-- Citizens' electronic-identity accounts, one per PID of the population registry
-- (Decree 69/2024/NĐ-CP: level 1 registered by the citizen and matched against the registry,
-- level 2 verified in person). The password is an Argon2id hash; the TOTP secret is the
-- shared key of RFC 6238, needed in clear to compute codes.
CREATE TABLE citizen_accounts (
    id TEXT PRIMARY KEY,
    pid BIGINT NOT NULL UNIQUE,
    level INTEGER NOT NULL CHECK (level IN (1, 2)),
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    -- The step of the last TOTP code accepted: a code is never accepted twice.
    totp_last_step BIGINT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT,
    -- Set by the death registration (or an administrator); a closed account cannot log in.
    closed_at BIGINT,
    closed_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
