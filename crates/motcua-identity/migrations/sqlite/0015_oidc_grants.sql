-- What the OpenID Connect provider remembers between requests (crates/motcua-identity/src/oidc).
-- Secrets a client or browser holds (session token, authorization code, refresh token) are
-- stored as SHA-256 only.

-- A citizen's single sign-on session at the provider. `sid` is its public name, carried in ID
-- tokens and logout tokens (OpenID Connect Front-/Back-Channel Logout).
CREATE TABLE citizen_sessions (
    token_hash TEXT PRIMARY KEY,
    sid TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    csrf_token TEXT NOT NULL,
    acr INTEGER NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX citizen_sessions_by_account ON citizen_sessions (account_id);

-- The scopes a citizen agreed to give a client; withdrawn by deleting the row.
CREATE TABLE oidc_consents (
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    client_id TEXT NOT NULL REFERENCES oidc_clients (id),
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- A grant: what one authorization gave one client (scopes, level, session), shared by the
-- code, every refresh token of its rotation family, and the access tokens (their `gid`).
-- Revoking it ends all of them.
CREATE TABLE oidc_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id),
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    sid TEXT NOT NULL,
    scopes TEXT NOT NULL,
    acr INTEGER NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    dpop_jkt TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX oidc_grants_by_sid ON oidc_grants (sid);
CREATE INDEX oidc_grants_by_account ON oidc_grants (account_id);

-- Authorization codes: single use (`used_at` set by a conditional update) and short-lived.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants (id),
    redirect_uri TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);

-- Refresh tokens: each is used once and replaced; a second use of one revokes its grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oidc_grants (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_refresh_tokens_by_grant ON oidc_refresh_tokens (grant_id);

-- Access tokens revoked before their expiry (those of client_credentials, which have no grant).
CREATE TABLE oidc_revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Identifiers of client assertions (private_key_jwt) and DPoP proofs already seen: each is
-- accepted once while it is valid (RFC 7523 §3, RFC 9449 §11.1).
CREATE TABLE oidc_seen_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- Pushed authorization requests (RFC 9126), used once.
CREATE TABLE oidc_pushed_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id),
    params TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

ALTER TABLE oidc_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE oidc_clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oidc_clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
