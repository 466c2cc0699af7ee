-- The OpenID Connect provider's signing keys (ES256). A key is published in the JWKS from its
-- creation, signs from `active_from` (later than its creation, so that relying parties see it
-- before any token it signs), and stays published until `retired_at`, when every token it
-- signed has expired. The private key is the P-256 scalar, hex.
CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX oidc_signing_keys_by_activation ON oidc_signing_keys (active_from);
