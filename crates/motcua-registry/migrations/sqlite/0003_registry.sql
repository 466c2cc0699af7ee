-- National population registry (Cơ sở dữ liệu quốc gia về dân cư).
-- A citizen is keyed by the 12-digit personal identification number held as an integer;
-- the domain type restores the leading zeros when it is shown.

CREATE TABLE admin_units (
    era TEXT NOT NULL CHECK (era IN ('p63', 'p34')),
    code INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (era, code)
);

-- Resolution 202/2025/QH15: each of the 63 provinces maps to one of the 34.
CREATE TABLE admin_unit_successors (
    old_code INTEGER PRIMARY KEY,
    new_code INTEGER NOT NULL
);

CREATE TABLE households (
    id BIGINT PRIMARY KEY,
    head_pid BIGINT,
    province_code INTEGER NOT NULL,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE citizens (
    pid INTEGER PRIMARY KEY,
    full_name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    gender TEXT NOT NULL CHECK (gender IN ('M', 'F')),
    date_of_birth TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    birth_province INTEGER NOT NULL,
    hometown_province INTEGER,
    ethnicity_code INTEGER,
    religion TEXT,
    nationality TEXT NOT NULL,
    father_pid BIGINT,
    mother_pid BIGINT,
    spouse_pid BIGINT,
    status TEXT NOT NULL CHECK (status IN ('alive', 'deceased')),
    date_of_death TEXT,
    phone TEXT,
    email TEXT,
    tax_code TEXT,
    social_insurance_code TEXT,
    household_id BIGINT,
    relation_to_head TEXT,
    residence_province INTEGER,
    residence_address TEXT,
    import_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version INTEGER NOT NULL
);

-- Residence history: every permanent residence a citizen left, and temporary residences
-- (valid_to NULL while current). The current permanent residence lives on the citizen row.
CREATE TABLE residences (
    id TEXT PRIMARY KEY,
    pid BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('permanent', 'temporary')),
    province_code INTEGER NOT NULL,
    address TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX residences_by_pid ON residences (pid);

-- Chip ID cards: the card number is the personal identification number.
CREATE TABLE id_cards (
    id TEXT PRIMARY KEY,
    pid BIGINT NOT NULL,
    issued_on TEXT NOT NULL,
    expires_on TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'revoked')),
    recorded_at BIGINT NOT NULL
);
CREATE INDEX id_cards_by_pid ON id_cards (pid);

CREATE TABLE registry_imports (
    id TEXT PRIMARY KEY,
    source_name TEXT NOT NULL,
    actor TEXT NOT NULL,
    rows_imported BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);

-- Secondary indexes on citizens; a bulk import into an empty table drops and rebuilds them.
CREATE INDEX citizens_by_name ON citizens (name_folded, date_of_birth);
CREATE INDEX citizens_by_household ON citizens (household_id);
