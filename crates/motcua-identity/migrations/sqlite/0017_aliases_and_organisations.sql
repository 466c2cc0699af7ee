-- Other numbers a citizen may log in with (the 2019 decision on the national portal: the
-- social-insurance code and the tax code), mapped to her account; taken from her registry
-- record when the account is made and at each login.
CREATE TABLE citizen_login_aliases (
    alias TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('tax_code', 'social_insurance_code')),
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id)
);
CREATE INDEX citizen_login_aliases_by_account ON citizen_login_aliases (account_id);

-- Enterprises and other organisations, keyed by their tax code (crates/motcua-identity/src/
-- organisations.rs), registered by an administrator; their representatives are citizens'
-- accounts acting on their behalf.
CREATE TABLE organisations (
    tax_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    registered_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE organisation_representatives (
    tax_code TEXT NOT NULL REFERENCES organisations (tax_code),
    account_id TEXT NOT NULL REFERENCES citizen_accounts (id),
    role TEXT NOT NULL CHECK (role IN ('legal_representative', 'authorised')),
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (tax_code, account_id)
);
CREATE INDEX organisation_representatives_by_account ON organisation_representatives (account_id);
