-- Passkeys (WebAuthn Level 2) of citizens' accounts (crates/motcua-identity/src/passkeys):
-- the credential's id and its public P-256 key (COSE ES256, as SEC1 uncompressed hex), with
-- the authenticator's signature counter, which must grow when the authenticator keeps one.
CREATE TABLE citizen_passkeys (
    credential_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    public_key TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    user_verified INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX citizen_passkeys_by_account ON citizen_passkeys (account_id);

-- A ceremony's challenge, used once: `account_id` is set for a registration (the account
-- adding the passkey) and empty for a login.
CREATE TABLE webauthn_challenges (
    id TEXT PRIMARY KEY,
    challenge TEXT NOT NULL,
    account_id TEXT,
    expires_at BIGINT NOT NULL
);
