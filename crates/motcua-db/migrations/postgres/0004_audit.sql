-- The personal-data access log (Decree 13/2023/NĐ-CP processing records), kept apart from the
-- registry: on SQLite in its own file attached as `audit` (a commit to one SQLite file resets
-- the page caches of every reader of that file, so a log written on every request must not
-- share the registry's file); on PostgreSQL in the schema `audit`.
--
-- `access_log_recent` takes new entries without secondary indexes (one sequential page per
-- batch); the SQLite writer moves them into `access_log`, indexed by citizen, in sorted
-- batches. Readers see the union. On PostgreSQL entries go straight to `access_log`.

CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE audit.access_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('staff', 'client', 'citizen', 'system')),
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    purpose TEXT NOT NULL,
    reference TEXT,
    subject_pid BIGINT,
    outcome TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX access_log_by_subject ON audit.access_log (subject_pid, at);
CREATE INDEX access_log_by_time ON audit.access_log (at);

CREATE TABLE audit.access_log_recent (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('staff', 'client', 'citizen', 'system')),
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    purpose TEXT NOT NULL,
    reference TEXT,
    subject_pid BIGINT,
    outcome TEXT NOT NULL,
    request_id TEXT
);
