-- The OpenID Connect provider's clients (crates/motcua-identity/src/relying_parties.rs).
-- Lists are space-separated, as OAuth writes them; a secret is stored as SHA-256 only (it is
-- a long random value, not a password).
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    auth_method TEXT NOT NULL CHECK (auth_method IN ('none', 'client_secret_basic', 'private_key_jwt')),
    jwks TEXT,
    grants TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
